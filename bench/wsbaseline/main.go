// Command wsbaseline holds idle WebSocket connections with
// github.com/coder/websocket (the library of the local SignalR service) and
// nothing else: one goroutine per connection blocked in Read, the least a Go
// WebSocket server holds. bench/run compares the memory the local service
// needs per idle client with it. It listens on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT, answers GET / with 200 and
// accepts WebSockets at /ws.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
)

func main() {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
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
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}
