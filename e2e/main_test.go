package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/funchost"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// appRoot is the deployed layout (binary, host.json, function folders)
// built once for every test.
var appRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "funcsignalr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appRoot, err = funchost.Build("..", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startHost starts the handler under the fake Functions host with the
// given app settings; the embedded local service, if used, gets a free port.
func startHost(tb testing.TB, payloadMode bool, settings ...string) *funchost.Host {
	tb.Helper()
	env := append([]string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0", "FUNCSIGNALR_LOG_LEVEL=debug"}, settings...)
	h, err := funchost.Start(context.Background(), appRoot, funchost.Options{Env: env, PayloadMode: payloadMode})
	if err != nil {
		tb.Fatalf("start host: %v", err)
	}
	tb.Cleanup(h.Stop)
	return h
}

// call sends one request to the host's public URL.
func call(tb testing.TB, h *funchost.Host, method, path string, header http.Header, body string) (int, http.Header, string) {
	tb.Helper()
	return testkit.Do(tb, method, h.URL+path, header, strings.NewReader(body))
}

// recorded is one request a fake service received.
type recorded struct {
	Method, Path, RawQuery, Auth string
	Body                         string
}

// fakeService is a stand-in for Azure SignalR Service's REST API: it
// records every request and answers with respond.
type fakeService struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

func newFakeService(tb testing.TB, respond http.HandlerFunc) *fakeService {
	tb.Helper()
	f := &fakeService{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		if r.ContentLength > 0 {
			r.Body.Read(body)
		}
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(body)})
		f.mu.Unlock()
		respond(w, r)
	}))
	tb.Cleanup(f.Close)
	return f
}

func (f *fakeService) Requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// waitFor polls cond until it holds, failing the test after timeout.
var waitFor = testkit.Eventually
