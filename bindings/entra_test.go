package bindings_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

const (
	testTenant       = "tenant1"
	testClientID     = "client-id"
	testClientSecret = "s3cret-value"
)

// fakeAuthority is a Microsoft Entra ID authority over TLS on loopback:
// OpenID discovery and client-credential tokens.
type fakeAuthority struct{ *testkit.Authority }

func newFakeAuthority(tb testing.TB) fakeAuthority {
	tb.Helper()
	return fakeAuthority{testkit.NewAuthority(tb)}
}

func (a fakeAuthority) credential(tb testing.TB) azcore.TokenCredential {
	tb.Helper()
	cred, err := azidentity.NewClientSecretCredential(testTenant, testClientID, testClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: a.URL},
			Transport: a.Client(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		tb.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

// Modes of the fake access-key endpoint.
const (
	keyOK int32 = iota
	keyForbidden
	keyHang // wait for release
)

// keyService is a SignalR service whose access-key endpoint hands out
// kid-N / temporary-key-N, N counting successful exchanges from 1.
type keyService struct {
	*fakeService
	mode    atomic.Int32
	delay   time.Duration
	release chan struct{}
	issued  atomic.Int32
}

func newKeyService(tb testing.TB, delay time.Duration) *keyService {
	tb.Helper()
	k := &keyService{delay: delay, release: make(chan struct{})}
	k.fakeService = newFakeService(tb, func(_ int, r *http.Request) answer {
		if r.URL.Path != "/api/v1/auth/accessKey" {
			return answer{status: http.StatusAccepted}
		}
		switch k.mode.Load() {
		case keyForbidden:
			return answer{status: http.StatusForbidden, header: map[string]string{"x-ms-error-code": "Error.Auth.Forbidden"}}
		case keyHang:
			select {
			case <-k.release:
			case <-r.Context().Done():
				return answer{status: http.StatusServiceUnavailable}
			}
		}
		time.Sleep(k.delay)
		n := k.issued.Add(1)
		return answer{status: http.StatusOK, body: fmt.Sprintf(`{"KeyId":"kid-%d","AccessKey":"%s"}`, n, temporaryKey(int(n)))}
	})
	return k
}

func temporaryKey(n int) string { return "temporary-key-" + strconv.Itoa(n) }

// exchanges counts requests to the access-key endpoint.
func (k *keyService) exchanges() int {
	n := 0
	for _, r := range k.requests() {
		if r.Path == "/api/v1/auth/accessKey" {
			n++
		}
	}
	return n
}

// entraClient is a Client whose endpoint is Azure's but whose server
// endpoint is the key service, as with a private endpoint.
func entraClient(tb testing.TB, ks *keyService, cred azcore.TokenCredential, now func() time.Time) *bindings.Client {
	tb.Helper()
	opts := testOptions(ks.Server)
	opts.Now = now
	conn := &settings.Connection{Endpoint: "https://x.service.signalr.net", ServerEndpoint: ks.URL, Credential: cred}
	return mustNewClient(tb, conn, "Hub", opts)
}

// checkKid verifies token with temporaryKey(n) and checks its kid.
func checkKid(tb testing.TB, token string, n int) {
	tb.Helper()
	header, _ := verifyToken(tb, token, temporaryKey(n))
	if got, want := header["kid"], "kid-"+strconv.Itoa(n); got != want {
		tb.Errorf("kid: got %v, want %v", got, want)
	}
}

func TestNegotiateEntraConcurrent(t *testing.T) {
	authority := newFakeAuthority(t)
	ks := newKeyService(t, 50*time.Millisecond)
	clock := newFakeClock()
	c := entraClient(t, ks, authority.credential(t), clock.Now)

	const callers = 1000
	infos := make([]bindings.ConnectionInfo, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { infos[i], errs[i] = c.Negotiate(context.Background(), "user-"+strconv.Itoa(i), nil) })
	}
	wg.Wait()

	if got := authority.Tokens(); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
	if got := ks.exchanges(); got != 1 {
		t.Errorf("key exchanges: got %d, want 1", got)
	}
	iat := float64(clock.Now().Unix())
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got, want := infos[i].URL, "https://x.service.signalr.net/client/?hub=hub"; got != want {
			t.Fatalf("url: got %q, want %q", got, want)
		}
		checkKid(t, infos[i].AccessToken, 1)
		_, claims := verifyToken(t, infos[i].AccessToken, temporaryKey(1))
		user := "user-" + strconv.Itoa(i)
		want := map[string]any{"aud": "https://x.service.signalr.net/client/?hub=hub", "iat": iat, "nbf": iat, "exp": iat + 3600,
			"asrs.s.uid": user, "nameid": user}
		if !reflect.DeepEqual(map[string]any(claims), want) {
			t.Fatalf("claims: got %v, want %v", claims, want)
		}
	}

	r := ks.requests()[0]
	if r.Method != "GET" || r.Query != "" {
		t.Errorf("exchange: got %s ?%s, want GET without query", r.Method, r.Query)
	}
	if got, want := r.Header.Get("Authorization"), "Bearer token-for-"+testClientID; got != want {
		t.Errorf("exchange Authorization: got %q, want %q", got, want)
	}
	form := authority.TokenForms()[0]
	if form.Get("grant_type") != "client_credentials" || form.Get("client_id") != testClientID ||
		!strings.Contains(form.Get("scope"), bindings.EntraScope) {
		t.Errorf("token request form: got %v, want client credentials for %s", form, bindings.EntraScope)
	}
}

