package functions_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

const hostJSON = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"app"},"enableForwardingHttpRequest":true}}`

// Function folders' function.json, by kind.
const (
	httpAnon     = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get","post"]},{"type":"http","direction":"out","name":"res"}]}`
	httpFunction = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"]},{"type":"http","direction":"out","name":"res"}]}`
	upstreamJSON = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`
	timerEvery5s = `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"*/5 * * * * *"}]}`
	queueJSON    = `{"bindings":[{"type":"queueTrigger","direction":"in","name":"item","queueName":"q","connection":"AzureWebJobsStorage"}]}`
	officialNeg  = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},{"type":"http","direction":"out","name":"res"},{"type":"signalRConnectionInfo","direction":"in","name":"connectionInfo","hubName":"chat","userId":"{headers.x-ms-client-principal-id}"}]}`
)

// appDir writes host.json and one folder per entry of functionJSON.
func appDir(tb testing.TB, functionJSON map[string]string, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	write := func(rel, content string) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("host.json", hostJSON)
	for name, fj := range functionJSON {
		write(filepath.Join(name, "function.json"), fj)
	}
	for rel, content := range files {
		write(rel, content)
	}
	return dir
}

// running is an app run in-process.
type running struct {
	addrs          map[string]string
	stdout, stderr *testkit.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// run starts app in dir with environ (standalone unless environ sets
// FUNCTIONS_CUSTOMHANDLER_PORT) and waits until the handler and, when
// wantLocal, the embedded local service listen.
func run(tb testing.TB, app *functions.App, dir string, environ []string, wantLocal bool) *running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addrs: map[string]string{}, stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	var mu sync.Mutex
	listening := make(chan struct{}, 4)
	env := functions.Env{
		Environ: append([]string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}, environ...), Dir: dir,
		Stdout: r.stdout, Stderr: r.stderr, Addr: "127.0.0.1:0",
		Listening: func(name, addr string) {
			mu.Lock()
			r.addrs[name] = addr
			mu.Unlock()
			listening <- struct{}{}
		},
	}
	go func() { r.done <- app.Run(ctx, env) }()
	want := 1
	if wantLocal {
		want = 2
	}
	for i := 0; i < want; i++ {
		select {
		case <-listening:
		case err := <-r.done:
			cancel()
			tb.Fatalf("Run returned early: %v\nstdout: %s", err, r.stdout)
		case <-time.After(10 * time.Second):
			cancel()
			tb.Fatal("Run did not start listening")
		}
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(15 * time.Second):
			tb.Error("Run did not return after cancel")
		}
	})
	mu.Lock()
	defer mu.Unlock()
	return r
}

// startErr runs app in dir with environ and returns the error Run stops
// with (nil when it is still running after 3 s).
func startErr(tb testing.TB, app *functions.App, dir string, environ ...string) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- app.Run(ctx, functions.Env{Environ: append([]string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}, environ...), Dir: dir,
			Stdout: io.Discard, Stderr: io.Discard, Addr: "127.0.0.1:0"})
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(3 * time.Second):
		cancel()
		<-errc
		return nil
	}
}

func noop(http.ResponseWriter, *http.Request) {}

func TestRegistrationPanics(t *testing.T) {
	timer := func(context.Context, functions.TimerInfo) error { return nil }
	trig := func(context.Context, *functions.InvocationContext) (any, error) { return nil, nil }
	tests := []struct {
		name     string
		register func(a *functions.App)
		want     string
	}{
		{"duplicate HTTP", func(a *functions.App) { a.HTTP("f", http.HandlerFunc(noop)); a.HTTP("f", http.HandlerFunc(noop)) }, "registered twice"},
		{"duplicate across kinds and case", func(a *functions.App) { a.HTTP("Tick", http.HandlerFunc(noop)); a.Timer("tick", timer) }, "registered twice"},
		{"invalid name", func(a *functions.App) { a.HTTP("a/b", http.HandlerFunc(noop)) }, "invalid function name"},
		{"nil handler", func(a *functions.App) { a.HTTP("f", nil) }, "nil handler"},
		{"unknown category", func(a *functions.App) {
			a.SignalRTrigger("t", a.Hub(functions.SignalR{}), "streams", "x", trig)
		}, "unknown category"},
		{"connections with another event", func(a *functions.App) {
			a.SignalRTrigger("t", a.Hub(functions.SignalR{}), functions.Connections, "broadcast", trig)
		}, "connected and disconnected"},
		{"same event twice", func(a *functions.App) {
			h := a.Hub(functions.SignalR{HubName: "chat"})
			a.SignalRTrigger("one", h, functions.Messages, "broadcast", trig)
			a.SignalRTrigger("two", h, functions.Messages, "Broadcast", trig)
		}, "already handled by one"},
		{"same event on hubs named in another case", func(a *functions.App) {
			a.SignalRTrigger("one", a.Hub(functions.SignalR{HubName: "Chat"}), functions.Messages, "broadcast", trig)
			a.SignalRTrigger("two", a.Hub(functions.SignalR{HubName: "chat"}), functions.Messages, "broadcast", trig)
		}, "already handled by one"},
		{"same event on a hub of another connection", func(a *functions.App) {
			a.SignalRTrigger("one", a.Hub(functions.SignalR{HubName: "chat"}), functions.Messages, "broadcast", trig)
			a.SignalRTrigger("two", a.Hub(functions.SignalR{ConnectionStringSetting: "Other", HubName: "chat"}), functions.Messages, "broadcast", trig)
		}, "already handled by one"},
		{"same event on hubs named by the setting", func(a *functions.App) {
			a.SignalRTrigger("one", a.Hub(functions.SignalR{}), functions.Connections, functions.Connected, trig)
			a.SignalRTrigger("two", a.Hub(functions.SignalR{}), functions.Connections, "Connected", trig)
		}, "already handled by one"},
		{"token lifetime out of range", func(a *functions.App) { a.Hub(functions.SignalR{AccessTokenLifetime: 25 * time.Hour}) }, "AccessTokenLifetime: access token lifetime 25h0m0s is out of range: want 1 minute to 24 hours"},
		{"bad user id expression", func(a *functions.App) { a.Hub(functions.SignalR{}).NegotiateHandler("{claims.sub}") }, "unsupported binding expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil {
					t.Fatal("no panic")
				}
				if !strings.Contains(v.(string), tt.want) {
					t.Fatalf("panic %q, want it to contain %q", v, tt.want)
				}
			}()
			tt.register(functions.New())
		})
	}
}

