// Package apptest runs a function app (functions.App) in-process for the
// tests and benchmarks of programs built on it, as net/http/httptest runs a
// server: standalone, its handler and embedded local SignalR service on
// free loopback ports, stopped when the test ends. It lives apart from
// internal/testkit, which depends on the standard library only, because it
// needs the functions package.
package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// How long the app may take to start listening, and to stop once cancelled.
const (
	startTime = 10 * time.Second
	stopTime  = 15 * time.Second
)

// Start runs app with the function folders and host.json of dir, and
// environ after FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0, until the test ends,
// and returns the handler's base URL, http://127.0.0.1:PORT. It fails the
// test when the app stops before it listens, does not listen within 10 s,
// or, once cancelled, does not return nil within 15 s; the app's output is
// logged when the test failed.
func Start(tb testing.TB, app *functions.App, dir string, environ ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.Buffer{}
	handler := make(chan string, 1)
	done := make(chan error, 1)
	env := functions.Env{
		Environ: append([]string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}, environ...),
		Dir:     dir, Addr: "127.0.0.1:0", Stdout: logs, Stderr: logs,
		Listening: func(name, addr string) {
			if name == "handler" {
				handler <- addr // told once
			}
		},
	}
	go func() { done <- app.Run(ctx, env) }()
	select {
	case addr := <-handler:
		tb.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run returned %v after cancel, want nil", err)
				}
			case <-time.After(stopTime):
				tb.Errorf("Run did not return within %v of cancel", stopTime)
			}
			if tb.Failed() {
				tb.Logf("app log:\n%s", logs)
			}
		})
		return "http://" + addr
	case err := <-done:
		cancel()
		tb.Fatalf("the app stopped before it listened: %v\n%s", err, logs)
	case <-time.After(startTime):
		cancel()
		tb.Fatalf("the app did not listen within %v\n%s", startTime, logs)
	}
	return ""
}
