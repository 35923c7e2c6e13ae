package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

// fakeBindings records what the handler asked for and answers with its fields.
type fakeBindings struct {
	mu     sync.Mutex
	users  []string
	claims []map[string][]string
	ops    [][]bindings.Operation
	fakeAnswers
}

// fakeAnswers is what fakeBindings answers.
type fakeAnswers struct {
	info       bindings.ConnectionInfo
	negErr     error
	sendErr    error
	sentOnErr  int
	claimTypes []string
}

// ClaimTypes makes fakeBindings a ClaimTyper.
func (f *fakeBindings) ClaimTypes() []string { return f.claimTypes }

func (f *fakeBindings) Negotiate(ctx context.Context, userID string, claims map[string][]string) (bindings.ConnectionInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, userID)
	f.claims = append(f.claims, claims)
	return f.info, f.negErr
}

func (f *fakeBindings) Send(ctx context.Context, ops []bindings.Operation) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, ops)
	if f.sendErr != nil {
		return f.sentOnErr, f.sendErr
	}
	return len(ops), nil
}

func testApp(tb testing.TB) App {
	tb.Helper()
	app, err := LoadApp("..")
	if err != nil {
		tb.Fatalf("LoadApp: %v", err)
	}
	return app
}

func newTestHandler(tb testing.TB, fb *fakeBindings, mutate func(*Config)) http.Handler {
	tb.Helper()
	cfg := Config{App: testApp(tb), Negotiator: fb, Sender: fb}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

func TestLoadAppReadsTheFunctionFolders(t *testing.T) {
	app := testApp(t)
	if got, want := app.RoutePrefix, "api"; got != want {
		t.Errorf("RoutePrefix = %q, want %q", got, want)
	}
	if !app.ForwardingEnabled {
		t.Error("ForwardingEnabled = false, want true")
	}
	if got, want := app.ExecutablePath, "funcsignalr"; got != want {
		t.Errorf("ExecutablePath = %q, want %q", got, want)
	}
	tests := []struct {
		name, path, auth string
		methods          []string
	}{
		{"negotiate", "/api/negotiate", "anonymous", []string{"GET", "POST"}},
		{"send", "/api/send", "function", []string{"POST"}},
	}
	for _, tt := range tests {
		fn, ok := app.Function(tt.name)
		if !ok {
			t.Fatalf("function %s missing", tt.name)
		}
		if got := app.PublicPath(fn); got != tt.path {
			t.Errorf("%s path = %q, want %q", tt.name, got, tt.path)
		}
		if fn.AuthLevel != tt.auth {
			t.Errorf("%s authLevel = %q, want %q", tt.name, fn.AuthLevel, tt.auth)
		}
		if strings.Join(fn.Methods, ",") != strings.Join(tt.methods, ",") {
			t.Errorf("%s methods = %v, want %v", tt.name, fn.Methods, tt.methods)
		}
	}
}

func TestNewRejectsUnknownFunctionFolder(t *testing.T) {
	app := testApp(t)
	app.Functions = append(app.Functions, Function{Name: "broadcast", Route: "broadcast"})
	if _, err := New(Config{App: app}); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Fatalf("New error = %v, want one naming the function", err)
	}
}

