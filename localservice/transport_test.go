package localservice

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

func TestServerSentEvents(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c, id := e.dialSSE("Chat", "alice")
	const v = "?api-version=2022-06-01"

	e.send("chat", "", "all", "a\nb", 1)
	checkInvocation(t, c.next(), "all", `["a\nb",1]`)
	e.send("chat", "users/alice", "u")
	checkInvocation(t, c.next(), "u", `[]`)
	e.mustREST("PUT", "/api/hubs/chat/groups/g/connections/"+id+v, "", 200)
	e.send("chat", "groups/g", "g")
	checkInvocation(t, c.next(), "g", `[]`)
	e.send("chat", "connections/"+id, "c")
	checkInvocation(t, c.next(), "c", `[]`)

	// A ping from the client is fine; a handshake split over two POSTs was
	// covered by dialSSE's single POST, so split a ping.
	if st := c.post(`{"type":`); st != 200 {
		t.Fatalf("POST: got %d, want 200", st)
	}
	if st := c.post(`6}` + "\x1e"); st != 200 {
		t.Fatalf("POST: got %d, want 200", st)
	}
	t.Run("second stream", func(t *testing.T) {
		status, _, _ := e.do("GET", c.url+"&access_token="+url.QueryEscape(c.token), "", "", http.Header{"Accept": {"text/event-stream"}})
		if status != 409 {
			t.Errorf("got %d, want 409", status)
		}
	})
	t.Run("DELETE", func(t *testing.T) {
		status, _, _ := e.do("DELETE", c.url, c.token, "", nil)
		if status != 400 {
			t.Errorf("got %d, want 400", status)
		}
	})
	e.mustREST("DELETE", "/api/hubs/chat/connections/"+id+v+"&reason=done", "", 200)
	if m := c.next(); m.Type != msgClose || m.Error != "done" {
		t.Fatalf("got %s, want a close message with error done", m.raw)
	}
	c.waitEnd()
	if st := c.post(`{"type":6}` + "\x1e"); st != 404 {
		t.Errorf("POST after close: got %d, want 404", st)
	}
}

func TestServerSentEventsInvocationCloses(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c, id := e.dialSSE("chat", "u")
	c.post(`{"type":1,"target":"x","arguments":[]}` + "\x1e")
	if m := c.next(); m.Type != msgClose || !strings.Contains(m.Error, "invalid operation in serverless mode") {
		t.Fatalf("got %s, want a close message", m.raw)
	}
	c.waitEnd()
	e.mustREST("HEAD", "/api/hubs/chat/connections/"+id+"?api-version=2022-06-01", "", 404)
}

func TestServerSentEventsClientGone(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c, _ := e.dialSSE("chat", "u")
	c.body.Close()
	waitStatus(t, e, "HEAD", "/api/hubs/chat/users/u?api-version=2022-06-01", 404)
}

// poll sends one long poll and returns its status and body.
func poll(e *testEnv, u, token string) (int, string) {
	e.tb.Helper()
	status, _, body := e.do("GET", u, token, "", nil)
	return status, body
}

// openLongPoll negotiates a connection to hub as user and opens it as the
// JS client does over long polling: a first poll, the JSON handshake, and a
// poll that must bring the handshake response. It returns the connection's
// URL, the client token and the negotiate answer.
func (e *testEnv) openLongPoll(hub, user string) (u, tok string, nr negotiateResponse) {
	e.tb.Helper()
	nr = e.negotiate(hub, user)
	tok = e.clientToken(hub, user)
	u = "/client/?hub=" + hub + "&id=" + url.QueryEscape(nr.ConnectionToken)
	poll(e, u, tok)
	e.do("POST", u, tok, handshakeJSON, nil)
	if st, body := poll(e, u, tok); st != 200 || body != "{}\x1e" {
		e.tb.Fatalf("got %d %q, want the handshake response", st, body)
	}
	return u, tok, nr
}

// startPoll sends one long poll in the background and waits until the
// service holds it for the connection whose token is connToken.
func startPoll(e *testEnv, u, token, connToken string) <-chan testkit.Answer {
	e.tb.Helper()
	done := testkit.StartRequest(e.tb, "GET", e.base+u, requestHeader(token, "", nil), nil)
	waitFor(e.tb, "the long poll to be held", func() bool {
		c := e.svc.lookup(connToken)
		if c == nil {
			return false
		}
		c.pmu.Lock()
		defer c.pmu.Unlock()
		return c.polling
	})
	return done
}

// waitPoll waits for the answer to a poll started by startPoll.
func waitPoll(tb testing.TB, done <-chan testkit.Answer) (int, string) {
	tb.Helper()
	select {
	case a := <-done:
		if a.Err != nil {
			tb.Fatalf("long poll: %v", a.Err)
		}
		return a.Status, a.Body
	case <-time.After(testTimeout):
		tb.Fatal("the long poll did not end")
		return 0, ""
	}
}

