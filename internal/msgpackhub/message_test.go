package msgpackhub

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
)

func TestMessages(t *testing.T) {
	inv, err := AppendInvocation(nil, "newMessage", []byte(`[1,"a",{"k":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	noArgs, err := AppendInvocation(nil, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	result, err := AppendCompletionResult(nil, "7", []byte(`{"x":[1.5]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  []byte
		want any
	}{
		{"invocation", inv, []any{int8(1), [][2]any{}, nil, "newMessage", []any{int8(1), "a", [][2]any{{"k", nil}}}}},
		{"invocation without arguments", noArgs, []any{int8(1), [][2]any{}, nil, "t", []any{}}},
		{"ping", AppendPing(nil), []any{int8(6)}},
		{"close with error", AppendClose(nil, "bye", true), []any{int8(7), "bye", true}},
		{"close without error", AppendClose(nil, "", false), []any{int8(7), nil, false}},
		{"completion error", AppendCompletionError(nil, "1", "boom"), []any{int8(3), [][2]any{}, "1", int8(1), "boom"}},
		{"completion void", AppendCompletionVoid(nil, "2"), []any{int8(3), [][2]any{}, "2", int8(2)}},
		{"completion result", result, []any{int8(3), [][2]any{}, "7", int8(3), [][2]any{{"x", []any{1.5}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := msgpacktest.Decode(t, tt.msg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestAppendInvocationErrors(t *testing.T) {
	for _, args := range []string{`{"a":1}`, `[1,`, `"x"`} {
		if b, err := AppendInvocation([]byte("keep"), "t", []byte(args)); err == nil || string(b) != "keep" {
			t.Errorf("%s: got %q, %v; want dst unchanged and an error", args, b, err)
		}
	}
	if b, err := AppendCompletionResult([]byte("keep"), "1", []byte(`{`)); err == nil || string(b) != "keep" {
		t.Errorf("got %q, %v; want dst unchanged and an error", b, err)
	}
}

func TestMessageType(t *testing.T) {
	tests := []struct {
		name    string
		msg     []byte
		want    int
		wantErr bool
	}{
		{"ping", AppendPing(nil), TypePing, false},
		{"close", AppendClose(nil, "x", false), TypeClose, false},
		{"uint8 type", []byte{0x91, 0xcc, 0x07}, TypeClose, false},
		{"empty array", []byte{0x90}, 0, true},
		{"not an array", []byte{0x06}, 0, true},
		{"string type", []byte{0x91, 0xa1, '6'}, 0, true},
		{"empty", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MessageType(tt.msg)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseInvocation(t *testing.T) {
	tests := []struct {
		name    string
		msg     []byte
		want    Invocation
		wantErr string
	}{
		{
			name: "as the JS client sends invoke",
			msg:  msgpacktest.Message(t, 1, map[string]string{}, "0", "echo", []any{1, "two", 3.5, nil, []byte{1}}),
			want: Invocation{InvocationID: "0", Target: "echo", Arguments: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"two"`), json.RawMessage(`3.5`), json.RawMessage(`null`), json.RawMessage(`"AQ=="`)}},
		},
		{
			name: "send without id, with headers and no stream ids",
			msg:  msgpacktest.Message(t, 1, map[string]string{"a": "b"}, nil, "fire", []any{}, []string{}),
			want: Invocation{Target: "fire", Arguments: []json.RawMessage{}},
		},
		{
			name: "with stream ids",
			msg:  msgpacktest.Message(t, 1, map[string]string{}, "3", "upload", []any{}, []string{"s1", "s2"}),
			want: Invocation{InvocationID: "3", Target: "upload", Arguments: []json.RawMessage{}, StreamIDs: []string{"s1", "s2"}},
		},
		{name: "not an array", msg: []byte{0x01}, wantErr: "not a MessagePack array"},
		{name: "too short", msg: msgpacktest.Message(t, 1, map[string]string{}, nil, "t"), wantErr: "4 elements"},
		{name: "other type", msg: msgpacktest.Message(t, 3, map[string]string{}, nil, "t", []any{}), wantErr: "not 1"},
		{name: "header values not strings", msg: msgpacktest.Message(t, 1, map[string]int{"a": 1}, nil, "t", []any{}), wantErr: "headers"},
		{name: "numeric id", msg: msgpacktest.Message(t, 1, map[string]string{}, 5, "t", []any{}), wantErr: "invocation id"},
		{name: "target not a string", msg: msgpacktest.Message(t, 1, map[string]string{}, nil, 1, []any{}), wantErr: "target"},
		{name: "arguments not an array", msg: msgpacktest.Message(t, 1, map[string]string{}, nil, "t", "x"), wantErr: "arguments"},
		{name: "argument without a JSON form", msg: msgpacktest.Message(t, 1, map[string]string{}, nil, "t", []any{1, math.NaN()}), wantErr: "argument 1: the number NaN"},
		{name: "trailing bytes", msg: append(msgpacktest.Message(t, 1, map[string]string{}, nil, "t", []any{}), 0x00), wantErr: "after the invocation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInvocation(tt.msg)
			if tt.wantErr != "" || err != nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseInvocation never panics, and what parses has JSON arguments.
func FuzzParseInvocation(f *testing.F) {
	f.Add(msgpacktest.Message(f, 1, map[string]string{}, "0", "echo", []any{1, "two"}))
	f.Add(msgpacktest.Message(f, 1, map[string]string{"h": "v"}, nil, "t", []any{}, []string{"s"}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		inv, err := ParseInvocation(msg)
		if err != nil {
			return
		}
		for i, a := range inv.Arguments {
			if !json.Valid(a) {
				t.Fatalf("argument %d is not valid JSON: %s", i, a)
			}
		}
	})
}

func TestCloseError(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"with error", AppendClose(nil, "bye", true), "bye"},
		{"nil error", AppendClose(nil, "", false), ""},
		{"type only", []byte{0x91, 0x07}, ""},
		{"not a close", AppendCompletionError(nil, "1", "x"), ""},
		{"garbage", []byte{0xc1}, ""},
	}
	for _, tt := range tests {
		if got := CloseError(tt.msg); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
