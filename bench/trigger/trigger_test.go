// Package trigger measures the SignalR trigger end to end, in one process:
// a client invokes a hub method, the embedded local service posts it
// upstream to the app's signalr function, a Go function answers, and the
// completion travels back to the client. Each figure has a baseline in the
// same run: a REST send through the app's send function reaching the same
// client. Plain `go test` runs nothing here:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/trigger
package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/bench/internal/benchapp"
	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
)

// startApp runs an app with an echo trigger function, negotiate and send,
// and returns the handler's base URL.
func startApp(b *testing.B) string {
	b.Helper()
	app := functions.New()
	hub := app.Hub(functions.SignalR{HubName: "bench"})
	app.HTTP("negotiate", hub.NegotiateHandler(""))
	app.HTTP("send", hub.SendHandler())
	app.SignalRTrigger("echo", hub, functions.Messages, "echo",
		func(ctx context.Context, inv *functions.InvocationContext) (any, error) {
			var n int
			if err := inv.Bind(&n); err != nil {
				return nil, err
			}
			return n, nil
		})
	return benchapp.Start(b, app, map[string]string{
		"negotiate": benchapp.HTTPAnonymous, "send": benchapp.HTTPAnonymous, "signalr": benchapp.Upstream})
}

func dial(b *testing.B, base string) *signalrtest.Client {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := signalrtest.Dial(ctx, base+"/api/negotiate", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// invoke sends echo(i) and waits for its completion.
func invoke(ctx context.Context, c *signalrtest.Client, i int) error {
	id := strconv.Itoa(i)
	if err := c.Invoke(ctx, id, "echo", json.RawMessage(id)); err != nil {
		return err
	}
	m, err := c.Next(ctx)
	if err != nil {
		return err
	}
	if m.Type != signalrtest.TypeCompletion || m.InvocationID != id || string(m.Result) != id {
		return fmt.Errorf("got %+v, want the completion of %s", m, id)
	}
	return nil
}

// restSend sends m(i) to c's connection through the send function and
// waits for it to arrive.
func restSend(ctx context.Context, hc *http.Client, base string, c *signalrtest.Client, i int) error {
	body := fmt.Sprintf(`{"target":"m","connectionId":%q,"arguments":[%d]}`, c.ConnectionID(), i)
	resp, err := hc.Post(base+"/api/send", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("send answered %d", resp.StatusCode)
	}
	m, err := c.Next(ctx)
	if err != nil {
		return err
	}
	if m.Target != "m" || len(m.Arguments) != 1 || string(m.Arguments[0]) != strconv.Itoa(i) {
		return fmt.Errorf("got %+v, want m(%d)", m, i)
	}
	return nil
}

// pct is the p-th quantile of d in microseconds.
func pct(d []time.Duration, p float64) float64 {
	return float64(benchapp.Percentile(d, p).Microseconds())
}

// BenchmarkInvokeRoundTrip: p50/p99 of client invoke → completion, and of
// a REST send through the send function reaching the same client, 1,000
// each after 100 warm-ups, alternated.
func BenchmarkInvokeRoundTrip(b *testing.B) {
	base := startApp(b)
	c := dial(b, base)
	hc := &http.Client{}
	ctx := context.Background()
	var inv, rest []time.Duration
	for range b.N {
		inv, rest = inv[:0], rest[:0]
		for i := 0; i < 1100; i++ {
			t0 := time.Now()
			if err := invoke(ctx, c, i); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := restSend(ctx, hc, base, c, i); err != nil {
				b.Fatal(err)
			}
			if i >= 100 {
				inv = append(inv, t1.Sub(t0))
				rest = append(rest, time.Since(t1))
			}
		}
	}
	b.ReportMetric(pct(inv, 0.5), "invoke-p50-µs")
	b.ReportMetric(pct(inv, 0.99), "invoke-p99-µs")
	b.ReportMetric(pct(rest, 0.5), "restsend-p50-µs")
	b.ReportMetric(pct(rest, 0.99), "restsend-p99-µs")
	b.ReportMetric(pct(inv, 0.5)/pct(rest, 0.5), "p50-ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkInvocationsPerSecond: 100 clients invoke in closed loops for 2 s
// (invoke, wait for the completion, repeat); then, as the baseline, the
// same 100 clients each receive REST sends from their own sender loop for
// 2 s. Reports completed operations per second for each.
func BenchmarkInvocationsPerSecond(b *testing.B) {
	base := startApp(b)
	const clients = 100
	cs := make([]*signalrtest.Client, clients)
	for i := range cs {
		cs[i] = dial(b, base)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	run := func(op func(ctx context.Context, c *signalrtest.Client, i int) error) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					if err := op(ctx, c, i); err != nil {
						if ctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	var invs, rests float64
	for range b.N {
		invs = run(invoke)
		// Drop what a cut-off loop left in flight before the baseline reads.
		for _, c := range cs {
			c.Close()
		}
		for i := range cs {
			cs[i] = dial(b, base)
		}
		rests = run(func(ctx context.Context, c *signalrtest.Client, i int) error { return restSend(ctx, hc, base, c, i) })
	}
	b.ReportMetric(invs, "invocations/s")
	b.ReportMetric(rests, "restsends/s")
	b.ReportMetric(invs/rests, "ratio")
	b.ReportMetric(0, "ns/op")
}
