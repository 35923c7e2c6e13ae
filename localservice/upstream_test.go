package localservice

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/upstream"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// TestUpstreamEvents checks the requests of one connection's life over each
// transport: connected, an invocation with and without id, disconnected.
func TestUpstreamEvents(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			e := newUpstreamEnv(t, u, "/up/{hub}/{category}/{event}?code=k", Options{}, nil)
			claims := clientClaims("Chat", "alice")
			claims["role"] = []string{"admin", "dev"}
			claims["name"] = "Alice"
			claims["age"] = 42
			tok := sign(t, DevAccessKey, claims)
			c, id := tr.dial(e, "Chat", tok, "&room=a%20b", true)

			got := u.nextEvent("connected")
			wantQuery := "?hub=Chat&id="
			if q := got.header.Get("X-ASRS-Client-Query"); !strings.HasPrefix(q, wantQuery) || !strings.Contains(q, "&room=a%20b") || strings.Contains(q, "access_token") {
				t.Errorf("X-ASRS-Client-Query: got %q, want %s<token>&room=a%%20b… without access_token", q, wantQuery)
			}
			wantHeaders := map[string]string{
				"X-ASRS-Connection-Id": id,
				"X-ASRS-Hub":           "chat",
				"X-ASRS-Category":      "connections",
				"X-ASRS-Event":         "connected",
				"X-ASRS-Signature":     testSignature(id, DevAccessKey),
				"X-ASRS-User-Id":       "alice",
				"X-ASRS-User-Claims":   "age: 42, name: Alice, nameid: alice, role: admin, role: dev", // jwt.MapClaims writes keys sorted
				"Content-Type":         "application/json",
			}
			checkUpstreamRequest(t, got, "/up/chat/connections/connected", wantHeaders, `{"type":10}`)

			c.write(invocation("1", "echo", `["hi", 1]`))
			got = u.nextEvent("echo")
			wantHeaders["X-ASRS-Category"], wantHeaders["X-ASRS-Event"] = "messages", "echo"
			checkUpstreamRequest(t, got, "/up/chat/messages/echo", wantHeaders, `{"type":1,"invocationId":"1","target":"echo","arguments":["hi", 1]}`)
			expectCompletion(t, c, "1", `["hi",1]`, "")

			c.write(invocation("", "a b/c", `[]`))
			got = u.nextEvent("a b/c")
			wantHeaders["X-ASRS-Event"] = "a b/c"
			checkUpstreamRequest(t, got, "/up/chat/messages/a%20b%2Fc", wantHeaders, `{"type":1,"target":"a b/c","arguments":[]}`)

			c.write(`{"type":7}` + "\x1e")
			got = u.nextEvent("disconnected")
			wantHeaders["X-ASRS-Category"], wantHeaders["X-ASRS-Event"] = "connections", "disconnected"
			checkUpstreamRequest(t, got, "/up/chat/connections/disconnected", wantHeaders, `{"type":11}`)
		})
	}
}

// checkUpstreamRequest compares a request with its expected path, headers
// and body.
func checkUpstreamRequest(tb testing.TB, got upRequest, path string, headers map[string]string, body string) {
	tb.Helper()
	if got.path != path {
		tb.Errorf("%s: got path %s, want %s", got.event(), got.path, path)
	}
	for k, v := range headers {
		if g := got.header.Values(k); len(g) != 1 || g[0] != v {
			tb.Errorf("%s: got %s %q, want %q", got.event(), k, g, v)
		}
	}
	if got.body != body {
		tb.Errorf("%s: got body %s, want %s", got.event(), got.body, body)
	}
}

// TestUpstreamAnonymous checks that a connection without a user and
// without claims or query sends none of those headers.
func TestUpstreamAnonymous(t *testing.T) {
	u := newFakeUpstream(t)
	e := newUpstreamEnv(t, u, "", Options{}, nil)
	claims := clientClaims("chat", "")
	tok := sign(t, DevAccessKey, claims)
	// Skip negotiation: no id, so the query holds the hub only.
	ws, _, err := e.tryDial("chat", "", tok)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	c := &wsClient{tb: t, ws: ws}
	c.handshake(`{"protocol":"json","version":1}`)
	got := u.nextEvent("connected")
	for _, h := range []string{"X-ASRS-User-Id", "X-ASRS-User-Claims"} {
		if v, ok := got.header[http.CanonicalHeaderKey(h)]; ok {
			t.Errorf("got %s %q, want none", h, v)
		}
	}
	if q := got.header.Get("X-ASRS-Client-Query"); q != "?hub=chat" {
		t.Errorf("got X-ASRS-Client-Query %q, want ?hub=chat", q)
	}
	if got.path != "" && got.path != "/" {
		t.Errorf("got path %q, want the template's", got.path)
	}
}

