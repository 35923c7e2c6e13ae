package apptest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/functions"
)

// appDir writes host.json and a folder per HTTP function name.
func appDir(tb testing.TB, names ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{"host.json": `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"},"enableForwardingHttpRequest":true}}`}
	for _, n := range names {
		files[filepath.Join(n, "function.json")] = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},{"type":"http","direction":"out","name":"res"}]}`
	}
	for rel, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestStartServesTheApp(t *testing.T) {
	app := functions.New()
	app.HTTP("hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	base := Start(t, app, appDir(t, "hello"))
	resp, err := http.Get(base + "/api/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hi" {
		t.Errorf("GET /api/hello: got %d %q, want 200 \"hi\"", resp.StatusCode, body)
	}
}

// fakeTB records what Start reports, as testing.T would.
type fakeTB struct {
	testing.TB // nil: a method Start is not expected to call panics
	cleanups   []func()
	failures   []string
	logs       []string
}

func (f *fakeTB) Helper()                 {}
func (f *fakeTB) Cleanup(fn func())       { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Failed() bool            { return len(f.failures) > 0 }
func (f *fakeTB) Logf(s string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(s, a...)) }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// startAndEnd calls Start as a test does, then ends the test.
func (f *fakeTB) startAndEnd(app *functions.App, dir string, environ ...string) {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer func() {
			for i := len(f.cleanups) - 1; i >= 0; i-- {
				f.cleanups[i]()
			}
		}()
		Start(f, app, dir, environ...)
	}()
	<-ended
}

func TestStartReportsAnAppThatStops(t *testing.T) {
	tests := []struct {
		name     string
		folders  []string
		environ  []string
		wantFail []string // in the one failure
		wantLog  bool     // the app's log follows
	}{
		{
			name:     "before it listens",
			folders:  []string{"hello"},
			environ:  []string{"FUNCTIONS_CUSTOMHANDLER_PORT=none"},
			wantFail: []string{"the app stopped before it listened", "listen on 127.0.0.1:none"},
		},
		{
			name:     "once it listens",
			folders:  []string{"hello", "orphan"},
			wantFail: []string{"Run returned", "orphan", "after cancel, want nil"},
			wantLog:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := functions.New()
			app.HTTP("hello", http.NotFoundHandler())
			tb := &fakeTB{}
			tb.startAndEnd(app, appDir(t, tt.folders...), tt.environ...)
			if len(tb.failures) != 1 {
				t.Fatalf("got failures %q, want one", tb.failures)
			}
			for _, w := range tt.wantFail {
				if !strings.Contains(tb.failures[0], w) {
					t.Errorf("got failure %q, want it to contain %q", tb.failures[0], w)
				}
			}
			if gotLog := len(tb.logs) == 1 && strings.HasPrefix(tb.logs[0], "app log:\n"); gotLog != tt.wantLog {
				t.Errorf("got logs %q, want the app log: %v", tb.logs, tt.wantLog)
			}
		})
	}
}
