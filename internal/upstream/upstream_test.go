package upstream

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
)

const (
	testKey       = "primary-key"
	testSecondKey = "secondary-key"
	testConnID    = "conn-1"
)

// requestHeaders returns the headers the service sends for an event of
// category on hub "chat", signed with testKey, with a JSON Content-Type.
func requestHeaders(tb testing.TB, category, event string) http.Header {
	tb.Helper()
	h := http.Header{}
	h.Set(HeaderConnectionID, testConnID)
	h.Set(HeaderHub, "chat")
	h.Set(HeaderCategory, category)
	h.Set(HeaderEvent, event)
	h.Set(HeaderSignature, Sign(testConnID, testKey))
	h.Set("Content-Type", "application/json; charset=utf-8")
	return h
}

// wantError checks that err is an *apierror.Error with code and a message
// holding every one of parts.
func wantError(tb testing.TB, err error, code string, parts ...string) {
	tb.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want *apierror.Error with code %s", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("got code %s (%s), want %s", e.Code, e.Message, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			tb.Errorf("got message %q, want it to contain %q", e.Message, p)
		}
	}
}

func TestParseChecks(t *testing.T) {
	invocation := `{"type":1,"invocationId":"7","target":"broadcast","arguments":["hi"]}`
	tests := []struct {
		name      string
		category  string // default messages
		event     string // default broadcast
		edit      func(h http.Header)
		body      string // default invocation
		keys      []string
		wantCode  string // "" = accepted
		wantParts []string
	}{
		{name: "valid", keys: []string{testKey}},
		{name: "connection id missing", edit: func(h http.Header) { h.Del(HeaderConnectionID) }, keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderConnectionID, "missing"}},
		{name: "connection id empty", edit: func(h http.Header) { h.Set(HeaderConnectionID, "") }, keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderConnectionID}},
		{name: "connection id checked before signature", edit: func(h http.Header) { h.Del(HeaderConnectionID); h.Del(HeaderSignature) },
			keys: []string{testKey}, wantCode: apierror.InvalidMessage, wantParts: []string{HeaderConnectionID}},
		{name: "hub missing", edit: func(h http.Header) { h.Del(HeaderHub) }, keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderHub, "missing"}},
		{name: "category missing", edit: func(h http.Header) { h.Del(HeaderCategory) }, keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderCategory, "missing"}},
		{name: "event missing", edit: func(h http.Header) { h.Del(HeaderEvent) }, keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderEvent, "missing"}},
		{name: "signature checked before other headers", edit: func(h http.Header) { h.Del(HeaderHub); h.Del(HeaderSignature) },
			keys: []string{testKey}, wantCode: apierror.Unauthorized},
		{name: "unknown category", category: "streams", keys: []string{testKey},
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderCategory, `"streams"`, "connections or messages"}},
		{name: "unknown connection event", category: "connections", event: "reconnected", body: `{"type":10}`,
			wantCode: apierror.InvalidMessage, wantParts: []string{HeaderEvent, `"reconnected"`}},

		// Signatures.
		{name: "signature missing", edit: func(h http.Header) { h.Del(HeaderSignature) }, keys: []string{testKey},
			wantCode: apierror.Unauthorized, wantParts: []string{HeaderSignature, "missing"}},
		{name: "signature empty", edit: func(h http.Header) { h.Set(HeaderSignature, " , ") }, keys: []string{testKey},
			wantCode: apierror.Unauthorized, wantParts: []string{"missing"}},
		{name: "signature of a wrong key", edit: func(h http.Header) { h.Set(HeaderSignature, Sign(testConnID, "other")) },
			keys: []string{testKey}, wantCode: apierror.Unauthorized, wantParts: []string{"none of the access keys"}},
		{name: "signature of another connection", edit: func(h http.Header) { h.Set(HeaderSignature, Sign("conn-2", testKey)) },
			keys: []string{testKey}, wantCode: apierror.Unauthorized},
		{name: "signature without prefix", edit: func(h http.Header) {
			h.Set(HeaderSignature, strings.TrimPrefix(Sign(testConnID, testKey), "sha256="))
		}, keys: []string{testKey}, wantCode: apierror.Unauthorized},
		{name: "signature not hex", edit: func(h http.Header) { h.Set(HeaderSignature, "sha256=zz") }, keys: []string{testKey},
			wantCode: apierror.Unauthorized},
		{name: "signature truncated", edit: func(h http.Header) { h.Set(HeaderSignature, Sign(testConnID, testKey)[:40]) },
			keys: []string{testKey}, wantCode: apierror.Unauthorized},
		{name: "signature lower-case hex", edit: func(h http.Header) { h.Set(HeaderSignature, strings.ToLower(Sign(testConnID, testKey))) },
			keys: []string{testKey}},
		{name: "signature upper-case prefix", edit: func(h http.Header) {
			h.Set(HeaderSignature, "SHA256="+strings.TrimPrefix(Sign(testConnID, testKey), "sha256="))
		}, keys: []string{testKey}},
		{name: "two signatures, second matches", edit: func(h http.Header) {
			h.Set(HeaderSignature, Sign(testConnID, "old")+","+Sign(testConnID, testKey))
		}, keys: []string{testKey}},
		{name: "two signatures with spaces, first matches", edit: func(h http.Header) {
			h.Set(HeaderSignature, " "+Sign(testConnID, testKey)+" , "+Sign(testConnID, "old")+" ")
		}, keys: []string{testKey}},
		{name: "two signatures, none matches", edit: func(h http.Header) {
			h.Set(HeaderSignature, Sign(testConnID, "a")+","+Sign(testConnID, "b"))
		}, keys: []string{testKey}, wantCode: apierror.Unauthorized},
		{name: "rotated: signed with the second key", edit: func(h http.Header) { h.Set(HeaderSignature, Sign(testConnID, testSecondKey)) },
			keys: []string{testKey, testSecondKey}},
		{name: "rotated: both keys in one header", edit: func(h http.Header) {
			h.Set(HeaderSignature, Sign(testConnID, "new-primary")+","+Sign(testConnID, testSecondKey))
		}, keys: []string{testKey, testSecondKey}},
		{name: "signatures in repeated headers", edit: func(h http.Header) {
			h.Set(HeaderSignature, Sign(testConnID, "a"))
			h.Add(HeaderSignature, Sign(testConnID, testKey))
		}, keys: []string{testKey}},
		{name: "no keys: signature not checked", edit: func(h http.Header) { h.Set(HeaderSignature, "sha256=00") }},
		{name: "no keys: signature missing", edit: func(h http.Header) { h.Del(HeaderSignature) }},
		{name: "empty key never matches", edit: func(h http.Header) { h.Set(HeaderSignature, Sign(testConnID, "")) },
			keys: []string{""}, wantCode: apierror.Unauthorized},

		// Content-Type.
		{name: "content type missing", edit: func(h http.Header) { h.Del("Content-Type") },
			wantCode: apierror.UnsupportedMediaType, wantParts: []string{"missing", "application/json"}},
		{name: "content type plain", edit: func(h http.Header) { h.Set("Content-Type", "text/plain") },
			wantCode: apierror.UnsupportedMediaType, wantParts: []string{`"text/plain"`, "application/json"}},
		{name: "content type unparsable", edit: func(h http.Header) { h.Set("Content-Type", "application/json; =") },
			wantCode: apierror.UnsupportedMediaType, wantParts: []string{"not a media type"}},
		{name: "content type upper case", edit: func(h http.Header) { h.Set("Content-Type", "Application/JSON") }},
		{name: "content type without charset", edit: func(h http.Header) { h.Set("Content-Type", "application/json") }},
		{name: "content type messagepack, JSON body", edit: func(h http.Header) { h.Set("Content-Type", "application/x-msgpack") },
			wantCode: apierror.InvalidMessage, wantParts: []string{"MessagePack"}},

		// Body against headers.
		{name: "target differs from event", event: "echo",
			wantCode: apierror.InvalidMessage, wantParts: []string{`"broadcast"`, `"echo"`, HeaderEvent}},
		{name: "target equals event in another case", event: "BroadCast"},
		{name: "invocation without target", body: `{"type":1,"arguments":[]}`,
			wantCode: apierror.InvalidMessage, wantParts: []string{"no target"}},
		{name: "connected body in messages", body: `{"type":10}`,
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 10", "type 1"}},
		{name: "invocation body on connected", category: "connections", event: "connected",
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 1", "type 10"}},
		{name: "disconnected body on connected", category: "connections", event: "connected", body: `{"type":11}`,
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 11", "type 10"}},
		{name: "connected body on disconnected", category: "connections", event: "disconnected", body: `{"type":10}`,
			wantCode: apierror.InvalidMessage},
		{name: "completion type", body: `{"type":3,"invocationId":"1","result":1}`,
			wantCode: apierror.InvalidMessage, wantParts: []string{"type 3"}},
		{name: "connected with empty body", category: "connections", event: "connected", body: " "},
		{name: "disconnected with empty body", category: "connections", event: "disconnected", body: " ",
			wantCode: apierror.InvalidMessage, wantParts: []string{"empty"}},
		{name: "invocation with empty body", body: " ",
			wantCode: apierror.InvalidMessage, wantParts: []string{"empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			category, event, body := tt.category, tt.event, tt.body
			if category == "" {
				category = CategoryMessages
			}
			if event == "" {
				event = "broadcast"
			}
			if body == "" {
				body = invocation
			}
			h := requestHeaders(t, category, event)
			if tt.edit != nil {
				tt.edit(h)
			}
			req, err := Parse(h, []byte(body), tt.keys)
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, tt.wantParts...)
				if req != nil {
					t.Errorf("got request %+v with the error, want nil", req)
				}
				if sig := h.Get(HeaderSignature); len(sig) > 10 && strings.Contains(err.Error(), sig) {
					t.Errorf("got message %q, want it without the signature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if req.ConnectionID != testConnID || req.Hub != "chat" {
				t.Errorf("got connection %q hub %q, want %q %q", req.ConnectionID, req.Hub, testConnID, "chat")
			}
		})
	}
}

// checkBody checks what Parse read from the body (type, invocation id,
// target, arguments, error) against want, and that it took the body for
// protocol.
func checkBody(tb testing.TB, req *Request, want Request, protocol string) {
	tb.Helper()
	got := Request{Type: req.Type, InvocationID: req.InvocationID, Target: req.Target, Arguments: req.Arguments, Error: req.Error}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("got %+v, want %+v", got, want)
	}
	if req.Protocol != protocol {
		tb.Errorf("got protocol %q, want %q", req.Protocol, protocol)
	}
}

