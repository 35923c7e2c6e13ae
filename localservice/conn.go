package localservice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
)

// transportKind is how a client is connected.
type transportKind int

const (
	transportNone transportKind = iota // negotiated, not connected yet
	transportWebSockets
	transportServerSentEvents
	transportLongPolling
)

func (t transportKind) String() string {
	switch t {
	case transportWebSockets:
		return "WebSockets"
	case transportServerSentEvents:
		return "ServerSentEvents"
	case transportLongPolling:
		return "LongPolling"
	}
	return "none"
}

// frame is one queued write: one or more whole hub-protocol messages. last
// marks the final write of a connection closed gracefully.
type frame struct {
	data []byte
	last bool
}

// maxBatch bounds how many queued bytes one transport write coalesces.
const maxBatch = 64 << 10

// conn is one client connection, from negotiate to close. Its outbound queue
// is bounded: whoever sends to it never blocks, and a client that falls
// SendBuffer messages or SendBufferBytes bytes behind is dropped. One writer (the WebSocket or SSE
// request, or each long poll in turn) drains the queue in order.
type conn struct {
	s     *Service
	hub   string // lower-cased
	id    string // connectionId, what REST calls name
	token string // connectionToken, the id= of transport requests
	user  string // fixed at negotiate

	out    queue           // bounded at SendBuffer frames and SendBufferBytes bytes
	done   chan struct{}   // closed once close is requested
	ctx    context.Context // cancelled when the transport must be torn down
	cancel context.CancelFunc

	// Guarded by s.mu.
	transport  transportKind
	attached   bool // a transport took the connection
	closed     bool // close requested
	registered bool // reachable by REST calls (handshake done)
	groups     map[string]struct{}
	timers     []*time.Timer // negotiate and handshake deadlines

	closeFrame []byte      // written last on an abrupt close; set before done is closed
	graceful   atomic.Bool // the last frame is queued: drain up to it
	handshaken atomic.Bool
	binary     atomic.Bool // MessagePack hub protocol, set before the handshake response is queued

	rmu        sync.Mutex             // serializes incoming data
	reader     messageReader          // JSON messages, and the handshake request of both protocols
	frames     msgpackhub.FrameReader // MessagePack messages after the handshake
	gotRequest bool                   // the handshake request was read
	upOpen     bool                   // connected went upstream and was not refused: events follow
	upHeader   http.Header            // what every upstream request of c carries, set when connected is sent

	origin  clientOrigin  // guarded by s.mu; set by the first transport request when upstream is on
	upBusy  atomic.Bool   // an upstream request of the connection is in flight: the client timeout waits
	sending chan struct{} // capacity 1: one POST of a Server-Sent Events or long-polling client at a time
	// held is closed once the client may be written to: at once without
	// upstream; with one, once connected is answered (or c ends), so that
	// the handshake response goes out with what connected led to, a
	// refusal's Close message included.
	held     chan struct{}
	holdOnce sync.Once

	// The client timeout: lastMessage is when the client last sent a
	// message (monotonic, see monoNow); clientTimer, guarded by s.mu,
	// checks it.
	lastMessage atomic.Int64
	clientTimer *time.Timer

	pmu       sync.Mutex // long polling
	polling   bool
	idle      *time.Timer
	delivered bool // the final frame went out in a poll
}

// randomID returns n random bytes, URL-safe base64 without padding.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errServiceClosed = errors.New("the local SignalR service is closed")

