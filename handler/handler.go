// Package handler is the HTTP side of the Azure Functions custom handler:
// routes derived from the function folders, both host invocation modes and
// the contract's JSON errors. It knows the Functions host and nothing about JWTs.
package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/funcsignalr/funcsignalr/bindings"
)

// MaxBodyBytes is the largest send body accepted: the service's own
// message limit.
const MaxBodyBytes = 1 << 20

// DefaultUserID is the negotiate binding's default userId expression: the
// header App Service Authentication sets (and strips from callers).
const DefaultUserID = "{headers.x-ms-client-principal-id}"

// Negotiator issues client connection info (the signalRConnectionInfo binding).
type Negotiator interface {
	Negotiate(ctx context.Context, userID string, claims map[string][]string) (bindings.ConnectionInfo, error)
}

// Sender carries out send operations in order (the signalR output binding)
// and returns how many were carried out.
type Sender interface {
	Send(ctx context.Context, ops []bindings.Operation) (int, error)
}

// Config is what New needs.
type Config struct {
	App         App        // host.json and the function folders
	Negotiator  Negotiator // may be nil when ConfigError is set
	Sender      Sender     // may be nil when ConfigError is set
	ConfigError error      // when set, negotiate and send answer it as ConfigurationError
	UserID      string     // negotiate's userId expression; default DefaultUserID
	// ClaimTypes are the claim types of x-ms-client-principal that negotiate
	// copies into the client token (the official binding's claimTypeList);
	// none: the header is not read.
	ClaimTypes  []string
	CORSOrigins []string // standalone only: allowed origins, or "*"
	Logger      *slog.Logger
}

// New builds the handler: for every function folder, the forwarded path
// (/<routePrefix>/<route>) and the payload path (POST /<name>), both
// running the same function code. It fails when a folder names a function
// this handler does not implement.
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserID == "" {
		cfg.UserID = DefaultUserID
	}
	userID, err := parseExpression(cfg.UserID)
	if err != nil {
		return nil, fmt.Errorf("negotiate userId: %w", err)
	}
	impls := map[string]http.Handler{
		"negotiate": &negotiateFunc{cfg: &cfg, userID: userID},
		"send":      &sendFunc{cfg: &cfg},
	}

	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{CodeNotFound, "no function at " + r.URL.Path}, -1)
	})
	r.MatcherFunc(exactPath("/")).Methods(http.MethodGet, http.MethodHead).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	payloadPaths := map[string]bool{}
	for _, fn := range cfg.App.Functions {
		impl, ok := impls[strings.ToLower(fn.Name)]
		if !ok {
			return nil, fmt.Errorf("function folder %q has no implementation in this handler (have negotiate, send)", fn.Name)
		}
		fn := fn
		public := cfg.App.PublicPath(fn)
		payload := "/" + fn.Name
		payloadPaths[strings.ToLower(payload)] = true
		forwarded := methodCheck(fn, impl)
		if public == payload && !cfg.App.ForwardingEnabled {
			// routePrefix "" and forwarding off: the host only ever sends payloads here.
			r.MatcherFunc(exactPath(payload)).Handler(payloadHandler(fn, forwarded))
			continue
		}
		r.MatcherFunc(exactPath(public)).Handler(forwarded)
		if public != payload {
			r.MatcherFunc(exactPath(payload)).Handler(payloadHandler(fn, forwarded))
		}
	}
	var h http.Handler = r
	h = logRequests(cfg.Logger, h)
	if len(cfg.CORSOrigins) > 0 {
		h = cors(cfg.CORSOrigins, h)
	}
	return h, nil
}

// exactPath matches one path, case-insensitively as the Functions host
// routes. Function routes are literal, so a string comparison does what a
// mux path template would, without its regular expression on every request.
func exactPath(path string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		return strings.EqualFold(r.URL.Path, path)
	}
}

// methodCheck answers 405 for methods the function.json does not list.
func methodCheck(fn Function, next http.Handler) http.Handler {
	allow := strings.Join(fn.Methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fn.Allows(r.Method) {
			w.Header().Set("Allow", allow)
			writeError(w, &apiError{CodeMethodNotAllowed, fmt.Sprintf("%s does not accept %s; it accepts %s", fn.Name, r.Method, allow)}, -1)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs one line per request at debug, server errors at error
// and client errors at warn. It logs method, path and status, never
// headers, queries or bodies (they may hold keys and tokens).
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			next.ServeHTTP(w, r) // the host's readiness probe and health pings, every 25 ms at start
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelDebug
		switch {
		case sw.status >= 500:
			level = slog.LevelError
		case sw.status >= 400:
			level = slog.LevelWarn
		}
		if !logger.Enabled(r.Context(), level) {
			return // the hot path: nothing to build
		}
		logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("invocation", r.Header.Get("X-Azure-Functions-InvocationId")))
	})
}

// readBody reads at most MaxBodyBytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, &apiError{bindings.CodeInvalidJSON, "read body: " + err.Error()}
	}
	return body, nil
}

func tooLarge() error {
	return &apiError{CodePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes (1 MiB, the service's message limit)", MaxBodyBytes)}
}
