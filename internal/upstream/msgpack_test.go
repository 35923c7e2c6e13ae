package upstream

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
)

func TestParseMessagePack(t *testing.T) {
	stamp := time.Date(2026, 11, 29, 12, 0, 0, 5, time.UTC)
	tests := []struct {
		name      string
		category  string
		event     string
		body      []byte
		want      Request // only the body fields are compared
		wantCode  string
		wantParts []string
	}{
		{
			name: "invoke as the JS client sends it", category: "messages", event: "echo",
			body: msgpacktest.Message(t, 1, map[string]string{}, "0", "echo", []any{int64(math.MinInt64), uint64(math.MaxUint64), 1.5, "s", nil, true, []any{1}, map[string]any{"k": "v"}}),
			want: Request{Type: TypeInvocation, InvocationID: "0", Target: "echo", Arguments: []json.RawMessage{
				json.RawMessage(`-9223372036854775808`), json.RawMessage(`18446744073709551615`), json.RawMessage(`1.5`),
				json.RawMessage(`"s"`), json.RawMessage(`null`), json.RawMessage(`true`), json.RawMessage(`[1]`), json.RawMessage(`{"k":"v"}`)}},
		},
		{
			name: "send: nil id, binary and timestamp arguments", category: "messages", event: "Fire",
			body: msgpacktest.Message(t, 1, map[string]string{"h": "v"}, nil, "fire", []any{[]byte{1, 2}, stamp}),
			want: Request{Type: TypeInvocation, Target: "fire", Arguments: []json.RawMessage{
				json.RawMessage(`"AQI="`), json.RawMessage(`"2026-11-29T12:00:00.000000005Z"`)}},
		},
		{
			name: "with stream ids", category: "messages", event: "t",
			body: msgpacktest.Message(t, 1, map[string]string{}, "1", "t", []any{}, []string{}),
			want: Request{Type: TypeInvocation, InvocationID: "1", Target: "t", Arguments: []json.RawMessage{}},
		},
		{name: "empty body", category: "messages", event: "t", body: nil,
			wantCode: apierror.InvalidMessage, wantParts: []string{"empty"}},
		{name: "not an array", category: "messages", event: "t", body: []byte{0x01},
			wantCode: apierror.InvalidMessage, wantParts: []string{"not a MessagePack hub message"}},
		{name: "completion type", category: "messages", event: "t", body: msgpacktest.Message(t, 3, map[string]string{}, "1", 2),
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 3"}},
		{name: "truncated", category: "messages", event: "t", body: msgpacktest.Message(t, 1, map[string]string{}, nil, "t", []any{"abc"})[:9],
			wantCode: apierror.InvalidMessage, wantParts: []string{"ends early"}},
		{name: "NaN argument", category: "messages", event: "t", body: msgpacktest.Message(t, 1, map[string]string{}, nil, "t", []any{math.NaN()}),
			wantCode: apierror.InvalidMessage, wantParts: []string{"argument 0", "NaN"}},
		{name: "target differs from event", category: "messages", event: "other", body: msgpacktest.Message(t, 1, map[string]string{}, nil, "t", []any{}),
			wantCode: apierror.InvalidMessage, wantParts: []string{`"t"`, `"other"`}},
		{name: "invocation on connected", category: "connections", event: "connected", body: msgpacktest.Message(t, 1, map[string]string{}, nil, "connected", []any{}),
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 1", "type 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := requestHeaders(t, tt.category, tt.event)
			h.Set("Content-Type", ContentTypeMessagePack)
			req, err := Parse(h, tt.body, []string{testKey})
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, tt.wantParts...)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkBody(t, req, tt.want, ProtocolMessagePack)
		})
	}
}

func TestCompletionMessagePack(t *testing.T) {
	tests := []struct {
		name   string
		result json.RawMessage
		errMsg string
		want   []any
	}{
		{"object", json.RawMessage(`{"a":[1,2.5,"x"]}`), "", []any{int8(3), map[string]any{}, "7", int8(3), map[string]any{"a": []any{int8(1), 2.5, "x"}}}},
		{"big integers", json.RawMessage(`[9223372036854775807,-9223372036854775808,18446744073709551615]`), "",
			[]any{int8(3), map[string]any{}, "7", int8(3), []any{uint64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64)}}},
		{"nil result is nil", nil, "", []any{int8(3), map[string]any{}, "7", int8(3), nil}},
		{"error drops result", json.RawMessage(`1`), "boom", []any{int8(3), map[string]any{}, "7", int8(1), "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Completion(ProtocolMessagePack, "7", tt.result, tt.errMsg)
			if err != nil {
				t.Fatal(err)
			}
			// One length-prefixed message.
			if int(got[0]) != len(got)-1 {
				t.Fatalf("got length prefix %d for %d bytes, want one whole frame", got[0], len(got)-1)
			}
			var v []any
			if err := msgpack.Unmarshal(got[1:], &v); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %#v, want %#v", v, tt.want)
			}
		})
	}
	if got, err := Completion(ProtocolMessagePack, "7", json.RawMessage(`{`), ""); err == nil {
		t.Errorf("invalid result: got %q, want an error", got)
	}
}
