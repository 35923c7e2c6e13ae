package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
	"github.com/funcsignalr/funcsignalr/settings"
)

// triggerApp is an app with one hub, chat, and trigger functions that
// exercise every answer of the upstream endpoint.
type triggerApp struct {
	app *functions.App
	dir string

	mu           sync.Mutex
	disconnected []string // errors of disconnected events
	seen         []*functions.InvocationContext
}

func newTriggerApp(tb testing.TB) *triggerApp {
	tb.Helper()
	ta := &triggerApp{app: functions.New()}
	chat := ta.app.Hub(functions.SignalR{HubName: "chat"})
	record := func(inv *functions.InvocationContext) {
		ta.mu.Lock()
		defer ta.mu.Unlock()
		ta.seen = append(ta.seen, inv)
	}
	ta.app.SignalRTrigger("connected", chat, functions.Connections, functions.Connected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			record(inv)
			if inv.UserID == "" {
				return nil, errors.New("sign in first")
			}
			return nil, nil
		})
	ta.app.SignalRTrigger("disconnected", chat, functions.Connections, functions.Disconnected,
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			ta.mu.Lock()
			defer ta.mu.Unlock()
			ta.disconnected = append(ta.disconnected, inv.Error)
			return nil, errors.New("ignored: disconnected answers 200 anyway")
		})
	ta.app.SignalRTrigger("echo", chat, functions.Messages, "echo",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			record(inv)
			var v any
			if err := inv.Bind(functions.Named("value", &v)); err != nil {
				return nil, err
			}
			return v, nil
		})
	ta.app.SignalRTrigger("add", chat, functions.Messages, "add",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var a, b int
			if err := inv.Bind(functions.Named("a", &a), functions.Named("b", &b)); err != nil {
				return nil, err
			}
			return a + b, nil
		})
	ta.app.SignalRTrigger("boom", chat, functions.Messages, "boom",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			panic("secret-panic-text")
		})
	ta.app.SignalRTrigger("nothing", chat, functions.Messages, "nothing",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) { return nil, nil })
	ta.dir = appDir(tb, map[string]string{"signalr": upstreamJSON}, nil)
	return ta
}

// upstreamCall is one request as Azure SignalR Service would send it.
type upstreamCall struct {
	conn, hub, category, event string
	user, claims, query        string
	signature                  string // "" signs with the local key; "-" sends none
	contentType                string // default application/json
	body                       string
}

func (c upstreamCall) header() http.Header {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(upstream.HeaderConnectionID, c.conn)
	set(upstream.HeaderHub, c.hub)
	set(upstream.HeaderCategory, c.category)
	set(upstream.HeaderEvent, c.event)
	set(upstream.HeaderUserID, c.user)
	set(upstream.HeaderUserClaims, c.claims)
	set(upstream.HeaderClientQuery, c.query)
	switch c.signature {
	case "":
		h.Set(upstream.HeaderSignature, upstream.Sign(c.conn, settings.LocalAccessKey))
	case "-":
	default:
		h.Set(upstream.HeaderSignature, c.signature)
	}
	ct := c.contentType
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	return h
}

// post sends c forwarded (the original request at /api/signalr) or as the
// host's payload (POST /signalr), and returns status, content type and body.
func (c upstreamCall) post(tb testing.TB, addr string, payload bool) (int, string, string) {
	tb.Helper()
	h := c.header()
	var req *http.Request
	var err error
	if !payload {
		req, err = http.NewRequest("POST", "http://"+addr+"/api/signalr", strings.NewReader(c.body))
		if err != nil {
			tb.Fatal(err)
		}
		req.Header = h
	} else {
		data := map[string]any{"Url": "http://" + addr + "/api/signalr", "Method": "POST", "Query": map[string]string{},
			"Headers": h, "Body": c.body}
		env, _ := json.Marshal(map[string]any{"Data": map[string]any{"req": data}, "Metadata": map[string]any{}})
		req, err = http.NewRequest("POST", "http://"+addr+"/signalr", strings.NewReader(string(env)))
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !payload {
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
	}
	var out handler.InvokeResponse
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		tb.Fatalf("payload answer %d %q, want 200 with Outputs.res", resp.StatusCode, raw)
	}
	res := out.Outputs["res"]
	return res.StatusCode, res.Headers["Content-Type"], res.Body
}