// TestUpstreamAnswers checks what the client gets for each upstream answer
// to an invocation with an id, and what is logged.
func TestUpstreamAnswers(t *testing.T) {
	framed := `{"type":3,"invocationId":"1","result":{"a":[1,2]}}` + "\x1e"
	tests := []struct {
		name      string
		respond   func(w http.ResponseWriter, r *http.Request)
		transport http.RoundTripper
		result    string // JSON, "" for none
		errMsg    string
		logged    string // in the warning, "" for none
	}{
		{"200 with a completion", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(framed)) }, nil, `{"a":[1,2]}`, "", ""},
		{"200 empty", func(w http.ResponseWriter, r *http.Request) {}, nil, "", "", ""},
		{"200 empty chunked", func(w http.ResponseWriter, r *http.Request) { http.NewResponseController(w).Flush() }, nil, "", "", ""},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, nil, "", "", ""},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, nil, "", "Invocation failed, status code 404", "status=404"},
		{"201 with a body", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201); w.Write([]byte(framed)) }, nil, "", "Invocation failed, status code 201", "status=201"},
		{"302 not followed", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, nil, "", "Invocation failed, status code 302", "status=302"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, nil, "", "Invocation failed, status code 500", "status=500"},
		{"transport error", nil, failingTransport{}, "", "Invocation failed, status code 500", "connection refused"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, nil, "", "Invocation failed, status code 500", "no answer within the upstream timeout"},
		{"too large by length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(maxUpstreamResponse+1))
		}, nil, "", "Invocation failed, response too large.", ""},
		{"too large by reading", func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for range 17 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, nil, "", "Invocation failed, response too large.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			var logs testkit.Buffer
			timeout := testTimeout
			if tt.name == "timeout" {
				timeout = 100 * time.Millisecond
			}
			opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			e := newUpstreamEnv(t, u, "/api/signalr?code=secret", opts, func(s *Service) {
				s.upTimeout = timeout
				if tt.transport != nil {
					s.upClient.Transport = tt.transport
				}
			})
			c, _ := dialWebSocket(e, "chat", e.clientToken("chat", "u"), "", true)
			u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
				if req.event() == "connected" {
					return
				}
				tt.respond(w, r)
			})
			c.write(invocation("1", "f", "[]"))
			expectCompletion(t, c, "1", tt.result, tt.errMsg)
			// The connection goes on: a send is forwarded, then an invoke.
			u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) { echoUpstream(w, r, req) })
			if tt.transport == nil {
				c.write(invocation("", "g", "[]") + invocation("2", "h", "[3]"))
				expectCompletion(t, c, "2", "[3]", "")
			}
			// Logged before the client got its completion.
			out := logs.String()
			if tt.logged != "" && !strings.Contains(out, tt.logged) {
				t.Errorf("got log %q, want it to contain %q", out, tt.logged)
			}
			for _, secret := range []string{"sha256=", "code=secret", "secret"} {
				if strings.Contains(out, secret) {
					t.Errorf("got log %q: it holds %q", out, secret)
				}
			}
		})
	}
}

// failingTransport refuses every request, as a dead upstream does.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
}

// TestUpstreamSendAnswerIgnored checks that an invocation without id gets
// nothing back, whatever the upstream answers.
func TestUpstreamSendAnswerIgnored(t *testing.T) {
	u := newFakeUpstream(t)
	e := newUpstreamEnv(t, u, "", Options{}, nil)
	c, id := dialWebSocket(e, "chat", e.clientToken("chat", "u"), "", true)
	u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
		switch req.event() {
		case "fails":
			w.WriteHeader(500)
		case "answers":
			w.Write([]byte(`{"type":3,"invocationId":"x","result":1}` + "\x1e"))
		}
	})
	c.write(invocation("", "fails", "[]") + invocation("", "answers", "[]"))
	u.nextEvent("connected")
	u.nextEvent("fails")
	u.nextEvent("answers")
	e.send("chat", "connections/"+id, "marker")
	if m := c.next(); m.Type != msgInvocation || m.Target != "marker" {
		t.Fatalf("got %s, want the marker: nothing for the sends", m.raw)
	}
}

