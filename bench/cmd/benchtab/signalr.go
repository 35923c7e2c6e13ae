package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
	"github.com/funcsignalr/funcsignalr/localservice"
)

// sigClient is the smallest SignalR client that does what the official ones
// do against funcsignalr: negotiate through the function (which redirects
// to the service), negotiate at the service, connect over WebSockets and
// speak the JSON or the MessagePack hub protocol. It only listens: each
// invocation's first argument (as JSON) goes to the callback with the time
// its frame arrived.
type sigClient struct {
	ws     *websocket.Conn
	id     string // connectionId
	binary bool   // MessagePack
	frames msgpackhub.FrameReader
	stats  *wireStats
}

// wireStats counts what a group of clients read after their handshakes.
type wireStats struct {
	frames atomic.Int64 // WebSocket messages: the service coalesces queued hub messages into one
	bytes  atomic.Int64 // their payload bytes
}

// connectionInfo is negotiate's answer.
type connectionInfo struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// hubMessage is the part of a hub-protocol message the client reads.
type hubMessage struct {
	Type      int               `json:"type"`
	Arguments []json.RawMessage `json:"arguments"`
	Error     string            `json:"error"`
}

const recordSeparator = 0x1e

// dialSignalR connects a JSON client through negotiateURL (the function's
// /api/negotiate). onInvocation runs on the client's read goroutine.
func dialSignalR(ctx context.Context, hc *http.Client, negotiateURL string, onInvocation func(arg0 []byte, at time.Time)) (*sigClient, error) {
	var info connectionInfo
	if err := postJSON(ctx, hc, negotiateURL, "", &info); err != nil {
		return nil, fmt.Errorf("negotiate function: %w", err)
	}
	return dialService(ctx, hc, info, false, &defaultStats, onInvocation)
}

// defaultStats counts for the clients of dialSignalR.
var defaultStats wireStats

// dialService connects a client to the service at info.URL with
// info.AccessToken, speaking MessagePack when binary is set. With
// onInvocation nil it reads nothing after the handshake response.
func dialService(ctx context.Context, hc *http.Client, info connectionInfo, binary bool, stats *wireStats, onInvocation func(arg0 []byte, at time.Time)) (*sigClient, error) {
	u, err := url.Parse(info.URL)
	if err != nil {
		return nil, fmt.Errorf("negotiate url %q: %w", info.URL, err)
	}
	neg := *u
	neg.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := neg.Query()
	q.Set("negotiateVersion", "1")
	neg.RawQuery = q.Encode()
	var conn struct{ ConnectionID, ConnectionToken string }
	if err := postJSON(ctx, hc, neg.String(), info.AccessToken, &conn); err != nil {
		return nil, fmt.Errorf("negotiate with the service: %w", err)
	}
	wsURL := *u
	wsURL.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	q = wsURL.Query()
	q.Set("id", conn.ConnectionToken)
	wsURL.RawQuery = q.Encode()
	ws, _, err := websocket.Dial(ctx, wsURL.String(), &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + info.AccessToken}},
	})
	if err != nil {
		return nil, fmt.Errorf("connect WebSocket: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	handshake, typ := `{"protocol":"json","version":1}`+"\x1e", websocket.MessageText
	if binary {
		handshake, typ = `{"protocol":"messagepack","version":1}`+"\x1e", websocket.MessageBinary
	}
	if err := ws.Write(ctx, typ, []byte(handshake)); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("send handshake: %w", err)
	}
	_, p, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("read handshake response: %w", err)
	}
	at := time.Now()
	first, rest, ok := bytes.Cut(p, []byte{recordSeparator})
	if !ok || string(first) != "{}" {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake refused: %q", p)
	}
	c := &sigClient{ws: ws, id: conn.ConnectionID, binary: binary, frames: msgpackhub.FrameReader{Max: 1 << 20}, stats: stats}
	if onInvocation == nil { // a client that reads nothing more: the caller reads ws, or nobody does
		return c, nil
	}
	if err := c.dispatch(rest, at, onInvocation); err != nil {
		ws.CloseNow()
		return nil, err
	}
	go c.readLoop(onInvocation)
	return c, nil
}

