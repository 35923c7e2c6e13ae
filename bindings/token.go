package bindings

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// defaultTokenLifetime is how long REST access tokens are valid, and client
	// access tokens unless Options.TokenLifetime says otherwise: the service
	// SDK's default.
	defaultTokenLifetime = time.Hour

	// MaxTokenLength is the longest client access token the service's SDK
	// issues; clients may carry it in a URL (access_token=).
	MaxTokenLength = 4096

	// ClaimUserID is the claim the service reads the user id from.
	ClaimUserID = "asrs.s.uid"
	// ClaimNameID also holds the user id, as the service docs describe.
	ClaimNameID = "nameid"

	userClaimPrefix   = "asrs.u."
	maxPayloadOnStack = 512 // claims JSON of a typical token fits on the stack
)

// registeredClaims are names the service's SDK renames to asrs.u.<name> when
// they come from a caller, so that they cannot change the token's meaning.
var registeredClaims = map[string]bool{
	"aud": true, "exp": true, "iat": true, "nbf": true, "iss": true, "actort": true,
	"acr": true, "azp": true, "c_hash": true, "jti": true, "nonce": true,
}

var b64 = base64.RawURLEncoding

// signer issues HS256 JWTs with one key. Everything constant is computed
// once: the signing method keyed with the access key and the encoded header.
type signer struct {
	method *keyedHS256
	header string // base64url({"alg":"HS256","typ":"JWT","kid":...}) + "."
}

func newSigner(kid string, key []byte) *signer {
	h := append([]byte(`{"alg":"HS256","typ":"JWT","kid":`), appendJSONString(nil, kid)...)
	h = append(h, '}')
	return &signer{method: newKeyedHS256(key), header: b64.EncodeToString(h) + "."}
}

// keyedHS256 is golang-jwt's HS256 signing method bound to one key, with
// the keyed HMAC reused across tokens: jwt.SigningMethodHS256 builds a new
// one per token (five allocations, a third of a negotiate's cost).
// Verification is golang-jwt's own.
type keyedHS256 struct{ macs sync.Pool }

var _ jwt.SigningMethod = (*keyedHS256)(nil)

func newKeyedHS256(key []byte) *keyedHS256 {
	key = slices.Clone(key)
	m := &keyedHS256{}
	m.macs.New = func() any { return hmac.New(sha256.New, key) }
	return m
}

// Alg implements jwt.SigningMethod.
func (m *keyedHS256) Alg() string { return jwt.SigningMethodHS256.Alg() }

// Verify implements jwt.SigningMethod with golang-jwt's HS256.
func (m *keyedHS256) Verify(signingString string, sig []byte, key any) error {
	return jwt.SigningMethodHS256.Verify(signingString, sig, key)
}

// Sign implements jwt.SigningMethod with the bound key; key is ignored.
func (m *keyedHS256) Sign(signingString string, _ any) ([]byte, error) {
	mac := m.macs.Get().(hash.Hash)
	defer m.macs.Put(mac)
	mac.Reset()
	io.WriteString(mac, signingString)
	return mac.Sum(nil), nil
}

// accessKeyID is the kid of tokens signed with a connection string's access
// key: the first 8 hex digits of its SHA-256, stable and not revealing the
// key (the official SDK uses a per-process hash code, which the service
// cannot rely on either).
func accessKeyID(accessKey string) string {
	sum := sha256.Sum256([]byte(accessKey))
	return hex.EncodeToString(sum[:4])
}

// sign returns prefix followed by a JWT with aud, iat, nbf, exp = now +
// lifetime, the user id claims when userID is set and the extra claims.
func (s *signer) sign(prefix, aud string, now time.Time, lifetime time.Duration, userID string, extra map[string][]string) (string, error) {
	var stack [maxPayloadOnStack]byte
	p := appendPayload(stack[:0], aud, now, lifetime, userID, extra)

	buf := make([]byte, 0, len(prefix)+len(s.header)+b64.EncodedLen(len(p))+1+b64.EncodedLen(sha256.Size))
	buf = append(buf, prefix...)
	buf = append(buf, s.header...)
	buf = b64.AppendEncode(buf, p)
	sig, err := s.method.Sign(string(buf[len(prefix):]), nil)
	if err != nil {
		// Unreachable: the key is a []byte and SHA-256 is linked in.
		return "", fmt.Errorf("sign access token: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// appendPayload appends the claims JSON. Claims we set come first and win:
// an extra claim never replaces aud, iat, nbf, exp or the user id claims.
func appendPayload(p []byte, aud string, now time.Time, lifetime time.Duration, userID string, extra map[string][]string) []byte {
	iat := now.Unix()
	p = append(p, `{"aud":`...)
	p = appendJSONString(p, aud)
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"nbf":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, iat+int64(lifetime/time.Second), 10)
	if userID != "" {
		p = append(p, `,"`+ClaimUserID+`":`...)
		p = appendJSONString(p, userID)
		p = append(p, `,"`+ClaimNameID+`":`...)
		p = appendJSONString(p, userID)
	}
	if len(extra) > 0 {
		p = appendExtraClaims(p, userID != "", extra)
	}
	return append(p, '}')
}

// appendExtraClaims appends one claim per name: a JSON string for one
// value, an array of strings for several (as System.IdentityModel writes
// several claims of one type); a name without values is left out.
func appendExtraClaims(p []byte, hasUser bool, extra map[string][]string) []byte {
	type claim struct {
		name   string
		values []string
	}
	claims := make([]claim, 0, len(extra))
	for name, values := range extra {
		if name == "" || len(values) == 0 || hasUser && (name == ClaimUserID || name == ClaimNameID) {
			continue
		}
		if registeredClaims[name] {
			if _, dup := extra[userClaimPrefix+name]; dup {
				continue // the caller's own asrs.u.<name> wins
			}
			name = userClaimPrefix + name
		}
		claims = append(claims, claim{name, values})
	}
	// Sorted, so that a token is reproducible.
	slices.SortFunc(claims, func(a, b claim) int { return strings.Compare(a.name, b.name) })
	for _, c := range claims {
		p = append(p, ',')
		p = appendJSONString(p, c.name)
		p = append(p, ':')
		if len(c.values) == 1 {
			p = appendJSONString(p, c.values[0])
			continue
		}
		p = append(p, '[')
		for i, v := range c.values {
			if i > 0 {
				p = append(p, ',')
			}
			p = appendJSONString(p, v)
		}
		p = append(p, ']')
	}
	return p
}

// appendJSONString appends s as a JSON string. Plain ASCII (the common case:
// URLs, ids) is copied; anything else goes through encoding/json, which also
// replaces invalid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
