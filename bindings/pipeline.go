package bindings

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

const (
	// apiVersion is the data-plane REST API version of every call
	// (https://learn.microsoft.com/rest/api/signalr/).
	apiVersion = "2022-06-01"

	// EntraScope is the Microsoft Entra ID scope of tokens for the service.
	EntraScope = "https://signalr.azure.com/.default"

	// MaxRetries is how many times a failed call is retried.
	MaxRetries = 3

	// MaxTryTimeout caps each try of a call, so that a stuck try leaves time
	// for retries within AzureSignalRHttpClientTimeout.
	MaxTryTimeout = 10 * time.Second

	// Defaults of Options.
	DefaultTimeout    = 30 * time.Second
	DefaultRetryDelay = 800 * time.Millisecond

	headerErrorCode = "x-ms-error-code"
	moduleName      = "github.com/funcsignalr/funcsignalr/bindings"
	moduleVersion   = "v1.0.0"
)

// retryStatusCodes are the answers worth another try: azcore's defaults
// (408, 429, 500, 502, 503, 504).
var retryStatusCodes = []int{
	http.StatusRequestTimeout,      // 408
	http.StatusTooManyRequests,     // 429
	http.StatusInternalServerError, // 500
	http.StatusBadGateway,          // 502
	http.StatusServiceUnavailable,  // 503
	http.StatusGatewayTimeout,      // 504
}

// defaultTransport is the pooled client shared by every Client that gets no
// Options.Transport: all REST calls to one service reuse its connections.
var defaultTransport = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}}
})

// newPipeline builds the azcore pipeline of every outbound call: retries with
// exponential back-off honouring Retry-After, a timeout per try, and auth
// applied on every try. Telemetry is off; azcore's logging policy only writes
// when an azcore log listener is set, and redacts Authorization.
func newPipeline(o Options, auth policy.Policy) runtime.Pipeline {
	return runtime.NewPipeline(moduleName, moduleVersion,
		runtime.PipelineOptions{PerRetry: []policy.Policy{auth, reachPolicy{}}},
		&policy.ClientOptions{
			Transport: o.Transport,
			Retry: policy.RetryOptions{
				MaxRetries:    MaxRetries,
				TryTimeout:    o.TryTimeout,
				RetryDelay:    o.RetryDelay,
				MaxRetryDelay: o.Timeout, // a longer Retry-After can't be waited for: answer the error
				StatusCodes:   retryStatusCodes,
			},
			Telemetry: policy.TelemetryOptions{Disabled: true},
		})
}

// accessKeyPolicy authorizes each try with a fresh HS256 JWT whose aud is the
// request URL without its query (scheme://host[:port]/escaped-path), as the
// service's current SDK signs REST calls.
type accessKeyPolicy struct {
	signer *signer
	now    func() time.Time
}

// Do implements policy.Policy.
func (p *accessKeyPolicy) Do(req *policy.Request) (*http.Response, error) {
	if err := p.authorize(req.Raw()); err != nil {
		return nil, nonRetriable{err} // signing again would fail again
	}
	return req.Next()
}

// nonRetriable marks an error that azcore's retry policy must not retry.
type nonRetriable struct{ error }

// NonRetriable is azcore's marker method (errorinfo.NonRetriable).
func (nonRetriable) NonRetriable()   {}
func (e nonRetriable) Unwrap() error { return e.error }

func (p *accessKeyPolicy) authorize(r *http.Request) error {
	header, err := p.signer.sign("Bearer ", restAudience(r.URL), p.now(), defaultTokenLifetime, "", nil)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", header)
	return nil
}

// restAudience is the aud of a REST token for a request to u.
func restAudience(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// entraCredential marks its credential's failures as *tokenError so that a
// failed token is told apart from a failed call.
type entraCredential struct{ cred azcore.TokenCredential }

// GetToken implements azcore.TokenCredential.
func (c entraCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tk, err := c.cred.GetToken(ctx, o)
	if t, ok := ctx.Value(tokenTrackerKey{}).(*tokenTracker); ok {
		t.record(err)
	}
	if err != nil {
		return azcore.AccessToken{}, &tokenError{err}
	}
	return tk, nil
}

// tokenTracker remembers whether the last token request of one call
// failed. azcore's retry policy answers a call whose deadline passed with
// the context's error, which would hide that the credential, not the
// service, used the time up (an unreachable authority is retried by
// azidentity until the deadline).
type tokenTracker struct {
	mu   sync.Mutex
	last error
}

type tokenTrackerKey struct{}

// trackTokens returns a context whose token requests t records.
func trackTokens(ctx context.Context) (context.Context, *tokenTracker) {
	t := &tokenTracker{}
	return context.WithValue(ctx, tokenTrackerKey{}, t), t
}

func (t *tokenTracker) record(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = err
}

// explain returns err as a *tokenError when the call's last token request
// failed, so the caller is told which step failed.
func (t *tokenTracker) explain(err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var te *tokenError
	if t.last == nil || errors.As(err, &te) {
		return err
	}
	return &tokenError{errors.Join(t.last, err)}
}

// newEntraPolicy authorizes each try with a token for EntraScope. http is
// allowed so that a local or test service can stand in for Azure.
func newEntraPolicy(cred azcore.TokenCredential) policy.Policy {
	return runtime.NewBearerTokenPolicy(entraCredential{cred}, []string{EntraScope},
		&policy.BearerTokenOptions{InsecureAllowCredentialWithHTTP: true})
}
