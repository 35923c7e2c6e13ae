package localservice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// upRequest is one request the fake upstream received.
type upRequest struct {
	path   string // escaped
	header http.Header
	body   string
}

func (r upRequest) event() string { return r.header.Get("X-ASRS-Event") }
func (r upRequest) conn() string  { return r.header.Get("X-ASRS-Connection-Id") }

// fakeUpstream is an upstream on loopback: it records every request, in
// arrival order, and answers with respond (default: 200 for connection
// events, and for an invocation with an id a completion whose result is
// its arguments).
type fakeUpstream struct {
	*httptest.Server
	tb      testing.TB
	arrived chan upRequest // every request, as it arrives

	mu      sync.Mutex
	all     []upRequest
	respond func(w http.ResponseWriter, r *http.Request, req upRequest)
}

func newFakeUpstream(tb testing.TB) *fakeUpstream {
	tb.Helper()
	u := &fakeUpstream{tb: tb, arrived: make(chan upRequest, 4096), respond: echoUpstream}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := upRequest{path: r.URL.EscapedPath(), header: r.Header.Clone(), body: string(b)}
		if r.Method != http.MethodPost {
			req.path = r.Method + " " + req.path
		}
		u.mu.Lock()
		u.all = append(u.all, req)
		respond := u.respond
		u.mu.Unlock()
		u.arrived <- req
		respond(w, r, req)
	}))
	tb.Cleanup(u.Close)
	return u
}

// setRespond replaces how the upstream answers.
func (u *fakeUpstream) setRespond(f func(w http.ResponseWriter, r *http.Request, req upRequest)) {
	u.mu.Lock()
	u.respond = f
	u.mu.Unlock()
}

// holdEvent makes u hold each request of event until release is called or
// the request is cancelled, then answer it as echoUpstream does; other
// requests get echoUpstream's answer at once.
func (u *fakeUpstream) holdEvent(event string) (release func()) {
	released := make(chan struct{})
	u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
		if req.event() == event {
			select {
			case <-released:
			case <-r.Context().Done():
			}
		}
		echoUpstream(w, r, req)
	})
	var once sync.Once
	return func() { once.Do(func() { close(released) }) }
}

// requests returns what arrived so far.
func (u *fakeUpstream) requests() []upRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upRequest(nil), u.all...)
}

// next waits for the next request.
func (u *fakeUpstream) next() upRequest {
	u.tb.Helper()
	select {
	case r := <-u.arrived:
		return r
	case <-time.After(testTimeout):
		u.tb.Fatal("timed out waiting for an upstream request")
		return upRequest{}
	}
}

// nextEvent waits for the next request and checks its event.
func (u *fakeUpstream) nextEvent(event string) upRequest {
	u.tb.Helper()
	r := u.next()
	if r.event() != event {
		u.tb.Fatalf("got upstream event %q (%s), want %q", r.event(), r.body, event)
	}
	return r
}

// echoUpstream answers connection events with 200 and an invocation with
// an id with a completion carrying its arguments as result.
func echoUpstream(w http.ResponseWriter, r *http.Request, req upRequest) {
	var m struct {
		InvocationID *string         `json:"invocationId"`
		Arguments    json.RawMessage `json:"arguments"`
	}
	if req.header.Get("X-ASRS-Category") != "messages" || json.Unmarshal([]byte(req.body), &m) != nil || m.InvocationID == nil {
		return
	}
	b, _ := json.Marshal(struct {
		Type         int             `json:"type"`
		InvocationID string          `json:"invocationId"`
		Result       json.RawMessage `json:"result"`
	}{3, *m.InvocationID, m.Arguments})
	w.Write(append(b, 0x1e))
}

// testSignature is the X-ASRS-Signature the service must send for id.
func testSignature(id, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(id))
	return "sha256=" + strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// newUpstreamEnv starts a Service whose upstream is u with template path