// invoke runs one request in the given mode and returns status, headers and body.
func invoke(tb testing.TB, h http.Handler, payload bool, method, target string, header http.Header, body string) (int, http.Header, string) {
	tb.Helper()
	if !payload {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, vs := range header {
			req.Header[k] = vs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header(), rec.Body.String()
	}
	name := target[strings.LastIndex(strings.Split(target, "?")[0], "/")+1:]
	name = strings.Split(name, "?")[0]
	u := "http://example.azurewebsites.net" + target
	reqData := HTTPRequestData{URL: u, Method: method, Query: map[string]string{}, Headers: map[string][]string{}}
	if i := strings.Index(target, "?"); i >= 0 {
		for _, kv := range strings.Split(target[i+1:], "&") {
			k, v, _ := strings.Cut(kv, "=")
			reqData.Query[k] = v
		}
	}
	for k, vs := range header {
		reqData.Headers[k] = vs
	}
	if body != "" {
		reqData.Body = &body
	}
	raw, _ := json.Marshal(map[string]any{"Data": map[string]any{"req": reqData}, "Metadata": map[string]any{}})
	req := httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("payload invocation answered %d, want 200: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("payload Content-Type = %q, want application/json", ct)
	}
	var resp InvokeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		tb.Fatalf("payload response: %v: %s", err, rec.Body)
	}
	res := resp.Outputs["res"]
	hd := http.Header{}
	for k, v := range res.Headers {
		hd.Set(k, v)
	}
	return res.StatusCode, hd, res.Body
}

func TestFunctionsAnswerAlikeInBothModes(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	_, notConfigured := settings.Resolve(settings.NewValues(nil), "AlertsSignalR", settings.Options{})
	tests := []struct {
		name       string
		fb         fakeAnswers
		cfg        func(*Config)
		method     string
		target     string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string // error code, "" for success
		wantBody   string // exact body on success
	}{
		{name: "negotiate GET", fb: fakeAnswers{info: bindings.ConnectionInfo{URL: "http://x/client/?hub=default", AccessToken: "t"}},
			method: "GET", target: "/api/negotiate", wantStatus: 200,
			wantBody: `{"url":"http://x/client/?hub=default","accessToken":"t"}`},
		{name: "negotiate POST with negotiateVersion", fb: fakeAnswers{info: bindings.ConnectionInfo{URL: "u", AccessToken: "t"}},
			method: "POST", target: "/api/negotiate?negotiateVersion=1", wantStatus: 200, wantBody: `{"url":"u","accessToken":"t"}`},
		{name: "negotiate PUT", method: "PUT", target: "/api/negotiate", wantStatus: 405, wantCode: "MethodNotAllowed"},
		{name: "negotiate auth unavailable", fb: fakeAnswers{negErr: &apierror.Error{Code: apierror.AuthenticationUnavailable, Message: "access-key exchange failed"}},
			method: "GET", target: "/api/negotiate", wantStatus: 503, wantCode: "AuthenticationUnavailable"},
		{name: "negotiate unknown error", fb: fakeAnswers{negErr: errors.New("secret-looking internals")},
			method: "GET", target: "/api/negotiate", wantStatus: 500, wantCode: "InternalError"},
		{name: "negotiate not configured", fb: fakeAnswers{negErr: notConfigured},
			method: "GET", target: "/api/negotiate", wantStatus: 500, wantCode: "ConfigurationError"},
		{name: "send one message", method: "POST", target: "/api/send", header: jsonCT,
			body: `{"target":"newMessage","arguments":["hi"]}`, wantStatus: 202, wantBody: `{"sent":1}`},
		{name: "send batch", method: "POST", target: "/api/send",
			body: `[{"target":"a"},{"action":"add","groupName":"g","userId":"u"}]`, wantStatus: 202, wantBody: `{"sent":2}`},
		{name: "send GET", method: "GET", target: "/api/send", wantStatus: 405, wantCode: "MethodNotAllowed"},
		{name: "send not JSON", method: "POST", target: "/api/send", body: `{"target":`, wantStatus: 400, wantCode: "InvalidJson"},
		{name: "send scalar", method: "POST", target: "/api/send", body: `42`, wantStatus: 400, wantCode: "InvalidJson"},
		{name: "send missing target", method: "POST", target: "/api/send", body: `{"arguments":[]}`, wantStatus: 400, wantCode: "InvalidMessage"},
		{name: "send unknown action", method: "POST", target: "/api/send", body: `{"action":"explode","groupName":"g","userId":"u"}`, wantStatus: 400, wantCode: "InvalidMessage"},
		{name: "send text/plain", method: "POST", target: "/api/send", header: http.Header{"Content-Type": {"text/plain"}},
			body: `{"target":"a"}`, wantStatus: 415, wantCode: "UnsupportedMediaType"},
		{name: "send too large", method: "POST", target: "/api/send",
			body: `{"target":"a","arguments":["` + strings.Repeat("x", MaxBodyBytes) + `"]}`, wantStatus: 413, wantCode: "PayloadTooLarge"},
		{name: "send service error", fb: fakeAnswers{sendErr: &apierror.Error{Code: apierror.ServiceError, Message: "SignalR service answered 500"}, sentOnErr: 1},
			method: "POST", target: "/api/send", body: `[{"target":"a"},{"target":"b"}]`, wantStatus: 502, wantCode: "ServiceError"},
		{name: "send timeout", fb: fakeAnswers{sendErr: &apierror.Error{Code: apierror.ServiceTimeout, Message: "no answer"}},
			method: "POST", target: "/api/send", body: `{"target":"a"}`, wantStatus: 504, wantCode: "ServiceTimeout"},
		{name: "send config error", fb: fakeAnswers{sendErr: apierror.Setting("AzureSignalRConnectionString", "unknown AuthType \"foo\"")},
			method: "POST", target: "/api/send", body: `{"target":"a"}`, wantStatus: 500, wantCode: "ConfigurationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type answer struct {
				status int
				ct     string
				body   string
			}
			var answers [2]answer
			for i, payload := range []bool{false, true} {
				h := newTestHandler(t, &fakeBindings{fakeAnswers: tt.fb}, tt.cfg)
				status, hd, body := invoke(t, h, payload, tt.method, tt.target, tt.header, tt.body)
				answers[i] = answer{status, hd.Get("Content-Type"), body}
				if status != tt.wantStatus {
					t.Errorf("payload=%v: status = %d, want %d (body %s)", payload, status, tt.wantStatus, body)
				}
				if !strings.HasPrefix(hd.Get("Content-Type"), "application/json") {
					t.Errorf("payload=%v: Content-Type = %q, want application/json", payload, hd.Get("Content-Type"))
				}
				if tt.wantCode == "" {
					if body != tt.wantBody {
						t.Errorf("payload=%v: body = %s, want %s", payload, body, tt.wantBody)
					}
					continue
				}
				var e struct {
					Error struct{ Code, Message string }
					Sent  *int
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("payload=%v: error body %q: %v", payload, body, err)
				}
				if e.Error.Code != tt.wantCode || e.Error.Message == "" {
					t.Errorf("payload=%v: error = %+v, want code %s with a message", payload, e.Error, tt.wantCode)
				}
				if strings.Contains(body, "secret-looking") {
					t.Errorf("payload=%v: internal error text leaked: %s", payload, body)
				}
				if tt.fb.sendErr != nil && (e.Sent == nil || *e.Sent != tt.fb.sentOnErr) {
					t.Errorf("payload=%v: sent = %v, want %d", payload, e.Sent, tt.fb.sentOnErr)
				}
			}
			if answers[0] != answers[1] {
				t.Errorf("modes differ:\nforwarding %+v\npayload    %+v", answers[0], answers[1])
			}
		})
	}
}