// newConn creates a negotiated connection of user to hub. With v0 (no
// negotiateVersion) the connection id doubles as its token.
func (s *Service) newConn(hub, user string, v0 bool) (*conn, error) {
	c := &conn{
		s:       s,
		hub:     hub,
		id:      randomID(16),
		user:    user,
		out:     newQueue(s.sendBuffer, s.sendBytes),
		done:    make(chan struct{}),
		sending: make(chan struct{}, 1),
		held:    make(chan struct{}),
	}
	if s.upstream == nil {
		c.release()
	}
	c.reader.max = s.maxReceive
	c.token = c.id
	if !v0 {
		c.token = randomID(32)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errServiceClosed
	}
	if len(s.tokens) >= s.maxConns {
		// Negotiated connections wait up to negotiateTimeout for their
		// client: without a cap, a flood of negotiates would hold them all.
		s.log.Warn("SignalR negotiate refused: the service holds its maximum of connections", "maxConnections", s.maxConns)
		return nil, fmt.Errorf("the local SignalR service holds its maximum of %d connections", s.maxConns)
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	s.tokens[c.token] = c
	c.timers = append(c.timers, time.AfterFunc(s.negotiateTimeout, func() {
		s.mu.RLock()
		attached := c.attached
		s.mu.RUnlock()
		if !attached {
			c.shutdown(nil, false, "negotiated but never connected")
		}
	}))
	return c, nil
}

// lookup finds a connection by its token.
func (s *Service) lookup(token string) *conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tokens[token]
}

// attach binds c to transport t for a request from o; first tells whether
// this request is the first of the connection, whose origin upstream
// requests tell. It fails with a status when c is closed (404), already
// taken by a stream (409) or bound to another transport (400). On success
// it counts one long-lived request in s.wg; the caller calls s.wg.Done.
func (c *conn) attach(t transportKind, o clientOrigin) (first bool, e *apiError) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return false, errUnavailable(errServiceClosed.Error())
	case c.closed && t != transportLongPolling:
		return false, errNotFound("no connection with this id")
	case c.transport != transportNone && c.transport != t:
		return false, errBadRequest("cannot change transports between requests")
	case c.attached && t != transportLongPolling:
		return false, errConflict("another " + t.String() + " request is already active for this connection")
	}
	s.wg.Add(1)
	first = !c.attached
	if first {
		c.attached, c.transport = true, t
		if s.upstream != nil {
			c.origin = o
		}
		c.timers = append(c.timers, time.AfterFunc(s.handshakeTimeout, func() {
			if !c.handshaken.Load() {
				c.shutdown(nil, false, "no handshake in time")
			}
		}))
	}
	return first, nil
}

// register queues the handshake response and makes c reachable by REST
// calls, atomically: no message can go before the response, and none sent
// after the client sees it is lost.
func (c *conn) register(response []byte) bool {
	s := c.s
	s.mu.Lock()
	if c.closed || s.closed {
		s.mu.Unlock()
		return false
	}
	c.enqueue(frame{data: response}) // the queue is empty: it never fails
	c.handshaken.Store(true)
	c.registered = true
	s.addConnLocked(c)
	if c.transport != transportLongPolling {
		// Long-polling clients send no pings (the JS client counts polls
		// as an inherent keep-alive); their idle timeout ends them instead.
		c.lastMessage.Store(monoNow())
		c.clientTimer = time.AfterFunc(s.clientTimeout, c.checkClientTimeout)
	}
	timers, transport := c.timers, c.transport
	c.timers = nil
	s.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	s.log.Debug("SignalR connection opened", "hub", c.hub, "connectionId", c.id, "userId", c.user, "transport", transport)
	return true
}

// enqueue queues f without blocking; false means the queue is full.
func (c *conn) enqueue(f frame) bool { return c.out.push(f) }

// shutdown closes c, once: it leaves its hub at once, so no REST call reaches
// it any more. msg (a close message or handshake error, or nil) is the last
// thing the client gets: after what is already queued when graceful and the
// queue has room, else in place of it. The transport is torn down at the
// latest closeGrace later. The connection ends without an error.
func (c *conn) shutdown(msg []byte, graceful bool, reason string) {
	c.end(msg, "", graceful, reason)
}

// closeWithError closes c with a Close message carrying errText, which is
// also the error the connection ends with.
func (c *conn) closeWithError(errText string, allowReconnect, graceful bool, reason string) {
	c.end(c.closeMessage(errText, allowReconnect), errText, graceful, reason)
}

