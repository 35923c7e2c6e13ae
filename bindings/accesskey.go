package bindings

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// Lifetime rules of the temporary signing key of Microsoft Entra ID
// connections: the service SDK refreshes its key every 55 minutes
// (GetAccessKeyIntervalInMinute in Azure/azure-signalr's MicrosoftEntraAccessKey).
const (
	// keyRefreshInterval is the age at which the key is refreshed in the
	// background while it keeps being used.
	keyRefreshInterval = 55 * time.Minute
	// KeyLifetime is the age at which the key is no longer used: negotiate
	// then waits for a new one.
	KeyLifetime = 120 * time.Minute
	// keyRetryAfterFailure spaces background refreshes after one failed.
	keyRetryAfterFailure = 5 * time.Minute
)

// refreshTick is how often the background refresher looks at the key's age
// (by the injected clock). A variable so that tests can shorten it.
var refreshTick = time.Minute

// heldKey is a signing key from the access-key exchange and when it came.
type heldKey struct {
	signer  *signer
	fetched time.Time
}

// keyFetch is one access-key exchange; every caller that needs a key while
// it runs waits for it instead of starting another.
type keyFetch struct {
	done chan struct{} // closed when held or err is set
	held *heldKey
	err  error
}

// keyCache holds the temporary signing key of a Microsoft Entra ID
// connection: fetched on first use, shared by all negotiate calls, refreshed
// in the background once keyRefreshInterval old, unusable once KeyLifetime
// old. Reads of a valid key take no lock.
type keyCache struct {
	pipeline   runtime.Pipeline
	url        string // <serverEndpoint>/api/v1/auth/accessKey
	serverName string // scheme://host[:port], for messages
	timeout    time.Duration
	now        func() time.Time

	// life bounds background work: the refresher and every exchange. It is
	// the Client's lifetime, not a request's, so it is kept here.
	life   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	current atomic.Pointer[heldKey]
	diag    *diagnostics // nil in tests that build a keyCache alone

	mu          sync.Mutex
	inflight    *keyFetch // the running exchange, if any
	lastFailure time.Time // of the last failed exchange
}

func newKeyCache(p runtime.Pipeline, url, serverName string, o Options) *keyCache {
	k := &keyCache{pipeline: p, url: url, serverName: serverName, timeout: o.Timeout, now: o.Now}
	k.life, k.cancel = context.WithCancel(context.Background())
	k.wg.Add(1)
	go k.refresher(refreshTick)
	return k
}

// get returns a valid signing key, waiting for an exchange only when none is
// held. Its errors are *apierror.Error with apierror.AuthenticationUnavailable.
func (k *keyCache) get(ctx context.Context) (*signer, error) {
	now := k.now()
	if s, due := k.usable(now); s != nil {
		if due {
			k.refreshIfDue(now)
		}
		return s, nil
	}
	k.mu.Lock()
	if s, _ := k.usable(now); s != nil { // an exchange finished meanwhile
		k.mu.Unlock()
		return s, nil
	}
	f := k.inflight
	if f == nil {
		f = k.startLocked()
	}
	k.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.held.signer, nil
	case <-ctx.Done():
		return nil, apierror.Wrap(apierror.AuthenticationUnavailable, ctx.Err(),
			"gave up waiting for the access-key exchange with %s: %v", k.serverName, ctx.Err())
	}
}

// usable returns the held signer if it is younger than KeyLifetime, and
// whether it is due for refresh.
func (k *keyCache) usable(now time.Time) (s *signer, due bool) {
	held := k.current.Load()
	if held == nil {
		return nil, false
	}
	age := now.Sub(held.fetched)
	if age >= KeyLifetime {
		return nil, false
	}
	return held.signer, age >= keyRefreshInterval
}

// refreshIfDue starts a background exchange when the key is due for refresh,
// none is running and the last failure is keyRetryAfterFailure old.
func (k *keyCache) refreshIfDue(now time.Time) {
	held := k.current.Load()
	if held == nil || now.Sub(held.fetched) < keyRefreshInterval {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight == nil && (k.lastFailure.IsZero() || now.Sub(k.lastFailure) >= keyRetryAfterFailure) {
		k.startLocked()
	}
}

// startLocked starts an exchange; k.mu must be held.
func (k *keyCache) startLocked() *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	if k.life.Err() != nil {
		f.err = apierror.New(apierror.AuthenticationUnavailable, "the SignalR client is closed: no access-key exchange")
		close(f.done)
		return f
	}
	k.inflight = f
	k.wg.Add(1)
	go k.run(f)
	return f
}

