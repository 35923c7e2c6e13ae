// Package userfunc measures a user's own HTTP function that sends one
// message through the SignalR binding in code (functions.Hub.Send) against
// the ready-made send function doing the same (POST /api/send), both
// through the handler on loopback to the embedded local service, alternated
// request by request in one run. Plain `go test` runs nothing here:
//
//	go test -run '^$' -bench . ./bench/userfunc
package userfunc

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/bench/internal/benchapp"
	"github.com/funcsignalr/funcsignalr/functions"
)

const message = `{"target":"newMessage","arguments":["hello from a function"]}`

// startApp runs an app with the ready-made send and a user function hello
// that sends the same message through the binding, and returns the
// handler's base URL.
func startApp(b *testing.B) string {
	b.Helper()
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
	return benchapp.Start(b, app, map[string]string{"send": benchapp.HTTPAnonymous, "hello": benchapp.HTTPAnonymous})
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

// BenchmarkUserFunctionSend reports, per path, the p50 and p99 of one
// request's round trip (the message accepted by the local service), and the
// ratios user function ÷ send function (goal: p50 ratio ≤ 1.0).
func BenchmarkUserFunctionSend(b *testing.B) {
	addr := startApp(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	user, send := addr+"/api/hello", addr+"/api/send"
	for i := 0; i < 200; i++ { // warm-up: connections, the REST client's pool
		post(b, client, user)
		post(b, client, send)
	}
	var du, ds []time.Duration
	for i := 0; b.Loop(); i++ { // b.Loop leaves the warm-up out of the timing
		if i%2 == 0 { // alternate which path goes first
			du = append(du, post(b, client, user))
			ds = append(ds, post(b, client, send))
		} else {
			ds = append(ds, post(b, client, send))
			du = append(du, post(b, client, user))
		}
	}
	if len(du) < 10 {
		return
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) }
	b.ReportMetric(us(benchapp.Percentile(du, 0.5)), "user-p50-µs")
	b.ReportMetric(us(benchapp.Percentile(ds, 0.5)), "send-p50-µs")
	b.ReportMetric(us(benchapp.Percentile(du, 0.99)), "user-p99-µs")
	b.ReportMetric(us(benchapp.Percentile(ds, 0.99)), "send-p99-µs")
	b.ReportMetric(us(benchapp.Percentile(du, 0.5))/us(benchapp.Percentile(ds, 0.5)), "p50-ratio")
	b.ReportMetric(us(benchapp.Percentile(du, 0.99))/us(benchapp.Percentile(ds, 0.99)), "p99-ratio")
	b.ReportMetric(0, "ns/op")
}
