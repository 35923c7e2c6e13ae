package localservice

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/httpserve"
)

// The service's own HTTP server: every way a caller can hold a connection
// is bounded in time, and the number of connections is capped.

// Server timeouts and limits; fields of Service so that tests can shorten
// them.
const (
	// serverReadHeaderTimeout bounds reading a request's headers.
	serverReadHeaderTimeout = 10 * time.Second
	// serverReadTimeout bounds reading a whole request, body included (at
	// most 1 MiB). net/http clears it once a request has no body left to
	// read, so it never cuts a long poll, an event stream or a WebSocket.
	serverReadTimeout = 30 * time.Second
	// serverWriteTimeout bounds writing an answer. Long polls and event
	// streams lift it (http.ResponseController) and bound each write
	// instead; a WebSocket is hijacked, which clears it.
	serverWriteTimeout = 30 * time.Second
	// serverIdleTimeout closes a keep-alive connection with no request
	// (Kestrel's KeepAliveTimeout is 130 s).
	serverIdleTimeout = 120 * time.Second
	// serverMaxHeaderBytes bounds request headers: the service takes 16 KB
	// of them; a token is at most 4 KB and a path holds group names of up
	// to 1,024 escaped characters.
	serverMaxHeaderBytes = 64 << 10
	// defaultMaxConnections caps open TCP connections.
	defaultMaxConnections = 10000
)

// Serve serves s on ln until Close, with an http.Server that bounds what a
// slow, idle or hostile caller can hold: headers must arrive within 10 s, a
// request within 30 s and its answer within 30 s (long polls, event streams
// and WebSockets excepted), idle keep-alive connections are closed after
// 120 s, and at most MaxConnections connections are open at once; more wait
// in the listen backlog, and the log says when the limit is reached. The
// server's own errors are logged through the service's logger. It returns
// http.ErrServerClosed after Close, or the listener's error.
func (s *Service) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.readHeaderTimeout,
		ReadTimeout:       s.readTimeout,
		WriteTimeout:      s.httpWriteTimeout,
		IdleTimeout:       s.idleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ErrorLog:          httpserve.ErrorLog(s.log),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	return srv.Serve(httpserve.LimitListener(ln, s.maxConns, s.log))
}

// shutdownServers stops the servers Serve started: no new connections, and
// those still open are closed once their requests end, or after closeGrace.
func (s *Service) shutdownServers() {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	for _, srv := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), s.closeGrace)
		srv.Shutdown(ctx)
		cancel()
		srv.Close()
	}
}

// liftWriteDeadline sets the write deadline of a long-lived answer: d from
// now, or none when d is 0.
func liftWriteDeadline(w http.ResponseWriter, d time.Duration) {
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	// Fails only for writers that cannot set deadlines, such as
	// httptest.ResponseRecorder: nothing to lift there.
	http.NewResponseController(w).SetWriteDeadline(t)
}
