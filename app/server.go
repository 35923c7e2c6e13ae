package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/httpserve"
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
		ErrorLog:          httpserve.ErrorLog(logger),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}
