package localservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMessageReader(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		max    int
		want   []string // records, in order
		rest   string   // bytes kept after the last chunk
		err    error
	}{
		{name: "one message", chunks: []string{`{"type":6}` + "\x1e"}, want: []string{`{"type":6}`}},
		{name: "several in one frame", chunks: []string{`{"type":6}` + "\x1e" + `{"type":7}` + "\x1e" + `{}` + "\x1e"},
			want: []string{`{"type":6}`, `{"type":7}`, `{}`}},
		{name: "partial across frames", chunks: []string{`{"ty`, `pe":`, `6}`, "\x1e"}, want: []string{`{"type":6}`}},
		{name: "end and start in one frame", chunks: []string{`{"a":`, `1}` + "\x1e" + `{"b"`, `:2}` + "\x1e"},
			want: []string{`{"a":1}`, `{"b":2}`}},
		{name: "unterminated kept", chunks: []string{`{"a":1}` + "\x1e" + `{"b"`}, want: []string{`{"a":1}`}, rest: `{"b"`},
		{name: "empty message", chunks: []string{"\x1e\x1e"}, want: []string{"", ""}},
		{name: "nothing", chunks: []string{""}},
		{name: "unterminated too large", chunks: []string{"0123456789", "0"}, max: 10, err: errMessageTooLarge},
		{name: "terminated too large", chunks: []string{"01234567890\x1e"}, max: 10, err: errMessageTooLarge},
		{name: "at the limit", chunks: []string{"0123456789\x1e"}, max: 10, want: []string{"0123456789"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := messageReader{max: tt.max}
			var got []string
			var err error
			for _, c := range tt.chunks {
				var recs [][]byte
				recs, err = r.feed([]byte(c))
				for _, rec := range recs {
					got = append(got, string(rec))
				}
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("got error %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
				t.Errorf("got records %q, want %q", got, tt.want)
			}
			if string(r.buf) != tt.rest {
				t.Errorf("got rest %q, want %q", r.buf, tt.rest)
			}
		})
	}
}

// TestMessageReaderRecordsStable checks that records returned earlier are
// not overwritten by later input.
func TestMessageReaderRecordsStable(t *testing.T) {
	var r messageReader
	first, _ := r.feed([]byte("aaaa\x1ebb"))
	_, _ = r.feed([]byte("bbbbbbbbbbbbbbbbbbbbbbbbbb\x1ecc"))
	if got := string(first[0]); got != "aaaa" {
		t.Errorf("got %q, want aaaa", got)
	}
}

func TestCheckHandshake(t *testing.T) {
	tests := []struct {
		name      string
		request   string
		transport transportKind
		ok        bool
		binary    bool
		want      string
	}{
		{"json v1", `{"protocol":"json","version":1}`, transportWebSockets, true, false, "{}\x1e"},
		{"json over SSE", `{"protocol":"json","version":1}`, transportServerSentEvents, true, false, "{}\x1e"},
		{"extra fields", `{"protocol":"json","version":1,"x":true}`, transportWebSockets, true, false, "{}\x1e"},
		{"messagepack", `{"protocol":"messagepack","version":1}`, transportWebSockets, true, true, "{}\x1e"},
		{"messagepack over long polling", `{"protocol":"messagepack","version":1}`, transportLongPolling, true, true, "{}\x1e"},
		{"messagepack over SSE", `{"protocol":"messagepack","version":1}`, transportServerSentEvents, false, false, `{"error":"Cannot use the 'messagepack' protocol on the current transport (ServerSentEvents): the transport does not support the 'Binary' transfer format."}` + "\x1e"},
		{"messagepack version 2", `{"protocol":"messagepack","version":2}`, transportWebSockets, false, false, `{"error":"The server does not support version 2 of the 'messagepack' protocol."}` + "\x1e"},
		{"unknown protocol", `{"protocol":"blazorpack","version":1}`, transportWebSockets, false, false, `{"error":"Requested protocol 'blazorpack' is not available."}` + "\x1e"},
		{"version 2", `{"protocol":"json","version":2}`, transportWebSockets, false, false, `{"error":"The server does not support version 2 of the 'json' protocol."}` + "\x1e"},
		{"no version", `{"protocol":"json"}`, transportWebSockets, false, false, `{"error":"An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'version'."}` + "\x1e"},
		{"no protocol", `{"version":1}`, transportWebSockets, false, false, `{"error":"An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'protocol'."}` + "\x1e"},
		{"not json", `hello`, transportWebSockets, false, false, `{"error":"An unexpected error occurred during connection handshake. InvalidDataException: the handshake request is not a JSON object."}` + "\x1e"},
		{"array", `[1]`, transportWebSockets, false, false, `{"error":"An unexpected error occurred during connection handshake. InvalidDataException: the handshake request is not a JSON object."}` + "\x1e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, binary, ok := checkHandshake([]byte(tt.request), tt.transport)
			if ok != tt.ok || binary != tt.binary || string(got) != tt.want {
				t.Errorf("got %q, binary %v, ok %v; want %q, binary %v, ok %v", got, binary, ok, tt.want, tt.binary, tt.ok)
			}
		})
	}
}

