package localservice

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// wsSink writes frames as WebSocket text messages, or binary messages once
// the client chose the MessagePack protocol (its handshake response
// included).
type wsSink struct {
	ws *websocket.Conn
	c  *conn
}

func (k wsSink) write(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if k.c.binary.Load() {
		typ = websocket.MessageBinary
	}
	return k.ws.Write(ctx, typ, p)
}

// serveWebSocket runs c over a WebSocket: this request writes, a second
// goroutine reads, until the connection closes.
func (s *Service) serveWebSocket(w http.ResponseWriter, r *http.Request, c *conn) {
	if _, e := c.attach(transportWebSockets); e != nil {
		writeError(w, r, e)
		return
	}
	defer s.wg.Done()
	defer c.cancel()
	// Any origin may connect, as with the service; the token is the guard.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		c.shutdown(nil, false, "WebSocket upgrade failed")
		return
	}
	ws.SetReadLimit(maxMessageSize)
	stop := context.AfterFunc(c.ctx, func() { ws.CloseNow() })
	defer stop()

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			_, p, err := ws.Read(c.ctx)
			if err != nil {
				c.shutdown(nil, false, "client disconnected")
				return
			}
			if !c.receive(p) {
				return
			}
		}
	}()
	if c.writeLoop(wsSink{ws, c}) {
		ws.Close(websocket.StatusNormalClosure, "")
	} else {
		ws.CloseNow()
	}
	c.shutdown(nil, false, "transport closed")
	c.cancel()
	<-readDone
}