func TestUpstreamAnswersInBothModes(t *testing.T) {
	ta := newTriggerApp(t)
	r := run(t, ta.app, ta.dir, nil, true)
	msg := func(event, body string) upstreamCall {
		return upstreamCall{conn: "c1", hub: "chat", category: "messages", event: event, body: body}
	}
	tests := []struct {
		name       string
		call       upstreamCall
		wantStatus int
		wantType   string // Content-Type prefix; "" for an empty answer
		wantBody   string // exact, or the error code for JSON errors
	}{
		{"connected with a user", upstreamCall{conn: "c1", hub: "chat", category: "connections", event: "connected", user: "alice", body: `{"type":10}`}, 200, "", ""},
		{"connected without a user is rejected", upstreamCall{conn: "c2", hub: "chat", category: "connections", event: "connected", body: `{"type":10}`}, 403, "", ""},
		{"disconnected with an error", upstreamCall{conn: "c1", hub: "chat", category: "connections", event: "disconnected", body: `{"Type":11,"Error":"transport closed"}`}, 200, "", ""},
		{"invoke with a result", msg("echo", `{"type":1,"invocationId":"7","target":"echo","arguments":[{"a":[1,2]}]}`), 200, "application/json", `{"type":3,"invocationId":"7","result":{"a":[1,2]}}` + "\x1e"},
		{"invoke in another letter case", upstreamCall{conn: "c1", hub: "CHAT", category: "messages", event: "ECHO", body: `{"type":1,"invocationId":"8","target":"ECHO","arguments":["x"]}`}, 200, "application/json", `{"type":3,"invocationId":"8","result":"x"}` + "\x1e"},
		{"invoke with a null result", msg("nothing", `{"type":1,"invocationId":"9","target":"nothing","arguments":[]}`), 200, "application/json", `{"type":3,"invocationId":"9","result":null}` + "\x1e"},
		{"invoke with wrong arguments", msg("add", `{"type":1,"invocationId":"10","target":"add","arguments":[1]}`), 200, "application/json",
			`{"type":3,"invocationId":"10","error":"add expects 2 arguments (a integer, b integer), got 1"}` + "\x1e"},
		{"invoke with a wrong type", msg("add", `{"type":1,"invocationId":"11","target":"add","arguments":[1,"two"]}`), 200, "application/json",
			`{"type":3,"invocationId":"11","error":"add expects 2 arguments (a integer, b integer): b is not integer"}` + "\x1e"},
		{"send without invocation id", msg("echo", `{"type":1,"target":"echo","arguments":[1]}`), 200, "", ""},
		{"panic", msg("boom", `{"type":1,"invocationId":"12","target":"boom","arguments":[]}`), 500, "application/json", "InternalError"},
		{"wrong signature", upstreamCall{conn: "c1", hub: "chat", category: "messages", event: "echo", signature: "sha256=00", body: `{"type":1,"target":"echo","arguments":[1]}`}, 401, "application/json", "Unauthorized"},
		{"missing signature", upstreamCall{conn: "c1", hub: "chat", category: "messages", event: "echo", signature: "-", body: `{"type":1,"target":"echo","arguments":[1]}`}, 401, "application/json", "Unauthorized"},
		{"rotated keys", upstreamCall{conn: "c1", hub: "chat", category: "messages", event: "echo",
			signature: "sha256=DEADBEEF, " + strings.ToLower(upstream.Sign("c1", settings.LocalAccessKey)), body: `{"type":1,"target":"echo","arguments":[1]}`}, 200, "", ""},
		{"missing hub header", upstreamCall{conn: "c1", category: "messages", event: "echo", body: `{"type":1,"target":"echo","arguments":[1]}`}, 400, "application/json", "InvalidMessage"},
		{"unsupported media type", upstreamCall{conn: "c1", hub: "chat", category: "messages", event: "echo", contentType: "text/plain", body: `x`}, 415, "application/json", "UnsupportedMediaType"},
		{"unreadable body", msg("echo", `{"type":1,`), 400, "application/json", "InvalidMessage"},
		{"body over 1 MiB", msg("echo", `{"type":1,"target":"echo","arguments":["`+strings.Repeat("x", handler.MaxBodyBytes)+`"]}`), 413, "application/json", "PayloadTooLarge"},
		{"no function for the event", msg("nosuch", `{"type":1,"invocationId":"1","target":"nosuch","arguments":[]}`), 404, "application/json", "NotFound"},
		{"no function for the hub", upstreamCall{conn: "c1", hub: "other", category: "messages", event: "echo", body: `{"type":1,"target":"echo","arguments":[]}`}, 404, "application/json", "NotFound"},
		{"wrong signature for a hub with no function", upstreamCall{conn: "c1", hub: "other", category: "messages", event: "echo", signature: "sha256=00", body: `{"type":1,"target":"echo","arguments":[]}`}, 401, "application/json", "Unauthorized"},
	}
	for _, mode := range []string{"forwarding", "payload"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				status, ct, body := tt.call.post(t, r.addrs["handler"], mode == "payload")
				if status != tt.wantStatus {
					t.Fatalf("status %d (%q), want %d", status, body, tt.wantStatus)
				}
				if tt.wantType == "" {
					if body != "" {
						t.Errorf("body %q, want none", body)
					}
					return
				}
				if !strings.HasPrefix(ct, tt.wantType) {
					t.Errorf("Content-Type %q, want %s", ct, tt.wantType)
				}
				if strings.HasPrefix(body, `{"error"`) {
					if code := testkit.ErrorCode(body); code != tt.wantBody {
						t.Errorf("error code %q (%s), want %q", code, body, tt.wantBody)
					}
					if strings.Contains(body, "secret-panic-text") {
						t.Errorf("the panic's text reached the answer: %s", body)
					}
					return
				}
				if body != tt.wantBody {
					t.Errorf("body %q, want %q", body, tt.wantBody)
				}
			})
		}
	}
	if !strings.Contains(r.stderr.String(), "secret-panic-text") || !strings.Contains(r.stderr.String(), "goroutine") {
		t.Errorf("the panic and its stack are not in the error log:\n%s", r.stderr)
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.disconnected) != 2 || ta.disconnected[0] != "transport closed" {
		t.Errorf("disconnected errors %q, want the close error once per mode", ta.disconnected)
	}
}

