package localservice

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// sseSink writes frames as Server-Sent Events: one "data:" line per line of
// the frame, then a blank line.
type sseSink struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

func (k *sseSink) write(ctx context.Context, p []byte) error {
	if d, ok := ctx.Deadline(); ok {
		k.rc.SetWriteDeadline(d)
	}
	// A cancelled context interrupts a write blocked on a client that does
	// not read.
	stop := context.AfterFunc(ctx, func() { k.rc.SetWriteDeadline(time.Now()) })
	defer stop()
	b := k.buf[:0]
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		b = append(b, "data: "...)
		b = append(b, bytes.TrimSuffix(line, []byte("\r"))...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	k.buf = b
	if _, err := k.w.Write(b); err != nil {
		return err
	}
	return k.rc.Flush()
}

// serveSSE runs c, attached by serveStream, over Server-Sent Events: this
// request streams what the service sends; the client sends with POST to the
// same URL.
func (s *Service) serveSSE(w http.ResponseWriter, r *http.Request, c *conn, finish func()) {
	defer finish()
	// The stream outlives the server's write timeout: each write sets its
	// own deadline instead (sseSink).
	liftWriteDeadline(w, 0)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// A comment first, as ASP.NET Core does, so that every EventSource
	// reports the stream open at once.
	if _, err := io.WriteString(w, ":\r\n"); err != nil || rc.Flush() != nil {
		c.shutdown(nil, false, "client disconnected")
		return
	}
	stop := context.AfterFunc(r.Context(), func() { c.shutdown(nil, false, "client disconnected") })
	defer stop()
	c.writeLoop(&sseSink{w: w, rc: rc})
	c.shutdown(nil, false, "transport closed")
}

// serveSend serves POST /client/?id=T: data a Server-Sent Events or
// long-polling client sends.
func (s *Service) serveSend(w http.ResponseWriter, r *http.Request, c *conn) {
	s.mu.RLock()
	transport, closed := c.transport, c.closed
	s.mu.RUnlock()
	if transport == transportNone {
		writeError(w, r, errBadRequest("the connection has no transport yet: open the event stream or poll first"))
		return
	}
	if transport == transportWebSockets {
		w.Header().Set("Allow", "GET")
		writeError(w, r, &apiError{http.StatusMethodNotAllowed, "Error.MethodNotAllowed", "POST requests are not allowed for WebSocket connections"})
		return
	}
	if closed {
		writeError(w, r, errNotFound("the connection is closed"))
		return
	}
	// One send at a time, its body read only once it is its turn: a client
	// whose invocations wait on the upstream holds one body in memory, not
	// one per request it keeps sending.
	select {
	case c.sending <- struct{}{}:
		defer func() { <-c.sending }()
	case <-c.done:
		writeError(w, r, errNotFound("the connection is closed"))
		return
	case <-r.Context().Done():
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.maxReceive)+1))
	if err != nil {
		writeError(w, r, errBadRequest("cannot read the request body"))
		return
	}
	if len(body) > s.maxReceive {
		c.tooLarge()
		writeError(w, r, &apiError{http.StatusRequestEntityTooLarge, "Error.PayloadTooLarge", fmt.Sprintf("the message is larger than %d bytes", s.maxReceive)})
		return
	}
	c.receive(body)
	w.WriteHeader(http.StatusOK)
}
