package localservice

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Options tunes a Service; the zero value is the defaults.
type Options struct {
	AccessKey    string        // default DevAccessKey
	Logger       *slog.Logger  // default discards
	PingInterval time.Duration // default 15s
	SendBuffer   int           // messages buffered per connection before a slow client is dropped; default 1024
	// SendBufferBytes bounds the bytes buffered per connection (besides
	// SendBuffer): a client that falls further behind is dropped; default
	// 4 MiB. One message larger than this still goes to a client that has
	// nothing else waiting.
	SendBufferBytes int
	// ClientTimeout closes a client that sent no hub-protocol message (pings
	// included; WebSocket control frames do not count) for this long, as
	// ASP.NET Core's ClientTimeoutInterval does; default 30s. Long-polling
	// clients, which send no pings, are closed when they stop polling instead.
	ClientTimeout time.Duration
	// MaxConnections caps the TCP connections Serve keeps open at once, and
	// the SignalR connections, negotiated or connected, the service holds
	// (negotiate answers 503 past it); default 10,000. Keep it below the
	// process's file-descriptor limit.
	MaxConnections int
	Now            func() time.Time

	// Upstream, when set, receives the clients' events as Azure SignalR
	// Service's upstream does in serverless mode: connected, disconnected
	// and every invocation, signed with AccessKey; invocations with an id
	// are answered with the upstream's completion. Without it clients only
	// listen, and one that invokes is closed.
	Upstream *Upstream
}

// Default values of Options and of the service's fixed timeouts.
const (
	defaultPingInterval    = 15 * time.Second
	defaultSendBuffer      = 1024
	defaultSendBufferBytes = 4 << 20
	defaultClientTimeout   = 30 * time.Second
	// upstreamTimeout bounds one upstream request, as the .NET HttpClient's
	// default timeout: past it an invocation fails as on a 500.
	upstreamTimeout = 100 * time.Second
	// negotiateTimeout is how long a negotiated connection may wait for its
	// client to connect.
	negotiateTimeout = 15 * time.Second
	// handshakeTimeout is how long a connected client has to send its
	// handshake (ASP.NET Core's default).
	handshakeTimeout = 15 * time.Second
	// pollTimeout is how long a long poll waits for messages (ASP.NET Core's
	// default; the JS client gives up after 100 s).
	pollTimeout = 90 * time.Second
	// pollIdleTimeout is how long a long-polling client may go without a
	// poll before it is considered gone.
	pollIdleTimeout = 15 * time.Second
	// writeTimeout bounds one write to a client.
	writeTimeout = 10 * time.Second
	// closeGrace bounds a connection's close once it is requested: after it
	// the transport is torn down even if the client does not read.
	closeGrace = 3 * time.Second
)

// Service is the embedded local SignalR service. It is an http.Handler
// serving /client/... and /api/...; the caller owns the listener.
//
// Clients negotiate at POST /client/negotiate?hub=H and connect at
// /client/?hub=H&id=<connectionToken> over WebSockets, Server-Sent Events or
// long polling, with the JSON hub protocol or (not over Server-Sent Events,
// which carry text only) the MessagePack one; they only listen (serverless
// mode), unless Options.Upstream is set: then their invocations and their
// connection events go upstream. The data-plane REST API of Azure SignalR Service is served under
// /api/hubs/{hub}/...?api-version=... and /api/v1/hubs/{hub}/.... Build one
// with New.
type Service struct {
	key        []byte
	log        *slog.Logger
	ping       time.Duration
	sendBuffer int
	sendBytes  int
	now        func() time.Time
	// maxReceive bounds one message a client sends, and so the partial
	// message a connection holds while it waits for the rest: the
	// service's 1 MiB message limit (ASP.NET Core's default is 32 KB).
	maxReceive int
	maxConns   int // MaxConnections

	// Timeouts, fields so that tests can shorten them.
	clientTimeout     time.Duration
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	httpWriteTimeout  time.Duration
	idleTimeout       time.Duration
	negotiateTimeout  time.Duration
	handshakeTimeout  time.Duration
	pollTimeout       time.Duration
	pollIdleTimeout   time.Duration
	writeTimeout      time.Duration
	closeGrace        time.Duration

	ctx    context.Context // cancelled when Close gives up waiting: tears every transport down
	cancel context.CancelFunc
	wg     sync.WaitGroup // long-lived requests and their goroutines

	upstream     *Upstream          // nil: clients only listen
	upTimeout    time.Duration      // upstreamTimeout, a field so that tests can shorten it
	upClient     *http.Client       // its own keep-alive transport, which tests may replace
	invokeCtx    context.Context    // cancelled when Close starts: in-flight invocations end
	invokeCancel context.CancelFunc //
	events       sync.WaitGroup     // disconnected events in flight

	mu      sync.RWMutex
	servers []*http.Server // started by Serve
	closed  bool
	tokens  map[string]*conn // by connection token (the id= of transport requests)
	hubs    map[string]*hub  // by lower-cased hub name
}