// TestUpstreamConnectedRefused checks that a 401 or 403 to connected
// closes the client with an error and forwards nothing more, and that
// other failures of connected let the client go on.
func TestUpstreamConnectedRefused(t *testing.T) {
	tests := []struct {
		status  int
		refused bool
	}{
		{401, true},
		{403, true},
		{404, false},
		{500, false},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d", tr.name, tt.status), func(t *testing.T) {
				u := newFakeUpstream(t)
				u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
					if req.event() == "connected" {
						w.WriteHeader(tt.status)
						return
					}
					echoUpstream(w, r, req)
				})
				e := newUpstreamEnv(t, u, "", Options{}, nil)
				c, _ := tr.dial(e, "chat", e.clientToken("chat", "u"), "", false)
				// The invocation comes with the handshake: it must wait for
				// connected, and go nowhere when refused.
				c.write(handshakeJSON + invocation("1", "f", "[1]"))
				if m := c.next(); m.raw != "{}" {
					t.Fatalf("got %s, want the handshake response", m.raw)
				}
				if !tt.refused {
					expectCompletion(t, c, "1", "[1]", "")
					closeService(e, c)
					if got := upstreamEvents(u.requests()); !slices.Equal(got, []string{"connected", "f", "disconnected"}) {
						t.Errorf("got upstream events %q, want connected, f, disconnected", got)
					}
					return
				}
				m := c.next()
				want := fmt.Sprintf("Connection rejected by upstream (%d)", tt.status)
				if m.Type != msgClose || m.Error != want || m.AllowReconnect {
					t.Fatalf("got %s, want a close message with error %q, no reconnect", m.raw, want)
				}
				closeService(e, c)
				if got := upstreamEvents(u.requests()); !slices.Equal(got, []string{"connected"}) {
					t.Errorf("got upstream events %q, want connected only", got)
				}
			})
		}
	}
}

// closeService closes e's service while cs read what is left, as live
// clients do: a WebSocket client answers the close handshake.
func closeService(e *testEnv, cs ...hubClient) {
	e.tb.Helper()
	done := make(chan struct{})
	go func() { e.svc.Close(); close(done) }()
	for _, c := range cs {
		if ws, ok := c.(*wsClient); ok {
			for {
				if _, err := ws.tryNextRecord(testTimeout); err != nil {
					break
				}
			}
		}
	}
	<-done
}

// upstreamEvents lists the events of reqs.
func upstreamEvents(reqs []upRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.event())
	}
	return out
}