func TestLongPolling(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Service) { s.pollTimeout = 100 * time.Millisecond })
	nr := e.negotiate("chat", "u")
	tok := e.clientToken("chat", "u")
	u := "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken)
	const v = "?api-version=2022-06-01"

	steps := []struct {
		name       string
		do         func() (int, string)
		wantStatus int
		wantBody   string
	}{
		{"first poll opens at once", func() (int, string) { return poll(e, u+"&_=1", tok) }, 200, ""},
		{"handshake", func() (int, string) {
			s, _, b := e.do("POST", u, tok, `{"protocol":"json","version":1}`+"\x1e", nil)
			return s, b
		}, 200, ""},
		{"handshake response", func() (int, string) { return poll(e, u, tok) }, 200, "{}\x1e"},
		{"poll times out empty", func() (int, string) { return poll(e, u, tok) }, 200, ""},
		{"messages", func() (int, string) {
			e.send("chat", "users/u", "a")
			e.send("chat", "", "b", 2)
			return poll(e, u, tok)
		}, 200, `{"type":1,"target":"a","arguments":[]}` + "\x1e" + `{"type":1,"target":"b","arguments":[2]}` + "\x1e"},
		{"message while polling", func() (int, string) {
			done := startPoll(e, u, tok, nr.ConnectionToken)
			e.send("chat", "connections/"+nr.ConnectionID, "c")
			return waitPoll(t, done)
		}, 200, `{"type":1,"target":"c","arguments":[]}` + "\x1e"},
		{"close message", func() (int, string) {
			e.mustREST("DELETE", "/api/hubs/chat/connections/"+nr.ConnectionID+v+"&reason=bye", "", 200)
			return poll(e, u, tok)
		}, 200, `{"type":7,"error":"bye"}` + "\x1e"},
		{"then 204", func() (int, string) { return poll(e, u, tok) }, 204, ""},
		{"then unknown", func() (int, string) { return poll(e, u, tok) }, 404, ""},
	}
	for _, st := range steps {
		status, body := st.do()
		if status != st.wantStatus || (st.wantStatus != 404 && body != st.wantBody) {
			t.Fatalf("%s: got %d %q, want %d %q", st.name, status, body, st.wantStatus, st.wantBody)
		}
	}
}

func TestLongPollingDelete(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	u, tok, nr := e.openLongPoll("chat", "u")
	done := startPoll(e, u, tok, nr.ConnectionToken)
	if st, _, _ := e.do("DELETE", u, tok, "", nil); st != 202 {
		t.Fatalf("DELETE: got %d, want 202", st)
	}
	if st, _ := waitPoll(t, done); st != 204 {
		t.Errorf("pending poll: got %d, want 204", st)
	}
	e.mustREST("HEAD", "/api/hubs/chat/connections/"+nr.ConnectionID+"?api-version=2022-06-01", "", 404)
}

func TestLongPollingIdle(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Service) { s.pollIdleTimeout = 50 * time.Millisecond })
	u, tok, nr := e.openLongPoll("chat", "u")
	e.mustREST("HEAD", "/api/hubs/chat/connections/"+nr.ConnectionID+"?api-version=2022-06-01", "", 200)
	waitStatus(t, e, "HEAD", "/api/hubs/chat/connections/"+nr.ConnectionID+"?api-version=2022-06-01", 404)
	if st, _ := poll(e, u, tok); st != 404 {
		t.Errorf("poll after idle expiry: got %d, want 404", st)
	}
}

// TestClose checks that Close sends every client a close message, ends
// every transport and leaves no goroutine behind.
func TestClose(t *testing.T) {
	expectNoGoroutineLeak(t, func() {
		svc := New(Options{PingInterval: 10 * time.Millisecond})
		srv := httptest.NewServer(svc)
		defer srv.Close()
		e := &testEnv{tb: t, svc: svc, srv: srv, base: srv.URL}
		ws := e.dialWS("chat", "a")
		sse, _ := e.dialSSE("chat", "b")
		e.negotiate("chat", "never-connects")
		u, tok, nr := e.openLongPoll("chat", "lp")
		lp := startPoll(e, u, tok, nr.ConnectionToken)

		closed := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			svc.Close()
			closed <- time.Since(start)
		}()
		if m := ws.expectClose(); m.AllowReconnect != true || m.Error == "" {
			t.Errorf("WebSocket: got %s, want a close message allowing reconnect", m.raw)
		}
		if m := sse.next(); m.Type != msgClose || !m.AllowReconnect {
			t.Errorf("SSE: got %s, want a close message allowing reconnect", m.raw)
		}
		sse.waitEnd()
		if _, body := waitPoll(t, lp); !strings.HasPrefix(body, `{"type":7`) {
			t.Errorf("long poll: got %q, want a close message", body)
		}
		select {
		case d := <-closed:
			if d >= svc.closeGrace {
				t.Errorf("Close took %v, want less than its grace period %v with responsive clients", d, svc.closeGrace)
			}
		case <-time.After(testTimeout):
			t.Fatal("Close did not return")
		}
		if st, _, _ := e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", e.clientToken("chat", ""), "", nil); st != 503 {
			t.Errorf("negotiate after Close: got %d, want 503", st)
		}
		svc.Close() // twice is fine
		ws.ws.CloseNow()
	})
}

// TestCloseStuckClient checks that Close returns even when a client does
// not read.
func TestCloseStuckClient(t *testing.T) {
	e := newEnv(t, Options{SendBuffer: 1 << 16, SendBufferBytes: 1 << 30}, func(s *Service) { s.closeGrace = 100 * time.Millisecond })
	e.dialWS("chat", "stuck")
	big := `{"target":"big","arguments":["` + strings.Repeat("x", 512<<10) + `"]}`
	for i := 0; i < 40; i++ {
		e.mustREST("POST", "/api/hubs/chat/:send?api-version=2022-06-01", big, 202)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	done := make(chan struct{})
	start := time.Now()
	go func() { e.svc.Close(); close(done) }()
	select {
	case <-done:
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v, want about its grace period", d)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
}
