// Package handler is the HTTP side of the Azure Functions custom handler:
// routes derived from the function folders, both host invocation modes and
// JSON errors ({"error":{"code","message"}}). It knows the Functions host and nothing about JWTs.
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

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// MaxBodyBytes is the largest body ReadBody accepts (a send, or an
// upstream request from the service): the service's own message limit,
// 1 MiB.
const MaxBodyBytes = 1 << 20

// DefaultUserID is the negotiate binding's default userId expression: the
// header App Service Authentication sets (and strips from callers).
const DefaultUserID = "{headers.x-ms-client-principal-id}"

// Negotiator issues client connection info (the signalRConnectionInfo binding).
type Negotiator interface {
	Negotiate(ctx context.Context, userID string, claims map[string][]string) (bindings.ConnectionInfo, error)
}

// ClaimTyper is a Negotiator with claim types: the claim types of
// x-ms-client-principal that negotiate copies into the client token (the
// official binding's claimTypeList), asked on every request because they
// are known only once the binding is resolved. A Negotiator without them
// gets no claims: the header is not read.
type ClaimTyper interface {
	ClaimTypes() []string
}

// Sender carries out send operations in order (the signalR output binding)
// and returns how many were carried out.
type Sender interface {
	Send(ctx context.Context, ops []bindings.Operation) (int, error)
}

// Config is what New needs.
type Config struct {
	App App // host.json and the function folders

	// Functions are the HTTP functions' code by folder name (matched in any
	// letter case); they serve both host modes. When nil, the app is the
	// ready-made pair: negotiate and send, built from Negotiator and Sender.
	Functions map[string]http.Handler
	// Invocations are the code of every other function (timer, queue, …) by
	// folder name: the host POSTs /<name> with {"Data","Metadata"}.
	Invocations map[string]InvokeFunc

	Negotiator  Negotiator // may implement ClaimTyper
	Sender      Sender
	UserID      string   // negotiate's userId expression; default DefaultUserID
	CORSOrigins []string // standalone only: allowed origins, or "*"
	// Standalone is set when no Functions host stands in front: send has
	// no function key then, so it only takes bodies declared as JSON.
	Standalone bool
	Logger     *slog.Logger
}

// ErrShutdown is the cause with which the server cancels the contexts of
// in-flight requests when its shutdown grace is over: a send stopped by it
// answers how many objects it carried out.
var ErrShutdown = errors.New("the handler is shutting down")

// NegotiateHandler is the negotiate function: what the
// signalRConnectionInfo input binding returns, as the HTTP response, for
// cfg.Negotiator and the user id expression cfg.UserID (default
// DefaultUserID).
func NegotiateHandler(cfg Config) (http.Handler, error) {
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
	return &negotiateFunc{cfg: &cfg, userID: userID}, nil
}

// SendHandler is the send function: the body's messages and group actions,
// carried out in order through cfg.Sender.
func SendHandler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &sendFunc{cfg: &cfg}
}

