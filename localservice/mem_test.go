package localservice

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// idleConns is how many connections BenchmarkIdleConnections opens.
const idleConns = 1000

// BenchmarkIdleConnections measures the memory of idle WebSocket
// connections, clients and server in this one process: HeapInuse and
// StackInuse growth per connection once idleConns are open, through
// negotiate and the handshake. "bare" is the same number of WebSockets on a
// server that only accepts and reads (as bench/wsbaseline), so the
// difference between the two is what the service adds per connection.
//
//	go test -run '^$' -bench IdleConnections -benchtime 1x ./localservice
func BenchmarkIdleConnections(b *testing.B) {
	b.Run("service", func(b *testing.B) {
		for range b.N {
			svc := New(Options{})
			srv := httptest.NewServer(svc)
			e := &testEnv{tb: b, svc: svc, srv: srv, base: srv.URL}
			measureIdle(b, func() *websocket.Conn {
				nr := e.negotiate("chat", "u")
				ws, status, err := e.tryDial("chat", nr.ConnectionToken, e.clientToken("chat", "u"))
				if err != nil {
					b.Fatalf("dial: %v (status %d)", err, status)
				}
				(&wsClient{tb: b, ws: ws}).handshake(`{"protocol":"json","version":1}`)
				return ws
			})
			svc.Close()
			srv.Close()
		}
	})
	b.Run("bare", func(b *testing.B) {
		for range b.N {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer ws.CloseNow()
				for {
					if _, _, err := ws.Read(context.Background()); err != nil {
						return
					}
				}
			}))
			url := "ws" + strings.TrimPrefix(srv.URL, "http")
			measureIdle(b, func() *websocket.Conn {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				ws, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				return ws
			})
			srv.Close()
		}
	})
}

// measureIdle opens idleConns connections with dial and reports the heap and
// stack growth per connection, then closes them.
func measureIdle(b *testing.B, dial func() *websocket.Conn) {
	b.Helper()
	dial().CloseNow() // warm up pools and lazily built state
	time.Sleep(100 * time.Millisecond)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*websocket.Conn, idleConns)
	for i := range conns {
		conns[i] = dial()
	}
	time.Sleep(time.Second) // let every writer settle idle
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/idleConns, "heap-B/conn")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/idleConns, "stack-B/conn")
	for _, ws := range conns {
		ws.CloseNow()
	}
}

// TestWebSocketRequestReturns checks that the handler of a WebSocket request
// returns once the connection is upgraded, while the connection lives on in
// goroutines of its own: the request's goroutine, whose stack net/http and
// the upgrade have grown, and the request itself are not held for as long
// as the client stays connected.
func TestWebSocketRequestReturns(t *testing.T) {
	svc := New(Options{})
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.ServeHTTP(w, r)
		if r.Header.Get("Upgrade") != "" {
			returned <- struct{}{}
		}
	}))
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	e := &testEnv{tb: t, svc: svc, srv: srv, base: srv.URL}
	c := e.dialWS("chat", "u")
	select {
	case <-returned:
	case <-time.After(testTimeout):
		t.Fatalf("the WebSocket request's handler still runs after %v, want it returned once the connection is upgraded", testTimeout)
	}
	// The connection goes on in both directions.
	e.send("chat", "", "hello", 1)
	c.expect("hello", "[1]")
	c.write(`{"type":6}` + "\x1e")
	c.write(`{"type":7}` + "\x1e")
	c.expectClosed()
	waitFor(t, "the connection to leave its hub", func() bool {
		svc.mu.RLock()
		defer svc.mu.RUnlock()
		h := svc.hubs["chat"]
		return h == nil || len(h.conns) == 0
	})
}