// (appended to u's URL), and opts for the rest.
func newUpstreamEnv(tb testing.TB, u *fakeUpstream, path string, opts Options, tweak func(*Service)) *testEnv {
	tb.Helper()
	up, err := ParseUpstream(u.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	opts.Upstream = up
	return newEnv(tb, opts, tweak)
}

// hubClient is a connected client over any transport.
type hubClient interface {
	write(data string) // sends hub-protocol frames
	next() hubMessage  // the next message that is not a ping
}

// transportDialer connects to hub with bearer token tok, adding extra to
// the connect request's query, and completes the handshake when
// handshake is set; it returns the client and its connection id.
type transportDialer func(e *testEnv, hub, tok, extra string, handshake bool) (hubClient, string)

var transports = []struct {
	name string
	dial transportDialer
}{
	{"WebSockets", dialWebSocket},
	{"ServerSentEvents", func(e *testEnv, hub, tok, extra string, handshake bool) (hubClient, string) {
		return dialEventStream(e, hub, tok, extra, handshake)
	}},
	{"LongPolling", dialLongPolling},
}

// dialWebSocket negotiates with token tok and connects as the Node client
// does: the token in the Authorization header, extra added to the connect
// request's query. It completes the handshake when handshake is set.
func dialWebSocket(e *testEnv, hub, tok, extra string, handshake bool) (hubClient, string) {
	e.tb.Helper()
	nr := e.negotiateWith(hub, tok)
	c := e.openWS(connectQuery(hub, nr.ConnectionToken)+extra, tok)
	c.id = nr.ConnectionID
	if handshake {
		c.handshake(strings.TrimSuffix(handshakeJSON, "\x1e"))
	}
	return c, nr.ConnectionID
}

// lpClient is a long-polling client: a goroutine polls until the
// connection ends and hands over the records.
type lpClient struct {
	tb      testing.TB
	env     *testEnv
	url     string
	token   string
	records chan []byte // closed when polling ends
	pending [][]byte
}

// dialLongPolling connects as the JS client does: the token in the
// Authorization header, a _ parameter on every poll.
func dialLongPolling(e *testEnv, hub, tok, extra string, handshake bool) (hubClient, string) {
	e.tb.Helper()
	nr := e.negotiateWith(hub, tok)
	c := &lpClient{tb: e.tb, env: e, url: "/client/?hub=" + hub + "&id=" + url.QueryEscape(nr.ConnectionToken) + extra, token: tok, records: make(chan []byte, 4096)}
	if st, _ := poll(e, c.url+"&_=1", tok); st != http.StatusOK {
		e.tb.Fatalf("first poll: got %d, want 200", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.tb.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		defer close(c.records)
		var reader messageReader
		for {
			req, _ := http.NewRequestWithContext(ctx, "GET", e.base+c.url+"&_=2", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return
			}
			recs, err := reader.feed(b)
			if err != nil {
				return
			}
			for _, r := range recs {
				c.records <- r
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

func (c *lpClient) write(data string) {
	c.tb.Helper()
	if st, _, body := c.env.do("POST", c.url, c.token, data, nil); st != http.StatusOK {
		c.tb.Fatalf("POST: got %d (%s), want 200", st, body)
	}
}

func (c *lpClient) nextRecord() []byte {
	c.tb.Helper()
	select {
	case r, ok := <-c.records:
		if !ok {
			c.tb.Fatal("polling ended")
		}
		return r
	case <-time.After(testTimeout):
		c.tb.Fatal("timed out waiting for a message")
		return nil
	}
}

func (c *lpClient) next() hubMessage {
	c.tb.Helper()
	return skipPings(c.tb, c.nextRecord)
}

// completion is a Completion message.
type completion struct {
	Type         int              `json:"type"`
	InvocationID string           `json:"invocationId"`
	Result       *json.RawMessage `json:"result"`
	Error        string           `json:"error"`
}

// expectCompletion reads the next message and checks it is a completion
// of id with result (JSON, "" for none) or error errMsg.
func expectCompletion(tb testing.TB, c hubClient, id, result, errMsg string) {
	tb.Helper()
	m := c.next()
	var got completion
	json.Unmarshal([]byte(m.raw), &got)
	gotResult := ""
	if got.Result != nil {
		gotResult = string(*got.Result)
	}
	if got.Type != msgCompletion || got.InvocationID != id || gotResult != result || got.Error != errMsg {
		tb.Fatalf("got %s, want a completion of %q with result %q and error %q", m.raw, id, result, errMsg)
	}
}

// invocation is a client's JSON Invocation frame.
func invocation(id, target, args string) string {
	if id == "" {
		return `{"type":1,"target":"` + target + `","arguments":` + args + "}\x1e"
	}
	return `{"type":1,"invocationId":"` + id + `","target":"` + target + `","arguments":` + args + "}\x1e"
}
