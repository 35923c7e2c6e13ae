// Package httpserve holds what the module's two HTTP servers, the Functions
// handler and the local SignalR service, share around net/http's Server: a
// listener that caps the connections served at once, and net/http's error
// log turned into structured records.
package httpserve

import (
	"log/slog"
	"net"
	"sync"
)

// LimitListener returns a listener that serves at most max of ln's
// connections at once: with max open, Accept waits for one to close before
// it takes the next from the listen backlog, as
// golang.org/x/net/netutil.LimitListener does. Reaching the cap is logged
// once per episode, at warn; the episode ends, logged at info, when fewer
// than three quarters of max connections are open. Close also ends an
// Accept that waits, with net.ErrClosed. It panics when max is not
// positive.
func LimitListener(ln net.Listener, max int, logger *slog.Logger) net.Listener {
	if max <= 0 {
		panic("httpserve: LimitListener needs a positive max")
	}
	return &limitListener{Listener: ln, max: max, logger: logger,
		slots: make(chan struct{}, max), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	max       int
	logger    *slog.Logger
	slots     chan struct{} // one per open connection or Accept under way
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex
	open    int  // connections accepted and not yet closed
	atLimit bool // an Accept found no free slot, and the episode has not ended
}

// Accept waits for a free slot, then accepts a connection that frees it
// when closed.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.reached()
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &limitedConn{Conn: c, l: l}, nil
}

// Close closes the listener and ends an Accept that waits for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// reached starts an episode at the cap, unless one is under way.
func (l *limitListener) reached() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.atLimit {
		return
	}
	l.atLimit = true
	l.logger.Warn("connection limit reached: new connections wait until one closes",
		"limit", l.max, "addr", l.Addr().String())
}

// release frees a closed connection's slot, ending the episode when fewer
// than three quarters of max are open. The slot is freed last, so that the
// log has its line before an Accept that waits takes the slot.
func (l *limitListener) release() {
	l.mu.Lock()
	l.open--
	if l.atLimit && 4*l.open < 3*l.max {
		l.atLimit = false
		l.logger.Info("connections below the limit again",
			"open", l.open, "limit", l.max, "addr", l.Addr().String())
	}
	l.mu.Unlock()
	<-l.slots
}

// limitedConn frees its slot the first time it is closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}