// TestUpstreamOrder checks that connected is answered before the first
// invocation goes upstream, and that one connection's invocations go one
// at a time, in order, while another connection's proceed.
func TestUpstreamOrder(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			release := map[string]chan struct{}{} // by connection id + event
			var mu sync.Mutex
			gate := func(key string) chan struct{} {
				mu.Lock()
				defer mu.Unlock()
				if release[key] == nil {
					release[key] = make(chan struct{})
				}
				return release[key]
			}
			var inFlight sync.Map // connection id → event in flight
			u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
				if prev, busy := inFlight.LoadOrStore(req.conn(), req.event()); busy {
					t.Errorf("connection %s: %s arrived while %s was in flight", req.conn(), req.event(), prev)
				}
				defer inFlight.Delete(req.conn())
				if req.event() == "connected" || req.event() == "slow" {
					select {
					case <-gate(req.conn() + req.event()):
					case <-r.Context().Done():
					}
				}
				echoUpstream(w, r, req)
			})
			e := newUpstreamEnv(t, u, "", Options{}, nil)
			a, idA := tr.dial(e, "chat", e.clientToken("chat", "a"), "", false)
			b, idB := tr.dial(e, "chat", e.clientToken("chat", "b"), "", false)
			if tr.name == "WebSockets" {
				// Over WebSockets the handshake's write does not wait for
				// connected: send the invocations at once.
				a.write(handshakeJSON + invocation("1", "slow", "[1]") + invocation("2", "fast", "[2]"))
			} else {
				// A POST returns once its messages went upstream: send the
				// invocations from another goroutine.
				go a.write(handshakeJSON + invocation("1", "slow", "[1]") + invocation("2", "fast", "[2]"))
			}
			if got := u.nextEvent("connected"); got.conn() != idA {
				t.Fatalf("got connected of %s, want %s", got.conn(), idA)
			}
			// b goes through while a's connected waits.
			close(gate(idB + "connected"))
			go b.write(handshakeJSON + invocation("1", "fast", "[1]"))
			if got := u.nextEvent("connected"); got.conn() != idB {
				t.Fatalf("got connected of %s, want %s", got.conn(), idB)
			}
			if got := u.nextEvent("fast"); got.conn() != idB {
				t.Fatalf("got fast of %s, want %s", got.conn(), idB)
			}
			if m := b.next(); m.raw != "{}" {
				t.Fatalf("b: got %s, want the handshake response", m.raw)
			}
			expectCompletion(t, b, "1", "[1]", "")
			if n := len(u.requests()); n != 3 {
				t.Fatalf("got %d upstream requests, want 3: a's invocations must wait for its connected", n)
			}
			close(gate(idA + "connected"))
			if got := u.nextEvent("slow"); got.conn() != idA {
				t.Fatalf("got slow of %s, want %s", got.conn(), idA)
			}
			// b again, while a's slow is in flight.
			go b.write(invocation("2", "fast", "[2]"))
			if got := u.nextEvent("fast"); got.conn() != idB {
				t.Fatalf("got fast of %s, want %s", got.conn(), idB)
			}
			expectCompletion(t, b, "2", "[2]", "")
			close(gate(idA + "slow"))
			if got := u.nextEvent("fast"); got.conn() != idA {
				t.Fatalf("got fast of %s, want %s", got.conn(), idA)
			}
			if m := a.next(); m.raw != "{}" {
				t.Fatalf("a: got %s, want the handshake response", m.raw)
			}
			expectCompletion(t, a, "1", "[1]", "")
			expectCompletion(t, a, "2", "[2]", "")
		})
	}
}

// TestUpstreamManyInOrder sends 200 invocations in one go and checks that
// they arrive upstream, and their completions at the client, in order.
func TestUpstreamManyInOrder(t *testing.T) {
	const n = 200
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			u := newFakeUpstream(t)
			e := newUpstreamEnv(t, u, "", Options{}, nil)
			c, _ := tr.dial(e, "chat", e.clientToken("chat", "u"), "", true)
			var batch strings.Builder
			for i := range n {
				batch.WriteString(invocation(strconv.Itoa(i), "seq", "["+strconv.Itoa(i)+"]"))
			}
			go c.write(batch.String())
			u.nextEvent("connected")
			for i := range n {
				got := u.nextEvent("seq")
				if want := `{"type":1,"invocationId":"` + strconv.Itoa(i) + `","target":"seq","arguments":[` + strconv.Itoa(i) + `]}`; got.body != want {
					t.Fatalf("got %s, want %s", got.body, want)
				}
			}
			for i := range n {
				expectCompletion(t, c, strconv.Itoa(i), "["+strconv.Itoa(i)+"]", "")
			}
		})
	}
}