// end closes c as shutdown does; errText is the error the connection ended
// with, if any, which the upstream's disconnected event carries.
func (c *conn) end(msg []byte, errText string, graceful bool, reason string) {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return
	}
	c.closed = true
	s.removeConnLocked(c)
	if c.transport != transportLongPolling {
		// Long polling keeps its token so that the next poll gets the close
		// message and then 204; idle expiry or DELETE forgets it.
		delete(s.tokens, c.token)
	}
	attached, registered, transport := c.attached, c.registered, c.transport
	timers := c.timers
	if c.clientTimer != nil {
		timers = append(timers, c.clientTimer)
	}
	c.timers = nil
	// Counted under s.mu, before Close waits: Close sets s.closed and then
	// ends every open connection, so no event starts after its wait.
	disconnect := registered && s.upstream != nil
	if disconnect {
		s.events.Add(1)
	}
	s.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	if disconnect {
		go c.closeUpstream(errText)
	}

	if graceful && msg != nil && c.enqueue(frame{data: msg, last: true}) {
		c.graceful.Store(true)
	} else {
		c.closeFrame = msg
	}
	close(c.done)
	c.release()
	if !attached {
		c.cancel()
	} else {
		time.AfterFunc(s.closeGrace, c.cancel)
	}
	if registered {
		s.log.Debug("SignalR connection closed", "hub", c.hub, "connectionId", c.id, "userId", c.user, "transport", transport, "reason", reason)
	}
}

// release lets the writers write to the client.
func (c *conn) release() {
	c.holdOnce.Do(func() { close(c.held) })
}

// forget drops a closed long-polling connection's token.
func (c *conn) forget() {
	c.s.mu.Lock()
	if c.s.tokens[c.token] == c {
		delete(c.s.tokens, c.token)
	}
	c.s.mu.Unlock()
}

// sink writes frames to a client's transport.
type sink interface {
	write(ctx context.Context, p []byte) error
}

// write writes p within the write timeout.
func (c *conn) write(sk sink, p []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.writeTimeout)
	defer cancel()
	return sk.write(ctx, p)
}

// next coalesces f with frames already queued, up to maxBatch bytes, and
// tells whether the result ends with the connection's last frame.
func (c *conn) next(f frame, batch *[]byte) ([]byte, bool) {
	if f.last || len(f.data) >= maxBatch || c.out.len() == 0 {
		return f.data, f.last
	}
	b := append((*batch)[:0], f.data...)
	for {
		// Only frames that keep the batch within maxBatch: a large frame
		// goes out on its own, never copied, so a connection's batch buffer
		// stays at most maxBatch bytes.
		g, ok := c.out.popUpTo(maxBatch - len(b))
		if !ok {
			break
		}
		b = append(b, g.data...)
		if g.last {
			*batch = b
			return b, true
		}
	}
	*batch = b
	return b, false
}

// writeLoop is the connection's writer for streaming transports: it writes
// queued frames in order and a ping every PingInterval, until the connection
// closes. It reports whether it ended cleanly, having written the last frame.
func (c *conn) writeLoop(sk sink) bool {
	select {
	case <-c.held:
	case <-c.ctx.Done():
		return false
	}
	ticker := time.NewTicker(c.s.ping)
	defer ticker.Stop()
	var batch []byte
	for {
		select {
		case <-c.out.ready:
			f, _ := c.out.pop() // a token means a frame is queued
			p, last := c.next(f, &batch)
			if err := c.write(sk, p); err != nil {
				c.end(nil, "the service could not write to the client: "+err.Error(), false, "write failed: "+err.Error())
				return false
			}
			if last {
				return true
			}
		case <-ticker.C:
			// No ping before the handshake response, which is queued.
			if c.handshaken.Load() && c.out.len() == 0 {
				if err := c.write(sk, c.pingFrame()); err != nil {
					c.end(nil, "the service could not write to the client: "+err.Error(), false, "write failed: "+err.Error())
					return false
				}
			}
		case <-c.done:
			return c.writeRest(sk, &batch)
		case <-c.ctx.Done():
			return false
		}
	}
}