// New builds the handler: for every HTTP function folder, the forwarded
// path (/<routePrefix>/<route>) and the payload path (POST /<name>), both
// running the same function code; for every other folder, the payload path.
// A panic in function code is recovered and logged with its stack. New fails
// when a folder has no code in cfg.
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	impls := map[string]http.Handler{}
	for name, h := range cfg.Functions {
		impls[strings.ToLower(name)] = h
	}
	invocations := map[string]InvokeFunc{}
	for name, f := range cfg.Invocations {
		invocations[strings.ToLower(name)] = f
	}
	if cfg.Functions == nil {
		negotiate, err := NegotiateHandler(cfg)
		if err != nil {
			return nil, err
		}
		impls["negotiate"], impls["send"] = negotiate, SendHandler(cfg)
	}

	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Respond(w, apierror.New(apierror.NotFound, "no function at %s", clip.String(r.URL.Path)))
	})
	r.MatcherFunc(exactPath("/")).Methods(http.MethodGet, http.MethodHead).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	for _, fn := range cfg.App.Functions {
		payload := "/" + fn.Name
		if !fn.IsHTTP() {
			invoke, ok := invocations[strings.ToLower(fn.Name)]
			if !ok {
				return nil, fmt.Errorf("function folder %q (%s) has no code in this handler", fn.Name, fn.Trigger)
			}
			invocation := invocationHandler(fn, invoke, cfg.Logger)
			if cfg.Standalone {
				invocation = jsonOnly(invocation)
			}
			r.MatcherFunc(exactPath(payload)).Handler(invocation)
			continue
		}
		impl, ok := impls[strings.ToLower(fn.Name)]
		if !ok {
			return nil, fmt.Errorf("function folder %q has no code in this handler", fn.Name)
		}
		public := cfg.App.PublicPath(fn)
		forwarded := methodCheck(fn, recoverHTTP(fn.Name, cfg.Logger, impl))
		invocation := payloadHandler(fn, forwarded)
		if cfg.Standalone {
			invocation = jsonOnly(invocation)
		}
		if public == payload && !cfg.App.ForwardingEnabled {
			// routePrefix "" and forwarding off: the host only ever sends payloads here.
			r.MatcherFunc(exactPath(payload)).Handler(invocation)
			continue
		}
		r.MatcherFunc(routePath(public)).Handler(forwarded)
		if public != payload {
			r.MatcherFunc(exactPath(payload)).Handler(invocation)
		}
	}
	var h http.Handler = r
	if cfg.Standalone {
		h = markStandalone(h)
	}
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

// routePath matches a function's public path, case-insensitively as the
// Functions host routes. Literal routes compare as strings; a route with
// ASP.NET Core route parameters ({id}, {id:int}: one segment each; a final
// {*rest}: the rest of the path, possibly empty) compares segment by segment.
func routePath(path string) mux.MatcherFunc {
	if !strings.Contains(path, "{") {
		return exactPath(path)
	}
	pattern := strings.Split(strings.Trim(path, "/"), "/")
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		got := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		for i, p := range pattern {
			if strings.HasPrefix(p, "{*") && strings.HasSuffix(p, "}") {
				return i == len(pattern)-1 && len(got) >= i
			}
			if i >= len(got) {
				return false
			}
			if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
				if got[i] == "" {
					return false
				}
				continue
			}
			if !strings.EqualFold(p, got[i]) {
				return false
			}
		}
		return len(got) == len(pattern)
	}
}

// methodCheck answers 405 for methods the function.json does not list.
func methodCheck(fn Function, next http.Handler) http.Handler {
	allow := strings.Join(fn.Methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fn.Allows(r.Method) {
			w.Header().Set("Allow", allow)
			Respond(w, apierror.New(apierror.MethodNotAllowed, "%s does not accept %s; it accepts %s", fn.Name, clip.String(r.Method), allow))
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
			slog.String("method", clip.String(r.Method)), slog.String("path", clip.String(r.URL.Path)), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("invocation", clip.String(r.Header.Get("X-Azure-Functions-InvocationId"))))
	})
}

// ReadBody reads r's body, at most MaxBodyBytes: a larger one (announced
// by Content-Length or found while reading) is a PayloadTooLarge
// *apierror.Error, and a failed read is one with code readErrCode.
func ReadBody(w http.ResponseWriter, r *http.Request, readErrCode string) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, apierror.New(readErrCode, "could not read the body: %v", err)
	}
	return body, nil
}

func tooLarge() error {
	return apierror.New(apierror.PayloadTooLarge, "the body is larger than %d bytes (1 MiB, the service's message limit)", MaxBodyBytes)
}

// standaloneKey marks the context of requests served without the
// Functions host in front.
type standaloneKey struct{}

func markStandalone(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), standaloneKey{}, true)))
	})
}

// isStandalone reports whether r was served without the Functions host.
func isStandalone(r *http.Request) bool {
	v, _ := r.Context().Value(standaloneKey{}).(bool)
	return v
}

// jsonOnly guards the payload-mode endpoints of a standalone handler, where
// no Functions host (which always posts application/json) stands in front:
// a body declared as anything else, or not declared, is refused. A web page
// can POST text/plain across sites without a preflight, but not JSON, so an
// envelope could otherwise smuggle a JSON Content-Type in to send, or run a
// timer or queue function.
func jsonOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkJSONContentType(r.Header.Get("Content-Type"), true); err != nil {
			Respond(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
