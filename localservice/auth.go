package localservice

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access tokens, as Azure SignalR Service checks them: HS256 signed with the
// UTF-8 bytes of the access key, exp required, aud naming this service.

const (
	// maxTokenLength is the service SDK's limit (AuthUtility.MaxTokenLength).
	maxTokenLength = 4096
	// tokenLeeway absorbs clock skew when checking exp and nbf.
	tokenLeeway = 5 * time.Second
)

// claimString is a claim that may be a string or an array of strings (the
// first one counts), as .NET writes a claim type that appears more than once.
type claimString string

// UnmarshalJSON implements json.Unmarshaler.
func (c *claimString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = claimString(s)
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return errors.New("claim is neither a string nor an array of strings")
	}
	if len(a) > 0 {
		*c = claimString(a[0])
	}
	return nil
}

// tokenClaims are the claims the service reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	UID    claimString `json:"asrs.s.uid,omitempty"`
	NameID claimString `json:"nameid,omitempty"`

	payload string // the token's claims segment (base64url JSON)
}

// userID is the connection's user: asrs.s.uid, else nameid, else sub.
func (c *tokenClaims) userID() string {
	switch {
	case c.UID != "":
		return string(c.UID)
	case c.NameID != "":
		return string(c.NameID)
	}
	return c.Subject
}

// authError is why a request's token was refused. Its text never contains
// the token.
type authError struct{ reason string }

func (e *authError) Error() string { return e.reason }

// requestToken is the bearer token of r: the Authorization header, else the
// access_token query parameter, which browsers and Server-Sent Events use.
func requestToken(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", &authError{"the Authorization header is not a Bearer token"}
		}
		return strings.TrimSpace(token), nil
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, nil
	}
	return "", &authError{"no access token: send Authorization: Bearer <token> or access_token=<token>"}
}

// authenticate checks r's token and that one of its audiences satisfies
// audienceOK, and returns its claims.
func (s *Service) authenticate(r *http.Request, audienceOK func(aud *url.URL) bool) (*tokenClaims, error) {
	raw, err := requestToken(r)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxTokenLength {
		return nil, &authError{fmt.Sprintf("the access token is longer than %d characters", maxTokenLength)}
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(s.now),
	)
	var claims tokenClaims
	if _, err := p.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return nil, &authError{"invalid access token: " + tokenErrorReason(err)}
	}
	_, rest, _ := strings.Cut(raw, ".")
	claims.payload, _, _ = strings.Cut(rest, ".")
	for _, a := range claims.Audience {
		if u, err := url.Parse(a); err == nil && audienceOK(u) {
			return &claims, nil
		}
	}
	return nil, &authError{fmt.Sprintf("invalid access token: its audience %q does not match this request", []string(claims.Audience))}
}

// tokenErrorReasons word the jwt errors without repeating token contents,
// the first that matches winning.
var tokenErrorReasons = []struct {
	err    error
	reason string
}{
	{jwt.ErrTokenMalformed, "malformed token"},
	{jwt.ErrTokenSignatureInvalid, "the signature does not match the access key (HS256 with the key's UTF-8 bytes)"},
	{jwt.ErrTokenUnverifiable, "the signing method is not HS256"},
	{jwt.ErrTokenRequiredClaimMissing, "the token has no exp claim"},
	{jwt.ErrTokenExpired, "the token has expired"},
	{jwt.ErrTokenNotValidYet, "the token is not valid yet (nbf)"},
	{jwt.ErrTokenInvalidClaims, "invalid claims"},
}

// tokenErrorReason words a jwt error without repeating token contents.
func tokenErrorReason(err error) string {
	for _, r := range tokenErrorReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "the token cannot be verified"
}

// requestScheme is the scheme the client used to reach r.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// hostName is host without its port, lower-cased, IPv6 brackets removed.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// sameOrigin reports whether aud names r's scheme and host; the port is
// ignored, as the service's SDK leaves it out of audiences.
func sameOrigin(aud *url.URL, r *http.Request) bool {
	return strings.EqualFold(aud.Scheme, requestScheme(r)) && aud.Host != "" && hostName(aud.Host) == hostName(r.Host)
}

// clientAudience accepts the audience of a client token for hub:
// <scheme>://<host>/client/?hub=<hub>, port and trailing slash ignored, hub
// case-insensitive.
func clientAudience(r *http.Request, hub string) func(*url.URL) bool {
	return func(aud *url.URL) bool {
		return sameOrigin(aud, r) &&
			strings.EqualFold(strings.TrimRight(aud.EscapedPath(), "/"), "/client") &&
			strings.EqualFold(aud.Query().Get("hub"), hub)
	}
}

// restAudience accepts the audience of a REST token for a request whose path
// splits into segs: the request URL with or without port, query and trailing
// slash. hubIndex is the index of the hub segment in segs (-1 for none),
// which is compared case-insensitively.
func restAudience(r *http.Request, segs []string, hubIndex int) func(*url.URL) bool {
	return func(aud *url.URL) bool {
		if !sameOrigin(aud, r) {
			return false
		}
		audSegs, err := splitPath(aud.EscapedPath())
		if err != nil || len(audSegs) != len(segs) {
			return false
		}
		for i := range segs {
			if i == hubIndex {
				if !strings.EqualFold(audSegs[i], segs[i]) {
					return false
				}
			} else if audSegs[i] != segs[i] {
				return false
			}
		}
		return true
	}
}

// signClientToken issues a client access token for hub, valid for minutes
// (up to math.MaxInt32, computed in seconds so that it cannot overflow), as
// :generateToken and the service SDK do.
func (s *Service) signClientToken(r *http.Request, hub, userID string, minutes int64) (string, error) {
	now := s.now()
	host := hostName(r.Host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	claims := jwt.MapClaims{
		"aud": requestScheme(r) + "://" + host + "/client/?hub=" + hub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Unix() + minutes*60,
	}
	if userID != "" {
		claims["asrs.s.uid"] = userID
		claims["nameid"] = userID
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
}
