package localservice

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// testTimeout bounds every wait in the tests.
const testTimeout = 5 * time.Second

// testEnv is a Service on a loopback httptest server.
type testEnv struct {
	tb   testing.TB
	svc  *Service
	srv  *httptest.Server
	base string // http://127.0.0.1:port
}

// newEnv starts a Service with opts; tweak may shorten its timeouts.
func newEnv(tb testing.TB, opts Options, tweak func(*Service)) *testEnv {
	tb.Helper()
	svc := New(opts)
	if tweak != nil {
		tweak(svc)
	}
	srv := httptest.NewServer(svc)
	tb.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	return &testEnv{tb: tb, svc: svc, srv: srv, base: srv.URL}
}

// sign signs claims with key using alg (HS256 unless given).
func sign(tb testing.TB, key string, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// clientClaims are good client-token claims for hub, as bindings signs them.
func clientClaims(hub, user string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=" + hub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if user != "" {
		c["asrs.s.uid"] = user
		c["nameid"] = user
	}
	return c
}

func (e *testEnv) clientToken(hub, user string) string {
	return sign(e.tb, DevAccessKey, clientClaims(hub, user))
}

// restToken is a REST token whose aud is the URL of the escaped path.
func (e *testEnv) restToken(escapedPath string) string {
	now := time.Now()
	return sign(e.tb, DevAccessKey, jwt.MapClaims{
		"aud": e.base + escapedPath,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	})
}

// do sends a request with an optional bearer token and returns status,
// headers and body.
func (e *testEnv) do(method, target, token, body string, header http.Header) (int, http.Header, string) {
	e.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return testkit.Do(e.tb, method, e.base+target, requestHeader(token, body, header), rd)
}

// requestHeader is a copy of header with the bearer token, if any, and the
// JSON Content-Type when there is a body.
func requestHeader(token, body string, header http.Header) http.Header {
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return h
}

// rest calls the REST API at target (escaped path and query) with a good token.
func (e *testEnv) rest(method, target, body string) (int, http.Header, string) {
	e.tb.Helper()
	path, _, _ := strings.Cut(target, "?")
	return e.do(method, target, e.restToken(path), body, nil)
}

// mustREST calls the REST API and fails unless it answers want.
func (e *testEnv) mustREST(method, target, body string, want int) {
	e.tb.Helper()
	if got, _, b := e.rest(method, target, body); got != want {
		e.tb.Fatalf("%s %s: got %d (%s), want %d", method, target, got, b, want)
	}
}

// send broadcasts or targets a message through the api-version REST form;
// route is "" (broadcast), "users/u", "groups/g" or "connections/c".
func (e *testEnv) send(hub, route, target string, args ...any) {
	e.tb.Helper()
	a, _ := json.Marshal(args)
	if args == nil {
		a = []byte("[]")
	}
	path := "/api/hubs/" + hub + "/:send"
	if route != "" {
		path = "/api/hubs/" + hub + "/" + route + "/:send"
	}
	e.mustREST("POST", path+"?api-version=2022-06-01", `{"target":"`+target+`","arguments":`+string(a)+`}`, http.StatusAccepted)
}

// negotiate negotiates a v1 connection to hub as user.
func (e *testEnv) negotiate(hub, user string) negotiateResponse {
	e.tb.Helper()
	return e.negotiateWith(hub, e.clientToken(hub, user))
}

// negotiateWith negotiates a v1 connection with token tok.
func (e *testEnv) negotiateWith(hub, tok string) negotiateResponse {
	e.tb.Helper()
	status, _, body := e.do("POST", "/client/negotiate?hub="+hub+"&negotiateVersion=1", tok, "", nil)
	if status != http.StatusOK {
		e.tb.Fatalf("negotiate: got %d (%s), want 200", status, body)
	}
	var nr negotiateResponse
	if err := json.Unmarshal([]byte(body), &nr); err != nil {
		e.tb.Fatalf("negotiate response %s: %v", body, err)
	}
	return nr
}

// hubMessage is a decoded hub-protocol message.
type hubMessage struct {
	Type           int               `json:"type"`
	Target         string            `json:"target"`
	Arguments      []json.RawMessage `json:"arguments"`
	Error          string            `json:"error"`
	AllowReconnect bool              `json:"allowReconnect"`
	raw            string
}

func decodeMessage(tb testing.TB, rec []byte) hubMessage {
	tb.Helper()
	var m hubMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		tb.Fatalf("message %q: %v", rec, err)
	}
	m.raw = string(rec)
	return m
}

// testReadLimit bounds a message the test clients read.
const testReadLimit = 32 << 20

// handshakeJSON is the handshake request of the JSON hub protocol.
const handshakeJSON = `{"protocol":"json","version":1}` + "\x1e"

// recordQueue holds the records a client received that the test has not
// read yet.
type recordQueue [][]byte

