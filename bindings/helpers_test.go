package bindings_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// testKey is an access key for tests; like the local service's, not a secret.
const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// recorded is one request as the fake service received it.
type recorded struct {
	Method      string
	Path        string // decoded
	RawPath     string
	EscapedPath string
	Query       string
	Header      http.Header
	Body        string
	At          time.Time
}

// answer is what the fake service replies.
type answer struct {
	status int
	header map[string]string
	body   string
	hang   bool // never answer: wait for the client to give up
}

// fakeService is a SignalR service on loopback that records every request
// and answers with respond(n, r), n counting requests from 0.
type fakeService struct {
	*httptest.Server
	respond func(n int, r *http.Request) answer

	mu   sync.Mutex
	reqs []recorded
}

func newFakeService(tb testing.TB, respond func(n int, r *http.Request) answer) *fakeService {
	tb.Helper()
	f := &fakeService{respond: respond}
	if f.respond == nil {
		f.respond = func(int, *http.Request) answer { return answer{status: http.StatusAccepted} }
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.Close)
	return f
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, recorded{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, EscapedPath: r.URL.EscapedPath(),
		Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body), At: time.Now(),
	})
	f.mu.Unlock()
	a := f.respond(n, r)
	if a.hang {
		<-r.Context().Done()
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeService) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// sendOne sends op with c and returns the one request srv received for it;
// the send must succeed.
func sendOne(tb testing.TB, c *bindings.Client, srv *fakeService, op bindings.Operation) recorded {
	tb.Helper()
	n, err := c.Send(context.Background(), []bindings.Operation{op})
	if err != nil || n != 1 {
		tb.Fatalf("Send: got %d, %v, want 1, nil", n, err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		tb.Fatalf("requests: got %d, want 1", len(reqs))
	}
	return reqs[0]
}

// testOptions makes retries fast and the transport the fake's.
func testOptions(srv *httptest.Server) bindings.Options {
	return bindings.Options{Transport: srv.Client(), Timeout: 5 * time.Second, RetryDelay: time.Millisecond}
}

func mustNewClient(tb testing.TB, conn *settings.Connection, hub string, opts bindings.Options) *bindings.Client {
	tb.Helper()
	c, err := bindings.NewClient(conn, hub, opts)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// keyClient is a Client with access-key auth against srv.
func keyClient(tb testing.TB, srv *httptest.Server, hub string, opts bindings.Options) *bindings.Client {
	tb.Helper()
	return mustNewClient(tb, &settings.Connection{Endpoint: srv.URL, AccessKey: testKey}, hub, opts)
}

// verifyToken checks token's HS256 signature with key and returns its header
// and claims. Time claims are not validated here: tests assert them exactly.
func verifyToken(tb testing.TB, token string, key string) (map[string]any, jwt.MapClaims) {
	tb.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(key), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		tb.Fatalf("token %q does not verify with the key: %v", token, err)
	}
	return tok.Header, claims
}

// tokenClaims are the claims of a token for aud issued at iat (Unix
// seconds) and valid for lifetime.
func tokenClaims(aud string, iat float64, lifetime time.Duration) map[string]any {
	return map[string]any{"aud": aud, "iat": iat, "nbf": iat, "exp": iat + lifetime.Seconds()}
}

// checkAccessKeyToken verifies token with testKey and checks its header
// (HS256, JWT and the key's kid) and that its claims are exactly want.
func checkAccessKeyToken(tb testing.TB, token string, want map[string]any) {
	tb.Helper()
	header, claims := verifyToken(tb, token, testKey)
	wantHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": bindings.AccessKeyID(testKey)}
	if !reflect.DeepEqual(header, wantHeader) {
		tb.Errorf("header: got %v, want %v", header, wantHeader)
	}
	if !reflect.DeepEqual(map[string]any(claims), want) {
		tb.Errorf("claims: got %v, want %v", claims, want)
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(tb testing.TB, h http.Header) string {
	tb.Helper()
	v := h.Get("Authorization")
	tok, ok := strings.CutPrefix(v, "Bearer ")
	if !ok {
		tb.Fatalf("Authorization = %q, want Bearer <token>", v)
	}
	return tok
}

// asError returns err as *apierror.Error or fails.
func asError(tb testing.TB, err error) *apierror.Error {
	tb.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T), want *apierror.Error", err, err)
	}
	return e
}

// fakeClock is an injected clock that moves only when told.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	reads int
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.now
}

// Reads tells how many times Now was called.
func (c *fakeClock) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// eventually polls cond until it holds, failing the test after 5 s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testkit.Eventually(tb, 5*time.Second, what, cond)
}