func TestMessageType(t *testing.T) {
	tests := []struct {
		record  string
		want    int
		wantErr bool
	}{
		{`{"type":6}`, 6, false},
		{`{"type":1,"target":"x","arguments":[]}`, 1, false},
		{`{"target":"x"}`, 0, true},
		{`{"type":"1"}`, 0, true},
		{`{"type":1.5}`, 0, true},
		{`nope`, 0, true},
		{``, 0, true},
	}
	for _, tt := range tests {
		got, err := messageType([]byte(tt.record))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("messageType(%q): got %d, %v, want %d, error %v", tt.record, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestInvocationFrame(t *testing.T) {
	tests := []struct {
		target, args, want string
	}{
		{"newMessage", `["a", {"b" : 1}]`, `{"type":1,"target":"newMessage","arguments":["a",{"b":1}]}` + "\x1e"},
		{"t", ``, `{"type":1,"target":"t","arguments":[]}` + "\x1e"},
		{"quote\"d", "[\n1\n]", `{"type":1,"target":"quote\"d","arguments":[1]}` + "\x1e"},
	}
	for _, tt := range tests {
		got, err := invocationFrame(tt.target, json.RawMessage(tt.args))
		if err != nil || string(got) != tt.want {
			t.Errorf("invocationFrame(%q, %q): got %q, %v, want %q", tt.target, tt.args, got, err, tt.want)
		}
	}
}

func TestCloseFrame(t *testing.T) {
	tests := []struct {
		reason         string
		allowReconnect bool
		want           string
	}{
		{"", false, `{"type":7}` + "\x1e"},
		{"bye", false, `{"type":7,"error":"bye"}` + "\x1e"},
		{"bye", true, `{"type":7,"error":"bye","allowReconnect":true}` + "\x1e"},
	}
	for _, tt := range tests {
		if got := string(closeFrame(tt.reason, tt.allowReconnect)); got != tt.want {
			t.Errorf("closeFrame(%q, %v): got %q, want %q", tt.reason, tt.allowReconnect, got, tt.want)
		}
	}
}

// FuzzReadMessages feeds arbitrary input in arbitrary chunks: the reader
// never panics, never holds a partial message over its limit, the chunking
// never changes the records, the records and the rest give back the input,
// and framed records round-trip.
func FuzzReadMessages(f *testing.F) {
	seeds := []string{
		`{"protocol":"json","version":1}` + "\x1e",
		`{"type":6}` + "\x1e" + `{"type":1,"target":"x","arguments":[1,"\u001e"]}` + "\x1e",
		`{"type":7,"error":"bye"}` + "\x1e" + `{"partial`,
		"\x1e\x1e\x1e",
		"",
		strings.Repeat("a", 300) + "\x1e",
		`{"type":"6"}` + "\x1e",
		"\xff\xfe\x1e{}",
		// Partial and oversized messages around the limit of 256.
		strings.Repeat("p", 256),
		strings.Repeat("p", 257),
		strings.Repeat("t", 256) + "\x1e",
		strings.Repeat("t", 257) + "\x1e{}\x1e",
		"{}\x1e" + strings.Repeat("q", 300),
		"{}\x1e" + strings.Repeat("q", 255) + "\x1e" + strings.Repeat("r", 256),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i+1))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		const limit = 256
		whole := messageReader{max: limit}
		wantRecs, wantErr := whole.feed(data)

		n := int(chunk%16) + 1
		chunked := messageReader{max: limit}
		var gotRecs [][]byte
		var gotErr error
		for i := 0; i < len(data) && gotErr == nil; i += n {
			var recs [][]byte
			recs, gotErr = chunked.feed(data[i:min(i+n, len(data))])
			gotRecs = append(gotRecs, recs...)
			// A partial message never holds more than the limit.
			if len(chunked.buf) > limit {
				t.Fatalf("a partial message of %d bytes is held, limit %d", len(chunked.buf), limit)
			}
		}
		if wantErr != nil || gotErr != nil {
			// Limits are reached at different points in different
			// chunkings; both must fail on a too-long message.
			if !errors.Is(wantErr, errMessageTooLarge) && !errors.Is(gotErr, errMessageTooLarge) {
				t.Fatalf("unexpected errors %v, %v", wantErr, gotErr)
			}
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("whole input: %v, chunked: %v", wantErr, gotErr)
			}
			return
		}
		if len(gotRecs) != len(wantRecs) {
			t.Fatalf("got %d records chunked, want %d", len(gotRecs), len(wantRecs))
		}
		var joined []byte
		for i := range wantRecs {
			if !bytes.Equal(gotRecs[i], wantRecs[i]) {
				t.Fatalf("record %d: got %q chunked, want %q", i, gotRecs[i], wantRecs[i])
			}
			if bytes.IndexByte(wantRecs[i], recordSeparator) >= 0 {
				t.Fatalf("record %d holds a separator: %q", i, wantRecs[i])
			}
			joined = append(append(joined, wantRecs[i]...), recordSeparator)
			messageType(wantRecs[i]) // must not panic
			checkHandshake(wantRecs[i], transportWebSockets)
		}
		joined = append(joined, whole.buf...)
		if !bytes.Equal(joined, data) {
			t.Fatalf("records and rest give %q, want %q", joined, data)
		}
		if !bytes.Equal(whole.buf, chunked.buf) {
			t.Fatalf("rest: got %q chunked, want %q", chunked.buf, whole.buf)
		}
		// Framing each record again reads back the same records.
		var again messageReader
		back, err := again.feed(joined[:len(joined)-len(whole.buf)])
		if err != nil || len(back) != len(wantRecs) {
			t.Fatalf("round trip: got %d records, %v, want %d", len(back), err, len(wantRecs))
		}
		for i := range back {
			if !bytes.Equal(back[i], wantRecs[i]) {
				t.Fatalf("round trip record %d: got %q, want %q", i, back[i], wantRecs[i])
			}
		}
	})
}
