package localservice

import (
	"net/http"
	"time"
)

// Long polling: GET polls for what the service sends (the first poll answers
// at once, to open the transport), POST sends, DELETE closes. A poll answers
// 200 with messages, 200 empty when nothing came in time, and 204 once the
// connection is closed.

// servePoll serves one long poll, r from o.
func (s *Service) servePoll(w http.ResponseWriter, r *http.Request, c *conn, o clientOrigin) {
	first, e := c.attach(transportLongPolling, o)
	if e != nil {
		writeError(w, r, e)
		return
	}
	defer s.wg.Done()
	c.pmu.Lock()
	if c.polling {
		c.pmu.Unlock()
		writeError(w, r, errConflict("another poll is already active for this connection"))
		return
	}
	c.polling = true
	if c.idle != nil {
		c.idle.Stop()
	}
	delivered := c.delivered
	c.pmu.Unlock()
	defer func() {
		c.pmu.Lock()
		c.polling = false
		c.idle = time.AfterFunc(s.pollIdleTimeout, c.pollIdle)
		c.pmu.Unlock()
	}()

	// The server's write timeout would cut a poll that waits for messages.
	liftWriteDeadline(w, s.pollTimeout+s.writeTimeout)
	w.Header().Set("Cache-Control", "no-cache")
	if first {
		w.WriteHeader(http.StatusOK)
		return
	}
	if delivered {
		c.forget()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	timer := time.NewTimer(s.pollTimeout)
	defer timer.Stop()
	select {
	case <-c.held:
	case <-timer.C:
		w.WriteHeader(http.StatusOK)
		return
	case <-r.Context().Done():
		return
	}
	var batch []byte
	var p []byte
	last := false
	select {
	case <-c.out.ready:
		f, _ := c.out.pop()
		p, last = c.next(f, &batch)
	case <-c.done:
		p, last = c.pollRest(), true
	case <-timer.C:
	case <-r.Context().Done():
		return
	case <-c.ctx.Done():
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if last {
		c.pmu.Lock()
		c.delivered = true
		c.pmu.Unlock()
	}
	if len(p) == 0 {
		if last {
			c.forget()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(p)
}

// pollRest is what a poll delivers once c is closed: what is queued up to
// the last frame when the close was graceful, else the close message.
func (c *conn) pollRest() []byte {
	if !c.graceful.Load() {
		return c.closeFrame
	}
	var b []byte
	for {
		select {
		case <-c.out.ready:
			f, _ := c.out.pop()
			b = append(b, f.data...)
			if f.last {
				return b
			}
		case <-c.ctx.Done():
			return b
		}
	}
}

// pollIdle ends a long-polling connection whose client stopped polling.
func (c *conn) pollIdle() {
	c.pmu.Lock()
	polling := c.polling
	c.pmu.Unlock()
	if polling {
		return
	}
	c.shutdown(nil, false, "long-polling client stopped polling")
	c.forget()
	c.cancel()
}

// serveDelete serves DELETE /client/?id=T, which ends a long-polling
// connection.
func (s *Service) serveDelete(w http.ResponseWriter, r *http.Request, c *conn) {
	s.mu.RLock()
	transport := c.transport
	s.mu.RUnlock()
	if transport != transportLongPolling {
		writeError(w, r, errBadRequest("cannot terminate this connection using the DELETE endpoint"))
		return
	}
	c.shutdown(nil, false, "client closed")
	c.forget()
	c.cancel()
	w.WriteHeader(http.StatusAccepted)
}