// TestSendEntraCredential wires a real azidentity credential to REST calls:
// the raw Entra token is the bearer and it is fetched once.
func TestSendEntraCredential(t *testing.T) {
	authority := newFakeAuthority(t)
	srv := newFakeService(t, nil)
	conn := &settings.Connection{Endpoint: srv.URL, Credential: authority.credential(t)}
	c := mustNewClient(t, conn, "h", testOptions(srv.Server))
	for range 3 {
		if _, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	for _, r := range srv.requests() {
		if got, want := r.Header.Get("Authorization"), "Bearer token-for-"+testClientID; got != want {
			t.Errorf("Authorization: got %q, want %q", got, want)
		}
	}
	if got := authority.Tokens(); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
}

func TestNegotiateEntraTokenFailureAndRecovery(t *testing.T) {
	authority := newFakeAuthority(t)
	ks := newKeyService(t, 0)
	c := entraClient(t, ks, authority.credential(t), time.Now)

	authority.SetFail(true)
	_, err := c.Negotiate(context.Background(), "u", nil)
	e := asError(t, err)
	if e.Code != apierror.AuthenticationUnavailable {
		t.Fatalf("code: got %s, want %s", e.Code, apierror.AuthenticationUnavailable)
	}
	if !strings.Contains(e.Message, "Microsoft Entra ID token") || !strings.Contains(e.Message, "access-key exchange") {
		t.Errorf("message: got %q, want it to name the token step", e.Message)
	}
	for _, secret := range []string{"AADSTS", testClientSecret} {
		if strings.Contains(e.Error(), secret) {
			t.Errorf("message %q holds %q", e.Error(), secret)
		}
	}
	if got := ks.exchanges(); got != 0 {
		t.Errorf("key exchanges without a token: got %d, want 0", got)
	}

	authority.SetFail(false)
	info, err := c.Negotiate(context.Background(), "u", nil)
	if err != nil {
		t.Fatalf("after the authority recovered: %v", err)
	}
	checkKid(t, info.AccessToken, 1)
}

func TestNegotiateEntraExchangeFailureAndRecovery(t *testing.T) {
	ks := newKeyService(t, 0)
	c := entraClient(t, ks, &fake.TokenCredential{}, time.Now)

	ks.mode.Store(keyForbidden)
	_, err := c.Negotiate(context.Background(), "u", nil)
	e := asError(t, err)
	want := "access-key exchange with " + ks.URL + " failed: the service answered 403 (x-ms-error-code Error.Auth.Forbidden); the cause is in the handler's log"
	if e.Code != apierror.AuthenticationUnavailable || e.Message != want {
		t.Errorf("got %s %q, want %s %q", e.Code, e.Message, apierror.AuthenticationUnavailable, want)
	}
	if strings.Contains(e.Message, "Microsoft Entra ID token") {
		t.Errorf("message %q blames the token step", e.Message)
	}
	// A second call tries again rather than remembering the failure.
	if _, err := c.Negotiate(context.Background(), "u", nil); err == nil {
		t.Fatalf("second call while failing: got no error")
	}
	if got := ks.exchanges(); got != 2 {
		t.Errorf("exchanges: got %d, want 2", got)
	}

	ks.mode.Store(keyOK)
	info, err := c.Negotiate(context.Background(), "u", nil)
	if err != nil {
		t.Fatalf("after the service recovered: %v", err)
	}
	checkKid(t, info.AccessToken, 1)
}

func TestNegotiateEntraBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		wantIn string
	}{
		{"not JSON", answer{status: 200, body: `KeyId=k;AccessKey=secret-in-body`}, "the answer is not a JSON object"},
		{"no KeyId", answer{status: 200, body: `{"AccessKey":"secret-in-body"}`}, "the answer has no KeyId"},
		{"no AccessKey", answer{status: 200, body: `{"KeyId":"k"}`}, "the answer has no AccessKey"},
		{"server error after retries", answer{status: 500}, "the service answered 500"},
		{"unauthorized", answer{status: 401, header: map[string]string{"x-ms-error-code": "Error.Auth"}}, "the service answered 401 (x-ms-error-code Error.Auth)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, func(int, *http.Request) answer { return tt.answer })
			opts := testOptions(srv.Server)
			c := mustNewClient(t, &settings.Connection{Endpoint: srv.URL, Credential: &fake.TokenCredential{}}, "h", opts)
			_, err := c.Negotiate(context.Background(), "", nil)
			e := asError(t, err)
			if e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, tt.wantIn) ||
				!strings.Contains(e.Message, "access-key exchange") {
				t.Errorf("got %s %q, want AuthenticationUnavailable containing %q", e.Code, e.Message, tt.wantIn)
			}
			if strings.Contains(fmt.Sprint(e, e.Err), "secret-in-body") {
				t.Errorf("error %v (cause %v) holds the answer's key", e, e.Err)
			}
		})
	}
}

