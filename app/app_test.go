package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// appDir lays out a function app (host.json and the function folders of
// the repository) plus the given extra files in a temporary directory.
func appDir(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	copy := func(rel string) {
		raw, err := os.ReadFile(filepath.Join("..", rel))
		if err != nil {
			tb.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), raw, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, rel := range []string{"host.json", "negotiate/function.json", "send/function.json"} {
		copy(rel)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// running is an in-process Run with its addresses and output.
type running struct {
	addrs          map[string]string
	stdout, stderr *testkit.Buffer
	exported       map[string]string
	cancel         context.CancelFunc // stands for SIGTERM
	done           chan error         // Run's result, unless the test takes it
	finished       chan struct{}      // closed once Run has returned
}

// start runs the app in-process and waits until wantListeners addresses
// accept connections (the handler, and the local service when it starts).
func start(tb testing.TB, dir string, wantListeners int, environ []string, args ...string) *running {
	tb.Helper()
	return startEnv(tb, Env{Dir: dir, Environ: environ, Args: args}, wantListeners)
}

// startEnv is start with the rest of env as given: its output, addresses
// and Setenv are the running's.
func startEnv(tb testing.TB, env Env, wantListeners int) *running {
	tb.Helper()
	r, err := tryStart(tb, env, wantListeners)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// startHostMode runs the app as the Functions host does, on a free port
// given in FUNCTIONS_CUSTOMHANDLER_PORT. Another process may take the port
// between choosing and listening: then it tries another one.
func startHostMode(tb testing.TB, dir string, wantListeners int, environ []string) *running {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		r, err := tryStart(tb, Env{Dir: dir, Environ: append(environ, "FUNCTIONS_CUSTOMHANDLER_PORT="+freePort(tb))}, wantListeners)
		if err == nil {
			return r
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 5 {
			tb.Fatal(err)
		}
	}
}

// tryStart is startEnv, returning an error if Run does not start listening.
func tryStart(tb testing.TB, env Env, wantListeners int) (*running, error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addrs: map[string]string{}, stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{},
		exported: map[string]string{}, cancel: cancel, done: make(chan error, 1), finished: make(chan struct{})}
	var mu sync.Mutex
	listening := make(chan struct{}, 4)
	env.Environ = append([]string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}, env.Environ...)
	env.Stdout, env.Stderr, env.Addr = r.stdout, r.stderr, "127.0.0.1:0"
	env.Setenv = func(k, v string) error { mu.Lock(); defer mu.Unlock(); r.exported[k] = v; return nil }
	env.Listening = func(name, addr string) {
		mu.Lock()
		r.addrs[name] = addr
		mu.Unlock()
		listening <- struct{}{}
	}
	go func() {
		r.done <- Run(ctx, env, testFunctions())
		close(r.finished)
	}()
	for i := 0; i < wantListeners; i++ {
		select {
		case <-listening:
		case err := <-r.done:
			cancel()
			return nil, fmt.Errorf("Run returned early: %w\nstderr: %s", err, r.stderr)
		case <-time.After(10 * time.Second):
			cancel()
			return nil, errors.New("Run did not start listening")
		}
	}
	tb.Cleanup(func() { r.stop(tb) })
	mu.Lock()
	defer mu.Unlock()
	return r, nil
}

// stop cancels Run and checks that it returns nil, unless the test took
// its result.
func (r *running) stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	select {
	case <-r.finished:
	case <-time.After(15 * time.Second):
		tb.Error("Run did not return after cancel")
		return
	}
	select {
	case err := <-r.done:
		if err != nil {
			tb.Errorf("Run returned %v after cancel, want nil", err)
		}
	default: // the test took it
	}
}

func negotiateURL(tb testing.TB, addr string) string {
	tb.Helper()
	var resp *http.Response
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err = http.Get("http://" + addr + "/api/negotiate")
		if err == nil && resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct{ URL string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		tb.Fatalf("negotiate: status %d, %v", resp.StatusCode, err)
	}
	return info.URL
}

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestSettingSourcesByMode(t *testing.T) {
	files := map[string]string{
		"local.settings.json": `{"IsEncrypted":false,"Values":{"AzureSignalRHubName":"fromLocalSettings","AZURE_CLIENT_ID":"client-from-file"}}`,
		".env":                "AzureSignalRHubName=fromDotEnv\nFUNCSIGNALR_LOG_LEVEL=debug\n",
	}
	tests := []struct {
		name     string
		environ  []string
		hostMode bool
		wantHub  string
	}{
		{"standalone reads local.settings.json over .env", nil, false, "fromlocalsettings"},
		{"environment wins", []string{"AzureSignalRHubName=fromEnv"}, false, "fromenv"},
		{"host mode ignores local.settings.json", nil, true, "fromdotenv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *running
			if tt.hostMode {
				r = startHostMode(t, appDir(t, files), 2, tt.environ)
			} else {
				r = start(t, appDir(t, files), 2, tt.environ)
			}
			got := negotiateURL(t, r.addrs["handler"])
			if !strings.HasSuffix(got, "/client/?hub="+tt.wantHub) {
				t.Errorf("negotiate url = %q, want hub %s", got, tt.wantHub)
			}
			if !strings.HasPrefix(got, "http://127.0.0.1:") {
				t.Errorf("negotiate url = %q, want the embedded local service", got)
			}
			if tt.hostMode && !strings.HasPrefix(r.addrs["handler"], "127.0.0.1:") {
				t.Errorf("host mode listens on %s, want 127.0.0.1:PORT", r.addrs["handler"])
			}
			if !tt.hostMode && r.exported["AZURE_CLIENT_ID"] != "client-from-file" {
				t.Errorf("exported = %v, want AZURE_CLIENT_ID from local.settings.json exported as func start does", r.exported)
			}
			if _, ok := r.exported["AzureSignalRHubName"]; ok && tt.environ != nil {
				t.Errorf("a setting already in the environment was exported again")
			}
		})
	}
}