// TestUpstreamDisconnected checks the disconnected event of each way a
// connection ends, with the error it ended with.
func TestUpstreamDisconnected(t *testing.T) {
	tests := []struct {
		name       string
		transports []string // default: all
		end        func(e *testEnv, c hubClient, id string)
		body       string
	}{
		{"client close", nil, func(e *testEnv, c hubClient, id string) { c.write(`{"type":7}` + "\x1e") }, `{"type":11}`},
		{"client close with an error", nil, func(e *testEnv, c hubClient, id string) { c.write(`{"type":7,"error":"oops"}` + "\x1e") }, `{"type":11,"error":"oops"}`},
		{"REST close with a reason", nil, func(e *testEnv, c hubClient, id string) {
			e.mustREST("DELETE", "/api/hubs/chat/connections/"+id+"?api-version=2022-06-01&reason=kicked", "", 200)
		}, `{"type":11,"error":"kicked"}`},
		{"REST close", nil, func(e *testEnv, c hubClient, id string) {
			e.mustREST("DELETE", "/api/hubs/chat/connections/"+id+"?api-version=2022-06-01", "", 200)
		}, `{"type":11}`},
		{"invalid message", nil, func(e *testEnv, c hubClient, id string) { c.write(`{"type":1,"arguments":[]}` + "\x1e") },
			`{"type":11,"error":"Connection closed with an error. InvalidDataException: Missing required property 'target'."}`},
		{"stream invocation", nil, func(e *testEnv, c hubClient, id string) {
			c.write(`{"type":4,"invocationId":"1","target":"s","arguments":[]}` + "\x1e")
		}, `{"type":11,"error":"` + reasonStreaming + `"}`},
		{"service closed", nil, func(e *testEnv, c hubClient, id string) { go e.svc.Close() }, `{"type":11,"error":"` + reasonServiceClosed + `"}`},
		{"WebSocket dropped", []string{"WebSockets"}, func(e *testEnv, c hubClient, id string) { c.(*wsClient).ws.CloseNow() },
			`{"type":11,"error":"The remote party closed the WebSocket connection without completing the close handshake."}`},
		{"long polling DELETE", []string{"LongPolling"}, func(e *testEnv, c hubClient, id string) {
			lp := c.(*lpClient)
			e.do("DELETE", lp.url, lp.token, "", nil)
		}, `{"type":11}`},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			if tt.transports != nil && !slices.Contains(tt.transports, tr.name) {
				continue
			}
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				u := newFakeUpstream(t)
				e := newUpstreamEnv(t, u, "", Options{}, nil)
				c, id := tr.dial(e, "chat", e.clientToken("chat", "u"), "", true)
				u.nextEvent("connected")
				tt.end(e, c, id)
				got := u.nextEvent("disconnected")
				if got.body != tt.body || got.conn() != id {
					t.Errorf("got %s for %s, want %s for %s", got.body, got.conn(), tt.body, id)
				}
			})
		}
	}
}

// TestUpstreamDisconnectedAfterInvocation checks that disconnected waits
// for the invocation in flight when the connection ends.
func TestUpstreamDisconnectedAfterInvocation(t *testing.T) {
	u := newFakeUpstream(t)
	release := u.holdEvent("slow")
	e := newUpstreamEnv(t, u, "", Options{}, nil)
	c, id := dialWebSocket(e, "chat", e.clientToken("chat", "u"), "", true)
	c.write(invocation("1", "slow", "[]"))
	u.nextEvent("connected")
	u.nextEvent("slow")
	e.mustREST("DELETE", "/api/hubs/chat/connections/"+id+"?api-version=2022-06-01", "", 200)
	if m := c.next(); m.Type != msgClose {
		t.Fatalf("got %s, want a close message", m.raw)
	}
	release()
	u.nextEvent("disconnected")
}

// TestNoUpstream checks that without upstream an invocation closes the
// client, as in serverless mode.
func TestNoUpstream(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			c, _ := tr.dial(e, "chat", e.clientToken("chat", "u"), "", true)
			c.write(invocation("1", "f", "[]"))
			if m := c.next(); m.Type != msgClose || m.Error != reasonInvalidOperation {
				t.Fatalf("got %s, want a close message with %q", m.raw, reasonInvalidOperation)
			}
		})
	}
}

// TestUpstreamCloseInFlight checks that Close ends an invocation waiting on
// the upstream at once, still sends disconnected, and leaves no goroutine.
func TestUpstreamCloseInFlight(t *testing.T) {
	expectNoGoroutineLeak(t, func() {
		u := newFakeUpstream(t)
		defer u.Close()
		u.holdEvent("stuck") // until Close cancels it
		up, _ := ParseUpstream(u.URL)
		svc := New(Options{Upstream: up})
		srv := httptest.NewServer(svc)
		defer srv.Close()
		e := &testEnv{tb: t, svc: svc, srv: srv, base: srv.URL}
		var clients []hubClient
		for _, tr := range transports {
			c, _ := tr.dial(e, "chat", e.clientToken("chat", "u"), "", true)
			go c.write(invocation("1", "stuck", "[]"))
			clients = append(clients, c)
		}
		var stuck int
		for stuck < len(transports) {
			if u.next().event() == "stuck" {
				stuck++
			}
		}
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() {
			svc.Close()
			closed <- time.Since(start)
		}()
		for _, c := range clients {
			var m hubMessage
			switch c := c.(type) {
			case *wsClient:
				m = c.expectClose() // and answer the WebSocket close
			case *lpClient:
				// A poll that comes once Close began is answered 503, not
				// with the close message: the client may see either.
				continue
			default:
				m = c.next()
			}
			if m.Type != msgClose || m.Error != reasonServiceClosed {
				t.Errorf("got %s, want a close message", m.raw)
			}
		}
		if d := <-closed; d >= svc.closeGrace {
			t.Errorf("Close took %v, want less than its grace period %v", d, svc.closeGrace)
		}
		if got := upstreamEvents(u.requests()); len(got) != 3*len(transports) {
			t.Errorf("got upstream events %q, want connected, stuck, disconnected for each client", got)
		}
		for _, c := range clients {
			if ws, ok := c.(*wsClient); ok {
				ws.ws.CloseNow()
			}
		}
	})
}

