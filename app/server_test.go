package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

// TestConnectionCap checks that the handler's server applies
// Env.MaxConns: with that many connections kept alive, the listener logs
// its cap, and the next connection is served once one closes. How a
// listener waits and logs at its cap is tested in internal/httpserve.
func TestConnectionCap(t *testing.T) {
	const max = 2
	r := startEnv(t, Env{Dir: appDir(t, nil), MaxConns: max}, 2) // the handler and the local service
	addr, stdout := r.addrs["handler"], r.stdout

	var held []net.Conn
	for range max {
		c := dialGet(t, addr)
		defer c.Close()
		readStatus(t, c) // served: keeps its slot while kept alive
		held = append(held, c)
	}
	waiting := dialGet(t, addr) // accepted by the kernel, not by the server
	defer waiting.Close()
	want := fmt.Sprintf(`msg="connection limit reached: new connections wait until one closes" limit=%d addr=%s`, max, addr)
	eventually(t, func() bool { return strings.Contains(stdout.String(), want) })
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("got logs\n%s\nwant a line with %s", stdout, want)
	}
	held[0].Close()
	if status := readStatus(t, waiting); status != "HTTP/1.1 200 OK" {
		t.Errorf("got %q, want the waiting connection served once another closed", status)
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
// the server's ErrorLog lands in the logger newServer was given, at error
// for a failure to accept; internal/httpserve tests the other lines.
func TestServerErrorsGoToTheStructuredLog(t *testing.T) {
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv := newServer(http.NotFoundHandler(), logger, context.Background())
	const line = "http: Accept error: accept tcp 127.0.0.1:8080: accept4: too many open files; retrying in 5ms"
	srv.ErrorLog.Print(line)
	want := `level=ERROR msg="http server" error="` + line + `"` + "\n"
	if got := logs.String(); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("got %q, want one line ending %q", got, want)
	}
}