func TestSendPassesOperationsInOrder(t *testing.T) {
	fb := &fakeBindings{}
	h := newTestHandler(t, fb, nil)
	status, _, body := invoke(t, h, false, "POST", "/api/send", nil,
		`[{"target":"one","arguments":[1,{"a":"b"}],"userId":"u"},{"action":"removeAll","userId":"u"}]`)
	if status != 202 {
		t.Fatalf("status = %d, want 202: %s", status, body)
	}
	if len(fb.ops) != 1 || len(fb.ops[0]) != 2 {
		t.Fatalf("ops = %+v, want one batch of 2", fb.ops)
	}
	if m := fb.ops[0][0].Message; m == nil || m.Target != "one" || m.UserID != "u" || len(m.Arguments) != 2 {
		t.Errorf("first op = %+v, want message one to user u with 2 arguments", fb.ops[0][0])
	}
	if g := fb.ops[0][1].GroupAction; g == nil || !strings.EqualFold(g.Action, "removeAll") || g.UserID != "u" {
		t.Errorf("second op = %+v, want removeAll for u", fb.ops[0][1])
	}
}

func TestSendNothingWhenBatchInvalid(t *testing.T) {
	fb := &fakeBindings{}
	h := newTestHandler(t, fb, nil)
	status, _, _ := invoke(t, h, false, "POST", "/api/send", nil, `[{"target":"ok"},{"arguments":[]}]`)
	if status != 400 {
		t.Fatalf("status = %d, want 400", status)
	}
	if len(fb.ops) != 0 {
		t.Errorf("Send was called with %v, want nothing sent", fb.ops)
	}
}