func TestParseBodies(t *testing.T) {
	tests := []struct {
		name     string
		category string
		event    string
		body     string
		want     Request // only the body fields are compared
	}{
		{"connected", "connections", "connected", `{"type":10}`, Request{Type: TypeConnected}},
		{"connected, PascalCase, trailing separator", "connections", "Connected", `{"Type":10}` + "\x1e",
			Request{Type: TypeConnected}},
		{"connected, ignored properties", "connections", "connected", `{"type":10,"error":"x","target":"t"}`,
			Request{Type: TypeConnected}},
		{"disconnected without error", "connections", "disconnected", `{"type":11}`, Request{Type: TypeDisconnected}},
		{"disconnected, null error", "connections", "disconnected", `{"type":11,"error":null}`, Request{Type: TypeDisconnected}},
		{"disconnected, emulator's PascalCase", "connections", "disconnected", `{"Type":11,"Error":"Connection closed with an error."}`,
			Request{Type: TypeDisconnected, Error: "Connection closed with an error."}},
		{"disconnected, upper case", "connections", "DISCONNECTED", `{"TYPE":11,"ERROR":"boom"}`,
			Request{Type: TypeDisconnected, Error: "boom"}},
		{"invoke", "messages", "broadcast", `{"type":1,"invocationId":"0","target":"broadcast","arguments":["hi",{"a":[1,2]},3.5,null,true]}`,
			Request{Type: TypeInvocation, InvocationID: "0", Target: "broadcast",
				Arguments: []json.RawMessage{json.RawMessage(`"hi"`), json.RawMessage(`{"a":[1,2]}`), json.RawMessage(`3.5`), json.RawMessage(`null`), json.RawMessage(`true`)}}},
		{"send: no invocation id", "messages", "broadcast", `{"type":1,"target":"broadcast","arguments":[]}`,
			Request{Type: TypeInvocation, Target: "broadcast", Arguments: []json.RawMessage{}}},
		{"send: null invocation id", "messages", "broadcast", `{"type":1,"invocationId":null,"target":"broadcast","arguments":[1]}`,
			Request{Type: TypeInvocation, Target: "broadcast", Arguments: []json.RawMessage{json.RawMessage(`1`)}}},
		{"send: empty invocation id", "messages", "broadcast", `{"type":1,"invocationId":"","target":"broadcast","arguments":[1]}`,
			Request{Type: TypeInvocation, Target: "broadcast", Arguments: []json.RawMessage{json.RawMessage(`1`)}}},
		{"invoke, PascalCase, headers and streamIds ignored", "messages", "Broadcast",
			`{"Type":1,"InvocationId":"12","Target":"broadcast","Arguments":[[]],"Headers":{"a":"b"},"StreamIds":[]}`,
			Request{Type: TypeInvocation, InvocationID: "12", Target: "broadcast", Arguments: []json.RawMessage{json.RawMessage(`[]`)}}},
		{"invoke, arguments missing", "messages", "ping", `{"type":1,"invocationId":"1","target":"ping"}`,
			Request{Type: TypeInvocation, InvocationID: "1", Target: "ping"}},
		{"invoke, arguments null", "messages", "ping", `{"type":1,"invocationId":"1","target":"ping","arguments":null}`,
			Request{Type: TypeInvocation, InvocationID: "1", Target: "ping"}},
		{"invoke, whitespace and separator", "messages", "ping", "\n {\"type\": 1, \"target\": \"ping\", \"arguments\": [ 1 ]} \x1e",
			Request{Type: TypeInvocation, Target: "ping", Arguments: []json.RawMessage{json.RawMessage(`1`)}}},
		{"invoke, unicode target", "messages", "Grüße", `{"type":1,"target":"grüße","arguments":[]}`,
			Request{Type: TypeInvocation, Target: "grüße", Arguments: []json.RawMessage{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(requestHeaders(t, tt.category, tt.event), []byte(tt.body), []string{testKey})
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkBody(t, req, tt.want, ProtocolJSON)
			if req.Event != tt.event {
				t.Errorf("got event %q, want %q as sent", req.Event, tt.event)
			}
			if req.Category != tt.category {
				t.Errorf("got category %q, want %q", req.Category, tt.category)
			}
		})
	}
}

func TestParseBadBodies(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name      string
		body      string
		wantParts []string
	}{
		{"not JSON", `{"type":1,`, []string{"not valid JSON"}},
		{"garbage", "\x00\x01", []string{"not valid JSON"}},
		{"two messages", `{"type":1,"target":"t","arguments":[]}` + "\x1e" + `{"type":1,"target":"t","arguments":[]}` + "\x1e", []string{"not valid JSON"}},
		{"two values", `{"type":1} {"type":1}`, []string{"not valid JSON"}},
		{"array", `[1,{},"t",[]]`, []string{"an array", "want a JSON object"}},
		{"string", `"hello"`, []string{"a string"}},
		{"null", `null`, []string{"null"}},
		{"no type", `{"target":"t","arguments":[]}`, []string{"no type"}},
		{"null type", `{"type":null,"target":"t","arguments":[]}`, []string{"no type"}},
		{"type a string", `{"type":"1","target":"t","arguments":[]}`, []string{`type is "\"1\""`, "integer"}},
		{"type a fraction", `{"type":1.5,"target":"t","arguments":[]}`, []string{"1.5", "integer"}},
		{"type huge", `{"type":1` + strings.Repeat("0", 400) + `}`, []string{"integer", "…"}},
		{"target a number", `{"type":1,"target":5,"arguments":[]}`, []string{"target is a number", "want a string"}},
		{"invocation id a number", `{"type":1,"invocationId":3,"target":"t","arguments":[]}`, []string{"invocationId is a number"}},
		{"arguments an object", `{"type":1,"target":"t","arguments":{"a":1}}`, []string{"arguments is an object", "want an array"}},
		{"arguments a string", `{"type":1,"target":"t","arguments":"a"}`, []string{"arguments is a string"}},
		{"long target", `{"type":1,"target":"` + long + `","arguments":[]}`, []string{"differs", "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(requestHeaders(t, CategoryMessages, "t"), []byte(tt.body), []string{testKey})
			wantError(t, err, apierror.InvalidMessage, tt.wantParts...)
			if n := len(err.(*apierror.Error).Message); n > 600 {
				t.Errorf("got a message of %d bytes, want it bounded", n)
			}
		})
	}
}