func TestLogsSplitByLevel(t *testing.T) {
	r := start(t, appDir(t, nil), 1, []string{"AzureSignalRHubName=9bad"})
	eventually(t, func() bool { return strings.Contains(r.stdout.String(), "funcsignalr listening") })
	if !strings.Contains(r.stderr.String(), "AzureSignalRHubName") {
		t.Errorf("stderr = %q, want the configuration error naming the key", r.stderr)
	}
	if !strings.Contains(r.stdout.String(), "funcsignalr listening") {
		t.Errorf("stdout = %q, want the info lines", r.stdout)
	}
	if strings.Contains(r.stdout.String(), "level=ERROR") {
		t.Errorf("stdout holds an error line: %s", r.stdout)
	}
}

func TestLocalServiceSubcommand(t *testing.T) {
	r := start(t, appDir(t, nil), 1, nil, "local-service", "-addr", "127.0.0.1:0")
	addr := r.addrs["localservice"]
	_, port, _ := net.SplitHostPort(addr)
	want := "Endpoint=http://127.0.0.1;Port=" + port + ";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"
	eventually(t, func() bool { return strings.Contains(r.stdout.String(), want) })
	if !strings.Contains(r.stdout.String(), want) {
		t.Errorf("stdout = %q, want the connection string %q", r.stdout, want)
	}
	resp, err := http.Head("http://" + addr + "/api/health")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD /api/health = %v %v, want 200", resp, err)
	}
}

