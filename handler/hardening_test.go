package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// TestStandaloneSendTakesDeclaredJSONOnly checks that without the
// Functions host, where send has no function key, a body a web page could
// post across sites without a preflight (no Content-Type, or text/plain)
// is refused, directly and wrapped in a payload envelope; under the host
// an undeclared body is still accepted.
func TestStandaloneSendTakesDeclaredJSONOnly(t *testing.T) {
	tests := []struct {
		name       string
		standalone bool
		ct         string // "" = no Content-Type
		wantStatus int
	}{
		{"standalone undeclared", true, "", 415},
		{"standalone text/plain", true, "text/plain", 415},
		{"standalone form", true, "application/x-www-form-urlencoded", 415},
		{"standalone JSON", true, "application/json", 202},
		{"standalone JSON with charset", true, "application/json; charset=utf-8", 202},
		{"host undeclared", false, "", 202},
		{"host text/plain", false, "text/plain", 415},
		{"host JSON", false, "application/json", 202},
	}
	for _, tt := range tests {
		for _, userCode := range []bool{false, true} {
			name := tt.name
			if userCode {
				name += " as an app's own function"
			}
			t.Run(name, func(t *testing.T) {
				checkStandaloneSend(t, tt.standalone, userCode, tt.ct, tt.wantStatus)
			})
		}
	}
}

// checkStandaloneSend posts a send with Content-Type ct to a handler built
// from the ready-made functions, or (userCode) from SendHandler registered
// as an app's own function, and checks the status.
func checkStandaloneSend(t *testing.T, standalone, userCode bool, ct string, wantStatus int) {
	t.Helper()
	fb := &fakeBindings{}
	h := newTestHandler(t, fb, func(c *Config) {
		c.Standalone = standalone
		if userCode {
			neg, _ := NegotiateHandler(Config{Negotiator: fb})
			c.Functions = map[string]http.Handler{"negotiate": neg, "send": SendHandler(Config{Sender: fb})}
		}
	})
	req := httptest.NewRequest("POST", "/api/send", strings.NewReader(`{"target":"a"}`))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != wantStatus {
		t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, wantStatus)
	}
	if wantStatus == 415 {
		if code := testkit.ErrorCode(rec.Body.String()); code != apierror.UnsupportedMediaType {
			t.Errorf("got code %q, want %s", code, apierror.UnsupportedMediaType)
		}
		if len(fb.ops) != 0 {
			t.Errorf("got %d sends, want none", len(fb.ops))
		}
	}
}

// TestStandalonePayloadEndpointTakesDeclaredJSONOnly checks that a
// cross-site text/plain POST cannot reach send through the payload-mode
// endpoint with a JSON Content-Type of its own choosing in the envelope.
func TestStandalonePayloadEndpointTakesDeclaredJSONOnly(t *testing.T) {
	envelope := `{"Data":{"req":{"Method":"POST","Url":"http://127.0.0.1:7071/api/send",` +
		`"Headers":{"Content-Type":["application/json"]},"Body":"{\"target\":\"a\"}"}},"Metadata":{}}`
	tests := []struct {
		name       string
		standalone bool
		ct         string
		wantStatus int
	}{
		{"standalone text/plain envelope", true, "text/plain", 415},
		{"standalone undeclared envelope", true, "", 415},
		{"standalone JSON envelope", true, "application/json", 200},
		{"host undeclared envelope", false, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBindings{}
			h := newTestHandler(t, fb, func(c *Config) { c.Standalone = tt.standalone })
			req := httptest.NewRequest("POST", "/send", strings.NewReader(envelope))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.wantStatus)
			}
			wantSends := 0
			if tt.wantStatus == 200 {
				wantSends = 1
			}
			if len(fb.ops) != wantSends {
				t.Errorf("got %d sends, want %d", len(fb.ops), wantSends)
			}
		})
	}
}

