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

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/httpserve"
	"github.com/funcsignalr/funcsignalr/localservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

// defaultAddr is where the handler listens without the Functions host,
// the address `func start` uses.
const defaultAddr = "127.0.0.1:7071"

// shutdownGrace bounds how long in-flight requests may take after SIGTERM
// before they are stopped.
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
	// one; default the FUNCSIGNALR_ADDR setting, else 127.0.0.1:7071.
	Addr string
	// Name is the program name in the usage text; default "funcsignalr".
	Name string
	// ShutdownGrace is how long in-flight requests may run once ctx is
	// done; then they are stopped and answer what they did. Default 10s.
	ShutdownGrace time.Duration
	// MaxConns caps the handler's concurrent connections; default 1,024.
	MaxConns int
}

// Run runs the custom handler with the app's code fns (or, with the
// argument local-service, only the local SignalR service) until ctx is
// done, then shuts down gracefully. -h or --help prints the usage on stdout
// and returns nil; an unknown flag or argument prints the mistake and the
// usage on stderr and returns an error wrapping ErrUsage.
func Run(ctx context.Context, env Env, fns *Functions) error {
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
		return runLocalService(ctx, env, cmd.addr, cmd.upstream)
	}
	if fns == nil {
		return errors.New("app.Run: no Functions: the handler has no code to serve (functions.App.Run passes the registered functions)")
	}
	lookupEnv := environMap(env.Environ)
	port := lookupEnv["FUNCTIONS_CUSTOMHANDLER_PORT"]
	standalone := port == ""
	logger := newLogger(env.Stdout, env.Stderr, lookupEnv["FUNCSIGNALR_LOG_LEVEL"])
	// The setting sources are read once, here: the standalone address is
	// one of them. A read error is reported once the handler listens.
	sources, sourcesErr := settings.ReadSources(env.Environ, env.Dir, standalone)
	src := appSettings{sources: sources, values: settings.NewValues(logger, sources...), readErr: sourcesErr}
	addr := net.JoinHostPort("127.0.0.1", port)
	if standalone {
		addr = standaloneAddr(env, cmd, src.values)
	}
	// Listen before settings are resolved: the host polls GET / every
	// 25 ms and readiness must not wait on settings or credentials.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	maxConns := env.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	ready := newReadiness()
	base, stopRequests := context.WithCancelCause(context.Background())
	defer stopRequests(nil)
	srv := newServer(ready, logger, base)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(httpserve.LimitListener(ln, maxConns, logger)) }()
	if env.Listening != nil {
		env.Listening("handler", ln.Addr().String())
	}

	if standalone && !isLoopback(ln.Addr()) {
		logger.Warn("the standalone handler listens beyond loopback: send has no function key standalone, "+
			"so anyone who reaches this address can send to every client; listen on 127.0.0.1 unless that is intended",
			"addr", ln.Addr().String())
	}
	stop, err := build(ctx, env, fns, src, standalone, ready, logger, ln.Addr().String())
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
	grace := env.ShutdownGrace
	if grace <= 0 {
		grace = shutdownGrace
	}
	logger.Info("shutting down: finishing in-flight requests", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); !errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	// The grace is over: stop what is still running. Sends answer with the
	// count of objects they carried out instead of leaving callers with a
	// closed connection.
	logger.Warn("shutdown grace is over: stopping in-flight requests", "grace", grace.String())
	stopRequests(handler.ErrShutdown)
	answerCtx, cancelAnswer := context.WithTimeout(context.Background(), shutdownAnswerTime)
	defer cancelAnswer()
	if errors.Is(srv.Shutdown(answerCtx), context.DeadlineExceeded) {
		srv.Close()
	}
	return nil
}

// appSettings are the app-setting sources, read once at start-up, and
// their merged values; readErr is a source that could not be read.
type appSettings struct {
	sources []settings.Source
	values  *settings.Values
	readErr error
}

// standaloneAddr is where the handler listens without the Functions host:
// the -addr flag, Env.Addr, the FUNCSIGNALR_ADDR setting (from the
// environment, else local.settings.json or .env, spelled in any case as
// other settings), else defaultAddr.
func standaloneAddr(env Env, cmd command, values *settings.Values) string {
	if cmd.addr != "" {
		return cmd.addr
	}
	if env.Addr != "" {
		return env.Addr
	}
	if v, _, ok := values.Get("FUNCSIGNALR_ADDR"); ok {
		return v
	}
	return defaultAddr
}

func mode(port string) string {
	if port == "" {
		return "standalone"
	}
	return "functions host"
}