func TestParseDisconnectedErrorType(t *testing.T) {
	_, err := Parse(requestHeaders(t, CategoryConnections, EventDisconnected), []byte(`{"type":11,"error":{"m":1}}`), nil)
	wantError(t, err, apierror.InvalidMessage, "error is an object", "want a string")
}

func TestParseContext(t *testing.T) {
	h := requestHeaders(t, "Messages", "broadcast")
	h.Set(HeaderUserID, "alice")
	h.Set(HeaderUserClaims, "name: Alice")
	h.Add(HeaderUserClaims, "role: admin, role: editor")
	h.Set(HeaderClientQuery, "?hub=chat&id=abc&tag=a&tag=b%20c")
	h.Set("X-Custom", "v")
	req, err := Parse(h, []byte(`{"type":1,"target":"broadcast","arguments":[]}`), []string{testKey})
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if req.Category != CategoryMessages {
		t.Errorf("got category %q, want %q", req.Category, CategoryMessages)
	}
	if req.UserID != "alice" {
		t.Errorf("got user id %q, want alice", req.UserID)
	}
	wantClaims := []Claim{{"name", "Alice"}, {"role", "admin"}, {"role", "editor"}}
	if !reflect.DeepEqual(req.Claims, wantClaims) {
		t.Errorf("got claims %+v, want %+v", req.Claims, wantClaims)
	}
	wantQuery := url.Values{"hub": {"chat"}, "id": {"abc"}, "tag": {"a", "b c"}}
	if !reflect.DeepEqual(req.Query, wantQuery) {
		t.Errorf("got query %v, want %v", req.Query, wantQuery)
	}
	if got := req.Headers.Get("X-Custom"); got != "v" {
		t.Errorf("got header X-Custom %q, want v", got)
	}
	h.Set("X-Custom", "changed")
	if got := req.Headers.Get("X-Custom"); got != "v" {
		t.Errorf("got header X-Custom %q after the caller changed its own, want v (a copy)", got)
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name   string
		header *string
		want   url.Values
	}{
		{"absent", nil, url.Values{}},
		{"empty", ptr(""), url.Values{}},
		{"only a question mark", ptr("?"), url.Values{}},
		{"without question mark", ptr("a=1"), url.Values{"a": {"1"}}},
		{"escapes and plus", ptr("?name=J%C3%BCrgen+M&x=%2B"), url.Values{"name": {"Jürgen M"}, "x": {"+"}}},
		{"key without value", ptr("?flag&b="), url.Values{"flag": {""}, "b": {""}}},
		{"repeated key", ptr("?a=1&a=2"), url.Values{"a": {"1", "2"}}},
		{"bad escape left out", ptr("?a=%zz&b=2"), url.Values{"b": {"2"}}},
		{"semicolon pair left out", ptr("?a=1;c=3&b=2"), url.Values{"b": {"2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := requestHeaders(t, CategoryConnections, EventConnected)
			if tt.header != nil {
				h.Set(HeaderClientQuery, *tt.header)
			}
			req, err := Parse(h, []byte(`{"type":10}`), nil)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(req.Query, tt.want) {
				t.Errorf("got query %v, want %v", req.Query, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestParseClaims(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		want     []Claim
		wantPart string // error
	}{
		{"absent", nil, nil, ""},
		{"empty value", []string{""}, nil, ""},
		{"one", []string{"sub: 123"}, []Claim{{"sub", "123"}}, ""},
		{"comma list", []string{"sub: 123, name: Alice,role: admin"}, []Claim{{"sub", "123"}, {"name", "Alice"}, {"role", "admin"}}, ""},
		{"repeated headers, in order", []string{"b: 2", "a: 1", "b: 3"}, []Claim{{"b", "2"}, {"a", "1"}, {"b", "3"}}, ""},
		{"lists in repeated headers", []string{"a: 1, b: 2", "c: 3"}, []Claim{{"a", "1"}, {"b", "2"}, {"c", "3"}}, ""},
		{"value with spaces", []string{"name: Alice  Smith "}, []Claim{{"name", "Alice  Smith"}}, ""},
		{"value with colons", []string{"time: 10:30:00"}, []Claim{{"time", "10:30:00"}}, ""},
		{"value with a colon and space", []string{"note: a: b"}, []Claim{{"note", "a: b"}}, ""},
		{"value a URL", []string{"website: https://example.com/a?b=c"}, []Claim{{"website", "https://example.com/a?b=c"}}, ""},
		{"URI claim type", []string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier: u1"},
			[]Claim{{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", "u1"}}, ""},
		{"value with a comma", []string{"name: Doe, John, role: x"}, []Claim{{"name", "Doe, John"}, {"role", "x"}}, ""},
		{"empty value, space trimmed", []string{"a:, b: 2"}, []Claim{{"a", ""}, {"b", "2"}}, ""},
		{"empty value at the end", []string{"a: 1, b:"}, []Claim{{"a", "1"}, {"b", ""}}, ""},
		{"empty items skipped", []string{" , a: 1,, "}, []Claim{{"a", "1"}}, ""},
		{"no separator", []string{"justtext"}, nil, `"justtext"`},
		{"no separator starting a later header", []string{"a: 1", "oops"}, nil, `"oops"`},
		{"no type", []string{": v"}, nil, "no claim type"},
		{"no separator, long", []string{strings.Repeat("y", 1000)}, nil, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClaims(tt.values)
			if tt.wantPart != "" {
				wantError(t, err, apierror.InvalidMessage, HeaderUserClaims, tt.wantPart)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseBadClaimsRefuseRequest(t *testing.T) {
	h := requestHeaders(t, CategoryConnections, EventConnected)
	h.Set(HeaderUserClaims, "garbage")
	_, err := Parse(h, []byte(`{"type":10}`), []string{testKey})
	wantError(t, err, apierror.InvalidMessage, HeaderUserClaims)
}
