// Command baseline is the yardstick of bench/run: the smallest Go net/http
// custom handler. Like funcsignalr under the Functions host it listens on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT with the same http.Server
// settings; it answers GET / with 200 and every other request with the fixed
// JSON body in $BASELINE_BODY, so that negotiate throughput and cold start
// can be compared with a handler that does no work at all.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	body := []byte(os.Getenv("BASELINE_BODY"))
	if len(body) == 0 { // about the size of a negotiate answer
		body = []byte(`{"url":"http://127.0.0.1:8888/client/?hub=default","accessToken":"` + strings.Repeat("x", 230) + `"}`)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}