func TestNegotiateEntraExchangeTimeout(t *testing.T) {
	ks := newKeyService(t, 0)
	ks.mode.Store(keyHang)
	defer close(ks.release)
	opts := testOptions(ks.Server)
	opts.Timeout, opts.TryTimeout = 200*time.Millisecond, 50*time.Millisecond
	c := mustNewClient(t, &settings.Connection{Endpoint: ks.URL, Credential: &fake.TokenCredential{}}, "h", opts)
	_, err := c.Negotiate(context.Background(), "", nil)
	want := "SignalR service did not answer the access-key exchange with " + ks.URL + " within 200ms"
	if e := asError(t, err); e.Code != apierror.AuthenticationUnavailable || e.Message != want {
		t.Errorf("got %s %q, want AuthenticationUnavailable %q", e.Code, e.Message, want)
	}
}

func TestNegotiateEntraCallerGivesUp(t *testing.T) {
	ks := newKeyService(t, 0)
	ks.mode.Store(keyHang)
	c := entraClient(t, ks, &fake.TokenCredential{}, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Negotiate(ctx, "", nil)
	if e := asError(t, err); e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, "gave up waiting") {
		t.Errorf("got %s %q, want AuthenticationUnavailable saying it gave up", e.Code, e.Message)
	}
	// The exchange goes on for others and its key is used afterwards.
	ks.mode.Store(keyOK)
	close(ks.release)
	info, err := c.Negotiate(context.Background(), "", nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	checkKid(t, info.AccessToken, 1)
	if got := ks.exchanges(); got != 1 {
		t.Errorf("exchanges: got %d, want 1", got)
	}
}

func TestEntraKeyLifetime(t *testing.T) {
	ks := newKeyService(t, 0)
	clock := newFakeClock()
	c := entraClient(t, ks, &fake.TokenCredential{}, clock.Now)
	negotiate := func(t *testing.T) (string, error) {
		t.Helper()
		info, err := c.Negotiate(context.Background(), "", nil)
		return info.AccessToken, err
	}
	kidOf := func(t *testing.T, token string) string {
		t.Helper()
		tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
		if err != nil {
			t.Fatalf("parse token: %v", err)
		}
		kid, _ := tok.Header["kid"].(string)
		return kid
	}
	// negotiateWithKey negotiates, which must succeed with a token signed
	// with temporary key n.
	negotiateWithKey := func(t *testing.T, n int) {
		t.Helper()
		token, err := negotiate(t)
		if err != nil {
			t.Fatalf("negotiate: %v", err)
		}
		checkKid(t, token, n)
	}

	negotiateWithKey(t, 1)

	t.Run("held key used until 55 min", func(t *testing.T) {
		clock.Advance(54 * time.Minute)
		negotiateWithKey(t, 1)
		if got := ks.exchanges(); got != 1 {
			t.Errorf("exchanges: got %d, want 1", got)
		}
	})

	t.Run("after 55 min refresh in the background without waiting", func(t *testing.T) {
		ks.mode.Store(keyHang)
		clock.Advance(2 * time.Minute) // 56 min
		start := time.Now()
		token, err := negotiate(t)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("negotiate waited %v for the refresh", d)
		}
		checkKid(t, token, 1) // the old key, while the exchange hangs
		eventually(t, "the background exchange", func() bool { return ks.exchanges() == 2 })
		ks.mode.Store(keyOK)
		close(ks.release)
		eventually(t, "the new key", func() bool {
			token, err := negotiate(t)
			return err == nil && kidOf(t, token) == "kid-2"
		})
		negotiateWithKey(t, 2)
		if got := ks.exchanges(); got != 2 {
			t.Errorf("exchanges: got %d, want 2", got)
		}
	})

	t.Run("a failed background refresh keeps the key and waits 5 min", func(t *testing.T) {
		ks.mode.Store(keyForbidden)
		clock.Advance(60 * time.Minute) // key 2 is 60 min old
		negotiateWithKey(t, 2)
		eventually(t, "the failed refresh", func() bool { return ks.exchanges() == 3 })
		eventually(t, "the failure to be recorded", func() bool { return bindings.KeyExchangeIdle(c) })
		for range 5 {
			if _, err := negotiate(t); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Minute)
		if _, err := negotiate(t); err != nil {
			t.Fatal(err)
		}
		// negotiate starts a due refresh before it returns: none is
		// running and none has reached the service.
		if got, idle := ks.exchanges(), bindings.KeyExchangeIdle(c); got != 3 || !idle {
			t.Errorf("within 5 min of a failure: got %d exchanges (idle %v), want 3 and none running", got, idle)
		}
		clock.Advance(5 * time.Minute)
		if _, err := negotiate(t); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the retried refresh", func() bool { return ks.exchanges() == 4 })
	})

	t.Run("after 120 min the key is not used", func(t *testing.T) {
		eventually(t, "the retried refresh to fail", func() bool { return bindings.KeyExchangeIdle(c) })
		clock.Advance(60 * time.Minute) // key 2 is 126 min old
		_, err := negotiate(t)
		e := asError(t, err)
		if e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, "access-key exchange") {
			t.Errorf("got %s %q, want AuthenticationUnavailable naming the access-key exchange", e.Code, e.Message)
		}
	})

	t.Run("recovers with a new key fetched synchronously", func(t *testing.T) {
		ks.mode.Store(keyOK)
		negotiateWithKey(t, 3)
	})
}

