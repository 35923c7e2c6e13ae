package bindings

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"net/url"
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

// userRoute is the shortest REST call naming userID:
// POST /users/{userId}/:send.
func userRoute(userID string) route {
	r := route{method: http.MethodPost}
	r.lit("users")
	r.id(userID)
	r.lit(":send")
	return r
}

// maxUserIDPath is how many bytes an escaped user id may take in the
// request path of userRoute at e while its access token stays within
// MaxTokenLength; math.MaxInt with Microsoft Entra ID. An escaped id is
// ASCII without quotes or backslashes, so it takes as many bytes in the
// token's JSON payload. The bound errs low: the token's iat, nbf and exp
// are counted at their widest (20 digits each), so that an id near it is
// left to the exact check.
func (e *endpoint) maxUserIDPath() int {
	if e.signer == nil {
		return math.MaxInt
	}
	const widestTime = len("-9223372036854775808")
	r := userRoute("")
	u := e.requestURL(&r)
	// At time zero with a zero lifetime, each of the three times is one digit.
	var stack [maxPayloadOnStack]byte
	payload := len(appendPayload(stack[:0], restAudience(&u), time.Unix(0, 0), 0, "", nil)) + 3*(widestTime-1)
	budget := MaxTokenLength - len(e.signer.header) - 1 - b64.EncodedLen(sha256.Size) // for the encoded payload
	// b64 has no padding: DecodedLen(budget) is the longest payload whose
	// encoding fits budget.
	return max(b64.DecodedLen(budget)-payload, 0)
}

// unescapedInPath marks the bytes url.PathEscape keeps as they are.
var unescapedInPath = func() (t [256]bool) {
	for c := range t {
		s := string([]byte{byte(c)})
		t[c] = url.PathEscape(s) == s
	}
	return t
}()

// pathEscapedLen is len(url.PathEscape(s)), counted without building it.
func pathEscapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !unescapedInPath[s[i]] {
			n += 2
		}
	}
	return n
}

// tokenOverLimit is the length of the longest access token the REST call
// r needs at some endpoint when that is over MaxTokenLength, else 0: the
// service refuses longer tokens, and an id goes into the token's audience
// three times over when every byte of it needs escaping.
func (c *Client) tokenOverLimit(r *route) int {
	now := c.now()
	longest := 0
	for _, e := range c.eps {
		if n := e.restTokenLength(r, now); n > MaxTokenLength {
			longest = max(longest, n)
		}
	}
	return longest
}

// checkReach returns why the REST call of op could not be authorised at
// some endpoint, or "".
func (c *Client) checkReach(op *Operation) string {
	r := routeOf(op)
	if n := c.tokenOverLimit(&r); n > 0 {
		return fmt.Sprintf("%s too long to reach: the access token of its REST call, whose audience holds the escaped "+
			"request path, would be %d characters long; the service accepts at most %d", routedIDs(op), n, MaxTokenLength)
	}
	return ""
}

// checkUserReach returns why no send could reach userID at some endpoint,
// or "": the shortest call naming a user, POST /users/{userId}/:send, would
// need an access token over MaxTokenLength characters. An id whose escaped
// form fits c.maxUserIDPath (each byte escapes to at most three) is
// accepted without building its call.
func (c *Client) checkUserReach(userID string) string {
	if len(userID) <= c.maxUserIDPath/3 || pathEscapedLen(userID) <= c.maxUserIDPath {
		return ""
	}
	r := userRoute(userID)
	if n := c.tokenOverLimit(&r); n > 0 {
		return fmt.Sprintf("user id is too long: a send to this user would need a REST access token of %d characters "+
			"(its audience holds the escaped user id); the service accepts at most %d", n, MaxTokenLength)
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