// build resolves settings and bindings and installs the real handler.
// Settings errors never stop the process: a binding whose setting is invalid
// answers ConfigurationError wherever it is used, and functions that do not
// use it keep working. A mismatch between function folders and code does
// stop it: that is a programming error.
func build(ctx context.Context, env Env, fns *Functions, src appSettings, standalone bool, ready *readiness, logger *slog.Logger, handlerAddr string) (stop func(), err error) {
	if fns.Logger != nil {
		fns.Logger(logger)
	}
	app, err := handler.LoadApp(env.Dir)
	if err != nil {
		return nil, fmt.Errorf("load function app: %w", err)
	}
	if fns.Check != nil {
		if err := fns.Check(app); err != nil {
			return nil, err
		}
	}
	configErr := src.readErr
	if configErr != nil {
		logger.Error("configuration error", "error", configErr.Error())
	}
	if standalone && env.Setenv != nil {
		exportFileSettings(src.sources, env.Setenv)
	}
	values := src.values
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
	upstream := ""
	if fns.Upstream != "" {
		if fn, ok := app.Function(fns.Upstream); ok && fn.IsHTTP() {
			// The route's parameters end the URL: the upstream route,
			// signalr/{*rest}, has a catch-all that may be empty.
			path, _, _ := strings.Cut(app.PublicPath(fn), "/{")
			upstream = "http://" + handlerAddr + path
		}
	}
	r := &resolver{ctx: ctx, env: env, values: values, settings: s, configErr: configErr,
		logger: logger, stops: &stops, upstream: upstream}
	for _, b := range fns.Bindings {
		b.Resolved(r.resolve(b))
	}
	if fns.Ready != nil {
		if err := fns.Ready(); err != nil {
			stop()
			return nil, err
		}
	}

	cfg := handler.Config{App: app, Logger: logger, Functions: fns.HTTP, Invocations: fns.Invocations,
		Standalone: standalone}
	if standalone {
		cfg.CORSOrigins = s.CORSOrigins
	}
	h, err := handler.New(cfg)
	if err != nil {
		stop()
		return nil, err
	}
	ready.set(h)
	if standalone && fns.Standalone != nil {
		tctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			fns.Standalone(tctx, app, values, logger)
		}()
		stops = append(stops, func() { cancel(); <-done })
	}
	return stop, nil
}

// Functions is a function app's code as the functions package registers it:
// Run wires it to the function folders, the SignalR bindings and the
// handler.
type Functions struct {
	// Check compares the function folders with the code; its error stops
	// start-up.
	Check func(handler.App) error
	// HTTP and Invocations are handler.Config's Functions and Invocations.
	HTTP        map[string]http.Handler
	Invocations map[string]handler.InvokeFunc
	// Bindings are resolved once at start-up, before the handler serves.
	Bindings []Binding
	// Ready, if set, runs once every binding is resolved, before the
	// handler serves; its error stops start-up, as Check's does.
	Ready func() error
	// Upstream names the HTTP function that receives SignalR upstream
	// requests ("" when the app has no SignalR trigger): an embedded local
	// service started here sends its upstream requests to it.
	Upstream string
	// Logger, if set, is given the process's logger before anything runs.
	Logger func(*slog.Logger)
	// Standalone runs, without the Functions host, what the host would
	// trigger (timers) until ctx ends; values are the app settings.
	Standalone func(ctx context.Context, app handler.App, values *settings.Values, logger *slog.Logger)
}

// Binding is one SignalR binding declared by code: a ConnectionStringSetting
// and a hub. Resolved is called once at start-up with its client, or with
// the configuration error that every use of the binding answers.
type Binding struct {
	Setting  string // ConnectionStringSetting; "" is settings.DefaultConnectionStringSetting
	Hub      string // "" is the AzureSignalRHubName setting
	Options  bindings.Options
	Resolved func(ResolvedBinding)
}

// ResolvedBinding is a Binding after start-up: Client and Connection, or Err.
type ResolvedBinding struct {
	Client     *bindings.Client
	Connection *settings.Connection
	Hub        string // lower-cased, as on the wire
	Err        error
	// NegotiateErr fails client tokens only (an invalid
	// AzureSignalRAccessTokenLifetime), so that sends keep working.
	NegotiateErr error
	// ClaimTypes are the AzureSignalRClaimTypes setting: the claim types of
	// x-ms-client-principal that negotiate copies into client tokens.
	ClaimTypes []string
}

// resolver resolves each ConnectionStringSetting once and builds one client
// per (setting, hub, token lifetime).
type resolver struct {
	ctx       context.Context
	env       Env
	values    *settings.Values
	settings  settings.Settings
	configErr error
	logger    *slog.Logger
	stops     *[]func()
	upstream  string

	conns   map[string]connResult         // by lower-cased setting
	clients map[clientKey]ResolvedBinding // shared by equal bindings
}

type connResult struct {
	conn *settings.Connection
	err  error
}

type clientKey struct {
	setting, hub string
	lifetime     time.Duration
}