// readLoop reads frames until the connection ends.
func (c *sigClient) readLoop(onInvocation func([]byte, time.Time)) {
	for {
		_, p, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		c.stats.frames.Add(1)
		c.stats.bytes.Add(int64(len(p)))
		if err := c.dispatch(p, time.Now(), onInvocation); err != nil {
			c.ws.CloseNow()
			return
		}
	}
}

// dispatch splits a frame into messages and hands on invocations. A close
// message ends the client.
func (c *sigClient) dispatch(frame []byte, at time.Time, onInvocation func([]byte, time.Time)) error {
	if c.binary {
		msgs, err := c.frames.Feed(frame)
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			t, err := msgpackhub.MessageType(msg)
			if err != nil {
				return err
			}
			switch t {
			case msgpackhub.TypeInvocation:
				arg0, err := firstIntArgument(msg)
				if err != nil {
					return err
				}
				onInvocation(arg0, at)
			case msgpackhub.TypeClose:
				return errors.New("closed by the service")
			}
		}
		return nil
	}
	for len(frame) > 0 {
		var rec []byte
		var ok bool
		rec, frame, ok = bytes.Cut(frame, []byte{recordSeparator})
		if !ok {
			return errors.New("a frame ends inside a message") // the service sends whole messages
		}
		var m hubMessage
		if err := json.Unmarshal(rec, &m); err != nil {
			return fmt.Errorf("hub message %q: %w", rec, err)
		}
		switch m.Type {
		case 1: // invocation
			if len(m.Arguments) > 0 {
				onInvocation(m.Arguments[0], at)
			}
		case 7: // close
			return fmt.Errorf("closed by the service: %s", m.Error)
		}
	}
	return nil
}

// Close drops the connection without the closing handshake.
func (c *sigClient) Close() { c.ws.CloseNow() }

// postJSON POSTs an empty body (with a Bearer token when set) and decodes a
// 200 answer into v.
func postJSON(ctx context.Context, hc *http.Client, u, token string, v any) error {
	body, err := call(ctx, hc, http.MethodPost, u, token, "", http.StatusOK)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// call sends method u with body (JSON; none when empty) and a Bearer token
// (when set) and returns the answer's body. Any status but want is an error
// that quotes the answer.
func call(ctx context.Context, hc *http.Client, method, u, token, body string, want int) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s %s", method, redactQuery(u), resp.Status, b)
	}
	return b, nil
}

// devToken is a token for aud signed with the local service's development
// access key, valid for an hour, as the binding signs REST and client
// tokens (HS256 with iat, nbf and exp).
func devToken(aud string) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(localservice.DevAccessKey))
}

// redactQuery drops the query from u for error messages.
func redactQuery(u string) string {
	s, _, _ := strings.Cut(u, "?")
	return s
}

// firstIntArgument reads a MessagePack invocation
// [1, headers, invocationId, target, [arg0, …]] as far as its first
// argument, an integer, and returns it as decimal text; the other arguments
// are skipped (walked, not decoded), as the JSON client leaves them raw.
func firstIntArgument(msg []byte) ([]byte, error) {
	d := msgpack.NewDecoder(bytes.NewReader(msg))
	if _, err := d.DecodeArrayLen(); err != nil {
		return nil, err
	}
	for range 4 { // type, headers, invocation id, target
		if err := d.Skip(); err != nil {
			return nil, err
		}
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n < 1 {
		return nil, fmt.Errorf("invocation arguments: %d, %v", n, err)
	}
	seq, err := d.DecodeInt64()
	if err != nil {
		return nil, err
	}
	for range n - 1 {
		if err := d.Skip(); err != nil {
			return nil, err
		}
	}
	return strconv.AppendInt(nil, seq, 10), nil
}
