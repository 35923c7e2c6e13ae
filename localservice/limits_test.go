package localservice

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
)

// clientTimeout is the client timeout of TestClientTimeout: short, so that
// the test waits for it a few times over.
const clientTimeout = 150 * time.Millisecond

// TestClientTimeout checks that a client that sends no message for the
// client timeout is closed with a close message that allows reconnecting,
// that any message, a ping included, keeps it open, and that a partial
// message does not.
func TestClientTimeout(t *testing.T) {
	const v = "?api-version=2022-06-01"
	t.Run("silent WebSocket client", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		start := time.Now() // the timeout starts within dialWS, at the handshake
		c := e.dialWS("chat", "u")
		m := c.expectClose()
		if !m.AllowReconnect || m.Error != "Client timeout (150ms) elapsed without receiving a message from the client." {
			t.Errorf("got %s, want a close message allowing reconnect with the client timeout error", m.raw)
		}
		if d := time.Since(start); d < clientTimeout {
			t.Errorf("closed after %v, want at least %v", d, clientTimeout)
		}
		e.mustREST("HEAD", "/api/hubs/chat/users/u"+v, "", 404)
	})
	t.Run("silent Server-Sent Events client", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		c, _ := e.dialSSE("chat", "u")
		if m := c.next(); m.Type != msgClose || !strings.Contains(m.Error, "Client timeout") {
			t.Errorf("got %s, want a close message for the client timeout", m.raw)
		}
		c.waitEnd()
	})
	t.Run("silent MessagePack client", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		c := e.dialMsgpack("chat", "u")
		want := []any{int8(msgClose), "Client timeout (150ms) elapsed without receiving a message from the client.", true}
		if got := c.expectClose(); !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
	t.Run("pinging MessagePack client stays", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		c := e.dialMsgpack("chat", "u")
		for end := time.Now().Add(4 * clientTimeout); time.Now().Before(end); {
			c.writeBinary(msgpackhub.AppendFrame(nil, msgpackhub.AppendPing(nil)))
			time.Sleep(clientTimeout / 5)
		}
		e.mustREST("HEAD", "/api/hubs/chat/users/u"+v, "", 200)
	})
	t.Run("pinging client stays", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		c := e.dialWS("chat", "u")
		for end := time.Now().Add(4 * clientTimeout); time.Now().Before(end); {
			c.write(`{"type":6}` + "\x1e")
			time.Sleep(clientTimeout / 5)
		}
		e.mustREST("HEAD", "/api/hubs/chat/users/u"+v, "", 200)
		marker(e, "chat", c)
	})
	t.Run("partial messages do not count", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, nil)
		c := e.dialWS("chat", "u")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 40 {
				if c.ws.Write(t.Context(), 1, []byte(`{"type":`)) != nil {
					return
				}
				time.Sleep(clientTimeout / 5)
			}
		}()
		if m := c.expectClose(); !strings.Contains(m.Error, "Client timeout") {
			t.Errorf("got %s, want a close message for the client timeout", m.raw)
		}
		<-done
	})
	t.Run("long-polling client that only polls stays", func(t *testing.T) {
		e := newEnv(t, Options{ClientTimeout: clientTimeout}, func(s *Service) { s.pollTimeout = clientTimeout / 2 })
		nr := e.negotiate("chat", "lp")
		tok := e.clientToken("chat", "lp")
		u := "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken)
		poll(e, u, tok)
		e.do("POST", u, tok, `{"protocol":"json","version":1}`+"\x1e", nil)
		for end := time.Now().Add(4 * clientTimeout); time.Now().Before(end); {
			if st, _ := poll(e, u, tok); st != 200 {
				t.Fatalf("poll: got %d, want 200", st)
			}
		}
		e.mustREST("HEAD", "/api/hubs/chat/users/lp"+v, "", 200)
	})
}

// TestMessageSizeLimit checks that a message over the limit closes the
// client, whether it arrives whole or as a partial message that grows past
// the limit, with ASP.NET Core's wording.
func TestMessageSizeLimit(t *testing.T) {
	const limit = 1024
	const want = "Connection closed with an error. InvalidDataException: The maximum message size of 1024B was exceeded."
	tests := []struct {
		name   string
		writes []string
	}{
		{"partial message growing past the limit", []string{strings.Repeat("a", 600), strings.Repeat("a", 600)}},
		{"one message over the limit", []string{`{"type":6,"x":"` + strings.Repeat("a", limit) + `"}` + "\x1e"}},
		{"at the limit is fine, then over", []string{`{"type":6,"x":"` + strings.Repeat("a", limit-len(`{"type":6,"x":""}`)) + `"}` + "\x1e", strings.Repeat("b", limit+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, func(s *Service) { s.maxReceive = limit })
			c := e.dialWS("chat", "u")
			for _, w := range tt.writes {
				c.write(w)
			}
			if m := c.expectClose(); m.Error != want {
				t.Errorf("got %s, want a close message with %q", m.raw, want)
			}
		})
	}
	t.Run("Server-Sent Events POST over the limit", func(t *testing.T) {
		e := newEnv(t, Options{}, func(s *Service) { s.maxReceive = limit })
		c, _ := e.dialSSE("chat", "u")
		if st := c.post(strings.Repeat("a", limit+1)); st != 413 {
			t.Errorf("POST: got %d, want 413", st)
		}
		if m := c.next(); m.Error != want {
			t.Errorf("got %s, want a close message with %q", m.raw, want)
		}
	})
}

// TestConnectionCap checks that the service holds at most MaxConnections
// SignalR connections, negotiated or connected: negotiate answers 503 past
// it, and again 200 once one is gone.
func TestConnectionCap(t *testing.T) {
	e := newEnv(t, Options{MaxConnections: 2}, nil)
	c := e.dialWS("chat", "a")
	e.negotiate("chat", "b") // negotiated, not connected
	status, _, body := e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", e.clientToken("chat", "c"), "", nil)
	if status != 503 || !strings.Contains(body, "maximum of 2 connections") {
		t.Fatalf("got %d %s, want 503 naming the maximum", status, body)
	}
	if ws, status, err := e.tryDial("chat", "", e.clientToken("chat", "c")); err == nil || status != 503 {
		if ws != nil {
			ws.CloseNow()
		}
		t.Fatalf("a WebSocket without negotiate: got %d (%v), want 503", status, err)
	}
	c.ws.CloseNow()
	waitStatus(t, e, "HEAD", "/api/hubs/chat/users/a?api-version=2022-06-01", 404)
	e.negotiate("chat", "c")
}
