package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/apptest"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
	"github.com/funcsignalr/funcsignalr/settings"
)

// fixedNow is the ticker's clock in these tests.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))

// startChat runs the chat in-process from this folder (host.json and the
// function folders), standalone with the embedded local service, both on
// free ports, and returns the app's base URL.
func startChat(tb testing.TB) string {
	tb.Helper()
	return apptest.Start(tb, newApp(func() time.Time { return fixedNow }), ".", "FUNCSIGNALR_LOG_LEVEL=debug")
}

func TestPageAndScripts(t *testing.T) {
	base := startChat(t)
	bundle, err := content.ReadFile("static/signalr.min.js")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantType           string // Content-Type prefix
		wantBody           string // a substring, or the error code for JSON errors
	}{
		{"the page", "GET", "/api/index", 200, "text/html", `<script src="static/signalr.min.js"></script>`},
		{"the page in another letter case", "GET", "/API/Index", 200, "text/html", `<script src="static/chat.js" defer></script>`},
		{"the official bundle", "GET", "/api/static/signalr.min.js", 200, "text/javascript", string(bundle[:200])},
		{"the page's script", "GET", "/api/static/chat.js", 200, "text/javascript", `connection.invoke("whoami")`},
		{"the page by POST", "POST", "/api/index", 405, "application/json", "MethodNotAllowed"},
		{"an unknown file", "GET", "/api/static/main.go", 404, "application/json", "NotFound"},
		{"a path out of the folder", "GET", "/api/static/..%2Fmain.go", 404, "application/json", "NotFound"},
		{"an encoded separator", "GET", "/api/static/%2e%2e%2fhost.json", 404, "application/json", "NotFound"},
		{"a deeper path", "GET", "/api/static/x/chat.js", 404, "application/json", "NotFound"},
		{"the folder", "GET", "/api/static/", 404, "application/json", "NotFound"},
		{"the source map, not shipped", "GET", "/api/static/signalr.min.js.map", 404, "application/json", "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := testkit.Do(t, tt.method, base+tt.path, nil, nil)
			if status != tt.wantStatus {
				t.Fatalf("got status %d (%.200s), want %d", status, body, tt.wantStatus)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("got Content-Type %q, want %s", ct, tt.wantType)
			}
			if strings.HasPrefix(tt.wantType, "application/json") {
				if code := testkit.ErrorCode(body); code != tt.wantBody {
					t.Errorf("got error code %q (%s), want %q", code, body, tt.wantBody)
				}
				return
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("got body %.200q, want it to contain %.200q", body, tt.wantBody)
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("got Content-Security-Policy %q, want default-src 'self'", csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff", h.Get("X-Content-Type-Options"))
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	base := startChat(t)
	for _, method := range []string{"GET", "POST"} {
		status, _, body := testkit.Do(t, method, base+"/api/negotiate", http.Header{"X-Ms-Client-Principal-Id": {"alice"}}, nil)
		var info struct{ URL, AccessToken string }
		if status != 200 || json.Unmarshal([]byte(body), &info) != nil {
			t.Fatalf("%s negotiate: got %d %s, want 200 with connection info", method, status, body)
		}
		if !strings.HasSuffix(info.URL, "/client/?hub=chat") || info.AccessToken == "" {
			t.Errorf("%s negotiate: got %s, want a token for hub chat", method, body)
		}
	}
}

// listener is a SignalR client of the hub, connected through negotiate.
type listener struct {
	*signalrtest.Client
	user string
}

func listen(tb testing.TB, base, user string) *listener {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := signalrtest.Dial(ctx, base+"/api/negotiate", http.Header{"X-Ms-Client-Principal-Id": {user}})
	if err != nil {
		tb.Fatalf("connect as %s: %v", user, err)
	}
	tb.Cleanup(func() { c.Close() })
	return &listener{c, user}
}

// next returns the arguments of the next message with target, skipping
// others (connection events of other tests' clients, ticks).
func (l *listener) next(tb testing.TB, target string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := l.Next(ctx)
		if err != nil {
			tb.Fatalf("%s waiting for %s: %v", l.user, target, err)
		}
		if m.Target == target {
			raw, _ := json.Marshal(m.Arguments)
			return string(raw)
		}
	}
}

// invoke posts a client event to the upstream function as Azure SignalR
// Service does, signed with the local service's key, and returns the
// status and the completion's result or error ("" for an empty answer).
func invoke(tb testing.TB, base string, from *listener, category, event string, args ...any) (int, string, string) {
	tb.Helper()
	var body []byte
	if category == "connections" {
		body = []byte(`{"type":10}`)
		if event == "disconnected" {
			body = []byte(`{"type":11}`)
		}
	} else {
		body, _ = json.Marshal(map[string]any{"type": 1, "invocationId": "1", "target": event, "arguments": args})
	}
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set(upstream.HeaderConnectionID, from.ConnectionID())
	h.Set(upstream.HeaderHub, "chat")
	h.Set(upstream.HeaderCategory, category)
	h.Set(upstream.HeaderEvent, event)
	if from.user != "" {
		h.Set(upstream.HeaderUserID, from.user)
	}
	h.Set(upstream.HeaderSignature, upstream.Sign(from.ConnectionID(), settings.LocalAccessKey))
	status, _, answer := testkit.Do(tb, "POST", base+"/api/signalr", h, bytes.NewReader(body))
	if answer == "" {
		return status, "", ""
	}
	var c struct {
		Result json.RawMessage
		Error  string
	}
	if err := json.Unmarshal(bytes.TrimSuffix([]byte(answer), []byte{0x1e}), &c); err != nil {
		tb.Fatalf("%s: answer %q is not a completion", event, answer)
	}
	return status, string(c.Result), c.Error
}

func TestHubMethods(t *testing.T) {
	base := startChat(t)
	alice, bob := listen(t, base, "alice"), listen(t, base, "bob")
	msg := func(from *listener, text string) string {
		raw, _ := json.Marshal([]chatMessage{{Sender: from.user, ConnectionID: from.ConnectionID(), Text: text}})
		return string(raw)
	}
	ok := func(tb testing.TB, from *listener, event string, args ...any) {
		tb.Helper()
		if status, _, errText := invoke(tb, base, from, "messages", event, args...); status != 200 || errText != "" {
			tb.Fatalf("%s: got %d %q, want 200 without error", event, status, errText)
		}
	}
	// nothingBefore proves that l received no newMessage before the marker
	// broadcast now: the service delivers one connection's messages in the
	// order they were sent.
	nothingBefore := func(tb testing.TB, l *listener, marker string) {
		tb.Helper()
		ok(tb, l, "broadcast", marker)
		if got, want := l.next(tb, "newMessage"), msg(l, marker); got != want {
			tb.Errorf("%s got %s, want nothing before %s", l.user, got, want)
		}
		other := alice
		if l == alice {
			other = bob
		}
		other.next(tb, "newMessage") // the marker
	}

	t.Run("whoami", func(t *testing.T) {
		status, result, errText := invoke(t, base, alice, "messages", "whoami")
		want := `{"connectionId":"` + alice.ConnectionID() + `","userId":"alice"}`
		if status != 200 || result != want || errText != "" {
			t.Errorf("got %d %s %q, want 200 %s", status, result, errText, want)
		}
	})
	t.Run("broadcast reaches everyone", func(t *testing.T) {
		ok(t, alice, "broadcast", "hello all")
		for _, l := range []*listener{alice, bob} {
			if got, want := l.next(t, "newMessage"), msg(alice, "hello all"); got != want {
				t.Errorf("%s got %s, want %s", l.user, got, want)
			}
		}
	})
	t.Run("sendToUser reaches the user only", func(t *testing.T) {
		ok(t, alice, "sendToUser", "bob", "psst bob")
		if got, want := bob.next(t, "newMessage"), msg(alice, "psst bob"); got != want {
			t.Errorf("bob got %s, want %s", got, want)
		}
		nothingBefore(t, alice, "marker 1")
	})
	t.Run("sendToConnection reaches the connection only", func(t *testing.T) {
		ok(t, bob, "sendToConnection", alice.ConnectionID(), "psst alice")
		if got, want := alice.next(t, "newMessage"), msg(bob, "psst alice"); got != want {
			t.Errorf("alice got %s, want %s", got, want)
		}
		nothingBefore(t, bob, "marker 2")
	})
	t.Run("groups", func(t *testing.T) {
		ok(t, alice, "joinGroup", "room")
		ok(t, bob, "sendToGroup", "room", "to the room")
		if got, want := alice.next(t, "newMessage"), msg(bob, "to the room"); got != want {
			t.Errorf("alice got %s, want %s", got, want)
		}
		nothingBefore(t, bob, "marker 3")

		ok(t, alice, "leaveGroup", "room")
		ok(t, alice, "joinUserToGroup", "bob", "team")
		ok(t, alice, "sendToGroup", "room", "nobody here")
		ok(t, alice, "sendToGroup", "team", "to the team")
		if got, want := bob.next(t, "newMessage"), msg(alice, "to the team"); got != want {
			t.Errorf("bob got %s, want %s (and not the message to the room alice left)", got, want)
		}
		nothingBefore(t, alice, "marker 4")

		ok(t, alice, "leaveUserFromGroup", "bob", "team")
		ok(t, alice, "sendToGroup", "team", "bob left")
		nothingBefore(t, bob, "marker 5")
	})
	t.Run("connection events", func(t *testing.T) {
		if status, _, _ := invoke(t, base, bob, "connections", "connected"); status != 200 {
			t.Fatalf("connected: got %d, want 200", status)
		}
		want := `[{"connectionId":"` + bob.ConnectionID() + `","userId":"bob"}]`
		if got := alice.next(t, "newConnection"); got != want {
			t.Errorf("newConnection: got %s, want %s", got, want)
		}
		if status, _, _ := invoke(t, base, bob, "connections", "disconnected"); status != 200 {
			t.Fatalf("disconnected: got %d, want 200", status)
		}
		if got := alice.next(t, "connectionClosed"); got != want {
			t.Errorf("connectionClosed: got %s, want %s", got, want)
		}
		nameless := &listener{Client: alice.Client}
		if status, _, _ := invoke(t, base, nameless, "connections", "connected"); status != http.StatusForbidden {
			t.Errorf("connected without a user id: got %d, want 403", status)
		}
	})
	t.Run("ticker", func(t *testing.T) {
		// The host's payload invocation of the timer (standalone, it also
		// fires every 5 s: the same function, the same fixed clock).
		status, _, body := testkit.Do(t, "POST", base+"/ticker", http.Header{"Content-Type": {"application/json"}},
			strings.NewReader(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`))
		if status != 200 {
			t.Fatalf("ticker: got %d %s, want 200", status, body)
		}
		if got, want := bob.next(t, "tick"), `[{"time":"2026-01-02T02:04:05Z"}]`; got != want {
			t.Errorf("tick: got %s, want %s", got, want)
		}
	})
}

func TestHubMethodsCheckTheirArguments(t *testing.T) {
	base := startChat(t)
	alice := listen(t, base, "alice")
	tests := []struct {
		event   string
		args    []any
		wantErr string
	}{
		{"broadcast", nil, "broadcast expects 1 argument (text string), got 0"},
		{"broadcast", []any{"a", "b"}, "broadcast expects 1 argument (text string), got 2"},
		{"broadcast", []any{42}, "broadcast expects 1 argument (text string): text is not string"},
		{"broadcast", []any{nil}, "broadcast expects 1 argument (text string): text is not string"},
		{"broadcast", []any{"  "}, "broadcast: text is empty"},
		{"broadcast", []any{""}, "broadcast: text is empty"},
		{"sendToUser", []any{"bob"}, "sendToUser expects 2 arguments (userId string, text string), got 1"},
		{"sendToUser", []any{map[string]any{"id": "bob"}, "hi"}, "sendToUser expects 2 arguments (userId string, text string): userId is not string"},
		{"sendToUser", []any{"", "hi"}, "sendToUser: userId is empty"},
		{"sendToGroup", []any{"room"}, "sendToGroup expects 2 arguments (group string, text string), got 1"},
		{"sendToGroup", []any{"room", []any{"hi"}}, "sendToGroup expects 2 arguments (group string, text string): text is not string"},
		{"sendToGroup", []any{"room", false}, "sendToGroup expects 2 arguments (group string, text string): text is not string"},
		{"sendToConnection", []any{}, "sendToConnection expects 2 arguments (connectionId string, text string), got 0"},
		{"sendToConnection", []any{"c", "hi", "extra"}, "sendToConnection expects 2 arguments (connectionId string, text string), got 3"},
		{"joinGroup", []any{}, "joinGroup expects 1 argument (group string), got 0"},
		{"joinGroup", []any{true}, "joinGroup expects 1 argument (group string): group is not string"},
		{"joinGroup", []any{nil}, "joinGroup expects 1 argument (group string): group is not string"},
		{"joinGroup", []any{strings.Repeat("g", 1025)}, "InvalidMessage: operation 0: groupName is 1025 characters long; the service allows at most 1024"},
		{"leaveGroup", []any{"a", "b"}, "leaveGroup expects 1 argument (group string), got 2"},
		{"leaveGroup", []any{}, "leaveGroup expects 1 argument (group string), got 0"},
		{"joinUserToGroup", []any{"bob"}, "joinUserToGroup expects 2 arguments (userId string, group string), got 1"},
		{"joinUserToGroup", []any{"bob", 7}, "joinUserToGroup expects 2 arguments (userId string, group string): group is not string"},
		{"leaveUserFromGroup", []any{1, 2}, "leaveUserFromGroup expects 2 arguments (userId string, group string): userId is not string"},
		{"leaveUserFromGroup", []any{"bob"}, "leaveUserFromGroup expects 2 arguments (userId string, group string), got 1"},
		{"whoami", []any{"me"}, "whoami expects no arguments, got 1"},
	}
	for _, tt := range tests {
		raw, _ := json.Marshal(tt.args)
		t.Run(tt.event+string(raw), func(t *testing.T) {
			status, result, errText := invoke(t, base, alice, "messages", tt.event, tt.args...)
			if status != 200 || errText != tt.wantErr {
				t.Errorf("got %d result %s error %q, want 200 with error %q", status, result, errText, tt.wantErr)
			}
		})
	}
	// None of the refused calls sent anything: the first newMessage alice
	// gets is the one sent after them.
	if status, _, errText := invoke(t, base, alice, "messages", "broadcast", "after"); status != 200 || errText != "" {
		t.Fatalf("broadcast: got %d %q, want 200", status, errText)
	}
	if got, want := alice.next(t, "newMessage"), `[{"sender":"alice","connectionId":"`+alice.ConnectionID()+`","text":"after"}]`; got != want {
		t.Errorf("alice got %s, want %s first", got, want)
	}
}

func TestMessagesFunction(t *testing.T) {
	base := startChat(t)
	bob := listen(t, base, "bob")
	jsonType := http.Header{"Content-Type": {"application/json"}}
	withUser := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Ms-Client-Principal-Id": {"carol"}}
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantStatus int
		wantBody   string // the exact body on success, else the error code
		wantSent   string // newMessage's arguments bob receives; "" for none
	}{
		{"from a user", withUser, `{"text":"hi from HTTP"}`, 202, `{"sent":1}`, `[{"sender":"carol","connectionId":"","text":"hi from HTTP"}]`},
		{"anonymous", jsonType, `{"text":"who am I"}`, 202, `{"sent":1}`, `[{"sender":"anonymous","connectionId":"","text":"who am I"}]`},
		{"not JSON", jsonType, `{"text":`, 400, "InvalidJson", ""},
		{"an array", jsonType, `[{"text":"hi"}]`, 400, "InvalidJson", ""},
		{"null", jsonType, `null`, 400, "InvalidJson", ""},
		{"empty body", jsonType, ``, 400, "InvalidJson", ""},
		{"no text", jsonType, `{"message":"hi"}`, 400, "InvalidMessage", ""},
		{"text not a string", jsonType, `{"text":42}`, 400, "InvalidMessage", ""},
		{"empty text", jsonType, `{"text":" "}`, 400, "InvalidMessage", ""},
		{"no Content-Type", nil, `{"text":"hi"}`, 415, "UnsupportedMediaType", ""},
		{"a form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, `text=hi`, 415, "UnsupportedMediaType", ""},
		{"too large", jsonType, `{"text":"` + strings.Repeat("x", maxMessageBody) + `"}`, 413, "PayloadTooLarge", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := testkit.Do(t, "POST", base+"/api/messages", tt.header, strings.NewReader(tt.body))
			if status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", status, body, tt.wantStatus)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("got Content-Type %q, want application/json", h.Get("Content-Type"))
			}
			if status == 202 {
				if body != tt.wantBody {
					t.Errorf("got body %s, want %s", body, tt.wantBody)
				}
			} else if code := testkit.ErrorCode(body); code != tt.wantBody {
				t.Errorf("got error code %q (%s), want %q", code, body, tt.wantBody)
			}
			if tt.wantSent == "" {
				return
			}
			if got := bob.next(t, "newMessage"); got != tt.wantSent {
				t.Errorf("bob got %s, want %s", got, tt.wantSent)
			}
		})
	}
	// The refused posts sent nothing: bob's next newMessage is this one.
	if status, _, body := testkit.Do(t, "POST", base+"/api/messages", jsonType, strings.NewReader(`{"text":"last"}`)); status != 202 {
		t.Fatalf("post: got %d %s, want 202", status, body)
	}
	if got, want := bob.next(t, "newMessage"), `[{"sender":"anonymous","connectionId":"","text":"last"}]`; got != want {
		t.Errorf("bob got %s, want %s first", got, want)
	}
	if status, _, body := testkit.Do(t, "GET", base+"/api/messages", nil, nil); status != 405 || testkit.ErrorCode(body) != "MethodNotAllowed" {
		t.Errorf("GET messages: got %d %s, want 405 MethodNotAllowed", status, body)
	}
}
