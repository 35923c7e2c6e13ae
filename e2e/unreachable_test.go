package e2e

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// TestUnreachableServiceIsServiceError: through the binary under the host,
// a SignalR service that refuses connections is answered 502 ServiceError
// naming the refusal, also when the operation's time runs out during the
// back-off between retries (1 s here, against the default 0.8 s back-off);
// one that takes the request and goes quiet stays 504 ServiceTimeout.
func TestUnreachableServiceIsServiceError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close() // nothing listens there any more
	quiet := newFakeService(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })

	tests := []struct {
		name      string
		endpoint  string
		want      int
		wantCode  string
		wantParts []string
	}{
		{"refused", "http://" + refused, 502, "ServiceError", []string{"could not reach the SignalR service", "connection refused by " + refused}},
		{"took the request and went quiet", quiet.URL, 504, "ServiceTimeout", []string{"did not answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHost(t, false, "AzureSignalRConnectionString=Endpoint="+tt.endpoint+";AccessKey="+testAccessKey+";Version=1.0;",
				"AzureSignalRHttpClientTimeout=00:00:01")
			start := time.Now()
			status, _, body := call(t, h, "POST", "/api/send", http.Header{"X-Functions-Key": {h.FunctionKey}, "Content-Type": {"application/json"}},
				`{"target":"t"}`)
			if status != tt.want || testkit.ErrorCode(body) != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.want, tt.wantCode)
			}
			for _, part := range tt.wantParts {
				if !strings.Contains(body, part) {
					t.Errorf("got %s, want it to say %q", body, part)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v, want about the 1 s timeout", took)
			}
		})
	}
}
