// Package benchapp runs a function app in-process for the benchmarks:
// host.json and the given function folders in a temporary directory,
// standalone on free ports, with the embedded local SignalR service.
package benchapp

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
)

// Function folders' function.json.
const (
	HTTPAnonymous = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},{"type":"http","direction":"out","name":"res"}]}`
	Upstream      = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`
)

// Start runs app with the given folders (name → function.json) until the
// benchmark ends and returns the handler's base URL, http://127.0.0.1:PORT.
func Start(tb testing.TB, app *functions.App, folders map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	write := func(rel, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("host.json", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"},"enableForwardingHttpRequest":true}}`)
	for name, fj := range folders {
		write(filepath.Join(name, "function.json"), fj)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var once sync.Once
	go func() {
		done <- app.Run(ctx, functions.Env{Dir: dir, Environ: []string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"},
			Stdout: io.Discard, Stderr: io.Discard, Addr: "127.0.0.1:0",
			Listening: func(name, a string) {
				if name == "handler" {
					once.Do(func() { addr <- a })
				}
			}})
	}()
	tb.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		tb.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("the app did not start")
	}
	return ""
}
