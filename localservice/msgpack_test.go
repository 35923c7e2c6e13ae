package localservice

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
)

// mpClient is a MessagePack hub-protocol client over a WebSocket.
type mpClient struct {
	tb      testing.TB
	ws      *websocket.Conn
	id      string
	frames  msgpackhub.FrameReader
	pending recordQueue
}

// dialMsgpack negotiates and connects to hub as user over a WebSocket and
// completes the MessagePack handshake.
func (e *testEnv) dialMsgpack(hub, user string) *mpClient {
	e.tb.Helper()
	nr := e.negotiate(hub, user)
	w := e.dialToken(hub, user, nr.ConnectionToken)
	c := &mpClient{tb: e.tb, ws: w.ws, id: nr.ConnectionID, frames: msgpackhub.FrameReader{Max: 4 << 20}}
	c.writeBinary([]byte(`{"protocol":"messagepack","version":1}` + "\x1e"))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	typ, p, err := c.ws.Read(ctx)
	if err != nil {
		e.tb.Fatalf("handshake response: %v", err)
	}
	if typ != websocket.MessageBinary || string(p) != "{}\x1e" {
		e.tb.Fatalf("handshake response: got %v %q, want a binary message {}\\x1e", typ, p)
	}
	return c
}

func (c *mpClient) writeBinary(p []byte) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// tryNext returns the next message decoded, pings included.
func (c *mpClient) tryNext(timeout time.Duration) ([]any, error) {
	msg, err := c.pending.next(func() ([][]byte, error) {
		typ, p, err := readWS(c.ws, timeout)
		if err != nil {
			return nil, err
		}
		if typ != websocket.MessageBinary {
			c.tb.Fatalf("got a text message %q, want binary messages only", p)
		}
		msgs, err := c.frames.Feed(p)
		if err != nil {
			c.tb.Fatalf("frames: %v", err)
		}
		return msgs, nil
	})
	if err != nil {
		return nil, err
	}
	return decodeMsgpack(c.tb, msg), nil
}

// next returns the next message that is not a ping.
func (c *mpClient) next() []any {
	c.tb.Helper()
	for {
		m, err := c.tryNext(testTimeout)
		if err != nil {
			c.tb.Fatalf("read: %v", err)
		}
		if !reflect.DeepEqual(m, []any{int8(msgPing)}) {
			return m
		}
	}
}

// expectClose reads up to a close message, checks that the WebSocket closes
// after it and returns it.
func (c *mpClient) expectClose() []any {
	c.tb.Helper()
	m := c.next()
	for m[0] == int8(msgInvocation) {
		m = c.next()
	}
	if m[0] != int8(msgClose) {
		c.tb.Fatalf("got message %#v, want a close message", m)
	}
	if _, err := c.tryNext(testTimeout); err == nil {
		c.tb.Fatal("the connection stayed open after its close message")
	}
	return m
}

// decodeMsgpack decodes a message keeping the wire types, maps as ordered
// key/value pairs.
func decodeMsgpack(tb testing.TB, b []byte) []any {
	tb.Helper()
	v := msgpacktest.Decode(tb, b)
	a, ok := v.([]any)
	if !ok {
		tb.Fatalf("got %#v, want an array", v)
	}
	return a
}

// mixedArgs are arguments of every JSON kind; mixedWire is how MessagePack
// carries them.
const mixedArgs = `[42,-7,9223372036854775807,-9223372036854775808,18446744073709551615,1.5,2.0,"text",true,false,null,[1,[2]],{"b":1,"a":{"c":[]}}]`

var mixedWire = []any{
	int8(42), int8(-7), uint64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), 1.5, 2.0, "text", true, false, nil,
	[]any{int8(1), []any{int8(2)}}, [][2]any{{"b", int8(1)}, {"a", [][2]any{{"c", []any{}}}}},
}

