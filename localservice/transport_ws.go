package localservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

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

// serveWebSocket runs c, attached by serveStream, over a WebSocket: one
// goroutine reads what the client sends, another writes to it, until the
// connection closes; then finish is called. It returns as soon as they run:
// the request's goroutine ends, and with it the stack that net/http's
// request handling and the upgrade grew (to 16 KiB with Go 1.26 on amd64)
// and the request, which every idle connection would otherwise hold for as
// long as its client stays connected.
func (s *Service) serveWebSocket(w http.ResponseWriter, r *http.Request, c *conn, finish func()) {
	// Any origin may connect, as with the service; the token is the guard.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		c.shutdown(nil, false, "WebSocket upgrade failed")
		finish()
		return
	}
	// No limit on a WebSocket message: what a client sends is read in
	// chunks and the hub protocol's reader bounds the message it holds,
	// so that a message over the limit gets a SignalR close message, as
	// with ASP.NET Core, whichever way it is split into WebSocket messages.
	ws.SetReadLimit(-1)
	stop := context.AfterFunc(c.ctx, func() { ws.CloseNow() })

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if err := c.receiveMessage(ws); err != nil {
				if !errors.Is(err, errConnClosed) {
					c.end(nil, wsCloseError(err), false, "client disconnected")
				}
				return
			}
		}
	}()
	go func() {
		defer finish()
		defer stop()
		if c.writeLoop(wsSink{ws, c}) {
			ws.Close(websocket.StatusNormalClosure, "")
		} else {
			ws.CloseNow()
		}
		c.shutdown(nil, false, "transport closed")
		c.cancel()
		<-readDone
	}()
}

// readChunk is how much of a WebSocket message is read at a time.
const readChunk = 16 << 10

// readBuffers holds the buffers of WebSocket reads, taken only while a
// message is being read, so that idle connections hold none.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// errConnClosed ends the read loop of a connection that receive closed.
var errConnClosed = errors.New("connection closed")

// receiveMessage reads the next WebSocket message in chunks and hands each
// to c.receive.
func (c *conn) receiveMessage(ws *websocket.Conn) error {
	_, r, err := ws.Reader(c.ctx)
	if err != nil {
		return err
	}
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	for {
		n, err := r.Read(*bp)
		// receive's readers may hand out slices of what they are given:
		// each gets its own copy, as ws.Read would allocate one.
		if n > 0 && !c.receive(bytes.Clone((*bp)[:n])) {
			return errConnClosed
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// wsCloseError is the error a WebSocket read failure ends the connection
// with: none for a normal close, else what .NET reports for it.
func wsCloseError(err error) string {
	switch st := websocket.CloseStatus(err); st {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return ""
	case -1:
		return "The remote party closed the WebSocket connection without completing the close handshake."
	default:
		return fmt.Sprintf("The WebSocket connection was closed with status %d.", st)
	}
}
