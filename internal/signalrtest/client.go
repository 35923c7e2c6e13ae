// Package signalrtest is a minimal SignalR client for tests and benchmarks.
//
// It does what a SignalR client of a serverless hub does and nothing more:
// it negotiates (following a negotiate function's redirect to the service,
// as the official clients do), connects over WebSockets with the JSON hub
// protocol, and hands the caller the messages the service sends, pings
// left out. It never sends invocations (clients of a serverless hub only
// listen) and has no reconnection or transport fallback, so a test sees
// exactly what the service did. It is cheap enough to run a thousand
// clients in one test process.
package signalrtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Hub-protocol message types (HubProtocol.md).
const (
	TypeInvocation = 1
	TypeCompletion = 3
	TypePing       = 6
	TypeClose      = 7
)

// maxRedirects is how many negotiate redirects Dial follows, as the
// official JavaScript client.
const maxRedirects = 100

// httpClient serves every negotiate and WebSocket handshake. Keep-alives
// are off so that no idle connection (and its goroutines) outlives a Dial:
// tests that count goroutines see none of ours.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// Invocation is a message from the service other than a ping or a close:
// for a send through the REST API, Type is TypeInvocation with the send's
// Target and Arguments.
type Invocation struct {
	Type      int               `json:"type"`
	Target    string            `json:"target,omitempty"`
	Arguments []json.RawMessage `json:"arguments,omitempty"`

	// A completion (Type TypeCompletion) of an invocation sent with Invoke:
	// its id, and Result or Error.
	InvocationID string          `json:"invocationId,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
	Error        string          `json:"error,omitempty"`
}

// CloseError is the service's close message (type 7). Next returns it when
// the service closes the connection with one.
type CloseError struct {
	Reason         string // the message's error; empty for a normal close
	AllowReconnect bool
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "signalrtest: the service closed the connection"
	}
	return "signalrtest: the service closed the connection: " + e.Reason
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("signalrtest: client closed")

// Client is one connected SignalR client. Next is for one goroutine at a
// time; Close may be called from any goroutine.
type Client struct {
	ws           *websocket.Conn
	connectionID string

	frames chan []byte   // WebSocket messages, in order; closed when reading ends
	done   chan struct{} // closed by Close
	ended  chan struct{} // closed when the reader goroutine has returned
	pinger chan struct{} // closed when the keep-alive goroutine has returned
	endErr error         // why reading ended; read after frames is closed

	// Used by Next only.
	recs    records
	pending [][]byte
	final   error // sticky once the connection is over

	closeOnce sync.Once
	closeErr  error
}

// negotiation is what a negotiate endpoint answers: either a redirect (URL
// and AccessToken) or a connection (ConnectionID and ConnectionToken).
type negotiation struct {
	URL                 string `json:"url"`
	AccessToken         string `json:"accessToken"`
	ConnectionID        string `json:"connectionId"`
	ConnectionToken     string `json:"connectionToken"`
	NegotiateVersion    int    `json:"negotiateVersion"`
	Error               string `json:"error"`
	AvailableTransports []struct {
		Transport string `json:"transport"`
	} `json:"availableTransports"`
}

// Dial negotiates at negotiateURL and connects over WebSockets.
//
// negotiateURL is POSTed as given (negotiateVersion=1 added when absent),
// with header. It is usually a negotiate function (…/api/negotiate), whose
// answer {"url","accessToken"} redirects to the service: Dial then
// negotiates at <url>negotiate with the access token as Bearer, as the
// official clients do. It may also be a service's own negotiate endpoint
// (…/client/negotiate?hub=H), header then carrying the Authorization. The
// WebSocket handshake sends the token of the last redirect, or header's
// Authorization. Dial returns once the service has accepted the hub-protocol
// handshake (JSON, version 1), so every message sent after it reaches the
// client.
func Dial(ctx context.Context, negotiateURL string, header http.Header) (*Client, error) {
	target := withNegotiateVersion(negotiateURL)
	hdr := header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	var n *negotiation
	for i := 0; ; i++ {
		if i > maxRedirects {
			return nil, fmt.Errorf("signalrtest: more than %d negotiate redirects", maxRedirects)
		}
		var err error
		n, err = negotiate(ctx, target, hdr)
		if err != nil {
			return nil, err
		}
		if n.URL == "" {
			break
		}
		// A redirect: negotiate again at the service, with its token.
		target = withNegotiateVersion(negotiatePath(n.URL))
		hdr = http.Header{}
		if n.AccessToken != "" {
			hdr.Set("Authorization", "Bearer "+n.AccessToken)
		}
	}
	if n.ConnectionID == "" {
		return nil, errors.New("signalrtest: negotiate answered neither a url nor a connectionId")
	}
	if !offers(n, "WebSockets") {
		return nil, errors.New("signalrtest: the service does not offer WebSockets")
	}
	id := n.ConnectionToken
	if n.NegotiateVersion == 0 || id == "" {
		id = n.ConnectionID
	}
	wsURL, err := connectURL(target, id)
	if err != nil {
		return nil, err
	}
	wsHeader := http.Header{}
	if a := hdr.Get("Authorization"); a != "" {
		wsHeader.Set("Authorization", a)
	}
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient:      httpClient,
		HTTPHeader:      wsHeader,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("signalrtest: WebSocket connect: %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("signalrtest: WebSocket connect: %w", err)
	}
	ws.SetReadLimit(4 * maxRecordBytes) // the service coalesces queued messages into one frame
	c := &Client{
		ws:           ws,
		connectionID: n.ConnectionID,
		frames:       make(chan []byte, 64),
		done:         make(chan struct{}),
		ended:        make(chan struct{}),
		pinger:       make(chan struct{}),
	}
	go c.read()
	if err := c.handshake(ctx); err != nil {
		close(c.pinger) // no keep-alive started
		c.Close()
		return nil, err
	}
	go c.keepAlive(KeepAliveInterval)
	return c, nil
}

// KeepAliveInterval is how often a Client sends a ping, as the official
// clients do (keepAliveInterval, 15 s): the service closes clients that
// send nothing for its client timeout (30 s).
var KeepAliveInterval = 15 * time.Second

// keepAlive sends a ping every interval until the connection ends.
func (c *Client) keepAlive(interval time.Duration) {
	defer close(c.pinger)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":6}`+"\x1e"))
			cancel()
			if err != nil {
				return
			}
		case <-c.done:
			return
		case <-c.ended:
			return
		}
	}
}