func TestMessagePackSends(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	mp := e.dialMsgpack("chat", "alice")
	js := e.dialWS("chat", "bob")
	e.mustREST("PUT", "/api/hubs/chat/groups/g/connections/"+mp.id+"?api-version=2022-06-01", "", 200)
	e.mustREST("PUT", "/api/hubs/chat/groups/g/connections/"+js.id+"?api-version=2022-06-01", "", 200)

	routes := []struct {
		name, route string
		json        bool // the JSON client gets it too
	}{
		{"broadcast", "", true},
		{"user", "users/alice", false},
		{"group", "groups/g", true},
		{"connection", "connections/" + mp.id, false},
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			path := "/api/hubs/chat/:send"
			if r.route != "" {
				path = "/api/hubs/chat/" + r.route + "/:send"
			}
			e.mustREST("POST", path+"?api-version=2022-06-01", `{"target":"mixed","arguments":`+mixedArgs+`}`, 202)
			want := []any{int8(msgInvocation), [][2]any{}, nil, "mixed", mixedWire}
			if got := mp.next(); !reflect.DeepEqual(got, want) {
				t.Errorf("MessagePack client: got %#v, want %#v", got, want)
			}
			if r.json {
				js.expect("mixed", mixedArgs)
			}
		})
	}
}

func TestMessagePackSerializedOncePerProtocol(t *testing.T) {
	m, err := newSendMessage("t", json.RawMessage(`[1,"x"]`))
	if err != nil {
		t.Fatal(err)
	}
	a, b, j := &conn{}, &conn{}, &conn{}
	a.binary.Store(true)
	b.binary.Store(true)
	fa, _ := m.forConn(a)
	fb, _ := m.forConn(b)
	fj, _ := m.forConn(j)
	if &fa[0] != &fb[0] {
		t.Error("got two MessagePack serializations of one message, want one shared frame")
	}
	if &fj[0] != &m.json[0] {
		t.Error("got a new JSON serialization, want the one made with the message")
	}
	cm := &closeMessages{reason: "bye"}
	if x, y := cm.forConn(a), cm.forConn(b); &x[0] != &y[0] {
		t.Error("got two MessagePack close messages, want one shared")
	}
}

func TestMessagePackPing(t *testing.T) {
	e := newEnv(t, Options{PingInterval: 20 * time.Millisecond}, nil)
	c := e.dialMsgpack("chat", "u")
	m, err := c.tryNext(testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int8(msgPing)}; !reflect.DeepEqual(m, want) {
		t.Fatalf("got %#v, want %#v", m, want)
	}
}

func TestMessagePackClientMessages(t *testing.T) {
	invocation, _ := msgpack.Marshal([]any{1, map[string]string{}, "0", "echo", []any{1}})
	tests := []struct {
		name      string
		data      []byte
		wantClose string // the close message's error; "" means the connection stays open
	}{
		{"ping", msgpackhub.AppendFrame(nil, msgpackhub.AppendPing(nil)), ""},
		{"two pings in one message", msgpackhub.AppendFrame(msgpackhub.AppendFrame(nil, []byte{0x91, 0x06}), []byte{0x91, 0x06}), ""},
		{"unknown type", msgpackhub.AppendFrame(nil, []byte{0x91, 0x63}), ""},
		{"invocation in serverless mode", msgpackhub.AppendFrame(nil, invocation), reasonInvalidOperation},
		{"not an array", msgpackhub.AppendFrame(nil, []byte{0x06}), "Connection closed with an error. InvalidDataException: the message is not a MessagePack array starting with its type"},
		{"type not an integer", msgpackhub.AppendFrame(nil, []byte{0x91, 0xa1, '6'}), "Connection closed with an error. InvalidDataException: the message type is not an integer"},
		{"oversized frame", []byte{0x81, 0x80, 0x80, 0x01}, "Connection closed with an error. InvalidDataException: The maximum message size of 1048576B was exceeded."},
		{"bad length prefix", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, "Connection closed with an error. InvalidDataException: message length prefix is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			c := e.dialMsgpack("chat", "u")
			other := e.dialMsgpack("chat", "v")
			c.writeBinary(tt.data)
			if tt.wantClose == "" {
				e.send("chat", "", "after", 1)
				if got, want := c.next(), []any{int8(msgInvocation), [][2]any{}, nil, "after", []any{int8(1)}}; !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v, want %#v", got, want)
				}
				return
			}
			if got, want := c.expectClose(), []any{int8(msgClose), tt.wantClose, false}; !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
			// Only that client is closed.
			e.send("chat", "", "after", 1)
			if got := other.next(); got[3] != "after" {
				t.Fatalf("other client: got %#v, want the invocation of after", got)
			}
		})
	}
}