// next returns the first record, calling receive for more while there is
// none.
func (q *recordQueue) next(receive func() ([][]byte, error)) ([]byte, error) {
	for len(*q) == 0 {
		recs, err := receive()
		if err != nil {
			return nil, err
		}
		*q = append(*q, recs...)
	}
	rec := (*q)[0]
	*q = (*q)[1:]
	return rec, nil
}

// skipPings returns the first message from nextRecord that is not a ping.
func skipPings(tb testing.TB, nextRecord func() []byte) hubMessage {
	tb.Helper()
	for {
		m := decodeMessage(tb, nextRecord())
		if m.Type != msgPing {
			return m
		}
	}
}

// wsClient is a hub-protocol client over a WebSocket.
type wsClient struct {
	tb      testing.TB
	ws      *websocket.Conn
	id      string // connectionId
	reader  messageReader
	pending recordQueue
}

// dialWS negotiates and connects to hub as user, with the token in the
// Authorization header as Node clients send it, and completes the handshake.
func (e *testEnv) dialWS(hub, user string) *wsClient {
	e.tb.Helper()
	nr := e.negotiate(hub, user)
	c := e.dialToken(hub, user, nr.ConnectionToken)
	c.id = nr.ConnectionID
	c.handshake(`{"protocol":"json","version":1}`)
	return c
}

// dialToken opens the WebSocket of connection token tok (no handshake).
func (e *testEnv) dialToken(hub, user, tok string) *wsClient {
	e.tb.Helper()
	return e.openWS(connectQuery(hub, tok), e.clientToken(hub, user))
}

// connectQuery is the query of a connect request to hub for connection
// token tok (none when empty).
func connectQuery(hub, tok string) string {
	q := url.Values{"hub": {hub}}
	if tok != "" {
		q.Set("id", tok)
	}
	return q.Encode()
}

// openWS opens the WebSocket /client/?query with bearer in the
// Authorization header (no handshake).
func (e *testEnv) openWS(query, bearer string) *wsClient {
	e.tb.Helper()
	ws, status, err := e.tryDialQuery(query, bearer)
	if err != nil {
		e.tb.Fatalf("dial: %v (status %d)", err, status)
	}
	e.tb.Cleanup(func() { ws.CloseNow() })
	return &wsClient{tb: e.tb, ws: ws}
}

// tryDial opens a WebSocket to /client/?hub=hub&id=tok and returns the HTTP
// status when the upgrade fails.
func (e *testEnv) tryDial(hub, tok, bearer string) (*websocket.Conn, int, error) {
	return e.tryDialQuery(connectQuery(hub, tok), bearer)
}

// tryDialQuery opens a WebSocket to /client/?query with bearer (if any) in
// the Authorization header and returns the HTTP status when the upgrade
// fails.
func (e *testEnv) tryDialQuery(query, bearer string) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	h := http.Header{}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/client/?"+query, &websocket.DialOptions{HTTPHeader: h})
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if ws != nil {
		ws.SetReadLimit(testReadLimit)
	}
	return ws, status, err
}

// handshake sends req and expects {}.
func (c *wsClient) handshake(req string) {
	c.tb.Helper()
	c.write(req + "\x1e")
	if got := string(c.nextRecord()); got != "{}" {
		c.tb.Fatalf("handshake response: got %q, want {}", got)
	}
}

func (c *wsClient) write(s string) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// nextRecord returns the next hub-protocol message, whatever its type.
func (c *wsClient) nextRecord() []byte {
	c.tb.Helper()
	rec, err := c.tryNextRecord(testTimeout)
	if err != nil {
		c.tb.Fatalf("read: %v", err)
	}
	return rec
}

// tryNextRecord returns the next hub-protocol message, or the error of
// reading the WebSocket, which waits at most timeout.
func (c *wsClient) tryNextRecord(timeout time.Duration) ([]byte, error) {
	return c.pending.next(func() ([][]byte, error) {
		_, p, err := readWS(c.ws, timeout)
		if err != nil {
			return nil, err
		}
		return c.reader.feed(p)
	})
}

// readWS reads one WebSocket message, waiting at most timeout.
func readWS(ws *websocket.Conn, timeout time.Duration) (websocket.MessageType, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return ws.Read(ctx)
}

// next returns the next message that is not a ping.
func (c *wsClient) next() hubMessage {
	c.tb.Helper()
	return skipPings(c.tb, c.nextRecord)
}

// expect reads the next message and checks it is an invocation of target
// with arguments args (JSON).
func (c *wsClient) expect(target, args string) {
	c.tb.Helper()
	m := c.next()
	checkInvocation(c.tb, m, target, args)
}

func checkInvocation(tb testing.TB, m hubMessage, target, args string) {
	tb.Helper()
	a, _ := json.Marshal(m.Arguments)
	if m.Type != msgInvocation || m.Target != target || string(a) != args {
		tb.Fatalf("got message %s, want invocation of %s with %s", m.raw, target, args)
	}
}

