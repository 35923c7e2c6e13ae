package localservice

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestNegotiate(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	const transports = `[{"transport":"WebSockets","transferFormats":["Text","Binary"]},{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]`
	tests := []struct {
		name, method, query string
		want                int
		version             int  // negotiateVersion in the answer
		hasToken            bool // connectionToken in the answer
	}{
		{"v1", "POST", "hub=chat&negotiateVersion=1", 200, 1, true},
		{"v0", "POST", "hub=chat", 200, 0, false},
		{"v2 answered as v1", "POST", "hub=chat&negotiateVersion=2", 200, 1, true},
		{"hub in other case", "POST", "hub=CHAT&negotiateVersion=1", 200, 1, true},
		{"bad version", "POST", "hub=chat&negotiateVersion=x", 400, 0, false},
		{"no hub", "POST", "negotiateVersion=1", 400, 0, false},
		{"bad hub", "POST", "hub=1chat&negotiateVersion=1", 400, 0, false},
		{"GET", "GET", "hub=chat&negotiateVersion=1", 405, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.do(tt.method, "/client/negotiate?"+tt.query, e.clientToken("chat", "u"), "", nil)
			if status != tt.want {
				t.Fatalf("got %d (%s), want %d", status, body, tt.want)
			}
			if status != 200 {
				return
			}
			var r map[string]json.RawMessage
			json.Unmarshal([]byte(body), &r)
			if got := string(r["availableTransports"]); got != transports {
				t.Errorf("got transports %s, want %s", got, transports)
			}
			if got := string(r["negotiateVersion"]); got != string(rune('0'+tt.version)) {
				t.Errorf("got negotiateVersion %s, want %d", got, tt.version)
			}
			_, hasToken := r["connectionToken"]
			if hasToken != tt.hasToken || string(r["connectionId"]) == "" || hasToken && string(r["connectionToken"]) == string(r["connectionId"]) {
				t.Errorf("got %s, want connectionId and connectionToken %v (distinct)", body, tt.hasToken)
			}
			if _, bad := r["url"]; bad {
				t.Errorf("got %s: a url field would redirect the client", body)
			}
		})
	}
}

// TestNegotiateV0Connect connects with the connection id, as v0 clients do.
func TestNegotiateV0Connect(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	_, _, body := e.do("POST", "/client/negotiate?hub=chat", e.clientToken("chat", "u"), "", nil)
	var nr negotiateResponse
	json.Unmarshal([]byte(body), &nr)
	c := e.dialToken("chat", "u", nr.ConnectionID)
	c.handshake(`{"protocol":"json","version":1}`)
	e.mustREST("HEAD", "/api/hubs/chat/connections/"+nr.ConnectionID+"?api-version=2022-06-01", "", 200)
}

// marker sends a message to c alone and expects it next: nothing else was
// delivered to c in between.
func marker(e *testEnv, hub string, cs ...*wsClient) {
	e.tb.Helper()
	for _, c := range cs {
		e.send(hub, "connections/"+c.id, "marker")
		c.expect("marker", "[]")
	}
}