func TestFoldersAndRegistrationsMustAgree(t *testing.T) {
	timer := func(context.Context, functions.TimerInfo) error { return nil }
	generic := func(context.Context, *functions.InvokeRequest) (*functions.InvokeResponse, error) { return nil, nil }
	trig := func(context.Context, *functions.InvocationContext) (any, error) { return nil, nil }
	tests := []struct {
		name     string
		folders  map[string]string
		register func(a *functions.App)
		want     []string // every one must appear in the one error; none → Run starts
	}{
		{
			name:    "all agree",
			folders: map[string]string{"index": httpAnon, "tick": timerEvery5s, "work": queueJSON, "signalr": upstreamJSON},
			register: func(a *functions.App) {
				a.HTTP("index", http.HandlerFunc(noop))
				a.Timer("tick", timer)
				a.Generic("work", generic)
				a.SignalRTrigger("broadcast", a.Hub(functions.SignalR{HubName: "chat"}), functions.Messages, "broadcast", trig)
			},
		},
		{
			name:    "every mismatch in one error",
			folders: map[string]string{"index": httpAnon, "tick": timerEvery5s, "work": queueJSON, "orphan": httpAnon},
			register: func(a *functions.App) {
				a.Timer("index", timer)
				a.HTTP("tick", http.HandlerFunc(noop))
				a.HTTP("nofolder", http.HandlerFunc(noop))
				a.SignalRTrigger("broadcast", a.Hub(functions.SignalR{}), functions.Messages, "broadcast", trig)
			},
			want: []string{
				`index is registered as a timer function but index/function.json has a httptrigger (register it with app.HTTP("index", handler))`,
				`tick is registered as a HTTP function but tick/function.json has a timertrigger (register it with app.Timer("tick", fn))`,
				`function folder work (queuetrigger) has no code: register it with app.Generic("work", fn)`,
				`function folder orphan (httptrigger) has no code: register it with app.HTTP("orphan", handler)`,
				`nofolder is registered as a HTTP function but there is no folder nofolder/`,
				`the SignalR trigger functions (broadcast) need the folder signalr/`,
			},
		},
		{
			name:     "official binding types are explained",
			folders:  map[string]string{"negotiate": officialNeg},
			register: func(a *functions.App) { a.HTTP("negotiate", http.HandlerFunc(noop)) },
			want:     []string{"negotiate/function.json declares the official SignalR extension's binding type signalRConnectionInfo", "extension bundle", "app.Hub(functions.SignalR"},
		},
		{
			name:    "a trigger function with a folder",
			folders: map[string]string{"signalr": upstreamJSON, "broadcast": httpAnon},
			register: func(a *functions.App) {
				a.SignalRTrigger("broadcast", a.Hub(functions.SignalR{}), functions.Messages, "broadcast", trig)
			},
			want: []string{"broadcast is a SignalR trigger function, which has no folder"},
		},
		{
			name:    "the upstream function is funcsignalr's",
			folders: map[string]string{"signalr": upstreamJSON},
			register: func(a *functions.App) {
				a.HTTP("signalr", http.HandlerFunc(noop))
				a.SignalRTrigger("broadcast", a.Hub(functions.SignalR{}), functions.Messages, "broadcast", trig)
			},
			want: []string{"signalr is the upstream function of the SignalR triggers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := functions.New()
			tt.register(app)
			if len(tt.want) == 0 {
				run(t, app, appDir(t, tt.folders, nil), nil, true) // fails the test unless it starts
				return
			}
			err := startErr(t, app, appDir(t, tt.folders, nil))
			if err == nil {
				t.Fatal("Run started, want a start-up error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// jsonCT declares a request body as JSON.
var jsonCT = http.Header{"Content-Type": {"application/json"}}

func TestBrokenSettingOnlyFailsItsFunctions(t *testing.T) {
	app := functions.New()
	good := app.Hub(functions.SignalR{HubName: "chat"})
	broken := app.Hub(functions.SignalR{ConnectionStringSetting: "Broken", HubName: "chat"})
	missing := app.Hub(functions.SignalR{ConnectionStringSetting: "Missing"})
	handler := func(h *functions.Hub) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := h.Send(r.Context(), functions.Message{Target: "t", Arguments: []any{1}})
			var e *functions.Error
			switch {
			case errors.As(err, &e):
				http.Error(w, e.Code+": "+e.Message, http.StatusInternalServerError)
			case err != nil:
				http.Error(w, err.Error(), http.StatusInternalServerError)
			default:
				w.WriteHeader(http.StatusAccepted)
			}
		})
	}
	app.HTTP("good", handler(good))
	app.HTTP("broken", handler(broken))
	app.HTTP("missing", handler(missing))
	dir := appDir(t, map[string]string{"good": httpAnon, "broken": httpAnon, "missing": httpAnon}, nil)
	r := run(t, app, dir, []string{"Broken=Endpoint=ftp://nowhere;AccessKey=x"}, true)
	base := "http://" + r.addrs["handler"] + "/api/"
	if status, _, body := testkit.Do(t, "POST", base+"good", nil, nil); status != http.StatusAccepted {
		t.Errorf("good: %d %s, want 202", status, body)
	}
	status, _, body := testkit.Do(t, "POST", base+"broken", nil, nil)
	if status != 500 || !strings.Contains(body, "ConfigurationError") || !strings.Contains(body, "Broken") {
		t.Errorf("broken: %d %q, want 500 with a ConfigurationError naming Broken", status, body)
	}
	status, _, body = testkit.Do(t, "POST", base+"missing", nil, nil)
	if status != 500 || !strings.Contains(body, "ConfigurationError") || !strings.Contains(body, "Missing") {
		t.Errorf("missing: %d %q, want 500 with a ConfigurationError naming Missing", status, body)
	}
	if !strings.Contains(r.stderr.String(), "Broken") {
		t.Errorf("start-up error log does not name the broken setting:\n%s", r.stderr)
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{&functions.Error{Code: functions.CodeInvalidMessage, Message: "text is empty"}, 400, "InvalidMessage"},
		{&functions.Error{Code: functions.CodeInvalidJSON, Message: "x"}, 400, "InvalidJson"},
		{&functions.Error{Code: functions.CodeNotFound, Message: "x"}, 404, "NotFound"},
		{&functions.Error{Code: functions.CodeUnsupportedMediaType, Message: "x"}, 415, "UnsupportedMediaType"},
		{&functions.Error{Code: functions.CodeConfigurationError, Message: "x"}, 500, "ConfigurationError"},
		{&functions.Error{Code: functions.CodeServiceError, Message: "x"}, 502, "ServiceError"},
		{&functions.Error{Code: functions.CodeAuthenticationUnavailable, Message: "x"}, 503, "AuthenticationUnavailable"},
		{&functions.Error{Code: functions.CodeServiceTimeout, Message: "x"}, 504, "ServiceTimeout"},
		{errors.New("secret detail"), 500, "InternalError"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		functions.WriteError(w, tt.err)
		if w.Code != tt.wantStatus || testkit.ErrorCode(w.Body.String()) != tt.wantCode || strings.Contains(w.Body.String(), "secret") {
			t.Errorf("WriteError(%v): %d %s, want %d %s", tt.err, w.Code, w.Body, tt.wantStatus, tt.wantCode)
		}
	}
}

// TestTriggersConflictOnResolvedHubs registers two triggers for one event
// on hubs whose names differ until AzureSignalRHubName names the first: Run
// refuses to start, since upstream requests would only ever reach one.
func TestTriggersConflictOnResolvedHubs(t *testing.T) {
	trig := func(context.Context, *functions.InvocationContext) (any, error) { return nil, nil }
	tests := []struct {
		name    string
		environ []string
		wantErr string // "" → Run starts
	}{
		{"the setting names the same hub", []string{"AzureSignalRHubName=CHAT"}, "SignalR triggers one and two both handle messages/broadcast on hub chat"},
		{"the setting names another hub", []string{"AzureSignalRHubName=lobby"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := functions.New()
			app.SignalRTrigger("one", app.Hub(functions.SignalR{}), functions.Messages, "broadcast", trig)
			app.SignalRTrigger("two", app.Hub(functions.SignalR{HubName: "Chat"}), functions.Messages, "Broadcast", trig)
			dir := appDir(t, map[string]string{"signalr": upstreamJSON}, nil)
			if tt.wantErr == "" {
				run(t, app, dir, tt.environ, true) // fails the test unless it starts
				return
			}
			if err := startErr(t, app, dir, tt.environ...); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