// New builds a Service.
func New(opts Options) *Service {
	s := &Service{
		key:               []byte(opts.AccessKey),
		log:               opts.Logger,
		ping:              opts.PingInterval,
		sendBuffer:        opts.SendBuffer,
		sendBytes:         opts.SendBufferBytes,
		maxReceive:        maxMessageSize,
		clientTimeout:     opts.ClientTimeout,
		maxConns:          opts.MaxConnections,
		readHeaderTimeout: serverReadHeaderTimeout,
		readTimeout:       serverReadTimeout,
		httpWriteTimeout:  serverWriteTimeout,
		idleTimeout:       serverIdleTimeout,
		now:               opts.Now,
		upstream:          opts.Upstream,
		upTimeout:         upstreamTimeout,
		negotiateTimeout:  negotiateTimeout,
		handshakeTimeout:  handshakeTimeout,
		pollTimeout:       pollTimeout,
		pollIdleTimeout:   pollIdleTimeout,
		writeTimeout:      writeTimeout,
		closeGrace:        closeGrace,
		tokens:            map[string]*conn{},
		hubs:              map[string]*hub{},
	}
	if opts.AccessKey == "" {
		s.key = []byte(DevAccessKey)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ping <= 0 {
		s.ping = defaultPingInterval
	}
	if s.sendBuffer <= 0 {
		s.sendBuffer = defaultSendBuffer
	}
	if s.sendBytes <= 0 {
		s.sendBytes = defaultSendBufferBytes
	}
	if s.clientTimeout <= 0 {
		s.clientTimeout = defaultClientTimeout
	}
	if s.maxConns <= 0 {
		s.maxConns = defaultMaxConnections
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.upstream != nil {
		s.upClient = newUpstreamClient()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.invokeCtx, s.invokeCancel = context.WithCancel(s.ctx)
	return s
}

// ServeHTTP serves the client and REST endpoints.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		writeError(w, r, errBadRequest("the request path is not validly escaped"))
		return
	}
	if len(segs) == 0 {
		writeError(w, r, errNotFound("no such endpoint: use /client/ or /api/"))
		return
	}
	switch segs[0] {
	case "client":
		s.serveClient(w, r, segs)
	case "api":
		s.serveREST(w, r, segs)
	default:
		writeError(w, r, errNotFound("no such endpoint: use /client/ or /api/"))
	}
}

// Close closes every client connection with a SignalR close message, stops
// background work and shuts down what Serve serves.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.tokens))
	for _, c := range s.tokens {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	// In-flight invocations end: their clients are being closed.
	s.invokeCancel()
	bye := &closeMessages{reason: reasonServiceClosed, allowReconnect: true}
	for _, c := range conns {
		c.end(bye.forConn(c), bye.reason, true, "service closed")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.events.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.closeGrace):
	}
	s.cancel()
	<-done
	if s.upClient != nil {
		s.upClient.CloseIdleConnections()
	}
	s.shutdownServers()
	s.log.Debug("local SignalR service closed", "connections", len(conns))
}