func TestInvocationContextFromHeaders(t *testing.T) {
	ta := newTriggerApp(t)
	r := run(t, ta.app, ta.dir, nil, true)
	call := upstreamCall{conn: "conn-9", hub: "chat", category: "connections", event: "connected", user: "alice",
		claims: "role: admin, name: Alice Doe", query: "?room=42&lang=en", body: `{"type":10}`}
	if status, _, body := call.post(t, r.addrs["handler"], false); status != 200 {
		t.Fatalf("status %d %q, want 200", status, body)
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	inv := ta.seen[len(ta.seen)-1]
	if inv.ConnectionID != "conn-9" || inv.UserID != "alice" || inv.Hub != "chat" || inv.Category != functions.Connections || inv.Event != "connected" {
		t.Errorf("context %+v, want conn-9/alice/chat/connections/connected", inv)
	}
	if inv.Claim("role") != "admin" || inv.Claim("name") != "Alice Doe" {
		t.Errorf("claims %+v, want role admin and name Alice Doe", inv.Claims)
	}
	if inv.Query.Get("room") != "42" || inv.Query.Get("lang") != "en" {
		t.Errorf("query %v, want room=42 lang=en", inv.Query)
	}
	if inv.Headers.Get(upstream.HeaderUserID) != "alice" {
		t.Errorf("headers %v lack the user id header", inv.Headers)
	}
}

// TestUpstreamSignedByAnyEndpoint runs the trigger app with two endpoints
// (the connection string and a named one): an upstream request signed with
// either endpoint's key passes; one signed with another key does not.
func TestUpstreamSignedByAnyEndpoint(t *testing.T) {
	const keyA, keyB = "endpoint-a-key-0123456789ABCDEFGHIJ", "endpoint-b-key-0123456789ABCDEFGHIJ"
	ta := newTriggerApp(t)
	r := run(t, ta.app, ta.dir, []string{
		"AzureSignalRConnectionString=Endpoint=https://a.service.signalr.net;AccessKey=" + keyA + ";Version=1.0;",
		"Azure__SignalR__Endpoints__b=Endpoint=https://b.service.signalr.net;AccessKey=" + keyB + ";Version=1.0;",
	}, false)
	tests := []struct {
		name, key  string
		wantStatus int
	}{
		{"the connection string's key", keyA, 200},
		{"the named endpoint's key", keyB, 200},
		{"another key", settings.LocalAccessKey, 401},
	}
	for _, tt := range tests {
		call := upstreamCall{conn: "c1", hub: "chat", category: "messages", event: "echo",
			signature: upstream.Sign("c1", tt.key), body: `{"type":1,"target":"echo","arguments":[1]}`}
		if status, _, body := call.post(t, r.addrs["handler"], false); status != tt.wantStatus {
			t.Errorf("%s: status %d (%q), want %d", tt.name, status, body, tt.wantStatus)
		}
	}
}
