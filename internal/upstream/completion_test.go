package upstream

import (
	"encoding/json"
	"testing"
)

func TestCompletion(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		id       string
		result   json.RawMessage
		errMsg   string
		want     string // "" = an error
	}{
		{"object", ProtocolJSON, "0", json.RawMessage(`{"a": [1, 2]}`), "",
			`{"type":3,"invocationId":"0","result":{"a":[1,2]}}` + "\x1e"},
		{"string with HTML", ProtocolJSON, "1", json.RawMessage(`"<b>&</b>"`), "",
			`{"type":3,"invocationId":"1","result":"<b>&</b>"}` + "\x1e"},
		{"number", ProtocolJSON, "2", json.RawMessage(`42`), "",
			`{"type":3,"invocationId":"2","result":42}` + "\x1e"},
		{"null", ProtocolJSON, "3", json.RawMessage(`null`), "",
			`{"type":3,"invocationId":"3","result":null}` + "\x1e"},
		{"nil result is null", ProtocolJSON, "4", nil, "",
			`{"type":3,"invocationId":"4","result":null}` + "\x1e"},
		{"blank result is null", ProtocolJSON, "4", json.RawMessage(" "), "",
			`{"type":3,"invocationId":"4","result":null}` + "\x1e"},
		{"error drops result", ProtocolJSON, "5", json.RawMessage(`1`), `no such room "x" <here>`,
			`{"type":3,"invocationId":"5","error":"no such room \"x\" <here>"}` + "\x1e"},
		{"id escaped", ProtocolJSON, "a\"b", nil, "",
			`{"type":3,"invocationId":"a\"b","result":null}` + "\x1e"},
		{"invalid result", ProtocolJSON, "6", json.RawMessage(`{`), "", ""},
		{"no invocation id", ProtocolJSON, "", nil, "", ""},
		{"unknown protocol", "xml", "8", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Completion(tt.protocol, tt.id, tt.result, tt.errMsg)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %q", err, tt.want)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