func (k *keyCache) run(f *keyFetch) {
	defer k.wg.Done()
	ctx, cancel := context.WithTimeout(k.life, k.timeout)
	held, err := k.exchange(ctx)
	cancel()

	k.mu.Lock()
	if err == nil {
		held.fetched = k.now()
		k.current.Store(held)
	} else {
		k.lastFailure = k.now()
	}
	k.inflight = nil
	k.mu.Unlock()

	f.held, f.err = held, err
	close(f.done)
}

func (k *keyCache) refresher(tick time.Duration) {
	defer k.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-k.life.Done():
			return
		case <-t.C:
			k.refreshIfDue(k.now())
		}
	}
}

// close stops the refresher and any exchange and waits for them to end.
func (k *keyCache) close() {
	k.mu.Lock() // no exchange starts after this
	k.cancel()
	k.mu.Unlock()
	k.wg.Wait()
}

// accessKeyAnswer is the service's answer to the access-key exchange.
type accessKeyAnswer struct {
	KeyID     string `json:"KeyId"`
	AccessKey string `json:"AccessKey"`
}

// exchange trades a Microsoft Entra ID token for a temporary signing key:
// GET <serverEndpoint>/api/v1/auth/accessKey with the bearer token.
// Each error's message names the step that failed.
func (k *keyCache) exchange(ctx context.Context) (*heldKey, error) {
	ctx, tokens := trackTokens(ctx)
	ctx, reach := trackReach(ctx)
	req, err := runtime.NewRequest(ctx, http.MethodGet, k.url)
	if err != nil {
		return nil, apierror.Wrap(apierror.AuthenticationUnavailable, err, "access-key exchange with %s: build request", k.serverName)
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := k.pipeline.Do(req)
	if err != nil {
		// callError classifies the failure as for any call; whatever the
		// class, a failed exchange leaves negotiate without a signing key.
		err = tokens.explain(err)
		what := "the access-key exchange with " + k.serverName
		e := callError(err, what, k.timeout, reach)
		var te *tokenError
		switch {
		case errors.As(err, &te):
			k.diag.tokenFailed("token for "+what, err)
			e.Message += seeLog
		case isTimeout(err):
			if why := reach.unreached(); why != "" {
				k.diag.keyExchangeUnreachable(k.serverName, why)
			}
		case !errors.Is(err, context.Canceled):
			k.diag.keyExchangeUnreachable(k.serverName, reachReason(err))
		}
		e.Code = apierror.AuthenticationUnavailable
		return nil, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		answer := newServiceAnswerError(resp)
		k.diag.keyExchangeRefused(k.serverName, resp, answer.body)
		return nil, apierror.Wrap(apierror.AuthenticationUnavailable, answer,
			"access-key exchange with %s failed: the service answered %s"+seeLog, k.serverName, describeStatus(resp))
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil, apierror.Wrap(apierror.AuthenticationUnavailable, err, "access-key exchange with %s failed: read answer", k.serverName)
	}
	var a accessKeyAnswer
	// The answer holds a secret: no decoding error text (it may quote the
	// body) is kept.
	if json.Unmarshal(body, &a) != nil {
		return nil, apierror.New(apierror.AuthenticationUnavailable, "access-key exchange with %s failed: the answer is not a JSON object", k.serverName)
	}
	switch {
	case a.KeyID == "":
		return nil, apierror.New(apierror.AuthenticationUnavailable, "access-key exchange with %s failed: the answer has no KeyId", k.serverName)
	case a.AccessKey == "":
		return nil, apierror.New(apierror.AuthenticationUnavailable, "access-key exchange with %s failed: the answer has no AccessKey", k.serverName)
	}
	return &heldKey{signer: newSigner(a.KeyID, []byte(a.AccessKey))}, nil
}