// TestStandaloneInvocationTakesDeclaredJSONOnly checks that a cross-site
// page cannot run a timer (or any non-HTTP) function through its payload
// endpoint on a standalone handler.
func TestStandaloneInvocationTakesDeclaredJSONOnly(t *testing.T) {
	tests := []struct {
		name       string
		standalone bool
		ct         string
		wantStatus int
		wantRuns   int
	}{
		{"standalone text/plain", true, "text/plain", 415, 0},
		{"standalone undeclared", true, "", 415, 0},
		{"standalone JSON", true, "application/json", 200, 1},
		{"host undeclared", false, "", 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			h, err := New(Config{App: App{RoutePrefix: "api", Functions: []Function{{Name: "tick", Trigger: TriggerTimer, TriggerName: "myTimer"}}},
				Standalone: tt.standalone,
				Invocations: map[string]InvokeFunc{"tick": func(context.Context, Function, *InvokeRequest) (*InvocationResult, error) {
					runs++
					return &InvocationResult{}, nil
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/tick", strings.NewReader(`{"Data":{"myTimer":{}},"Metadata":{}}`))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || runs != tt.wantRuns {
				t.Errorf("got %d %s with %d runs, want %d with %d", rec.Code, rec.Body, runs, tt.wantStatus, tt.wantRuns)
			}
		})
	}
}

// TestFailureLogLevels checks that the caller's mistakes (4xx) are logged
// at warn, never error, so that anonymous callers cannot fill the error
// log, while failures of the service (5xx) are errors.
func TestFailureLogLevels(t *testing.T) {
	tests := []struct {
		name      string
		fb        fakeAnswers
		method    string
		target    string
		body      string
		wantLevel string
	}{
		{"negotiate user id too long", fakeAnswers{negErr: &apierror.Error{Code: apierror.InvalidMessage, Message: "user id too long"}},
			"GET", "/api/negotiate", "", "level=WARN"},
		{"negotiate auth unavailable", fakeAnswers{negErr: &apierror.Error{Code: apierror.AuthenticationUnavailable, Message: "exchange failed"}},
			"GET", "/api/negotiate", "", "level=ERROR"},
		{"send refused id", fakeAnswers{sendErr: &apierror.Error{Code: apierror.InvalidMessage, Message: "userId too long"}},
			"POST", "/api/send", `{"target":"a"}`, "level=WARN"},
		{"send service error", fakeAnswers{sendErr: &apierror.Error{Code: apierror.ServiceError, Message: "answered 500"}},
			"POST", "/api/send", `{"target":"a"}`, "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &strings.Builder{}
			h := newTestHandler(t, &fakeBindings{fakeAnswers: tt.fb}, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			invoke(t, h, false, tt.method, tt.target, nil, tt.body)
			out := logs.String()
			if !strings.Contains(out, "failed") {
				t.Fatalf("got logs %q, want a failure line", out)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if tt.wantLevel == "level=WARN" && strings.Contains(line, "level=ERROR") {
					t.Errorf("got %q, want no error line for a caller's mistake", line)
				}
			}
			if !strings.Contains(out, tt.wantLevel) {
				t.Errorf("got logs %q, want a line at %s", out, tt.wantLevel)
			}
		})
	}
}

// TestEchoedValuesAreBounded checks that values taken from the request
// (path, method, Content-Type) are cut in error bodies and log lines.
func TestEchoedValuesAreBounded(t *testing.T) {
	long := strings.Repeat("x", 600<<10)
	tests := []struct {
		name     string
		method   string
		target   string
		header   http.Header
		wantCode string
	}{
		{"unknown path", "GET", "/api/" + long, nil, apierror.NotFound},
		{"unknown method", strings.Repeat("M", 10000), "/api/negotiate", nil, apierror.MethodNotAllowed},
		{"Content-Type", "POST", "/api/send", http.Header{"Content-Type": {"text/" + long}}, apierror.UnsupportedMediaType},
	}
	const bound = 1000 // bytes: the answer's own text plus a clipped value
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &strings.Builder{}
			h := newTestHandler(t, &fakeBindings{}, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			req := httptest.NewRequest("GET", "/", strings.NewReader(`{"target":"a"}`))
			req.Method, req.URL.Path = tt.method, tt.target
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if code := testkit.ErrorCode(rec.Body.String()); code != tt.wantCode {
				t.Fatalf("got code %q, want %s", code, tt.wantCode)
			}
			if n := rec.Body.Len(); n > bound {
				t.Errorf("got a %d-byte answer, want at most %d", n, bound)
			}
			if !strings.Contains(rec.Body.String(), clip.Ellipsis) {
				t.Errorf("got %s, want the echoed value marked as cut", rec.Body)
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if len(line) > bound {
					t.Errorf("got a %d-byte log line, want at most %d", len(line), bound)
				}
			}
		})
	}
}

// blockingSender carries out sent operations, then waits for the request
// to end, as a send to a slow service does.
type blockingSender struct {
	fakeBindings
	sent    int
	started chan struct{}
}

func (s *blockingSender) Send(ctx context.Context, ops []bindings.Operation) (int, error) {
	close(s.started)
	<-ctx.Done()
	return s.sent, &apierror.Error{Code: apierror.ServiceTimeout, Message: "POST /api/hubs/h/:send was canceled", Err: ctx.Err()}
}

// TestSendStoppedByShutdownAnswersSent checks that a send cut short by the
// server's shutdown answers the error with the count carried out, in both
// host modes.
func TestSendStoppedByShutdownAnswersSent(t *testing.T) {
	for _, payload := range []bool{false, true} {
		s := &blockingSender{sent: 3, started: make(chan struct{})}
		h := newTestHandler(t, &s.fakeBindings, func(c *Config) { c.Sender = s })
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			<-s.started
			cancel(ErrShutdown)
		}()
		status, body := invokeWithContext(t, ctx, h, payload, `[{"target":"a"},{"target":"b"},{"target":"c"},{"target":"d"}]`)
		var e struct {
			Error struct{ Code, Message string }
			Sent  *int
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("payload=%v: got %q: %v", payload, body, err)
		}
		if status != 504 || e.Error.Code != apierror.ServiceTimeout || e.Sent == nil || *e.Sent != 3 {
			t.Errorf("payload=%v: got %d %s, want 504 ServiceTimeout with sent 3", payload, status, body)
		}
		if !strings.Contains(e.Error.Message, "shut down") || !strings.Contains(e.Error.Message, "3 of 4") {
			t.Errorf("payload=%v: got message %q, want it to say the handler shut down after 3 of 4", payload, e.Error.Message)
		}
	}
}

// invokeWithContext posts body to send under ctx, in either mode.
func invokeWithContext(tb testing.TB, ctx context.Context, h http.Handler, payload bool, body string) (int, string) {
	tb.Helper()
	target, raw := "/api/send", body
	if payload {
		env, _ := json.Marshal(map[string]any{"Data": map[string]any{"req": HTTPRequestData{
			URL: "http://x/api/send", Method: "POST", Body: &body}}, "Metadata": map[string]any{}})
		target, raw = "/send", string(env)
	}
	req := httptest.NewRequestWithContext(ctx, "POST", target, strings.NewReader(raw))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !payload {
		return rec.Code, rec.Body.String()
	}
	var resp InvokeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		tb.Fatalf("got %d %s: %v", rec.Code, rec.Body, err)
	}
	return resp.Outputs["res"].StatusCode, resp.Outputs["res"].Body
}
