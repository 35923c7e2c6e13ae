package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// TestShutdownStopsSendsAtTheGrace checks that a send still running when
// the shutdown grace is over is stopped, answers the error with the count
// of objects it carried out, and that Run then returns nil (exit 0).
func TestShutdownStopsSendsAtTheGrace(t *testing.T) {
	var calls atomic.Int32
	third := make(chan struct{})
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then net/http notices the client going away
		if calls.Add(1) == 3 {
			close(third)
			<-r.Context().Done() // the third operation never gets an answer
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer svc.Close()
	r := startEnv(t, Env{
		Dir: appDir(t, nil), ShutdownGrace: 200 * time.Millisecond,
		Environ: []string{"AzureSignalRConnectionString=Endpoint=" + svc.URL + ";AccessKey=" + strings.Repeat("k", 44) + ";Version=1.0;"},
	}, 1)
	addr, stdout, stderr := r.addrs["handler"], r.stdout, r.stderr

	body := `[{"target":"a"},{"target":"b"},{"target":"c"},{"target":"d"},{"target":"e"}]`
	answered := testkit.StartRequest(t, "POST", "http://"+addr+"/api/send", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
	select {
	case <-third:
	case <-time.After(10 * time.Second):
		t.Fatal("the third operation never reached the service")
	}
	start := time.Now()
	r.cancel()

	a := <-answered
	if a.Err != nil {
		t.Fatalf("got %v, want an answer (logs: %s %s)", a.Err, stdout, stderr)
	}
	var e struct {
		Error struct{ Code, Message string }
		Sent  *int
	}
	json.Unmarshal([]byte(a.Body), &e)
	if a.Status != http.StatusGatewayTimeout || e.Error.Code != "ServiceTimeout" || e.Sent == nil || *e.Sent != 2 {
		t.Errorf("got %d %s, want 504 ServiceTimeout with sent 2", a.Status, a.Body)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v, want nil: a shutdown past its grace is still a clean exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the grace")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v, want about the 200ms grace", d)
	}
	if !strings.Contains(stdout.String(), "shutdown grace is over") {
		t.Errorf("got logs %q, want a line saying the grace is over", stdout)
	}
}

// TestConnectionCapWaitsAndLogsOnce checks that connections over the cap
// wait for a free slot, and that reaching the cap is logged once per
// episode: while slots free up one at a time and are taken again at once,
// the episode goes on.
func TestConnectionCapWaitsAndLogsOnce(t *testing.T) {
	const max = 8
	r := startEnv(t, Env{Dir: appDir(t, nil), MaxConns: max}, 2) // the handler and the local service
	addr, stdout := r.addrs["handler"], r.stdout
	reached := func() int { return strings.Count(stdout.String(), "connection limit reached") }

	var held []net.Conn
	for i := 0; i < max; i++ {
		c := dialGet(t, addr)
		readStatus(t, c) // served: keeps its slot while kept alive
		held = append(held, c)
	}
	waiting := make([]net.Conn, 3)
	for i := range waiting {
		waiting[i] = dialGet(t, addr) // accepted by the kernel, not by the server
		defer waiting[i].Close()
	}
	eventually(t, func() bool { return reached() > 0 })
	waiting[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := bufio.NewReader(waiting[0]).ReadByte(); err == nil {
		t.Fatal("a connection over the cap was served, want it to wait")
	}

	held[0].Close() // one slot: the first waiting connection takes it
	if status := readStatus(t, waiting[0]); status != "HTTP/1.1 200 OK" {
		t.Errorf("got %q, want the first waiting connection served", status)
	}
	if n := reached(); n != 1 {
		t.Errorf("got %d limit lines, want 1 while the cap stays reached:\n%s", n, stdout)
	}

	for _, c := range held[1:] {
		c.Close()
	}
	for _, c := range waiting[1:] {
		if status := readStatus(t, c); status != "HTTP/1.1 200 OK" {
			t.Errorf("got %q, want the waiting connections served once slots freed", status)
		}
	}
	eventually(t, func() bool { return strings.Contains(stdout.String(), "connections below the limit again") })
	if !strings.Contains(stdout.String(), "connections below the limit again") || reached() != 1 {
		t.Errorf("got logs %s\nwant one limit line and the end of the episode", stdout)
	}
}

// dialGet opens a connection and writes a keep-alive GET / on it.
func dialGet(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	return c
}

func readStatus(tb testing.TB, c net.Conn) string {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.Proto + " " + resp.Status
}

// TestServerLimits checks the handler's server has every timeout a hostile
// client could otherwise use to hold a connection, and a read timeout that
// still lets the largest payload-mode envelope arrive at a modest rate.
func TestServerLimits(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), context.Background())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("got %s %v, want a timeout", name, d)
		}
	}
	const envelope, rate = 6<<20 + 64<<10, 256 << 10 // bytes, bytes per second
	if min := time.Duration(envelope / rate * int(time.Second)); srv.ReadTimeout < min {
		t.Errorf("got ReadTimeout %v, want at least %v for a 6 MiB envelope at 256 KiB/s", srv.ReadTimeout, min)
	}
	if srv.WriteTimeout != 0 {
		t.Errorf("got WriteTimeout %v, want none: functions may take their time to answer", srv.WriteTimeout)
	}
	if srv.ErrorLog == nil {
		t.Error("got no ErrorLog, want net/http's errors in the structured log")
	}
}

// TestServerErrorsGoToTheStructuredLog checks that what net/http writes to
// Server.ErrorLog lands in slog, at error for failures to accept.
func TestServerErrorsGoToTheStructuredLog(t *testing.T) {
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv := newServer(http.NotFoundHandler(), logger, context.Background())
	srv.ErrorLog.Printf("http: Accept error: accept tcp 127.0.0.1:7071: accept4: too many open files; retrying in 5ms")
	srv.ErrorLog.Printf("http: URL query contains semicolon")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q, want 2 lines", logs)
	}
	for i, want := range []string{"level=ERROR", "level=WARN"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `msg="http server"`) {
			t.Errorf("got %q, want a structured line at %s", lines[i], want)
		}
	}
}