func TestLocalServiceUpstream(t *testing.T) {
	r := start(t, appDir(t, nil), 1, nil, "local-service", "-addr", "127.0.0.1:0", "-upstream", "http://127.0.0.1:1/api/signalr/{hub}?code=secret")
	want := `url="http://127.0.0.1:1/api/signalr/{hub}?code=REDACTED"`
	eventually(t, func() bool { return strings.Contains(r.stdout.String(), want) })
	if out := r.stdout.String() + r.stderr.String(); !strings.Contains(out, want) || strings.Contains(out, "secret") {
		t.Errorf("output = %q, want the start-up line with %q and no key", out, want)
	}
}

// eventually waits up to 5 s for cond.
func eventually(tb testing.TB, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadinessHoldsInvocationsUntilBuilt(t *testing.T) {
	r := newReadiness()
	probe := httptest.NewRecorder()
	r.ServeHTTP(probe, httptest.NewRequest("GET", "/", nil))
	if probe.Code != http.StatusOK {
		t.Fatalf("GET / before the handler is built = %d, want 200 at once", probe.Code)
	}
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("POST", "/api/send", nil))
		done <- rec.Code
	}()
	select {
	case code := <-done:
		t.Fatalf("an invocation before the handler is built answered %d, want it to wait", code)
	case <-time.After(50 * time.Millisecond):
	}
	r.set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	select {
	case code := <-done:
		if code != http.StatusAccepted {
			t.Errorf("held invocation = %d, want the built handler's 202", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held invocation was not served once the handler was built")
	}
}

// TestClientTokenSettings runs the app with an invalid
// AzureSignalRAccessTokenLifetime outside Azure: negotiate answers the
// lifetime's ConfigurationError while send keeps working, the start-up log
// names the key, and no identity warning is logged (it is for Azure only).
func TestClientTokenSettings(t *testing.T) {
	r := start(t, appDir(t, nil), 2, []string{"AzureSignalRAccessTokenLifetime=48:00:00"})
	addr := r.addrs["handler"]
	resp, err := http.Get("http://" + addr + "/api/negotiate")
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != 500 || answer.Error.Code != "ConfigurationError" || !strings.Contains(answer.Error.Message, "AzureSignalRAccessTokenLifetime") {
		t.Errorf("negotiate: got %d %+v, want 500 ConfigurationError naming AzureSignalRAccessTokenLifetime", resp.StatusCode, answer)
	}
	resp, err = http.Post("http://"+addr+"/api/send", "application/json", strings.NewReader(`{"target":"t","arguments":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("send: got %d, want 202: the lifetime concerns negotiate only", resp.StatusCode)
	}
	if !strings.Contains(r.stderr.String(), "AzureSignalRAccessTokenLifetime") {
		t.Errorf("stderr = %q, want the start-up line naming the key", r.stderr)
	}
	if strings.Contains(r.stdout.String()+r.stderr.String(), "App Service Authentication is off") {
		t.Errorf("identity warning outside Azure: %s", r.stdout)
	}
}

func TestIdentityWarningInAzure(t *testing.T) {
	r := start(t, appDir(t, nil), 1, []string{"WEBSITE_INSTANCE_ID=abc"})
	eventually(t, func() bool { return strings.Contains(r.stdout.String(), "funcsignalr listening") })
	logs := r.stdout.String() + r.stderr.String()
	if got := strings.Count(logs, "App Service Authentication is off"); got != 1 {
		t.Errorf("identity warnings: got %d, want 1; logs: %s", got, logs)
	}
}

// TestRunWithoutFunctions checks that Run refuses to serve without code,
// before it listens, instead of failing on the first request.
func TestRunWithoutFunctions(t *testing.T) {
	var stdout, stderr testkit.Buffer
	err := Run(context.Background(), Env{Dir: appDir(t, nil), Stdout: &stdout, Stderr: &stderr, Addr: "127.0.0.1:0",
		Listening: func(name, addr string) { t.Errorf("Run started %s on %s, want no server", name, addr) }}, nil)
	if err == nil || !strings.Contains(err.Error(), "no Functions") {
		t.Errorf("Run without Functions = %v, want an error saying it has no Functions", err)
	}
}
