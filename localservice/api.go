package localservice

import (
	"log/slog"
	"net/http"
	"time"
)

// DevAccessKey is the public development key the official emulator uses too.
const DevAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// Options tunes a Service; the zero value is the defaults.
type Options struct {
	AccessKey    string        // default DevAccessKey
	Logger       *slog.Logger  // default discards
	PingInterval time.Duration // default 15s
	SendBuffer   int           // messages buffered per connection before a slow client is dropped; default 1024
	Now          func() time.Time
}

// Service is the embedded local SignalR service. It is an http.Handler
// serving /client/... and /api/...; the caller owns the listener.
type Service struct{}

// New builds a Service.
func New(opts Options) *Service { panic("TODO") }

// ServeHTTP serves the client and REST endpoints.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("TODO") }

// Close closes every client connection with a SignalR close message and
// stops background work.
func (s *Service) Close() {}

// ConnectionString is the connection string for a service reachable at
// host:port (an unspecified host is written localhost), as the official
// emulator prints it.
func ConnectionString(addr string) string { panic("TODO") }