// expectClose skips invocations up to a close message, checks that the
// WebSocket closes after it and returns it.
func (c *wsClient) expectClose() hubMessage {
	c.tb.Helper()
	m := c.next()
	for m.Type == msgInvocation {
		m = c.next()
	}
	if m.Type != msgClose {
		c.tb.Fatalf("got message %s, want a close message", m.raw)
	}
	c.expectClosed()
	return m
}

// expectClosed checks that the service closes the WebSocket, with no
// message first, within testTimeout. A read that times out is a connection
// still open, not a close.
func (c *wsClient) expectClosed() {
	c.tb.Helper()
	rec, err := c.tryNextRecord(testTimeout)
	switch {
	case err == nil:
		c.tb.Fatalf("got message %q, want the connection closed", rec)
	case errors.Is(err, context.DeadlineExceeded):
		c.tb.Fatalf("the connection is still open after %v, want it closed", testTimeout)
	case websocket.CloseStatus(err) == -1 && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		c.tb.Fatalf("read: %v, want a closed connection", err)
	}
}

// waitFor polls cond until it holds, failing after testTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testkit.Eventually(tb, testTimeout, what, cond)
}

// sseClient is a hub-protocol client over Server-Sent Events.
type sseClient struct {
	tb     testing.TB
	env    *testEnv
	url    string // /client/?hub=..&id=..
	token  string
	body   io.ReadCloser
	events chan string // data of each event; closed at the end of the stream
	reader messageReader
	queue  recordQueue
}

// dialSSE negotiates and opens an event stream, with the token in
// access_token as the JS client sends it, then completes the handshake.
func (e *testEnv) dialSSE(hub, user string) (*sseClient, string) {
	e.tb.Helper()
	return dialEventStream(e, hub, e.clientToken(hub, user), "", true)
}

// dialEventStream negotiates with token tok and connects as browsers do:
// the token in access_token, extra added to the connect request's query.
// It completes the handshake when handshake is set.
func dialEventStream(e *testEnv, hub, tok, extra string, handshake bool) (*sseClient, string) {
	e.tb.Helper()
	nr := e.negotiateWith(hub, tok)
	u := "/client/?hub=" + hub + "&id=" + url.QueryEscape(nr.ConnectionToken) + extra
	req, _ := http.NewRequest("GET", e.base+u+"&access_token="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.tb.Fatalf("event stream: got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{tb: e.tb, env: e, url: u, token: tok, body: resp.Body, events: make(chan string, 4096)}
	e.tb.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, testReadLimit)
		var data []string
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			switch {
			case line == "":
				if data != nil {
					c.events <- strings.Join(data, "\n")
					data = nil
				}
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	if handshake {
		c.write(handshakeJSON)
		if got := string(c.nextRecord()); got != "{}" {
			e.tb.Fatalf("handshake response: got %q, want {}", got)
		}
	}
	return c, nr.ConnectionID
}

// post sends data as the JS client does: POST with the Authorization header.
func (c *sseClient) post(data string) int {
	c.tb.Helper()
	status, _, body := c.env.do("POST", c.url, c.token, data, nil)
	if status != http.StatusOK {
		c.tb.Logf("POST: %d %s", status, body)
	}
	return status
}

// write posts data and fails unless the service takes it.
func (c *sseClient) write(data string) {
	c.tb.Helper()
	if st := c.post(data); st != http.StatusOK {
		c.tb.Fatalf("POST: got %d, want 200", st)
	}
}

// nextRecord returns the next hub-protocol message, whatever its type.
func (c *sseClient) nextRecord() []byte {
	c.tb.Helper()
	rec, err := c.queue.next(func() ([][]byte, error) {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return nil, errors.New("the event stream ended")
			}
			return c.reader.feed([]byte(ev))
		case <-time.After(testTimeout):
			return nil, errors.New("timed out waiting for an event")
		}
	})
	if err != nil {
		c.tb.Fatal(err)
	}
	return rec
}

// next returns the next message that is not a ping.
func (c *sseClient) next() hubMessage {
	c.tb.Helper()
	return skipPings(c.tb, c.nextRecord)
}

// waitEnd waits for the event stream to end.
func (c *sseClient) waitEnd() {
	c.tb.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return
			}
		case <-timeout:
			c.tb.Fatal("the event stream did not end")
		}
	}
}

// expectNoGoroutineLeak runs f and fails unless, within testTimeout after
// it returns, no more goroutines run than before it. Idle connections of
// http.DefaultClient are closed before and after, as their goroutines are
// the client's, not the service's.
func expectNoGoroutineLeak(tb testing.TB, f func()) {
	tb.Helper()
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	f()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			tb.Fatalf("got %d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), before, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
