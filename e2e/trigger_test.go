package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/funchost"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
)

// triggerApp builds e2e/testdata/triggerapp beside appRoot, once for the
// tests that need it, and returns its root.
var triggerApp = sync.OnceValues(func() (string, error) {
	return funchost.Build("testdata/triggerapp", filepath.Join(filepath.Dir(appRoot), "triggerapp"))
})

// buildTriggerApp returns the root of e2e/testdata/triggerapp, a function
// app whose SignalR trigger functions return values, fail, record order,
// refuse a connection and report disconnections.
func buildTriggerApp(tb testing.TB) string {
	tb.Helper()
	root, err := triggerApp()
	if err != nil {
		tb.Fatalf("build the trigger app: %v", err)
	}
	return root
}

// TestSignalRTriggerWithTheOfficialClient runs e2e/node/trigger.mjs against
// the trigger app standalone, whose embedded local service sends client
// events upstream to the app's own signalr function: invoke resolves with
// the Go function's return value and rejects with its error, send works,
// 1,000 pipelined invocations arrive in order, a connected function that
// refuses closes the client, disconnected is reported — over each
// transport, and with the MessagePack hub protocol over the transports that
// carry binary data.
func TestSignalRTriggerWithTheOfficialClient(t *testing.T) {
	requireNode(t)
	root := buildTriggerApp(t)
	count := 1000
	if testing.Short() {
		count = 100
	}
	type run struct{ transport, protocol string }
	var runs []run
	for _, transport := range transports {
		runs = append(runs, run{transport, "json"})
	}
	runs = append(runs, run{"WebSockets", "messagepack"}, run{"LongPolling", "messagepack"})
	for _, r := range runs {
		transport := r.transport
		name := transport
		if r.protocol != "json" {
			name += "/" + r.protocol
		}
		t.Run(name, func(t *testing.T) {
			app := startStandaloneApp(t, root, "triggerapp")
			if !strings.Contains(app.logs(), "sends client events upstream") {
				t.Errorf("no start-up line naming the upstream URL:\n%s", app.logs())
			}
			c, _ := startNode(t, "trigger "+name, []string{"trigger.mjs", "--url", app.base + "/api", "--transport", transport,
				"--count", strconv.Itoa(count), "--protocol", r.protocol}, nil, 2*time.Minute, false)
			lines, code := c.finish(t, 2*time.Minute)
			if code != 0 {
				t.Fatalf("exit code %d, want 0\n%s", code, c.describe())
			}
			var events []map[string]any
			for _, l := range lines {
				var ev map[string]any
				if err := json.Unmarshal(l.line, &ev); err != nil {
					t.Fatalf("client printed %q: %v", l.line, err)
				}
				events = append(events, ev)
			}
			checkTriggerEvents(t, events, count)
		})
	}
}

func checkTriggerEvents(t *testing.T, events []map[string]any, count int) {
	t.Helper()
	byKind := map[string][]map[string]any{}
	for _, ev := range events {
		k, _ := ev["event"].(string)
		byKind[k] = append(byKind[k], ev)
	}
	if len(byKind["done"]) != 1 {
		t.Fatalf("scenario did not finish: %v", events)
	}
	results := byKind["result"]
	if len(results) != 6 {
		t.Fatalf("%d invoke results, want 6: %v", len(results), results)
	}
	for _, r := range results {
		if !reflect.DeepEqual(r["sent"], r["got"]) {
			t.Errorf("invoke echo(%v) resolved with %v, want the same value", r["sent"], r["got"])
		}
	}
	rejected := map[string]string{}
	for _, r := range byKind["rejected"] {
		rejected[r["stage"].(string)], _ = r["message"].(string)
	}
	if !strings.Contains(rejected["fail"], "bad thing happened") {
		t.Errorf("invoke fail rejected with %q, want the function's error text", rejected["fail"])
	}
	if !strings.Contains(rejected["wrongArgs"], "echo expects 1 argument (value any), got 0") {
		t.Errorf("invoke with wrong arguments rejected with %q, want what was expected", rejected["wrongArgs"])
	}
	if n := byKind["notified"]; len(n) != 1 || !reflect.DeepEqual(n[0]["args"], []any{"hi there", "alice"}) {
		t.Errorf("send(notify) gave %v, want notified(\"hi there\", \"alice\")", n)
	}
	if s := byKind["sequence"]; len(s) != 1 || s[0]["inOrder"] != true || s[0]["count"] != float64(count) {
		t.Errorf("sequence %v, want %d invocations in order", s, count)
	}
	if r := byKind["refused"]; len(r) != 1 || (r[0]["started"] == false && !strings.Contains(strings.ToLower(r[0]["startError"].(string)), "rejected")) ||
		(r[0]["started"] == true && !strings.Contains(r[0]["closeError"].(string), "rejected")) {
		t.Errorf("refused connection: %v, want a start failure or a close naming the rejection", r)
	}
	if l := byKind["left"]; len(l) != 1 || l[0]["wasAlice"] != true || l[0]["user"] != "alice" {
		t.Errorf("left %v, want alice's disconnection reported", l)
	}
}

// TestTimerInvokedByTheHost runs the trigger app under the fake Functions
// host, which invokes its timer function tick as the host does: POST /tick
// with the TimerInfo (zone-less timestamps, as older hosts wrote them) in
// Data.myTimer. The function broadcasts what it was given; a client
// connected through negotiate receives it. A payload without the timer's
// value fails the invocation.
func TestTimerInvokedByTheHost(t *testing.T) {
	root := buildTriggerApp(t)
	h, err := funchost.Start(context.Background(), root, funchost.Options{Env: []string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := signalrtest.Dial(ctx, h.URL+"/api/negotiate", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	next := time.Date(2026, 11, 29, 19, 0, 0, 0, time.UTC)
	res, err := h.Invoke(ctx, "tick", map[string]any{"myTimer": funchost.TimerInfo(next, true)}, nil)
	if err != nil {
		t.Fatalf("invoke tick: %v", err)
	}
	if string(res.Body) != `{"Outputs":{},"Logs":[],"ReturnValue":null}` {
		t.Errorf("answer %s, want {\"Outputs\":{},\"Logs\":[],\"ReturnValue\":null}", res.Body)
	}
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Target != "tick" || len(m.Arguments) != 2 || string(m.Arguments[0]) != "true" || string(m.Arguments[1]) != `"2026-11-29T19:00:00Z"` {
		t.Errorf("client got %s%s, want tick(true, \"2026-11-29T19:00:00Z\")", m.Target, m.Arguments)
	}

	res, err = h.Invoke(ctx, "tick", map[string]any{}, nil)
	if err == nil || res == nil || res.Status != 500 || !strings.Contains(string(res.Body), "Data.myTimer") {
		t.Errorf("invoke without the timer's value: %v (%+v), want a failed invocation naming Data.myTimer", err, res)
	}
	// The handler's stderr reaches the host through a pipe, after the answer.
	waitFor(t, 10*time.Second, "the failed invocation in the error log", func() bool {
		return strings.Contains(h.Stderr(), "function failed")
	})
}