func TestWebSocketMessaging(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	a1 := e.dialWS("Chat", "alice") // hub names are case-insensitive
	a2 := e.dialWS("chat", "alice")
	b1 := e.dialWS("chat", "bob")
	n1 := e.dialWS("chat", "")
	other := e.dialWS("other", "alice")
	all := []*wsClient{a1, a2, b1, n1}
	const v = "?api-version=2022-06-01"

	t.Run("broadcast", func(t *testing.T) {
		e.send("CHAT", "", "all", "x", 1, map[string]any{"k": []int{1}})
		for _, c := range all {
			c.expect("all", `["x",1,{"k":[1]}]`)
		}
		marker(e, "other", other)
	})
	t.Run("user", func(t *testing.T) {
		e.send("chat", "users/alice", "u")
		a1.expect("u", "[]")
		a2.expect("u", "[]")
		marker(e, "chat", b1, n1)
		marker(e, "other", other)
	})
	t.Run("connection", func(t *testing.T) {
		e.send("chat", "connections/"+b1.id, "c", true)
		b1.expect("c", "[true]")
		marker(e, "chat", a1, a2, n1)
	})
	t.Run("group reaches connections and users once", func(t *testing.T) {
		e.mustREST("PUT", "/api/hubs/chat/groups/g/connections/"+n1.id+v, "", 200)
		e.mustREST("PUT", "/api/hubs/chat/groups/g/connections/"+a1.id+v, "", 200)
		e.mustREST("PUT", "/api/hubs/chat/users/alice/groups/g"+v, "", 200)
		e.send("chat", "groups/g", "g")
		for _, c := range []*wsClient{n1, a1, a2} {
			c.expect("g", "[]")
		}
		marker(e, "chat", n1, a1, a2, b1)
	})
	t.Run("excluded", func(t *testing.T) {
		e.mustREST("POST", "/api/hubs/chat/:send"+v+"&excluded="+a1.id+"&excluded="+b1.id, `{"target":"ex"}`, 202)
		a2.expect("ex", "[]")
		n1.expect("ex", "[]")
		marker(e, "chat", a1, b1)
		e.mustREST("POST", "/api/hubs/chat/groups/g/:send"+v+"&excluded="+a2.id, `{"target":"gex"}`, 202)
		n1.expect("gex", "[]")
		a1.expect("gex", "[]")
		marker(e, "chat", a2, b1)
		e.mustREST("POST", "/api/v1/hubs/chat?excluded="+n1.id, `{"target":"v1ex"}`, 202)
		for _, c := range []*wsClient{a1, a2, b1} {
			c.expect("v1ex", "[]")
		}
		marker(e, "chat", n1)
	})
	t.Run("user group membership lasts for later connections", func(t *testing.T) {
		e.mustREST("PUT", "/api/hubs/chat/users/carol/groups/g2"+v, "", 200)
		c1 := e.dialWS("chat", "carol")
		e.send("chat", "groups/g2", "g2")
		c1.expect("g2", "[]")
		c1.ws.Close(websocket.StatusNormalClosure, "")
		waitStatus(t, e, "HEAD", "/api/hubs/chat/users/carol"+v, 404)
		c2 := e.dialWS("chat", "carol")
		e.send("chat", "groups/g2", "g2")
		c2.expect("g2", "[]")
		marker(e, "chat", a1, b1)

		t.Run("removeAll", func(t *testing.T) {
			e.mustREST("DELETE", "/api/hubs/chat/users/carol/groups"+v, "", 204)
			e.send("chat", "groups/g2", "g2")
			marker(e, "chat", c2)
			c3 := e.dialWS("chat", "carol")
			e.send("chat", "groups/g2", "g2")
			marker(e, "chat", c2, c3)
		})
	})
	t.Run("remove user from group", func(t *testing.T) {
		e.mustREST("DELETE", "/api/hubs/chat/users/alice/groups/g"+v, "", 204)
		e.send("chat", "groups/g", "g")
		n1.expect("g", "[]")
		marker(e, "chat", a1, a2, n1)
	})
}

func TestUserGroupTTL(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	e := newEnv(t, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }}, nil)
	b1 := e.dialWS("chat", "bob")
	const v = "?api-version=2022-06-01"
	e.mustREST("PUT", "/api/hubs/chat/users/bob/groups/ttl"+v+"&ttl=10", "", 200)
	e.send("chat", "groups/ttl", "t")
	b1.expect("t", "[]")
	e.mustREST("HEAD", "/api/hubs/chat/users/bob/groups/ttl"+v, "", 200)
	now.Add(int64(11 * time.Second))
	e.send("chat", "groups/ttl", "t")
	marker(e, "chat", b1)
	e.mustREST("HEAD", "/api/hubs/chat/users/bob/groups/ttl"+v, "", 404)
}

