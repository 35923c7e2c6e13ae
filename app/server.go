package app

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits of the handler's HTTP server. Its routes take bodies of at most
// 1 MiB (6 MiB once JSON-escaped into a payload-mode envelope) and answer
// without streaming, so a request that has not arrived within these times
// is a stalled or hostile client, not a slow function.
const (
	// readHeaderTimeout bounds the request line and headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds the whole request, body included: a 6 MiB
	// envelope at 256 KB/s. Functions may take longer to answer: there is
	// no write timeout.
	readTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections without a next request.
	idleTimeout = 90 * time.Second
	// defaultMaxConns caps the connections the handler serves at once,
	// well below the process's file limit, so that a flood of connections
	// cannot starve the local service and the calls to Azure SignalR
	// Service of descriptors. Connections over the cap wait to be accepted.
	defaultMaxConns = 1024
	// shutdownAnswerTime is how long requests stopped at the end of the
	// shutdown grace get to write their answers.
	shutdownAnswerTime = 2 * time.Second
)

// newServer builds the handler's HTTP server around h: timeouts, errors of
// net/http (accept failures, panics) into the structured log, and a base
// context that Run cancels when the shutdown grace is over.
func newServer(h http.Handler, logger *slog.Logger, base context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          log.New(serverLogWriter{logger}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// serverLogWriter turns the lines net/http writes to Server.ErrorLog into
// structured records: failures to accept or a panic at error, the rest
// (most of it about a caller's malformed request) at warn.
type serverLogWriter struct{ logger *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	level := slog.LevelWarn
	if strings.Contains(msg, "Accept error") || strings.Contains(msg, "panic serving") {
		level = slog.LevelError
	}
	w.logger.Log(context.Background(), level, "http server", "error", msg)
	return len(p), nil
}

// limitListener accepts at most max connections at once: Accept waits for
// one to close. Reaching the cap is logged once per episode, which ends
// when the count falls to three quarters of the cap.
type limitListener struct {
	net.Listener
	max    int
	logger *slog.Logger
	slots  chan struct{}

	mu       sync.Mutex
	open     int
	atLimit  bool
	closed   chan struct{}
	closeOne sync.Once
}

func newLimitListener(ln net.Listener, max int, logger *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: max, logger: logger,
		slots: make(chan struct{}, max), closed: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.reached()
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &limitedConn{Conn: c, l: l}, nil
}

// Close implements net.Listener; it also releases a waiting Accept.
func (l *limitListener) Close() error {
	l.closeOne.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *limitListener) reached() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.atLimit {
		return
	}
	l.atLimit = true
	l.logger.Warn("connection limit reached: new connections wait until others close",
		"limit", l.max, "addr", l.Addr().String())
}

func (l *limitListener) release() {
	l.mu.Lock()
	l.open--
	if l.atLimit && l.open <= l.max*3/4 {
		l.atLimit = false
		l.logger.Info("connections below the limit again", "open", l.open, "limit", l.max)
	}
	l.mu.Unlock()
	<-l.slots
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}