// negotiate POSTs one negotiate request.
func negotiate(ctx context.Context, target string, header http.Header) (*negotiation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return nil, fmt.Errorf("signalrtest: negotiate: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("signalrtest: negotiate: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("signalrtest: negotiate: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("signalrtest: negotiate at %s answered %d: %s", redact(target), resp.StatusCode, bytes.TrimSpace(body))
	}
	var n negotiation
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("signalrtest: negotiate answer is not JSON: %w", err)
	}
	if n.Error != "" {
		return nil, fmt.Errorf("signalrtest: negotiate refused: %s", n.Error)
	}
	return &n, nil
}

func offers(n *negotiation, transport string) bool {
	for _, t := range n.AvailableTransports {
		if t.Transport == transport {
			return true
		}
	}
	return false
}

// negotiatePath inserts negotiate into a client URL the way the official
// clients do: http://svc/client/?hub=h → http://svc/client/negotiate?hub=h.
func negotiatePath(base string) string {
	path, query, hasQuery := strings.Cut(base, "?")
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	path += "negotiate"
	if hasQuery {
		return path + "?" + query
	}
	return path
}

// withNegotiateVersion adds negotiateVersion=1 unless the URL has one.
func withNegotiateVersion(raw string) string {
	if strings.Contains(raw, "negotiateVersion=") {
		return raw
	}
	if strings.Contains(raw, "?") {
		return raw + "&negotiateVersion=1"
	}
	return raw + "?negotiateVersion=1"
}

