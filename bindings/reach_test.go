package bindings_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

// TestSendServiceNotReached: a service that no try could connect to is a
// ServiceError saying why (refused, DNS, TLS, no connection in time), also
// when the time runs out during the back-off between retries; a service
// that took the request and went quiet stays a ServiceTimeout.
func TestSendServiceNotReached(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	refusedAddr := closed.Listener.Addr().String()

	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	hung := newFakeService(t, func(int, *http.Request) answer { return answer{hang: true} })

	dialing := func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
		return &http.Client{Transport: &http.Transport{DialContext: dial}}
	}
	tests := []struct {
		name       string
		endpoint   string
		transport  *http.Client
		timeout    time.Duration
		retryDelay time.Duration
		wantCode   string
		wantParts  []string
	}{
		{name: "refused, retries run out", endpoint: "http://" + refusedAddr, transport: &http.Client{},
			timeout: 5 * time.Second, retryDelay: time.Millisecond, wantCode: apierror.ServiceError,
			wantParts: []string{"could not reach the SignalR service for POST /api/hubs/h/:send: connection refused by " + refusedAddr}},
		{name: "refused, time runs out between retries", endpoint: "http://" + refusedAddr, transport: &http.Client{},
			// The back-off (5 s) outlasts the timeout, so the deadline always
			// falls between tries, never during a second dial.
			timeout: 300 * time.Millisecond, retryDelay: 5 * time.Second, wantCode: apierror.ServiceError,
			wantParts: []string{"could not reach the SignalR service for POST /api/hubs/h/:send within 300ms: connection refused by " + refusedAddr}},
		{name: "DNS", endpoint: "https://nowhere.service.signalr.net",
			transport: dialing(func(context.Context, string, string) (net.Conn, error) {
				return nil, &net.DNSError{Err: "no such host", Name: "nowhere.service.signalr.net", IsNotFound: true}
			}),
			timeout: 5 * time.Second, retryDelay: time.Millisecond, wantCode: apierror.ServiceError,
			wantParts: []string{"DNS lookup of nowhere.service.signalr.net failed: no such host"}},
		{name: "TLS", endpoint: tlsSrv.URL, transport: &http.Client{Transport: &http.Transport{}}, // trusts the system roots only
			timeout: 5 * time.Second, retryDelay: time.Millisecond, wantCode: apierror.ServiceError,
			wantParts: []string{"TLS handshake failed: x509: certificate signed by unknown authority"}},
		{name: "no connection in time", endpoint: "https://slow.service.signalr.net",
			transport: dialing(func(ctx context.Context, _, _ string) (net.Conn, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}),
			timeout: 300 * time.Millisecond, retryDelay: time.Millisecond, wantCode: apierror.ServiceError,
			wantParts: []string{"could not reach the SignalR service for POST /api/hubs/h/:send within 300ms: no connection in time"}},
		{name: "connected and quiet", endpoint: hung.URL, transport: hung.Client(),
			timeout: 300 * time.Millisecond, retryDelay: time.Millisecond, wantCode: apierror.ServiceTimeout,
			wantParts: []string{"SignalR service did not answer POST /api/hubs/h/:send within 300ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := bindings.Options{Transport: tt.transport, Timeout: tt.timeout, RetryDelay: tt.retryDelay}
			c := mustNewClient(t, &settings.Connection{Endpoint: tt.endpoint, AccessKey: testKey}, "h", opts)
			n, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
			e := asError(t, err)
			if n != 0 || e.Code != tt.wantCode {
				t.Fatalf("got %d, %s %q, want 0, %s", n, e.Code, e.Message, tt.wantCode)
			}
			for _, part := range tt.wantParts {
				if !strings.Contains(e.Message, part) {
					t.Errorf("got message %q, want it to contain %q", e.Message, part)
				}
			}
			if strings.Contains(e.Message, "api-version") {
				t.Errorf("message %q repeats the request URL", e.Message)
			}
		})
	}
}
