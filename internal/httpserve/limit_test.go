package httpserve

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// fakeListener hands out a new connection on every Accept until Close,
// after failing the first failures of them.
type fakeListener struct {
	mu       sync.Mutex
	failures int
	closed   bool
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, net.ErrClosed
	case l.failures > 0:
		l.failures--
		return nil, errors.New("accept: too many open files")
	}
	return &fakeConn{}, nil
}

func (l *fakeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }

type fakeConn struct{ net.Conn }

func (*fakeConn) Close() error { return nil }

// logLines is a logger whose lines, without their time, tests compare.
func logLines() (*slog.Logger, *testkit.Buffer) {
	buf := &testkit.Buffer{}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: noTime})), buf
}

const (
	reachedLine = `level=WARN msg="connection limit reached: new connections wait until one closes" limit=4 addr=127.0.0.1:8080` + "\n"
	belowLine   = `level=INFO msg="connections below the limit again" open=2 limit=4 addr=127.0.0.1:8080` + "\n"
)

// wantLog checks the lines logged so far, in order.
func wantLog(tb testing.TB, logs *testkit.Buffer, lines ...string) {
	tb.Helper()
	if got, want := logs.String(), strings.Join(lines, ""); got != want {
		tb.Fatalf("got logs\n%s\nwant\n%s", got, want)
	}
}

// acceptN accepts n connections, none of which may wait.
func acceptN(tb testing.TB, ln net.Listener, n int) []net.Conn {
	tb.Helper()
	var conns []net.Conn
	for range n {
		conns = append(conns, startAccept(ln).conn(tb))
	}
	return conns
}

// accept is an Accept under way in its own goroutine.
type accept chan acceptResult

type acceptResult struct {
	c   net.Conn
	err error
}

func startAccept(ln net.Listener) accept {
	a := make(accept, 1)
	go func() {
		c, err := ln.Accept()
		a <- acceptResult{c, err}
	}()
	return a
}

// result returns what Accept returned; the test fails when Accept still
// waits once every other goroutine of the bubble is blocked.
func (a accept) result(tb testing.TB) acceptResult {
	tb.Helper()
	synctest.Wait()
	select {
	case r := <-a:
		return r
	default:
		tb.Fatal("Accept waits, want it to return")
		return acceptResult{}
	}
}

// conn returns the connection Accept returned.
func (a accept) conn(tb testing.TB) net.Conn {
	tb.Helper()
	r := a.result(tb)
	if r.err != nil {
		tb.Fatalf("Accept: got %v, want a connection", r.err)
	}
	return r.c
}

// waits checks that Accept still waits for a slot once every other
// goroutine of the bubble is blocked.
func (a accept) waits(tb testing.TB, why string) {
	tb.Helper()
	synctest.Wait()
	select {
	case r := <-a:
		tb.Fatalf("Accept: got a connection or an error (%v), want it to wait: %s", r.err, why)
	default:
	}
}

// TestLimitListener checks that Accept waits while max connections are
// open and resumes when one closes, that closing a connection twice frees
// one slot, that the cap is logged once per episode, that the episode ends
// when fewer than three quarters of max are open, and that Close ends a
// waiting Accept.
func TestLimitListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := logLines()
		ln := LimitListener(&fakeListener{}, 4, logger)
		c := acceptN(t, ln, 4)
		wantLog(t, logs)

		fifth := startAccept(ln)
		fifth.waits(t, "4 of 4 open")
		wantLog(t, logs, reachedLine)

		c[0].Close()
		c[0].Close()
		c[0] = fifth.conn(t)
		sixth := startAccept(ln)
		sixth.waits(t, "4 of 4 open, after a connection closed twice")
		c[1].Close()
		c[1] = sixth.conn(t)
		wantLog(t, logs, reachedLine) // one line for the episode

		c[2].Close()
		wantLog(t, logs, reachedLine) // 3 of 4 open: not fewer than three quarters
		c[3].Close()
		wantLog(t, logs, reachedLine, belowLine)

		acceptN(t, ln, 2) // 4 of 4 open again
		seventh := startAccept(ln)
		seventh.waits(t, "4 of 4 open, in a new episode")
		wantLog(t, logs, reachedLine, belowLine, reachedLine) // a new episode

		ln.Close()
		if r := seventh.result(t); !errors.Is(r.err, net.ErrClosed) {
			t.Errorf("Accept after Close: got error %v, want net.ErrClosed", r.err)
		}
	})
}

// TestLimitListenerEpisodeEnd checks, for several caps, how many open
// connections end an episode: the most that is fewer than three quarters
// of the cap.
func TestLimitListenerEpisodeEnd(t *testing.T) {
	tests := []struct{ max, endsAt int }{{1, 0}, {2, 1}, {3, 2}, {4, 2}, {8, 5}, {10, 7}}
	for _, tt := range tests {
		t.Run(fmt.Sprint("max ", tt.max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logger, logs := logLines()
				ln := LimitListener(&fakeListener{}, tt.max, logger)
				conns := acceptN(t, ln, tt.max)
				waiting := startAccept(ln)
				waiting.waits(t, "the cap is reached")
				ln.Close() // ends the waiting Accept: closing a connection must not open another
				if r := waiting.result(t); !errors.Is(r.err, net.ErrClosed) {
					t.Fatalf("Accept after Close: got error %v, want net.ErrClosed", r.err)
				}
				for open := tt.max - 1; open >= 0; open-- {
					conns[open].Close()
					ended := strings.Count(logs.String(), "below the limit again")
					if want := btoi(open <= tt.endsAt); ended != want {
						t.Fatalf("%d of %d open: got %d episode ends, want %d; logs:\n%s", open, tt.max, ended, want, logs)
					}
				}
			})
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestLimitListenerAcceptError checks that an Accept that fails frees its
// slot.
func TestLimitListenerAcceptError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, _ := logLines()
		ln := LimitListener(&fakeListener{failures: 2}, 1, logger)
		for range 2 {
			if r := startAccept(ln).result(t); r.err == nil {
				t.Fatal("Accept: got a connection, want the listener's error")
			}
		}
		startAccept(ln).conn(t)
		ln.Close()
	})
}