// connectURL is the transport URL of a negotiated connection: the negotiate
// URL without "negotiate" and negotiateVersion, with id=, over ws(s).
func connectURL(negotiateURL, id string) (string, error) {
	u, err := url.Parse(negotiateURL)
	if err != nil {
		return "", fmt.Errorf("signalrtest: negotiate URL: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("signalrtest: negotiate URL scheme %q is not http(s)", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "negotiate")
	u.RawPath = ""
	q := u.Query()
	q.Del("negotiateVersion")
	q.Set("id", id)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redact drops the query (it may hold an access token) from a URL for an
// error message.
func redact(raw string) string {
	path, _, _ := strings.Cut(raw, "?")
	return path
}

// read moves WebSocket messages to frames until the connection ends.
func (c *Client) read() {
	defer close(c.ended)
	defer close(c.frames)
	for {
		_, p, err := c.ws.Read(context.Background()) // ends when the connection closes
		if err != nil {
			c.endErr = err
			return
		}
		select {
		case c.frames <- p:
		case <-c.done:
			c.endErr = ErrClosed
			return
		}
	}
}

// handshake sends the JSON protocol handshake and reads the answer.
func (c *Client) handshake(ctx context.Context) error {
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		return fmt.Errorf("signalrtest: send handshake: %w", err)
	}
	rec, err := c.nextRecord(ctx)
	if err != nil {
		return fmt.Errorf("signalrtest: handshake: %w", err)
	}
	var answer struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec, &answer); err != nil {
		return fmt.Errorf("signalrtest: handshake answer %q is not JSON", rec)
	}
	if answer.Error != "" {
		return fmt.Errorf("signalrtest: handshake refused: %s", answer.Error)
	}
	return nil
}

// Invoke sends an invocation of the hub method target with args, as a
// client's connection.invoke (invocationID set: the service answers with a
// completion that Next returns) or connection.send (invocationID "").
// Only with upstream configured does the service forward it; otherwise it
// closes the connection.
func (c *Client) Invoke(ctx context.Context, invocationID, target string, args ...json.RawMessage) error {
	if args == nil {
		args = []json.RawMessage{}
	}
	msg, err := json.Marshal(struct {
		Type         int               `json:"type"`
		InvocationID string            `json:"invocationId,omitempty"`
		Target       string            `json:"target"`
		Arguments    []json.RawMessage `json:"arguments"`
	}{TypeInvocation, invocationID, target, args})
	if err != nil {
		return fmt.Errorf("signalrtest: invocation: %w", err)
	}
	return c.ws.Write(ctx, websocket.MessageText, append(msg, 0x1e))
}

// ConnectionID is the connection's id, the one REST calls name.
func (c *Client) ConnectionID() string { return c.connectionID }

// Next returns the next message other than a ping, waiting until one comes,
// the connection ends or ctx is done. When the service closes the
// connection with a close message Next returns a *CloseError; when the
// connection ends without one, an error saying why; after Close, ErrClosed.
// Once the connection is over every call returns the same error. A done ctx
// leaves the connection open.
func (c *Client) Next(ctx context.Context) (Invocation, error) {
	for {
		rec, err := c.nextRecord(ctx)
		if err != nil {
			return Invocation{}, err
		}
		var m struct {
			Invocation
			AllowReconnect bool `json:"allowReconnect"`
		}
		if err := json.Unmarshal(rec, &m); err != nil {
			return Invocation{}, fmt.Errorf("signalrtest: message %q is not JSON: %w", shorten(rec), err)
		}
		switch m.Type {
		case TypePing:
			continue
		case TypeClose:
			c.final = &CloseError{Reason: m.Invocation.Error, AllowReconnect: m.AllowReconnect}
			return Invocation{}, c.final
		}
		return m.Invocation, nil
	}
}

// nextRecord returns the next hub-protocol record.
func (c *Client) nextRecord(ctx context.Context) ([]byte, error) {
	for len(c.pending) == 0 {
		if c.final != nil {
			return nil, c.final
		}
		select {
		case p, ok := <-c.frames:
			if !ok {
				c.final = c.lost()
				return nil, c.final
			}
			recs, err := c.recs.feed(p)
			c.pending = append(c.pending, recs...)
			if err != nil && len(c.pending) == 0 {
				c.final = err
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	rec := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	return rec, nil
}

// lost is the error of a connection that ended without a close message.
func (c *Client) lost() error {
	<-c.ended
	if errors.Is(c.endErr, ErrClosed) {
		return ErrClosed
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	return fmt.Errorf("signalrtest: connection lost: %w", c.endErr)
}

// Close closes the connection (a WebSocket close handshake, bounded by the
// WebSocket library's 5 s) and waits for its reader to end. It may be
// called more than once; closing a connection the service already ended is
// no error.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		select {
		case <-c.ended:
			close(c.done) // already over: nothing to report
			c.ws.CloseNow()
			<-c.pinger
			return
		default:
		}
		close(c.done)
		<-c.pinger
		err := c.ws.Close(websocket.StatusNormalClosure, "")
		<-c.ended
		if err != nil && websocket.CloseStatus(err) == -1 && !errors.Is(err, net.ErrClosed) {
			c.closeErr = fmt.Errorf("signalrtest: close: %w", err)
		}
	})
	return c.closeErr
}

func shorten(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