// writeRest ends a closed connection's writes: what is queued up to the last
// frame when the close was graceful, else only the close message.
func (c *conn) writeRest(sk sink, batch *[]byte) bool {
	if !c.graceful.Load() {
		return c.closeFrame == nil || c.write(sk, c.closeFrame) == nil
	}
	for {
		select {
		case <-c.out.ready:
			f, _ := c.out.pop()
			p, last := c.next(f, batch)
			if c.write(sk, p) != nil {
				return false
			}
			if last {
				return true
			}
		case <-c.ctx.Done():
			return false
		}
	}
}

// Serverless-mode close messages.
const (
	reasonInvalidOperation = "Connection closed by the service: sending messages is an invalid operation in serverless mode; clients can only receive."
	reasonSlowClient       = "Connection closed by the service: the client could not keep up with the messages sent to it and its send buffer is full."
	reasonStreaming        = "Connection closed by the service: streaming is not supported in serverless mode; invoke or send instead."
	reasonServiceClosed    = "The local SignalR service is shutting down."
)

// pingFrame is the keep-alive in c's protocol.
func (c *conn) pingFrame() []byte {
	if c.binary.Load() {
		return msgpackPingFrame
	}
	return pingFrame
}

// invalidData closes c for a message it could not read, saying why.
func (c *conn) invalidData(err error, reason string) {
	c.closeWithError("Connection closed with an error. InvalidDataException: "+err.Error(), false, true, reason)
}

// monoStart anchors monoNow.
var monoStart = time.Now()

// monoNow reads the monotonic clock, in nanoseconds since monoStart.
func monoNow() int64 { return int64(time.Since(monoStart)) }

// checkClientTimeout closes c if the client sent no message for the client
// timeout, and otherwise checks again when it would run out.
func (c *conn) checkClientTimeout() {
	s := c.s
	idle := time.Duration(monoNow() - c.lastMessage.Load())
	if c.upBusy.Load() {
		// The client's messages wait while the upstream answers one, as
		// ASP.NET Core stops the client timeout while it dispatches.
		idle = 0
	}
	if idle < s.clientTimeout {
		s.mu.Lock()
		if !c.closed {
			c.clientTimer.Reset(s.clientTimeout - idle)
		}
		s.mu.Unlock()
		return
	}
	// ASP.NET Core logs "Client timeout (...ms) elapsed without receiving a
	// message from the client. Closing connection." and closes allowing
	// reconnect; the close message carries the reason here.
	reason := fmt.Sprintf("Client timeout (%dms) elapsed without receiving a message from the client.", s.clientTimeout.Milliseconds())
	c.closeWithError(reason, true, true, "client timeout")
}

// tooLarge closes c, whose message is over the limit, saying so as ASP.NET
// Core's InvalidDataException does.
func (c *conn) tooLarge() {
	c.closeWithError(fmt.Sprintf("Connection closed with an error. InvalidDataException: The maximum message size of %dB was exceeded.", c.s.maxReceive), false, true, "message too large")
}