func (r *resolver) resolve(b Binding) ResolvedBinding {
	setting := b.Setting
	if setting == "" {
		setting = settings.DefaultConnectionStringSetting
	}
	hub := b.Hub
	if hub == "" {
		hub = r.settings.HubName // settings.Load defaults it
	}
	hub = strings.ToLower(hub)
	if r.configErr != nil {
		return ResolvedBinding{Hub: hub, Err: r.configErr, ClaimTypes: r.settings.ClaimTypes}
	}
	cr := r.connection(setting)
	if cr.err != nil {
		return ResolvedBinding{Hub: hub, Err: cr.err, ClaimTypes: r.settings.ClaimTypes}
	}
	opts := b.Options
	if opts.Timeout == 0 {
		opts.Timeout = r.settings.HTTPClientTimeout
	}
	if opts.Logger == nil {
		opts.Logger = r.logger
	}
	var negotiateErr error
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = r.settings.AccessTokenLifetime
		negotiateErr = r.settings.AccessTokenLifetimeError
	}
	// A binding with its own lifetime shares the client of one that takes
	// the setting's, but not the setting's error: NegotiateErr is per
	// binding, set after the cache.
	key := clientKey{strings.ToLower(setting), hub, opts.TokenLifetime}
	rb, ok := r.clients[key]
	if !ok {
		rb = r.newClient(setting, hub, cr.conn, opts)
		if r.clients == nil {
			r.clients = map[clientKey]ResolvedBinding{}
		}
		r.clients[key] = rb
	}
	rb.NegotiateErr = negotiateErr
	return rb
}

// newClient builds the client of a (setting, hub, options), or the error
// that every use of the binding answers.
func (r *resolver) newClient(setting, hub string, conn *settings.Connection, opts bindings.Options) ResolvedBinding {
	rb := ResolvedBinding{Connection: conn, Hub: hub, ClaimTypes: r.settings.ClaimTypes}
	client, err := bindings.NewClient(conn, hub, opts)
	if err != nil {
		r.logger.Error("configuration error", "setting", setting, "hub", hub, "error", err.Error())
		rb.Err = err
		return rb
	}
	*r.stops = append(*r.stops, client.Close)
	rb.Client = client
	settings.LogConnection(r.logger, conn, hub)
	return rb
}

// connection resolves setting once. With nothing configured (and not in
// Azure) the default setting is served by one embedded local service; any
// other setting that is not configured is a ConfigurationError naming it.
func (r *resolver) connection(setting string) connResult {
	k := strings.ToLower(setting)
	if cr, ok := r.conns[k]; ok {
		return cr
	}
	conn, err := settings.Resolve(r.values, setting, settings.Options{})
	switch {
	case errors.Is(err, settings.ErrNotConfigured) && !r.settings.InAzure && strings.EqualFold(setting, settings.DefaultConnectionStringSetting):
		conn, err = startLocalService(r.ctx, r.env, r.settings.LocalAddr, r.upstream, r.logger, r.stops)
		if err != nil {
			err = apierror.Setting("FUNCSIGNALR_LOCAL_ADDR", err.Error())
		}
	}
	if err != nil {
		r.logger.Error("configuration error", "setting", setting, "error", err.Error())
	}
	if r.conns == nil {
		r.conns = map[string]connResult{}
	}
	r.conns[k] = connResult{conn, err}
	return r.conns[k]
}

// startLocalService starts the embedded local SignalR service on addr; with
// an upstream URL template, it sends client events there.
func startLocalService(ctx context.Context, env Env, addr, upstream string, logger *slog.Logger, stops *[]func()) (*settings.Connection, error) {
	opts := localservice.Options{Logger: logger.With("component", "localservice")}
	if upstream != "" {
		up, err := localservice.ParseUpstream(upstream)
		if err != nil {
			return nil, err
		}
		opts.Upstream = up
		logger.Info("the embedded local SignalR service sends client events upstream", "url", up.String())
	}
	svc := localservice.New(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start the local SignalR service on %s (set FUNCSIGNALR_LOCAL_ADDR to use another address): %w", addr, err)
	}
	go svc.Serve(ln)
	*stops = append(*stops, svc.Close)
	if env.Listening != nil {
		env.Listening("localservice", ln.Addr().String())
	}
	return settings.LocalConnection(ln.Addr().String()), nil
}

// runLocalService runs only the local SignalR service and prints its
// connection string, for `func start` users and other languages.
func runLocalService(ctx context.Context, env Env, addr, upstream string) error {
	if addr == "" {
		addr = settings.DefaultLocalAddr
	}
	logger := newLogger(env.Stdout, env.Stderr, environMap(env.Environ)["FUNCSIGNALR_LOG_LEVEL"])
	var stops []func()
	conn, err := startLocalService(ctx, env, addr, upstream, logger, &stops)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, localservice.ConnectionString(strings.TrimPrefix(conn.Endpoint, "http://")))
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
			if src.Name != settings.SourceEnvironment {
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
