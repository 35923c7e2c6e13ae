package bindings_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
)

func raws(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func msg(m bindings.Message) bindings.Operation {
	if m.Arguments == nil {
		m.Arguments = []json.RawMessage{}
	}
	return bindings.Operation{Message: &m}
}

func group(g bindings.GroupAction) bindings.Operation { return bindings.Operation{GroupAction: &g} }

func TestDecodeSend(t *testing.T) {
	long := strings.Repeat("g", bindings.MaxGroupNameLength)
	tests := []struct {
		name string
		body string
		want []bindings.Operation
	}{
		{"broadcast", `{"target":"newMessage","arguments":["hi",1]}`,
			[]bindings.Operation{msg(bindings.Message{Target: "newMessage", Arguments: raws(`"hi"`, `1`)})}},
		{"arguments absent default to empty", `{"target":"t"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"arguments null default to empty", `{"target":"t","arguments":null}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"arguments empty", `{"target":"t","arguments":[]}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"arguments byte-exact", `{"target":"t","arguments":[ {"b" : 2,"a":1} , 12345678901234567890.123e-2,"ü\u00fc<&>",[ ],null ]}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t",
				Arguments: raws(`{"b" : 2,"a":1}`, `12345678901234567890.123e-2`, `"ü\u00fc<&>"`, `[ ]`, `null`)})}},
		{"to user", `{"target":"t","userId":"u1"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", UserID: "u1"})}},
		{"every route field kept", `{"target":"t","userId":"u","groupName":"g","connectionId":"c"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", UserID: "u", GroupName: "g", ConnectionID: "c"})}},
		{"numeric user id as its literal", `{"target":"t","userId":12345}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", UserID: "12345"})}},
		{"field names in any case", `{"Target":"t","Arguments":[1],"USERID":"u","GroupName":"g"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", Arguments: raws(`1`), UserID: "u", GroupName: "g"})}},
		{"unknown fields ignored", `{"target":"t","endpoints":[{"name":"x"}],"extra":{"a":1}}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"null fields are absent", `{"target":"t","userId":null,"groupName":null,"connectionId":null,"action":null}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"whitespace around the body", " \n\t{\"target\":\"t\"}\r\n ",
			[]bindings.Operation{msg(bindings.Message{Target: "t"})}},
		{"unicode and escaped ids", `{"target":"t","userId":"a/b c","groupName":"ü"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", UserID: "a/b c", GroupName: "ü"})}},
		{"group name of 1024 characters", `{"target":"t","groupName":"` + long + `"}`,
			[]bindings.Operation{msg(bindings.Message{Target: "t", GroupName: long})}},
		{"add user", `{"action":"add","groupName":"g","userId":"u"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "add", GroupName: "g", UserID: "u"})}},
		{"add connection", `{"action":"add","groupName":"g","connectionId":"c"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "add", GroupName: "g", ConnectionID: "c"})}},
		{"remove user", `{"action":"remove","groupName":"g","userId":"u"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "remove", GroupName: "g", UserID: "u"})}},
		{"remove connection and user", `{"action":"remove","groupName":"g","userId":"u","connectionId":"c"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "remove", GroupName: "g", UserID: "u", ConnectionID: "c"})}},
		{"removeAll user", `{"action":"removeAll","userId":"u"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "removeAll", UserID: "u"})}},
		{"removeAll connection", `{"action":"removeAll","connectionId":"c"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "removeAll", ConnectionID: "c"})}},
		{"action in any case", `[{"action":"ADD","groupName":"g","userId":"u"},{"Action":"Remove","groupName":"g","userId":"u"},{"action":"removeall","userId":"u"}]`,
			[]bindings.Operation{
				group(bindings.GroupAction{Action: "add", GroupName: "g", UserID: "u"}),
				group(bindings.GroupAction{Action: "remove", GroupName: "g", UserID: "u"}),
				group(bindings.GroupAction{Action: "removeAll", UserID: "u"}),
			}},
		{"action wins over target", `{"action":"add","target":"t","arguments":[1],"groupName":"g","userId":"u"}`,
			[]bindings.Operation{group(bindings.GroupAction{Action: "add", GroupName: "g", UserID: "u"})}},
		{"batch keeps order", `[{"target":"a"},{"action":"add","groupName":"g","userId":"u"},{"target":"b","groupName":"g"}]`,
			[]bindings.Operation{
				msg(bindings.Message{Target: "a"}),
				group(bindings.GroupAction{Action: "add", GroupName: "g", UserID: "u"}),
				msg(bindings.Message{Target: "b", GroupName: "g"}),
			}},
		{"empty batch", `[]`, []bindings.Operation{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bindings.DecodeSend([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeSend: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s, want %s", dump(got), dump(tt.want))
			}
		})
	}
}

func dump(ops []bindings.Operation) string {
	var b strings.Builder
	for _, op := range ops {
		if op.Message != nil {
			j, _ := json.Marshal(op.Message)
			b.WriteString("message" + string(j) + " ")
		}
		if op.GroupAction != nil {
			j, _ := json.Marshal(op.GroupAction)
			b.WriteString("group" + string(j) + " ")
		}
	}
	return b.String()
}

func TestDecodeSendErrors(t *testing.T) {
	long := strings.Repeat("g", bindings.MaxGroupNameLength+1)
	longUnicode := strings.Repeat("😀", bindings.MaxGroupNameLength/2+1) // 2 UTF-16 units each
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantIn   []string // substrings of the message
	}{
		{"empty body", ``, apierror.InvalidJSON, []string{"empty"}},
		{"whitespace body", " \n", apierror.InvalidJSON, []string{"empty"}},
		{"not JSON", `hello`, apierror.InvalidJSON, []string{"not valid JSON"}},
		{"truncated", `{"target":"t"`, apierror.InvalidJSON, []string{"not valid JSON"}},
		{"trailing data", `{"target":"t"} {}`, apierror.InvalidJSON, []string{"not valid JSON"}},
		{"string", `"hi"`, apierror.InvalidJSON, []string{"a string", "object"}},
		{"number", `42`, apierror.InvalidJSON, []string{"a number"}},
		{"null", `null`, apierror.InvalidJSON, []string{"null"}},
		{"boolean", `true`, apierror.InvalidJSON, []string{"a boolean"}},
		{"array of strings", `["a"]`, apierror.InvalidJSON, []string{"item 0", "a string"}},
		{"nested array", `[{"target":"t"},[{"target":"t"}]]`, apierror.InvalidJSON, []string{"item 1", "an array"}},
		{"null item", `[{"target":"t"},null]`, apierror.InvalidJSON, []string{"item 1", "null"}},
		{"shape before messages", `[{},1]`, apierror.InvalidJSON, []string{"item 1"}},

		{"missing target", `{"arguments":[]}`, apierror.InvalidMessage, []string{"target is required"}},
		{"empty object", `{}`, apierror.InvalidMessage, []string{"target is required"}},
		{"empty target", `{"target":""}`, apierror.InvalidMessage, []string{"target is empty"}},
		{"target not a string", `{"target":{"a":1}}`, apierror.InvalidMessage, []string{"target must be a string"}},
		{"arguments not an array", `{"target":"t","arguments":{"a":1}}`, apierror.InvalidMessage, []string{"arguments must be an array"}},
		{"arguments a string", `{"target":"t","arguments":"x"}`, apierror.InvalidMessage, []string{"arguments must be an array"}},
		{"userId boolean", `{"target":"t","userId":true}`, apierror.InvalidMessage, []string{"userId must be a string"}},
		{"empty userId in a message", `{"target":"t","userId":""}`, apierror.InvalidMessage, []string{"userId is empty"}},
		{"empty groupName in a message", `{"target":"t","groupName":""}`, apierror.InvalidMessage, []string{"groupName is empty"}},
		{"empty connectionId in a message", `{"target":"t","connectionId":""}`, apierror.InvalidMessage, []string{"connectionId is empty"}},
		{"group name too long", `{"target":"t","groupName":"` + long + `"}`, apierror.InvalidMessage, []string{"groupName", "1025", "1024"}},
		{"group name too long in UTF-16", `{"target":"t","groupName":"` + longUnicode + `"}`, apierror.InvalidMessage, []string{"groupName", "1026"}},
		{"control character in userId", `{"target":"t","userId":"a\u0000b"}`, apierror.InvalidMessage, []string{"userId", "control character", "U+0000"}},
		{"newline in connectionId", `{"target":"t","connectionId":"a\nb"}`, apierror.InvalidMessage, []string{"connectionId", "control character"}},
		{"DEL in groupName", `{"target":"t","groupName":"a\u007f"}`, apierror.InvalidMessage, []string{"groupName", "control character"}},
		{"dot-dot userId", `{"target":"t","userId":".."}`, apierror.InvalidMessage, []string{"userId", `".."`}},
		{"dot groupName", `{"action":"add","groupName":".","userId":"u"}`, apierror.InvalidMessage, []string{"groupName", `"."`}},

		{"unknown action", `{"action":"join","groupName":"g","userId":"u"}`, apierror.InvalidMessage, []string{`unknown action "join"`}},
		{"long unknown action quoted short", `{"action":"` + strings.Repeat("ü", 300) + `","groupName":"g","userId":"u"}`, apierror.InvalidMessage, []string{"unknown action", "…"}},
		{"empty action", `{"action":"","groupName":"g","userId":"u"}`, apierror.InvalidMessage, []string{"action is empty"}},
		{"action not a string", `{"action":["add"],"groupName":"g","userId":"u"}`, apierror.InvalidMessage, []string{"action must be a string"}},
		{"add without groupName", `{"action":"add","userId":"u"}`, apierror.InvalidMessage, []string{"groupName is required", "add"}},
		{"remove without groupName", `{"action":"remove","connectionId":"c"}`, apierror.InvalidMessage, []string{"groupName is required", "remove"}},
		{"add without user or connection", `{"action":"add","groupName":"g"}`, apierror.InvalidMessage, []string{"userId or connectionId is required"}},
		{"remove without user or connection", `{"action":"remove","groupName":"g"}`, apierror.InvalidMessage, []string{"userId or connectionId is required"}},
		{"removeAll without user or connection", `{"action":"removeAll","groupName":"g"}`, apierror.InvalidMessage, []string{"userId or connectionId is required", "removeAll"}},
		{"empty userId in a group action", `{"action":"add","groupName":"g","userId":"","connectionId":"c"}`, apierror.InvalidMessage, []string{"userId is empty"}},
		{"empty groupName in a group action", `{"action":"add","groupName":"","userId":"u"}`, apierror.InvalidMessage, []string{"groupName is empty"}},

		{"batch index in message", `[{"target":"a"},{"target":"b"},{"action":"add","userId":"u"}]`, apierror.InvalidMessage, []string{"item 2", "groupName"}},
		{"first bad item reported", `[{"target":"a"},{"target":""},{}]`, apierror.InvalidMessage, []string{"item 1", "target is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := bindings.DecodeSend([]byte(tt.body))
			if err == nil {
				t.Fatalf("got %s, want error %s", dump(ops), tt.wantCode)
			}
			e := asError(t, err)
			if e.Code != tt.wantCode {
				t.Errorf("code: got %s (%q), want %s", e.Code, e.Message, tt.wantCode)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message: got %q, want it to contain %q", e.Message, s)
				}
			}
			if ops != nil {
				t.Errorf("ops: got %s, want nil", dump(ops))
			}
		})
	}
}

// TestDecodeSendSingleObjectHasNoIndex: a batch index only makes sense in a batch.
func TestDecodeSendSingleObjectHasNoIndex(t *testing.T) {
	_, err := bindings.DecodeSend([]byte(`{"action":"add","userId":"u"}`))
	if got := asError(t, err).Message; strings.Contains(got, "item") {
		t.Errorf("got %q, want no item index", got)
	}
}

func FuzzDecodeSend(f *testing.F) {
	for _, s := range []string{
		`{"target":"newMessage","arguments":["hi",1]}`,
		`[{"target":"a"},{"action":"add","groupName":"g","userId":"u"}]`,
		`{"action":"removeAll","connectionId":"c"}`,
		`{"action":"REMOVE","groupName":"ü","connectionId":"a/b c"}`,
		`{"target":"t","userId":123,"arguments":[{"a" : [1,2]}, "\u00fc"]}`,
		`[]`, `[1]`, `null`, `{"target":""}`, `{"target":"t","groupName":".."}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := bindings.DecodeSend(body)
		if err != nil {
			e := asError(t, err)
			if e.Code != apierror.InvalidJSON && e.Code != apierror.InvalidMessage {
				t.Fatalf("code: got %s, want InvalidJson or InvalidMessage", e.Code)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for i, op := range ops {
			checkValidOperation(t, i, op)
		}
		// What was accepted survives a round trip unchanged (arguments
		// compared compacted: encoding/json compacts RawMessage).
		again, err := bindings.DecodeSend(encodeOps(t, ops))
		if err != nil {
			t.Fatalf("re-decoding accepted operations: %v", err)
		}
		if len(again) != len(ops) {
			t.Fatalf("round trip: got %d operations, want %d", len(again), len(ops))
		}
		for i := range ops {
			if a, b := normalized(t, ops[i]), normalized(t, again[i]); !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip of operation %d: got %s, want %s", i, dump([]bindings.Operation{b}), dump([]bindings.Operation{a}))
			}
		}
	})
}