// TestUpstreamSlowBoundsBacklog checks that a client whose invocation waits
// on the upstream is not read further: its next POST waits for its turn
// before it reads its body, and one whose client gives up meanwhile returns
// without reading it.
func TestUpstreamSlowBoundsBacklog(t *testing.T) {
	u := newFakeUpstream(t)
	release := u.holdEvent("slow")
	e := newUpstreamEnv(t, u, "", Options{}, nil)
	c, _ := dialEventStream(e, "chat", e.clientToken("chat", "u"), "", true)
	go c.write(invocation("", "slow", "[]"))
	u.nextEvent("connected")
	u.nextEvent("slow")

	target, err := url.Parse(c.url)
	if err != nil {
		t.Fatal(err)
	}
	conn := e.svc.lookup(target.Query().Get("id"))
	gaveUp, cancel := context.WithCancel(context.Background())
	cancel()
	body := &readSignal{Reader: strings.NewReader(invocation("", "dropped", "[]")), read: make(chan struct{})}
	returned := make(chan struct{})
	go func() {
		e.svc.serveSend(httptest.NewRecorder(), httptest.NewRequestWithContext(gaveUp, "POST", c.url, body), conn)
		close(returned)
	}()
	select {
	case <-body.read:
		t.Fatal("a POST read its body while the previous one waited on the upstream, want it to wait for its turn")
	case <-returned:
	case <-time.After(testTimeout):
		t.Fatal("a POST whose client gave up did not return")
	}

	second := make(chan struct{})
	go func() { c.write(invocation("", "next", "[]")); close(second) }()
	release()
	u.nextEvent("next")
	<-second
	if got := upstreamEvents(u.requests()); !slices.Equal(got, []string{"connected", "slow", "next"}) {
		t.Errorf("got upstream events %q, want connected, slow, next", got)
	}
}

// readSignal is a request body that closes read when it is first read.
type readSignal struct {
	io.Reader
	once sync.Once
	read chan struct{}
}

func (r *readSignal) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.read) })
	return r.Reader.Read(p)
}

// TestUpstreamPausesClientTimeout checks that a client whose invocation
// waits on the upstream longer than the client timeout is not closed: its
// messages wait unread meanwhile, and ASP.NET Core stops the client timeout
// while it dispatches a message too.
func TestUpstreamPausesClientTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	u := newFakeUpstream(t)
	release := u.holdEvent("slow")
	e := newUpstreamEnv(t, u, "", Options{ClientTimeout: timeout}, nil)
	c, _ := dialWebSocket(e, "chat", e.clientToken("chat", "u"), "", true)
	c.write(invocation("1", "slow", "[]"))
	u.nextEvent("connected")
	u.nextEvent("slow")
	time.Sleep(3 * timeout) // the subject: a wait longer than the timeout
	release()
	expectCompletion(t, c, "1", "[]", "")
}