// receive handles data a client sent: its handshake, then pings and close
// messages. Invocations are refused as in serverless mode. Every complete
// message, pings included, restarts the client timeout; a partial one does
// not. It reports whether the connection is still open.
func (c *conn) receive(p []byte) bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if !c.gotRequest {
		var ok bool
		if p, ok = c.receiveHandshake(p); !ok || len(p) == 0 {
			return ok
		}
	}
	if c.binary.Load() {
		msgs, err := c.frames.Feed(p)
		if len(msgs) > 0 {
			c.lastMessage.Store(monoNow())
		}
		for _, msg := range msgs {
			t, terr := msgpackhub.MessageType(msg)
			if terr != nil {
				c.invalidData(terr, "invalid message")
				return false
			}
			if !c.handle(t, msg) {
				return false
			}
		}
		if errors.Is(err, msgpackhub.ErrFrameTooLarge) {
			c.tooLarge()
			return false
		}
		if err != nil {
			c.invalidData(err, "invalid message framing")
			return false
		}
		return true
	}
	records, err := c.reader.feed(p)
	if len(records) > 0 {
		c.lastMessage.Store(monoNow())
	}
	for _, rec := range records {
		if len(rec) == 0 {
			continue
		}
		t, terr := messageType(rec)
		if terr != nil {
			c.invalidData(terr, "invalid message")
			return false
		}
		if !c.handle(t, rec) {
			return false
		}
	}
	if err != nil {
		c.tooLarge()
		return false
	}
	return true
}

// receiveHandshake reads the handshake request, JSON up to the record
// separator in either protocol, and answers it. It returns the data after
// the request, which is in the chosen protocol, and whether c is still open.
func (c *conn) receiveHandshake(p []byte) ([]byte, bool) {
	head, rest := p, []byte(nil)
	if i := bytes.IndexByte(p, recordSeparator); i >= 0 {
		head, rest = p[:i+1], p[i+1:]
	}
	records, err := c.reader.feed(head)
	if err != nil {
		c.invalidData(err, "handshake too large")
		return nil, false
	}
	if len(records) == 0 { // no separator yet: the reader keeps head
		return nil, true
	}
	c.gotRequest = true
	c.s.mu.RLock()
	transport := c.transport
	c.s.mu.RUnlock()
	resp, binary, ok := checkHandshake(records[0], transport)
	if !ok {
		c.shutdown(resp, true, "handshake refused")
		return nil, false
	}
	if binary {
		c.binary.Store(true)
		c.frames.Max = c.reader.limit()
	}
	if !c.register(resp) {
		return nil, false
	}
	if c.s.upstream != nil {
		open := c.openUpstream()
		c.release()
		if !open {
			return nil, false
		}
	}
	return rest, true
}

// handle acts on msg, of type t, that the client sent after its handshake,
// and reports whether c is still open. Invocations go upstream when there
// is one, one at a time; without upstream they are refused as in serverless
// mode.
func (c *conn) handle(t int, msg []byte) bool {
	switch t {
	case msgInvocation:
		if c.s.upstream == nil {
			c.closeWithError(reasonInvalidOperation, false, true, "client sent a message in serverless mode")
			return false
		}
		inv, err := c.readInvocation(msg)
		if err != nil {
			c.invalidData(err, "invalid message")
			return false
		}
		if inv.streams > 0 {
			c.closeWithError(reasonStreaming, false, true, "client sent a stream in serverless mode")
			return false
		}
		return c.forwardInvocation(inv)
	case msgStreamInvocation, msgStreamItem:
		if c.s.upstream != nil {
			c.closeWithError(reasonStreaming, false, true, "client sent a stream in serverless mode")
		} else {
			c.closeWithError(reasonInvalidOperation, false, true, "client sent a message in serverless mode")
		}
		return false
	case msgClose:
		var errText string
		if c.binary.Load() {
			errText = msgpackhub.CloseError(msg)
		} else {
			errText = clientCloseError(msg)
		}
		c.end(nil, errText, false, "client closed")
		return false
	case msgPing, msgCompletion, msgCancelInvocation:
		// Fine: a keep-alive, or nothing to act on in serverless mode.
	}
	// Other types (Ack and Sequence of stateful reconnect, unknown ones)
	// are ignored.
	return true
}

// clientCloseError is the error of a client's JSON Close message, if it has
// one.
func clientCloseError(rec []byte) string {
	var m struct {
		Error string `json:"error"`
	}
	json.Unmarshal(rec, &m)
	return m.Error
}