// waitStatus polls a REST call until it answers want.
func waitStatus(tb testing.TB, e *testEnv, method, target string, want int) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		got, _, _ := e.rest(method, target, "")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s %s: got %d, want %d", method, target, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebSocketHandshake(t *testing.T) {
	tests := []struct {
		name   string
		frames []string
		want   string // first record from the service
		open   bool   // the connection stays open
	}{
		{"json v1", []string{`{"protocol":"json","version":1}` + "\x1e"}, "{}", true},
		{"split across frames", []string{`{"protocol":"js`, `on","version":1}`, "\x1e"}, "{}", true},
		{"with a ping in the same frame", []string{`{"protocol":"json","version":1}` + "\x1e" + `{"type":6}` + "\x1e"}, "{}", true},
		{"messagepack", []string{`{"protocol":"messagepack","version":1}` + "\x1e"}, "{}", true},
		{"messagepack version 2", []string{`{"protocol":"messagepack","version":2}` + "\x1e"}, `{"error":"The server does not support version 2 of the 'messagepack' protocol."}`, false},
		{"version 2", []string{`{"protocol":"json","version":2}` + "\x1e"}, `{"error":"The server does not support version 2 of the 'json' protocol."}`, false},
		{"not json", []string{"hello\x1e"}, `{"error":"An unexpected error occurred during connection handshake. InvalidDataException: the handshake request is not a JSON object."}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			nr := e.negotiate("chat", "u")
			c := e.dialToken("chat", "u", nr.ConnectionToken)
			for _, f := range tt.frames {
				c.write(f)
			}
			if got := string(c.nextRecord()); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			status := 404
			if tt.open {
				status = 200
			} else {
				c.expectClosed()
			}
			waitStatus(t, e, "HEAD", "/api/hubs/chat/connections/"+nr.ConnectionID+"?api-version=2022-06-01", status)
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Service) { s.handshakeTimeout = 50 * time.Millisecond })
	nr := e.negotiate("chat", "u")
	c := e.dialToken("chat", "u", nr.ConnectionToken)
	c.expectClosed()
}

func TestConnectErrors(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	held := e.dialWS("chat", "u")
	_ = held
	nr := e.negotiate("chat", "u")
	taken := e.negotiate("chat", "u")
	e.dialToken("chat", "u", taken.ConnectionToken)
	tests := []struct {
		name, hub, id, bearer string
		want                  int
	}{
		{"unknown id", "chat", "nope", e.clientToken("chat", "u"), 404},
		{"second WebSocket", "chat", taken.ConnectionToken, e.clientToken("chat", "u"), 409},
		{"id of another hub", "other", nr.ConnectionToken, e.clientToken("other", "u"), 404},
		{"token for another hub", "chat", nr.ConnectionToken, e.clientToken("other", "u"), 401},
		{"no token", "chat", nr.ConnectionToken, "", 401},
		{"connection id instead of token", "chat", nr.ConnectionID, e.clientToken("chat", "u"), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, status, err := e.tryDial(tt.hub, tt.id, tt.bearer)
			if err == nil {
				ws.CloseNow()
				t.Fatalf("the WebSocket opened, want %d", tt.want)
			}
			if status != tt.want {
				t.Errorf("got %d, want %d", status, tt.want)
			}
		})
	}
	t.Run("POST to a WebSocket connection", func(t *testing.T) {
		status, _, _ := e.do("POST", "/client/?hub=chat&id="+taken.ConnectionToken, e.clientToken("chat", "u"), "{}\x1e", nil)
		if status != 405 {
			t.Errorf("got %d, want 405", status)
		}
	})
	t.Run("POST before any transport", func(t *testing.T) {
		status, _, _ := e.do("POST", "/client/?hub=chat&id="+nr.ConnectionToken, e.clientToken("chat", "u"), `{"protocol":"json","version":1}`+"\x1e", nil)
		if status != 400 {
			t.Errorf("got %d, want 400", status)
		}
	})
	t.Run("event stream without id", func(t *testing.T) {
		status, _, _ := e.do("GET", "/client/?hub=chat", e.clientToken("chat", "u"), "", http.Header{"Accept": {"text/event-stream"}})
		if status != 400 {
			t.Errorf("got %d, want 400", status)
		}
	})
}

// TestWebSocketTokenInQuery connects as browsers do, with access_token.
func TestWebSocketTokenInQuery(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	nr := e.negotiate("chat", "bea")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.base, "http") + "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken) +
		"&access_token=" + url.QueryEscape(e.clientToken("chat", "bea"))
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	c := &wsClient{tb: t, ws: ws, id: nr.ConnectionID}
	c.handshake(`{"protocol":"json","version":1}`)
	e.send("chat", "users/bea", "hi")
	c.expect("hi", "[]")
}

func TestSkipNegotiation(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	ws, status, err := e.tryDial("chat", "", e.clientToken("chat", "sam"))
	if err != nil {
		t.Fatalf("dial: %v (%d)", err, status)
	}
	c := &wsClient{tb: t, ws: ws}
	defer ws.CloseNow()
	c.handshake(`{"protocol":"json","version":1}`)
	e.send("chat", "users/sam", "hi")
	c.expect("hi", "[]")
}

func TestNegotiatedConnectionExpires(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Service) { s.negotiateTimeout = 50 * time.Millisecond })
	nr := e.negotiate("chat", "u")
	deadline := time.Now().Add(testTimeout)
	for {
		ws, status, err := e.tryDial("chat", nr.ConnectionToken, e.clientToken("chat", "u"))
		if err == nil {
			ws.CloseNow()
		}
		if status == 404 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d, want 404 once the negotiated connection expired", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, Options{PingInterval: 20 * time.Millisecond}, nil)
	c := e.dialWS("chat", "u")
	for i := 0; i < 2; i++ {
		if got := string(c.nextRecord()); got != `{"type":6}` {
			t.Fatalf("got %q, want a ping", got)
		}
	}
}

func TestClientMessages(t *testing.T) {
	tests := []struct {
		name    string
		send    string
		closed  bool
		errPart string // in the close message
	}{
		{"invocation", `{"type":1,"target":"x","arguments":[]}`, true, "invalid operation in serverless mode"},
		{"blocking invocation", `{"type":1,"invocationId":"1","target":"x","arguments":[]}`, true, "invalid operation in serverless mode"},
		{"stream invocation", `{"type":4,"invocationId":"1","target":"x","arguments":[]}`, true, "invalid operation in serverless mode"},
		{"stream item", `{"type":2,"invocationId":"1","item":1}`, true, "invalid operation in serverless mode"},
		{"not json", `nope`, true, "InvalidDataException"},
		{"no type", `{"target":"x"}`, true, "InvalidDataException"},
		{"ping", `{"type":6}`, false, ""},
		{"cancel", `{"type":5,"invocationId":"1"}`, false, ""},
		{"unknown type", `{"type":42}`, false, ""},
		{"empty", ``, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			c := e.dialWS("chat", "u")
			c.write(tt.send + "\x1e")
			if !tt.closed {
				marker(e, "chat", c)
				return
			}
			m := c.expectClose()
			if !strings.Contains(m.Error, tt.errPart) || m.AllowReconnect {
				t.Errorf("got close %s, want an error with %q and no reconnect", m.raw, tt.errPart)
			}
			waitStatus(t, e, "HEAD", "/api/hubs/chat/connections/"+c.id+"?api-version=2022-06-01", 404)
		})
	}
}

func TestClientClose(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "u")
	c.write(`{"type":7}` + "\x1e")
	waitStatus(t, e, "HEAD", "/api/hubs/chat/connections/"+c.id+"?api-version=2022-06-01", 404)
	c.expectClosed()
}

func TestClientDisconnect(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "u")
	c.ws.CloseNow()
	waitStatus(t, e, "HEAD", "/api/hubs/chat/users/u?api-version=2022-06-01", 404)
}

// TestSlowClientDropped checks that a client that does not read is dropped
// once its buffer is full, while another client gets every message.
func TestSlowClientDropped(t *testing.T) {
	e := newEnv(t, Options{SendBuffer: 4}, func(s *Service) { s.closeGrace = 200 * time.Millisecond })
	e.dialWS("chat", "slow") // never reads
	fast := e.dialWS("chat", "fast")

	var received atomic.Int64
	readErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var r messageReader
		for {
			_, p, err := fast.ws.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			recs, _ := r.feed(p)
			for _, rec := range recs {
				if strings.Contains(string(rec), `"big"`) {
					received.Add(1)
				}
			}
		}
	}()

	big := `{"target":"big","arguments":["` + strings.Repeat("x", 256<<10) + `"]}`
	sent := 0
	for ; sent < 400; sent++ {
		if st, _, _ := e.rest("HEAD", "/api/hubs/chat/users/slow?api-version=2022-06-01", ""); st == 404 {
			break
		}
		e.mustREST("POST", "/api/hubs/chat/:send?api-version=2022-06-01", big, 202)
	}
	if sent == 400 {
		t.Fatal("the slow client was never dropped")
	}
	deadline := time.Now().Add(testTimeout)
	for received.Load() < int64(sent) {
		select {
		case err := <-readErr:
			t.Fatalf("the fast client failed after %d of %d messages: %v", received.Load(), sent, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fast client got %d of %d messages", received.Load(), sent)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("slow client dropped after %d messages of 256 KiB", sent)
	e.mustREST("HEAD", "/api/hubs/chat/users/fast?api-version=2022-06-01", "", 200)
}

func TestCORS(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	h := http.Header{
		"Origin":                         {"http://localhost:3000"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"authorization,x-requested-with,x-signalr-user-agent"},
	}
	status, got, _ := e.do("OPTIONS", "/client/negotiate?hub=chat&negotiateVersion=1", "", "", h)
	if status != 204 || got.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		got.Get("Access-Control-Allow-Credentials") != "true" ||
		got.Get("Access-Control-Allow-Headers") != "authorization,x-requested-with,x-signalr-user-agent" ||
		!strings.Contains(got.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: got %d %v, want 204 allowing the origin, its headers and POST", status, got)
	}
	status, got, _ = e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", e.clientToken("chat", ""), "", http.Header{"Origin": {"http://localhost:3000"}})
	if status != 200 || got.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Errorf("negotiate: got %d %v, want 200 allowing the origin", status, got)
	}
}

// TestConnectOtherUser checks that a connection can only be taken by the
// user who negotiated it: 403 for a token of another user or of no user,
// including with a negotiate v0 connection id, which is not secret.
func TestConnectOtherUser(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	_, _, body := e.do("POST", "/client/negotiate?hub=chat", e.clientToken("chat", "alice"), "", nil)
	var v0 negotiateResponse
	if err := json.Unmarshal([]byte(body), &v0); err != nil {
		t.Fatal(err)
	}
	v1 := e.negotiate("chat", "alice")
	anon := e.negotiate("chat", "")
	tests := []struct {
		name, id, user string
	}{
		{"v0 connection id, another user", v0.ConnectionID, "mallory"},
		{"v0 connection id, no user", v0.ConnectionID, ""},
		{"v1 connection token, another user", v1.ConnectionToken, "mallory"},
		{"anonymous connection, a user", anon.ConnectionToken, "mallory"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" over WebSockets", func(t *testing.T) {
			ws, status, err := e.tryDial("chat", tt.id, e.clientToken("chat", tt.user))
			if err == nil {
				ws.CloseNow()
				t.Fatal("the WebSocket opened, want 403")
			}
			if status != 403 {
				t.Errorf("got %d, want 403", status)
			}
		})
		for _, req := range []struct {
			name, method string
			header       http.Header
		}{
			{"event stream", "GET", http.Header{"Accept": {"text/event-stream"}}},
			{"long poll", "GET", nil},
			{"send", "POST", nil},
			{"long-polling close", "DELETE", nil},
		} {
			t.Run(tt.name+" "+req.name, func(t *testing.T) {
				status, _, body := e.do(req.method, "/client/?hub=chat&id="+url.QueryEscape(tt.id), e.clientToken("chat", tt.user), "", req.header)
				if status != 403 || !strings.Contains(body, "Error.Forbidden") {
					t.Errorf("got %d %s, want 403 Error.Forbidden", status, body)
				}
			})
		}
	}
	// The right user still connects, with either id.
	c := e.dialToken("chat", "alice", v0.ConnectionID)
	c.handshake(`{"protocol":"json","version":1}`)
	c = e.dialToken("chat", "alice", v1.ConnectionToken)
	c.handshake(`{"protocol":"json","version":1}`)
	c = e.dialToken("chat", "", anon.ConnectionToken)
	c.handshake(`{"protocol":"json","version":1}`)
}

// registered returns a connection of user to hub that completed its
// handshake but has no transport draining its queue: what it is sent stays
// queued, as for a client that stopped reading.
func registered(tb testing.TB, svc *Service, hub, user string) *conn {
	tb.Helper()
	c, err := svc.newConn(hub, user, false)
	if err != nil {
		tb.Fatal(err)
	}
	if !c.register(handshakeOK) {
		tb.Fatal("register failed")
	}
	return c
}

// TestSlowClientByteBudget checks, through the queue's own accounting, that
// with the default options a client that stops reading holds at most
// SendBufferBytes of messages: the message that would take it over closes
// it with a close message saying it could not keep up.
func TestSlowClientByteBudget(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := registered(t, e.svc, "chat", "slow")
	big := `{"target":"big","arguments":["` + strings.Repeat("x", 512<<10) + `"]}`
	frameSize := len(`{"type":1,"target":"big","arguments":["`) + 512<<10 + len(`"]}`) + 1
	fit := (defaultSendBufferBytes - len(handshakeOK)) / frameSize // messages that fit the budget
	const path = "/api/hubs/chat/users/slow/:send?api-version=2022-06-01"
	for i := range fit {
		e.mustREST("POST", path, big, 202)
		if got, want := c.out.bytes(), len(handshakeOK)+(i+1)*frameSize; got != want {
			t.Fatalf("after %d messages: %d bytes queued, want %d", i+1, got, want)
		}
	}
	e.mustREST("HEAD", "/api/hubs/chat/users/slow?api-version=2022-06-01", "", 200)
	e.mustREST("POST", path, big, 202)
	if got := c.out.bytes(); got > defaultSendBufferBytes {
		t.Errorf("%d bytes queued, want at most %d", got, defaultSendBufferBytes)
	}
	e.mustREST("HEAD", "/api/hubs/chat/users/slow?api-version=2022-06-01", "", 404)
	select {
	case <-c.done:
	default:
		t.Fatal("the connection is not closed")
	}
	if m := decodeMessage(t, bytes.TrimSuffix(c.closeFrame, []byte{recordSeparator})); m.Type != msgClose || !strings.Contains(m.Error, "could not keep up") {
		t.Errorf("got close message %s, want one saying the client could not keep up", m.raw)
	}
}