func checkValidOperation(t *testing.T, i int, op bindings.Operation) {
	t.Helper()
	switch {
	case (op.Message == nil) == (op.GroupAction == nil):
		t.Fatalf("operation %d: want exactly one of Message and GroupAction", i)
	case op.Message != nil:
		m := op.Message
		if m.Target == "" || m.Arguments == nil {
			t.Fatalf("operation %d: accepted message with target %q, arguments %v", i, m.Target, m.Arguments)
		}
		for _, a := range m.Arguments {
			if !json.Valid(a) {
				t.Fatalf("operation %d: argument %q is not valid JSON", i, a)
			}
		}
		checkValidIDs(t, i, m.UserID, m.GroupName, m.ConnectionID)
	default:
		g := op.GroupAction
		switch g.Action {
		case bindings.ActionAdd, bindings.ActionRemove:
			if g.GroupName == "" {
				t.Fatalf("operation %d: %s without a group", i, g.Action)
			}
		case bindings.ActionRemoveAll:
		default:
			t.Fatalf("operation %d: accepted action %q", i, g.Action)
		}
		if g.UserID == "" && g.ConnectionID == "" {
			t.Fatalf("operation %d: group action without user or connection", i)
		}
		checkValidIDs(t, i, g.UserID, g.GroupName, g.ConnectionID)
	}
}

func checkValidIDs(t *testing.T, i int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if id == "." || id == ".." || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("operation %d: accepted id %q", i, id)
		}
	}
}

func encodeOps(t *testing.T, ops []bindings.Operation) []byte {
	t.Helper()
	items := make([]any, len(ops))
	for i, op := range ops {
		if op.Message != nil {
			items[i] = op.Message
		} else {
			items[i] = op.GroupAction
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b.Bytes()
}

func normalized(t *testing.T, op bindings.Operation) bindings.Operation {
	t.Helper()
	if op.Message == nil {
		return op
	}
	m := *op.Message
	m.Arguments = make([]json.RawMessage, len(op.Message.Arguments))
	for i, a := range op.Message.Arguments {
		var b bytes.Buffer
		if err := json.Compact(&b, a); err != nil {
			t.Fatalf("compact argument: %v", err)
		}
		m.Arguments[i] = b.Bytes()
	}
	return bindings.Operation{Message: &m}
}
