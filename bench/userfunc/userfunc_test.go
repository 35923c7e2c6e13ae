// Package userfunc measures a user's own HTTP function that sends one
// message through the SignalR binding in code (functions.Hub.Send) against
// the ready-made send function doing the same (POST /api/send), both
// through the handler on loopback to the embedded local service, alternated
// request by request in one run. Plain `go test` runs nothing here:
//
//	go test -run '^$' -bench . ./bench/userfunc
package userfunc

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
)

const message = `{"target":"newMessage","arguments":["hello from a function"]}`

// startApp runs an app with the ready-made send and a user function hello
// that sends the same message through the binding, standalone on free
// ports, and returns the handler's address.
func startApp(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	write := func(rel, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("host.json", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"},"enableForwardingHttpRequest":true}}`)
	fj := `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["post"]},{"type":"http","direction":"out","name":"res"}]}`
	write("send/function.json", fj)
	write("hello/function.json", fj)

	app := functions.New()
	hub := app.Hub(functions.SignalR{})
	app.HTTP("send", hub.SendHandler())
	app.HTTP("hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := hub.Send(r.Context(), functions.Message{Target: "newMessage", Arguments: []any{"hello from a function"}}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 2)
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
	b.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return a
	case err := <-done:
		b.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		b.Fatal("the app did not start")
	}
	return ""
}

func post(b *testing.B, client *http.Client, url string) time.Duration {
	start := time.Now()
	resp, err := client.Post(url, "application/json", strings.NewReader(message))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("%s answered %d", url, resp.StatusCode)
	}
	return time.Since(start)
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// BenchmarkUserFunctionSend reports, per path, the p50 and p99 of one
// request's round trip (the message accepted by the local service), and the
// ratios user function ÷ send function (goal: p50 ratio ≤ 1.0).
func BenchmarkUserFunctionSend(b *testing.B) {
	addr := startApp(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	user, send := "http://"+addr+"/api/hello", "http://"+addr+"/api/send"
	for i := 0; i < 200; i++ { // warm-up: connections, the REST client's pool
		post(b, client, user)
		post(b, client, send)
	}
	var du, ds []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 { // alternate which path goes first
			du = append(du, post(b, client, user))
			ds = append(ds, post(b, client, send))
		} else {
			ds = append(ds, post(b, client, send))
			du = append(du, post(b, client, user))
		}
	}
	b.StopTimer()
	if len(du) < 10 {
		return
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) }
	b.ReportMetric(us(percentile(du, 0.5)), "user-p50-µs")
	b.ReportMetric(us(percentile(ds, 0.5)), "send-p50-µs")
	b.ReportMetric(us(percentile(du, 0.99)), "user-p99-µs")
	b.ReportMetric(us(percentile(ds, 0.99)), "send-p99-µs")
	b.ReportMetric(us(percentile(du, 0.5))/us(percentile(ds, 0.5)), "p50-ratio")
	b.ReportMetric(us(percentile(du, 0.99))/us(percentile(ds, 0.99)), "p99-ratio")
	b.ReportMetric(0, "ns/op")
}
