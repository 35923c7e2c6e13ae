package localservice

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// waitLogCount waits until logs hold want occurrences of s.
func waitLogCount(tb testing.TB, logs *testkit.Buffer, s string, want int) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%d log lines with %q", want, s), func() bool { return strings.Count(logs.String(), s) == want })
}

// newServedEnv runs a Service with Serve on a loopback listener, ln
// wrapped by wrap when it is not nil.
func newServedEnv(tb testing.TB, opts Options, tweak func(*Service), wrap func(net.Listener) net.Listener) *testEnv {
	tb.Helper()
	svc := New(opts)
	if tweak != nil {
		tweak(svc)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ln) }()
	tb.Cleanup(func() {
		svc.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	})
	return &testEnv{tb: tb, svc: svc, base: base}
}

// rawConn is a TCP connection to the service that the test writes by hand.
type rawConn struct {
	tb testing.TB
	net.Conn
	br *bufio.Reader
}

func (e *testEnv) dialRaw() *rawConn {
	e.tb.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Cleanup(func() { c.Close() })
	return &rawConn{tb: e.tb, Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) write(s string) {
	c.tb.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		c.tb.Fatal(err)
	}
}

// response reads one response; an error when none comes within timeout.
func (c *rawConn) response(timeout time.Duration) (*http.Response, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// waitClosed reads until the service closes the connection.
func (c *rawConn) waitClosed() {
	c.tb.Helper()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.tb.Fatal("the service kept the connection open")
	}
}

const healthRequest = "GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"

// TestServeTimeouts checks, with the server's timeouts shortened, that an
// idle keep-alive connection, slow headers and a slow body are cut, and
// that long polls, event streams and WebSockets outlive the timeouts.
func TestServeTimeouts(t *testing.T) {
	const d = 150 * time.Millisecond
	e := newServedEnv(t, Options{}, func(s *Service) {
		s.readHeaderTimeout, s.readTimeout, s.httpWriteTimeout, s.idleTimeout = d, d, d, d
		s.pollTimeout = 3 * d
	}, nil)
	const v = "?api-version=2022-06-01"
	t.Run("idle keep-alive connection", func(t *testing.T) {
		c := e.dialRaw()
		c.write(healthRequest)
		if resp, err := c.response(testTimeout); err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v, want 200", resp, err)
		}
		c.waitClosed()
	})
	t.Run("slow headers", func(t *testing.T) {
		c := e.dialRaw()
		c.write("HEAD /api/health HTTP/1.1\r\nHost: localhost\r\n")
		c.waitClosed()
	})
	t.Run("slow body", func(t *testing.T) {
		c := e.dialRaw()
		c.write("POST /api/hubs/chat/:send" + v + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n" + `{"target":`)
		c.waitClosed()
	})
	t.Run("long poll", func(t *testing.T) {
		u, tok, _ := e.openLongPoll("chat", "lp")
		if st, body := poll(e, u, tok); st != 200 || body != "" {
			t.Fatalf("a poll that waits out its timeout: got %d %q, want 200 empty", st, body)
		}
		go func() {
			time.Sleep(2 * d)
			e.send("chat", "users/lp", "late")
		}()
		if st, body := poll(e, u, tok); st != 200 || !strings.Contains(body, `"late"`) {
			t.Fatalf("got %d %q, want the message sent while polling", st, body)
		}
	})
	t.Run("event stream", func(t *testing.T) {
		c, _ := e.dialSSE("chat", "sse")
		time.Sleep(3 * d) // past every server timeout
		e.send("chat", "users/sse", "late")
		checkInvocation(t, c.next(), "late", "[]")
	})
	t.Run("WebSocket", func(t *testing.T) {
		c := e.dialWS("chat", "ws")
		time.Sleep(3 * d)
		e.send("chat", "users/ws", "late")
		c.expect("late", "[]")
	})
}

// TestServeConnectionLimit checks that Serve applies MaxConnections: with
// that many connections kept alive, the listener logs its cap, and the next
// connection is answered once one closes. How a listener waits and logs at
// its cap is tested in internal/httpserve.
func TestServeConnectionLimit(t *testing.T) {
	logs := &testkit.Buffer{}
	e := newServedEnv(t, Options{MaxConnections: 2, Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil, nil)
	var held []*rawConn
	for range 2 {
		c := e.dialRaw()
		c.write(healthRequest)
		if resp, err := c.response(testTimeout); err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v, want 200", resp, err)
		}
		held = append(held, c)
	}
	waiting := e.dialRaw()
	waiting.write(healthRequest)
	waitLogCount(t, logs, `msg="connection limit reached: new connections wait until one closes" limit=2 `, 1)
	held[0].Close()
	if resp, err := waiting.response(testTimeout); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the waiting connection: got %v, %v, want 200 once another closed", resp, err)
	}
}

// temporaryError is an accept error net/http retries.
type temporaryError struct{}

func (temporaryError) Error() string   { return "accept: too many open files" }
func (temporaryError) Timeout() bool   { return false }
func (temporaryError) Temporary() bool { return true }

// failOnce fails its first Accept with a temporary error.
type failOnce struct {
	net.Listener
	failed atomic.Bool
}

func (l *failOnce) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, temporaryError{}
	}
	return l.Listener.Accept()
}

// TestServeErrorLog checks that the HTTP server's own errors, here an
// accept error, reach the service's logger.
func TestServeErrorLog(t *testing.T) {
	logs := &testkit.Buffer{}
	e := newServedEnv(t, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil,
		func(ln net.Listener) net.Listener { return &failOnce{Listener: ln} })
	e.mustREST("HEAD", "/api/health", "", 200)
	if got := logs.String(); !strings.Contains(got, `level=ERROR msg="http server"`) || !strings.Contains(got, "too many open files") {
		t.Errorf("got logs %q, want the accept error at error", got)
	}
}

// TestServeAfterClose checks that Serve on a closed service returns at once.
func TestServeAfterClose(t *testing.T) {
	s := New(Options{})
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("got %v, want http.ErrServerClosed", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener is still open")
	}
}