// TestUpstreamHandshakeHeld checks, over each transport, that the
// handshake response waits for the answer to connected and goes out with
// what it led to, in the same WebSocket message, event or poll: a message
// the connected function sent, or the refusal's Close message, so that a
// client sees the refusal as the end of its start.
func TestUpstreamHandshakeHeld(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"accepted", 200, "{}\x1e" + `{"type":1,"target":"welcome","arguments":[]}` + "\x1e"},
		{"refused", 403, "{}\x1e" + `{"type":7,"error":"Connection rejected by upstream (403)"}` + "\x1e"},
	}
	for _, tr := range []struct {
		name  string
		first func(e *testEnv, tok string) string // sends the handshake and returns what the client gets first
	}{
		{"WebSockets", firstWebSocketMessage},
		{"ServerSentEvents", firstEvent},
		{"LongPolling", firstPoll},
	} {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				u := newFakeUpstream(t)
				var e *testEnv
				u.setRespond(func(w http.ResponseWriter, r *http.Request, req upRequest) {
					if req.event() != "connected" {
						return
					}
					if tt.status == 200 {
						e.send("chat", "connections/"+req.conn(), "welcome")
					}
					w.WriteHeader(tt.status)
				})
				e = newUpstreamEnv(t, u, "", Options{}, nil)
				if got := tr.first(e, e.clientToken("chat", "u")); got != tt.want {
					t.Errorf("first answer: got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// firstWebSocketMessage connects to chat over a WebSocket with token tok,
// sends the handshake and returns the first WebSocket message.
func firstWebSocketMessage(e *testEnv, tok string) string {
	e.tb.Helper()
	c, _ := dialWebSocket(e, "chat", tok, "", false)
	ws := c.(*wsClient)
	ws.write(handshakeJSON)
	_, got, err := readWS(ws.ws, testTimeout)
	if err != nil {
		e.tb.Fatal(err)
	}
	return string(got)
}

// firstEvent connects to chat over Server-Sent Events with token tok, sends
// the handshake and returns the data of the first event.
func firstEvent(e *testEnv, tok string) string {
	e.tb.Helper()
	c, _ := dialEventStream(e, "chat", tok, "", false)
	c.write(handshakeJSON)
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(testTimeout):
		e.tb.Fatal("timed out waiting for an event")
		return ""
	}
}

// firstPoll connects to chat over long polling with token tok and returns
// the answer to the poll after the opening one, which waits while the
// handshake is sent.
func firstPoll(e *testEnv, tok string) string {
	e.tb.Helper()
	nr := e.negotiateWith("chat", tok)
	u := "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken)
	if st, _ := poll(e, u, tok); st != http.StatusOK {
		e.tb.Fatalf("first poll: got %d, want 200", st)
	}
	done := startPoll(e, u, tok, nr.ConnectionToken)
	if st, _, body := e.do("POST", u, tok, handshakeJSON, nil); st != http.StatusOK {
		e.tb.Fatalf("handshake: got %d (%s), want 200", st, body)
	}
	st, body := waitPoll(e.tb, done)
	if st != http.StatusOK {
		e.tb.Fatalf("poll: got %d %q, want 200", st, body)
	}
	return body
}

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		template string
		wantErr  string // "" for none
		url      string // for hub "chat", category "messages", event "a b/c?"
		str      string
	}{
		{"http://127.0.0.1:7071/api/signalr", "", "http://127.0.0.1:7071/api/signalr", "http://127.0.0.1:7071/api/signalr"},
		{"https://app.azurewebsites.net/api/signalr/{hub}/{category}/{event}?code=k&x", "",
			"https://app.azurewebsites.net/api/signalr/chat/messages/a%20b%2Fc%3F?code=k&x",
			"https://app.azurewebsites.net/api/signalr/{hub}/{category}/{event}?code=REDACTED&x"},
		{"HTTP://h/?e={event}&h={hub}", "", "HTTP://h/?e=a%20b%2Fc%3F&h=chat", "HTTP://h/?e=REDACTED&h=REDACTED"},
		{"", "absolute", "", ""},
		{"/api/signalr", "absolute", "", ""},
		{"ftp://h/x", "absolute", "", ""},
		{"http:///x", "absolute", "", ""},
		{"http://h/{Hub}", "unknown placeholder", "", ""},
		{"http://h/{x", "unknown placeholder", "", ""},
		{"http://h:bad/?code=secret", "not a valid URL", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			u, err := ParseUpstream(tt.template)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("got error %q: it repeats the template's key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := u.url("chat", "messages", "a b/c?"); got != tt.url {
				t.Errorf("url: got %s, want %s", got, tt.url)
			}
			if got := u.String(); got != tt.str {
				t.Errorf("String: got %s, want %s", got, tt.str)
			}
		})
	}
}

func TestClientQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"hub=chat&id=x", "?hub=chat&id=x"},
		{"hub=chat&access_token=t&id=x", "?hub=chat&id=x"},
		{"access%5Ftoken=t", ""},
		{"a=%20&b", "?a=%20&b"},
	}
	for _, tt := range tests {
		if got := clientQuery(tt.raw); got != tt.want {
			t.Errorf("clientQuery(%q): got %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestForwardedClaims(t *testing.T) {
	tests := []struct {
		name, payload string
		want          []string
	}{
		{"order kept, token claims left out", `{"aud":"x","sub":"s","exp":1,"iat":1,"nbf":1,"asrs.s.uid":"u","asrs.s.aut":"a","nameid":"u","b":"2","a":"1"}`,
			[]string{"sub: s", "nameid: u", "b: 2", "a: 1"}},
		{"arrays and other values", `{"role":["x","y"],"n":1.50,"t":true,"o":{"k": [1]},"z":null,"m":[1,null]}`,
			[]string{"role: x", "role: y", "n: 1.50", "t: true", `o: {"k":[1]}`, "m: 1"}},
		{"not an object", `[1]`, nil},
		{"truncated", `{"a":"1","b":`, []string{"a: 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forwardedClaims(base64URL(tt.payload))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// base64URL encodes s as a JWT segment.
func base64URL(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func TestParseInvocation(t *testing.T) {
	tests := []struct {
		rec, body, err string
	}{
		{`{"type":1,"target":"t","arguments":[1,{"a":"<b>"}],"headers":{"h":"v"}}`, `{"type":1,"target":"t","arguments":[1,{"a":"<b>"}]}`, ""},
		{`{"type":1,"invocationId":"7","target":"<t>","arguments":[]}`, `{"type":1,"invocationId":"7","target":"\u003ct\u003e","arguments":[]}`, ""},
		{`{"type":1,"arguments":[]}`, "", "Missing required property 'target'."},
		{`{"type":1,"target":"t"}`, "", "Missing required property 'arguments'."},
		{`{"type":1,"target":"t","arguments":{}}`, "", "Expected 'arguments' to be of type Array."},
		{`{"type":1,"target":1,"arguments":[]}`, "", "Expected 'target' to be of type String."},
		{`{"type":1,"invocationId":1,"target":"t","arguments":[]}`, "", "Expected 'invocationId' to be of type String."},
	}
	for _, tt := range tests {
		m, err := parseInvocation([]byte(tt.rec))
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: got error %v, want %q", tt.rec, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: got error %v", tt.rec, err)
		default:
			if got := string(m.upstreamBody()); got != tt.body {
				t.Errorf("%s: got body %s, want %s", tt.rec, got, tt.body)
			}
		}
	}
}

// FuzzParseInvocation checks that every invocation the service accepts
// goes upstream as valid JSON with the same id, target and arguments.
func FuzzParseInvocation(f *testing.F) {
	for _, s := range []string{
		`{"type":1,"target":"t","arguments":[1]}`,
		`{"type":1,"invocationId":"1","target":"t\u0000","arguments":["\n"]}`,
		`{"type":1,"target":"t","arguments":[],"streamIds":["1"]}`,
		`{"type":1,"target":"t","arguments":[ 1 , 2 ]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		m, err := parseInvocation(rec)
		if err != nil {
			return
		}
		body := m.upstreamBody()
		var got struct {
			Type         int             `json:"type"`
			InvocationID *string         `json:"invocationId"`
			Target       string          `json:"target"`
			Arguments    json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if got.Type != 1 || got.Target != *m.Target || !bytes.Equal(got.Arguments, m.Arguments) || (got.InvocationID == nil) != (m.InvocationID == nil) {
			t.Fatalf("body %q does not match %q", body, rec)
		}
	})
}

// TestUpstreamCancelled checks an upstream request whose context is gone:
// it fails as a 500.
func TestUpstreamCancelled(t *testing.T) {
	u := newFakeUpstream(t)
	e := newUpstreamEnv(t, u, "", Options{}, nil)
	c := &conn{s: e.svc, hub: "chat", id: "x"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if a := c.postUpstream(ctx, upstream.CategoryMessages, "t", []byte("{}"), upstream.ContentTypeJSON, true); a.status != 500 {
		t.Errorf("got status %d, want 500", a.status)
	}
}