func TestMessagePackCloseByREST(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialMsgpack("chat", "u")
	js := e.dialWS("chat", "u")
	e.mustREST("POST", "/api/hubs/chat/users/u/:closeConnections?api-version=2022-06-01&reason=bye", "", 204)
	if got, want := c.expectClose(), []any{int8(msgClose), "bye", false}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if m := js.expectClose(); m.Error != "bye" {
		t.Fatalf("JSON client: got %s, want a close message with error bye", m.raw)
	}
}

func TestMessagePackOverServerSentEvents(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	nr := e.negotiate("chat", "u")
	tok := e.clientToken("chat", "u")
	u := "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken)
	req, _ := http.NewRequest("GET", e.base+u+"&access_token="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	status, _, body := e.do("POST", u, tok, `{"protocol":"messagepack","version":1}`+"\x1e", nil)
	if status != 200 {
		t.Fatalf("handshake POST: got %d %s, want 200", status, body)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the event stream did not end after the refused handshake: %v", err)
	}
	want := `data: {"error":"Cannot use the 'messagepack' protocol on the current transport (ServerSentEvents): the transport does not support the 'Binary' transfer format."}` + "\x1e"
	if !strings.Contains(string(got), want) {
		t.Fatalf("got stream %q, want it to hold %q", got, want)
	}
}

func TestMessagePackLongPolling(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Service) { s.pollTimeout = 100 * time.Millisecond })
	nr := e.negotiate("chat", "u")
	tok := e.clientToken("chat", "u")
	u := "/client/?hub=chat&id=" + url.QueryEscape(nr.ConnectionToken)
	if status, body := poll(e, u, tok); status != 200 || body != "" {
		t.Fatalf("first poll: got %d %q, want 200 empty", status, body)
	}
	if status, _, body := e.do("POST", u, tok, `{"protocol":"messagepack","version":1}`+"\x1e", nil); status != 200 {
		t.Fatalf("handshake: got %d %s, want 200", status, body)
	}
	if status, body := poll(e, u, tok); status != 200 || body != "{}\x1e" {
		t.Fatalf("handshake response: got %d %q, want 200 {}\\x1e", status, body)
	}
	e.send("chat", "", "a", "x")
	e.send("chat", "users/u", "b", 2)
	status, body := poll(e, u, tok)
	if status != 200 {
		t.Fatalf("poll: got %d, want 200", status)
	}
	msgs, err := msgpackhub.SplitFrames([]byte(body), 1<<20)
	if err != nil {
		t.Fatalf("poll body % x: %v", body, err)
	}
	want := [][]any{
		{int8(msgInvocation), [][2]any{}, nil, "a", []any{"x"}},
		{int8(msgInvocation), [][2]any{}, nil, "b", []any{int8(2)}},
	}
	if len(msgs) != len(want) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(want))
	}
	for i := range msgs {
		if got := decodeMsgpack(t, msgs[i]); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("message %d: got %#v, want %#v", i, got, want[i])
		}
	}
	// A malformed message closes the connection with a MessagePack close.
	if status, _, _ := e.do("POST", u, tok, "\x01\xc1", nil); status != 200 {
		t.Fatalf("POST: got %d, want 200", status)
	}
	status, body = poll(e, u, tok)
	msgs, err = msgpackhub.SplitFrames([]byte(body), 1<<20)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("poll after a bad message: got %d % x (%v), want one close message", status, body, err)
	}
	if got := decodeMsgpack(t, msgs[0]); got[0] != int8(msgClose) || !strings.Contains(got[1].(string), "InvalidDataException") {
		t.Fatalf("got %#v, want a close message with an InvalidDataException", got)
	}
}