func TestNegotiateUserID(t *testing.T) {
	tests := []struct {
		name, expr, target string
		header             http.Header
		want               string
	}{
		{"default header", "", "/api/negotiate", http.Header{"X-Ms-Client-Principal-Id": {"alice"}}, "alice"},
		{"default absent", "", "/api/negotiate", nil, ""},
		{"query", "{query.userId}", "/api/negotiate?userId=bob", nil, "bob"},
		{"custom header", "{headers.x-ms-signalr-userid}", "/api/negotiate", http.Header{"X-Ms-Signalr-Userid": {"carol"}}, "carol"},
		{"template", "user-{query.id}", "/api/negotiate?id=7", nil, "user-7"},
		{"template unresolved", "user-{query.id}", "/api/negotiate", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, payload := range []bool{false, true} {
				fb := &fakeBindings{}
				h := newTestHandler(t, fb, func(c *Config) { c.UserID = tt.expr })
				if status, _, body := invoke(t, h, payload, "GET", tt.target, tt.header, ""); status != 200 {
					t.Fatalf("status = %d: %s", status, body)
				}
				if len(fb.users) != 1 || fb.users[0] != tt.want {
					t.Errorf("payload=%v: user = %q, want %q", payload, fb.users, tt.want)
				}
			}
		})
	}
}

func TestBadUserIDExpression(t *testing.T) {
	for _, expr := range []string{"{body.id}", "{headers.}", "{query}", "x{"} {
		if _, err := New(Config{App: testApp(t), UserID: expr}); err == nil {
			t.Errorf("New(UserID %q) succeeded, want an error", expr)
		}
	}
}

func TestPayloadEnvelopeErrors(t *testing.T) {
	h := newTestHandler(t, &fakeBindings{}, nil)
	tests := []struct {
		name, method, body string
		wantStatus         int
		wantCode           string
	}{
		{"not JSON", "POST", `{"Data":`, 400, "InvalidJson"},
		{"no req", "POST", `{"Data":{},"Metadata":{}}`, 400, "InvalidJson"},
		{"req not object", "POST", `{"Data":{"req":"x"}}`, 400, "InvalidJson"},
		{"GET", "GET", ``, 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/send", strings.NewReader(tt.body)))
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), `"code":"`+tt.wantCode+`"`) {
				t.Errorf("got %d %s, want %d with code %s", rec.Code, rec.Body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	h := newTestHandler(t, &fakeBindings{}, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/other", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"code":"NotFound"`) {
		t.Errorf("got %d %s, want 404 NotFound", rec.Code, rec.Body)
	}
}

func TestReadinessProbe(t *testing.T) {
	h := newTestHandler(t, &fakeBindings{}, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Errorf("GET / = %d, want 200", rec.Code)
	}
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name        string
		origins     []string
		method      string
		header      http.Header
		wantStatus  int
		wantAllowed string
	}{
		{"preflight allowed", []string{"http://localhost:5173"}, "OPTIONS",
			http.Header{"Origin": {"http://localhost:5173"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"x-requested-with, x-signalr-user-agent"}},
			204, "http://localhost:5173"},
		{"preflight wildcard", []string{"*"}, "OPTIONS",
			http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"}}, 204, "https://app.example"},
		{"preflight other origin", []string{"http://localhost:5173"}, "OPTIONS",
			http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}, 405, ""},
		{"simple request", []string{"http://localhost:5173"}, "POST",
			http.Header{"Origin": {"http://localhost:5173"}}, 200, "http://localhost:5173"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBindings{fakeAnswers: fakeAnswers{info: bindings.ConnectionInfo{URL: "u", AccessToken: "t"}}}
			h := newTestHandler(t, fb, func(c *Config) { c.CORSOrigins = tt.origins })
			req := httptest.NewRequest(tt.method, "/api/negotiate", nil)
			req.Header = tt.header
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllowed {
				t.Errorf("Allow-Origin = %q, want %q", got, tt.wantAllowed)
			}
			if tt.wantAllowed != "" && rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("Allow-Credentials missing")
			}
			if tt.wantStatus == 204 && !strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("Allow-Methods = %q, want POST in it", rec.Header().Get("Access-Control-Allow-Methods"))
			}
		})
	}
}

func TestRequestLogsHoldNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	fb := &fakeBindings{fakeAnswers: fakeAnswers{sendErr: &apierror.Error{Code: apierror.ServiceError, Message: "SignalR service answered 500"}}}
	h := newTestHandler(t, fb, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const secret = "code-s3cr3t-value"
	req := httptest.NewRequest("POST", "/api/send?code="+secret, strings.NewReader(`{"target":"a","arguments":["`+secret+`"]}`))
	req.Header.Set("x-functions-key", secret)
	req.Header.Set("Authorization", "Bearer "+secret)
	h.ServeHTTP(httptest.NewRecorder(), req)
	out := logs.String()
	if !strings.Contains(out, "status=502") {
		t.Errorf("logs = %q, want the request line with status=502", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("logs hold a secret: %s", out)
	}
}

func TestPayloadEnvelopeTooLargeIsTheFunctionsAnswer(t *testing.T) {
	h := newTestHandler(t, &fakeBindings{}, nil)
	body := `{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("x", maxEnvelopeBytes) + `"}}}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/send", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200 (the host turns a failed invocation into a bare 500)", rec.Code)
	}
	var resp InvokeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	res := resp.Outputs["res"]
	if res.StatusCode != 413 || !strings.Contains(res.Body, `"code":"PayloadTooLarge"`) {
		t.Errorf("Outputs.res = %d %s, want 413 PayloadTooLarge", res.StatusCode, res.Body)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "http://127.0.0.1:8888/client/?hub=default", "eyJhbGciOi.eyJhdWQ.sig-_", `a"b\c`, "<&>", "ü", "\x00\n", "\xff"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestRoutePath(t *testing.T) {
	tests := []struct {
		route, path string
		want        bool
	}{
		{"/api/send", "/api/send", true},
		{"/api/send", "/API/Send", true},
		{"/api/send", "/api/send/x", false},
		{"/api/signalr/{*rest}", "/api/signalr", true},
		{"/api/signalr/{*rest}", "/api/signalr/", true},
		{"/api/signalr/{*rest}", "/api/signalr/chat/messages/broadcast", true},
		{"/api/signalr/{*rest}", "/api/signalrx", false},
		{"/api/signalr/{*rest}", "/api", false},
		{"/api/users/{id}", "/api/users/42", true},
		{"/api/users/{id:int}", "/api/users/42", true},
		{"/api/users/{id}", "/api/users", false},
		{"/api/users/{id}", "/api/users/42/x", false},
		{"/api/users/{id}/posts", "/api/Users/7/POSTS", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.path, nil)
		if got := routePath(tt.route)(r, nil); got != tt.want {
			t.Errorf("route %s, path %s: matched %v, want %v", tt.route, tt.path, got, tt.want)
		}
	}
}

func TestInvocationsAndPanics(t *testing.T) {
	app := App{RoutePrefix: "api", Functions: []Function{
		{Name: "tick", Trigger: TriggerTimer, TriggerName: "myTimer"},
		{Name: "boom", Trigger: TriggerHTTP, TriggerName: "req", Route: "boom", AuthLevel: "anonymous"},
	}}
	var logs bytes.Buffer
	h, err := New(Config{App: app,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Functions: map[string]http.Handler{"boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("secret-panic-text")
		})},
		Invocations: map[string]InvokeFunc{"TICK": func(ctx context.Context, fn Function, req *InvokeRequest) (*InvocationResult, error) {
			if string(req.Data[fn.TriggerName]) == `"fail"` {
				return nil, errors.New("failed on purpose")
			}
			if string(req.Data[fn.TriggerName]) == `"panic"` {
				panic("secret-panic-text")
			}
			return &InvocationResult{Outputs: map[string]any{"o": 1}, ReturnValue: "r"}, nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
	}{
		{"invocation", "POST", "/tick", `{"Data":{"myTimer":"ok"},"Metadata":{}}`, 200, `{"Outputs":{"o":1},"Logs":[],"ReturnValue":"r"}`},
		{"failed invocation", "POST", "/tick", `{"Data":{"myTimer":"fail"}}`, 500, "failed on purpose"},
		{"panicking invocation", "POST", "/tick", `{"Data":{"myTimer":"panic"}}`, 500, "panicked; see the log"},
		{"GET on an invocation path", "GET", "/tick", ``, 405, "MethodNotAllowed"},
		{"HTTP panic", "GET", "/api/boom", ``, 500, "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("%d %s, want %d with %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(w.Body.String(), "secret-panic-text") {
				t.Errorf("the panic's text reached the answer")
			}
		})
	}
	if strings.Count(logs.String(), "secret-panic-text") != 2 || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("want both panics logged with a stack:\n%s", logs.String())
	}
}

func TestLoadAppTriggerKinds(t *testing.T) {
	tests := []struct {
		name, functionJSON string
		check              func(Function) bool
		wantErr            string
	}{
		{"timer", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"0 */5 * * * *","runOnStartup":true,"useMonitor":false}]}`,
			func(f Function) bool {
				return f.Trigger == TriggerTimer && f.TriggerName == "myTimer" && f.Schedule == "0 */5 * * * *" && f.RunOnStartup && f.UseMonitor != nil && !*f.UseMonitor
			}, ""},
		{"queue", `{"bindings":[{"type":"queueTrigger","direction":"in","name":"item","queueName":"q"},{"type":"queue","direction":"out","name":"out"}]}`,
			func(f Function) bool { return f.Trigger == "queuetrigger" && f.TriggerName == "item" && !f.IsHTTP() }, ""},
		{"catch-all route", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`,
			func(f Function) bool { return f.IsHTTP() && f.Route == "signalr/{*rest}" && f.AuthLevel == "function" }, ""},
		{"official binding", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"},{"type":"SignalRConnectionInfo","direction":"in","name":"c"}]}`,
			func(f Function) bool { return len(f.Official) == 1 && f.Official[0] == "signalRConnectionInfo" }, ""},
		{"no trigger", `{"bindings":[{"type":"http","direction":"out","name":"res"}]}`, nil, "no trigger binding"},
		{"two triggers", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"timerTrigger","direction":"in","name":"t","schedule":"* * * * * *"}]}`, nil, "2 trigger bindings"},
		{"timer without schedule", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t"}]}`, nil, "no schedule"},
		{"http without res", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"}]}`, nil, "http output named res"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0"}`), 0o644)
			os.MkdirAll(filepath.Join(dir, "f"), 0o755)
			os.WriteFile(filepath.Join(dir, "f", "function.json"), []byte(tt.functionJSON), 0o644)
			app, err := LoadApp(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(app.Functions[0]) {
				t.Errorf("got %+v", app.Functions[0])
			}
		})
	}
}
