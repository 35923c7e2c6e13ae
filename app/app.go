// Package app wires settings, bindings, the local service and the handler
// into the running custom handler; main only calls Run. Standalone versus
// Functions-host mode is decided here, once.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/localservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

// StandaloneAddr is where the handler listens without the Functions host,
// the address `func start` uses.
const StandaloneAddr = "127.0.0.1:7071"

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 10 * time.Second

// Env is the process's view of the world, injected so tests can run the
// whole handler in-process.
type Env struct {
	Args    []string // command-line arguments after the program name
	Environ []string // os.Environ()
	Dir     string   // working directory: the app root
	Stdout  io.Writer
	Stderr  io.Writer
	// Setenv exports local.settings.json / .env values to the process
	// environment in standalone mode, as `func start` does, so azidentity's
	// DefaultAzureCredential sees them; nil skips it (tests).
	Setenv func(key, value string) error
	// Listening, if set, is told each address once it accepts connections.
	Listening func(name, addr string)
	// Addr is the standalone listen address unless the -addr flag gives
	// one; default the FUNCSIGNALR_ADDR setting, else StandaloneAddr.
	Addr string
	// Name is the program name in the usage text; default "funcsignalr".
	Name string
}

// Run runs the custom handler (or, with the argument local-service, only
// the local SignalR service) until ctx is done, then shuts down gracefully.
// -h or --help prints the usage on stdout and returns nil; an unknown flag
// or argument prints the mistake and the usage on stderr and returns an
// error wrapping ErrUsage.
func Run(ctx context.Context, env Env) error {
	cmd, err := parseArgs(env.Args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s\n\n", err)
		printUsage(env.Stderr, env.Name)
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if cmd.help {
		printUsage(env.Stdout, env.Name)
		return nil
	}
	if cmd.localService {
		return runLocalService(ctx, env, cmd.addr)
	}
	lookupEnv := environMap(env.Environ)
	port := lookupEnv["FUNCTIONS_CUSTOMHANDLER_PORT"]
	addr := net.JoinHostPort("127.0.0.1", port)
	if port == "" {
		addr = standaloneAddr(env, cmd)
	}
	// Listen before anything else: the host polls GET / every 25 ms and
	// readiness must not wait on settings or credentials.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	ready := newReadiness()
	srv := &http.Server{Handler: ready, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if env.Listening != nil {
		env.Listening("handler", ln.Addr().String())
	}

	logger := newLogger(env.Stdout, env.Stderr, lookupEnv["FUNCSIGNALR_LOG_LEVEL"])
	if port == "" && !isLoopback(ln.Addr()) {
		logger.Warn("the standalone handler listens beyond loopback: send has no function key standalone, "+
			"so anyone who reaches this address can send to every client; listen on 127.0.0.1 unless that is intended",
			"addr", ln.Addr().String())
	}
	stop, err := build(ctx, env, port == "", ready, logger)
	if err != nil {
		srv.Close()
		return err
	}
	defer stop()
	logger.Info("funcsignalr listening", "addr", ln.Addr().String(), "mode", mode(port))

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// standaloneAddr is where the handler listens without the Functions host:
// the -addr flag, Env.Addr, FUNCSIGNALR_ADDR (from the environment, else
// local.settings.json or .env, as other settings), else StandaloneAddr.
func standaloneAddr(env Env, cmd command) string {
	if cmd.addr != "" {
		return cmd.addr
	}
	if env.Addr != "" {
		return env.Addr
	}
	// Read errors are reported once the settings are loaded.
	sources, _ := settings.ReadSources(env.Environ, env.Dir, true)
	for _, src := range sources { // highest precedence first
		if v := src.Pairs["FUNCSIGNALR_ADDR"]; v != "" {
			return v
		}
	}
	return StandaloneAddr
}

func mode(port string) string {
	if port == "" {
		return "standalone"
	}
	return "functions host"
}

// build resolves settings and connections and installs the real handler.
// Settings errors never stop the process (CONTRACT §1.7): they become the
// ConfigurationError every call answers.
func build(ctx context.Context, env Env, standalone bool, ready *readiness, logger *slog.Logger) (stop func(), err error) {
	app, err := handler.LoadApp(env.Dir)
	if err != nil {
		return nil, fmt.Errorf("load function app: %w", err)
	}
	sources, err := settings.ReadSources(env.Environ, env.Dir, standalone)
	var configErr error
	if err != nil {
		logger.Error("configuration error", "error", err.Error())
		configErr = err
	}
	if standalone && env.Setenv != nil {
		exportFileSettings(sources, env.Setenv)
	}
	values := settings.NewValues(logger, sources...)
	s, err := settings.Load(values)
	if err != nil {
		logger.Error("configuration error", "error", err.Error())
		configErr = errors.Join(configErr, err)
	}

	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if w := s.IdentityWarning(); w != "" {
		logger.Warn(w)
	}
	if s.AccessTokenLifetimeError != nil {
		logger.Error("configuration error", "error", s.AccessTokenLifetimeError.Error())
	}
	cfg := handler.Config{App: app, Logger: logger, ConfigError: configErr, ClaimTypes: s.ClaimTypes}
	if standalone {
		cfg.CORSOrigins = s.CORSOrigins
	}
	if configErr == nil {
		conn, err := settings.Resolve(values, settings.DefaultConnectionStringSetting, settings.Options{})
		var nce *settings.NotConfiguredError
		switch {
		case errors.As(err, &nce) && !s.InAzure:
			conn, err = startLocalService(ctx, env, s.LocalAddr, logger, &stops)
			if err != nil {
				logger.Error("configuration error", "error", err.Error())
				cfg.ConfigError = &settings.Error{Key: "FUNCSIGNALR_LOCAL_ADDR", Message: err.Error()}
			}
		case err != nil:
			logger.Error("configuration error", "error", err.Error())
			cfg.ConfigError = err
		}
		if conn != nil {
			client, err := bindings.NewClient(conn, s.HubName, bindings.Options{
				Timeout: s.HTTPClientTimeout, TokenLifetime: s.AccessTokenLifetime, Logger: logger})
			if err != nil {
				logger.Error("configuration error", "error", err.Error())
				cfg.ConfigError = err
			} else {
				stops = append(stops, client.Close)
				cfg.Negotiator, cfg.Sender = client, client
				if s.AccessTokenLifetimeError != nil {
					cfg.Negotiator = failingNegotiator{s.AccessTokenLifetimeError}
				}
				settings.LogConnection(logger, conn, strings.ToLower(s.HubName))
			}
		}
	}
	h, err := handler.New(cfg)
	if err != nil {
		stop()
		return nil, err
	}
	ready.set(h)
	return stop, nil
}

// failingNegotiator answers every negotiate with a configuration error that
// concerns client tokens only, so that send keeps working.
type failingNegotiator struct{ err error }

func (f failingNegotiator) Negotiate(context.Context, string, map[string][]string) (bindings.ConnectionInfo, error) {
	return bindings.ConnectionInfo{}, f.err
}

// startLocalService starts the embedded local SignalR service on addr.
func startLocalService(ctx context.Context, env Env, addr string, logger *slog.Logger, stops *[]func()) (*settings.Connection, error) {
	svc := localservice.New(localservice.Options{Logger: logger.With("component", "localservice")})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start the local SignalR service on %s (set FUNCSIGNALR_LOCAL_ADDR to use another address): %w", addr, err)
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	*stops = append(*stops, func() {
		svc.Close()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	})
	if env.Listening != nil {
		env.Listening("localservice", ln.Addr().String())
	}
	return settings.LocalConnection(ln.Addr().String()), nil
}

// runLocalService runs only the local SignalR service and prints its
// connection string, for `func start` users and other languages.
func runLocalService(ctx context.Context, env Env, addr string) error {
	if addr == "" {
		addr = settings.DefaultLocalAddr
	}
	logger := newLogger(env.Stdout, env.Stderr, environMap(env.Environ)["FUNCSIGNALR_LOG_LEVEL"])
	var stops []func()
	conn, err := startLocalService(ctx, env, addr, logger, &stops)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, settings.LocalConnectionString(strings.TrimPrefix(conn.Endpoint, "http://")))
	<-ctx.Done()
	for _, s := range stops {
		s()
	}
	return nil
}

// readiness answers GET / at once (the host's probe must not wait on
// settings or credentials) and holds every other request until the handler
// is built, which takes milliseconds: an invocation the host sends right
// after the probe waits instead of failing.
type readiness struct {
	h     atomic.Pointer[http.Handler]
	ready chan struct{}
}

func newReadiness() *readiness { return &readiness{ready: make(chan struct{})} }

func (r *readiness) set(h http.Handler) {
	r.h.Store(&h)
	close(r.ready)
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		w.WriteHeader(http.StatusOK)
		return
	}
	h := r.h.Load()
	if h == nil {
		select {
		case <-r.ready:
			h = r.h.Load()
		case <-req.Context().Done():
			return
		}
	}
	(*h).ServeHTTP(w, req)
}

// exportFileSettings copies file-sourced settings into the process
// environment unless already set, as `func start` does with
// local.settings.json, so credentials that read the environment see them.
func exportFileSettings(sources []settings.Source, setenv func(string, string) error) {
	set := map[string]bool{}
	for _, src := range sources { // highest precedence first
		for k, v := range src.Pairs {
			if set[k] {
				continue
			}
			set[k] = true
			if src.Name != "environment" {
				setenv(k, v)
			}
		}
	}
}

func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