// TestEntraBackgroundRefresher: the key is refreshed without any negotiate,
// and Close stops that. Not parallel: it shortens the refresh tick.
func TestEntraBackgroundRefresher(t *testing.T) {
	defer bindings.SetRefreshTick(2 * time.Millisecond)()
	ks := newKeyService(t, 0)
	clock := newFakeClock()
	c := entraClient(t, ks, &fake.TokenCredential{}, clock.Now)
	if _, err := c.Negotiate(context.Background(), "", nil); err != nil {
		t.Fatal(err)
	}
	// The refresher reads the clock on each tick: let it look at the fresh
	// key a few times.
	reads := clock.Reads()
	eventually(t, "three ticks of the refresher", func() bool { return clock.Reads() >= reads+3 })
	if got, idle := ks.exchanges(), bindings.KeyExchangeIdle(c); got != 1 || !idle {
		t.Errorf("before 55 min: got %d exchanges (idle %v), want 1 and none running", got, idle)
	}
	clock.Advance(55 * time.Minute)
	eventually(t, "the background refresh", func() bool { return ks.exchanges() == 2 })

	c.Close() // returns once the refresher and any exchange have ended
	clock.Advance(200 * time.Minute)
	if got := ks.exchanges(); got != 2 {
		t.Errorf("exchanges after Close: got %d, want 2", got)
	}
	_, err := c.Negotiate(context.Background(), "", nil)
	if e := asError(t, err); e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, "closed") {
		t.Errorf("negotiate after Close with an expired key: got %s %q, want AuthenticationUnavailable saying closed", e.Code, e.Message)
	}
	c.Close() // idempotent
}

// stallingCredential is an authority that never answers: each token
// request lasts until its context ends, as azidentity's retries against an
// unreachable authority do.
type stallingCredential struct{}

func (stallingCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	<-ctx.Done()
	return azcore.AccessToken{}, ctx.Err()
}

func TestEntraTokenTimeoutIsAuthenticationUnavailable(t *testing.T) {
	srv := newFakeService(t, func(int, *http.Request) answer { return answer{status: http.StatusAccepted} })
	opts := testOptions(srv.Server)
	opts.Timeout = 300 * time.Millisecond
	c := mustNewClient(t, &settings.Connection{Endpoint: srv.URL, Credential: stallingCredential{}}, "h", opts)
	_, err := c.Send(context.Background(), []bindings.Operation{{Message: &bindings.Message{Target: "t"}}})
	if e := asError(t, err); e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, "Microsoft Entra ID token") {
		t.Errorf("send error = %s: %s, want AuthenticationUnavailable naming the token step", e.Code, e.Message)
	}
	_, err = c.Negotiate(context.Background(), "", nil)
	if e := asError(t, err); e.Code != apierror.AuthenticationUnavailable || !strings.Contains(e.Message, "Microsoft Entra ID token") {
		t.Errorf("negotiate error = %s: %s, want AuthenticationUnavailable naming the token step", e.Code, e.Message)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("the service got %d requests, want none without a token", n)
	}
}
