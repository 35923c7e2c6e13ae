package bindings

import (
	"context"
	"net/http"
	"time"
)

// SetRefreshTick shortens how often the background key refresher looks at
// the key's age, for Clients built afterwards. Tests using it must not run
// in parallel with others that build Entra clients.
func SetRefreshTick(d time.Duration) (restore func()) {
	old := refreshTick
	refreshTick = d
	return func() { refreshTick = old }
}

// BuildSendRequest builds the REST request of op and, with an access key,
// authorizes it as the pipeline would: what one try of Send costs before the
// network.
func BuildSendRequest(ctx context.Context, c *Client, op *Operation) (*http.Request, error) {
	ep := c.eps[0]
	req, err := ep.newRequest(ctx, op)
	if err != nil {
		return nil, err
	}
	if ep.signer != nil {
		p := accessKeyPolicy{signer: ep.signer, now: c.now}
		if err := p.authorize(req.Raw()); err != nil {
			return nil, err
		}
	}
	return req.Raw(), nil
}

// KeyExchangeIdle reports whether no endpoint of c runs an access-key
// exchange: a failed one has been recorded once this holds.
func KeyExchangeIdle(c *Client) bool {
	for _, ep := range c.eps {
		if ep.keys == nil {
			continue
		}
		ep.keys.mu.Lock()
		idle := ep.keys.inflight == nil
		ep.keys.mu.Unlock()
		if !idle {
			return false
		}
	}
	return true
}

// CredentialCause is credentialCause: the credential named in a token
// error and its cause in one line.
func CredentialCause(err error) (credential, cause string) { return credentialCause(err) }

// CredentialHint is credentialHint: what to do about a logged cause.
func CredentialHint(cause string) string { return credentialHint(cause) }

// AccessKeyID is the kid of tokens signed with accessKey.
func AccessKeyID(accessKey string) string { return accessKeyID(accessKey) }

// MaxBatch is the most objects one send carries out.
const MaxBatch = maxBatch

// PathEscapedLen is pathEscapedLen: len(url.PathEscape(s)), counted.
func PathEscapedLen(s string) int { return pathEscapedLen(s) }

// MaxUserIDPath is the escaped length up to which Negotiate accepts a user
// id without building its REST call.
func MaxUserIDPath(c *Client) int { return c.maxUserIDPath }
