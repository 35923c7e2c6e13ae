package bindings

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"time"
)

// maxBatch is the most objects one send carries out: each is one REST call
// (one or more billed messages), made one after the other.
const maxBatch = 1000

// tokenLength is the length of the token s.sign returns for aud at now
// without user or claims: the REST tokens of access-key auth.
func (s *signer) tokenLength(aud string, now time.Time, lifetime time.Duration) int {
	var stack [maxPayloadOnStack]byte
	p := appendPayload(stack[:0], aud, now, lifetime, "", nil)
	return len(s.header) + b64.EncodedLen(len(p)) + 1 + b64.EncodedLen(sha256.Size)
}

// restTokenLength is the length of the access token that authorises the
// REST call r at e, or 0 when that length does not depend on the call:
// Microsoft Entra ID tokens are issued for the service, while access-key
// tokens have the request URL, escaped and without its query, as aud.
func (e *endpoint) restTokenLength(r *route, now time.Time) int {
	if e.signer == nil {
		return 0
	}
	u := e.requestURL(r)
	return e.signer.tokenLength(restAudience(&u), now, defaultTokenLifetime)
}

// checkReach returns why the REST call of op could not be authorised at
// some endpoint, or "": the service refuses access tokens over
// MaxTokenLength characters, and an id goes into the token's audience three
// times over when every byte of it needs escaping.
func (c *Client) checkReach(op *Operation) string {
	r := routeOf(op)
	now := c.now()
	for _, e := range c.eps {
		if n := e.restTokenLength(&r, now); n > MaxTokenLength {
			return fmt.Sprintf("%s too long to reach: the access token of its REST call, whose audience holds the escaped "+
				"request path, would be %d characters long; the service accepts at most %d", routedIDs(op), n, MaxTokenLength)
		}
	}
	return ""
}

// checkUserReach returns why no send could reach userID at some endpoint,
// or "": the shortest call naming a user, POST /users/{userId}/:send, would
// need an access token over MaxTokenLength characters.
func (c *Client) checkUserReach(userID string) string {
	if userID == "" {
		return ""
	}
	op := Operation{Message: &Message{UserID: userID}}
	r := routeOf(&op)
	now := c.now()
	for _, e := range c.eps {
		if n := e.restTokenLength(&r, now); n > MaxTokenLength {
			return fmt.Sprintf("user id is too long: a send to this user would need a REST access token of %d characters "+
				"(its audience holds the escaped user id); the service accepts at most %d", n, MaxTokenLength)
		}
	}
	return ""
}

// routedIDs names the ids in the REST path of a validated op, with the verb.
func routedIDs(op *Operation) string {
	if m := op.Message; m != nil {
		switch {
		case m.ConnectionID != "":
			return "connectionId is"
		case m.UserID != "":
			return "userId is"
		default:
			return "groupName is"
		}
	}
	g := op.GroupAction
	switch {
	case canonicalAction(g.Action) == ActionRemoveAll && g.ConnectionID != "":
		return "connectionId is"
	case canonicalAction(g.Action) == ActionRemoveAll:
		return "userId is"
	case g.ConnectionID != "":
		return "groupName and connectionId are"
	default:
		return "userId and groupName are"
	}
}

// errorCodePattern is what an x-ms-error-code looks like
// (Error.Connection.NotExisted, Warning.Group.NotExisted, …). Anything else
// in that header is not echoed: a broken or hostile service could put
// anything there.
var errorCodePattern = regexp.MustCompile(`^[A-Za-z0-9.]{1,64}$`)

// serviceErrorCode is the response's x-ms-error-code when it looks like an
// error code, else "".
func serviceErrorCode(h interface{ Get(string) string }) string {
	if code := h.Get(headerErrorCode); errorCodePattern.MatchString(code) {
		return code
	}
	return ""
}
