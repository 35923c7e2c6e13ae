package localservice

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenCase builds a token from good claims.
type tokenCase struct {
	name   string
	token  func(good jwt.MapClaims) string // "" sends no token
	header string                          // Authorization header instead of Bearer token
	query  bool                            // token in access_token instead of the header
	want   int
}

func signWith(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// badTokenCases are refused by every endpoint.
func badTokenCases(tb testing.TB) []tokenCase {
	with := func(k string, v any) func(jwt.MapClaims) string {
		return func(c jwt.MapClaims) string {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return sign(tb, DevAccessKey, c)
		}
	}
	return []tokenCase{
		{name: "no token", token: func(jwt.MapClaims) string { return "" }, want: 401},
		{name: "wrong key", token: func(c jwt.MapClaims) string { return sign(tb, "another key", c) }, want: 401},
		{name: "expired", token: with("exp", time.Now().Add(-time.Minute).Unix()), want: 401},
		{name: "no exp", token: with("exp", nil), want: 401},
		{name: "not valid yet", token: with("nbf", time.Now().Add(time.Minute).Unix()), want: 401},
		{name: "alg none", token: func(c jwt.MapClaims) string {
			return signWith(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, c)
		}, want: 401},
		{name: "HS512", token: func(c jwt.MapClaims) string {
			return signWith(tb, jwt.SigningMethodHS512, []byte(DevAccessKey), c)
		}, want: 401},
		{name: "no aud", token: with("aud", nil), want: 401},
		{name: "other host", token: func(c jwt.MapClaims) string {
			c["aud"] = strings.Replace(c["aud"].(string), "127.0.0.1", "example.com", 1)
			return sign(tb, DevAccessKey, c)
		}, want: 401},
		{name: "https", token: func(c jwt.MapClaims) string {
			c["aud"] = strings.Replace(c["aud"].(string), "http:", "https:", 1)
			return sign(tb, DevAccessKey, c)
		}, want: 401},
		{name: "garbage", token: func(jwt.MapClaims) string { return "not.a.jwt" }, want: 401},
		{name: "too long", token: func(c jwt.MapClaims) string {
			c["pad"] = strings.Repeat("x", maxTokenLength)
			return sign(tb, DevAccessKey, c)
		}, want: 401},
		{name: "basic scheme", header: "Basic dXNlcjpwYXNz", want: 401},
	}
}

func (tc tokenCase) request(tb testing.TB, e *testEnv, method, target string, good jwt.MapClaims) (int, http.Header, string) {
	tb.Helper()
	h := http.Header{}
	token := ""
	if tc.header != "" {
		h.Set("Authorization", tc.header)
	} else if tc.token != nil {
		token = tc.token(good)
	}
	if tc.query && token != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "access_token=" + url.QueryEscape(token)
		token = ""
	}
	return e.do(method, target, token, "", h)
}

func TestClientTokens(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	aud := func(a string) func(jwt.MapClaims) string {
		return func(c jwt.MapClaims) string {
			c["aud"] = a
			return sign(t, DevAccessKey, c)
		}
	}
	port := e.srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":"):]
	tests := append([]tokenCase{
		{name: "as bindings signs it", token: aud("http://127.0.0.1/client/?hub=chat"), want: 200},
		{name: "in access_token", token: aud("http://127.0.0.1/client/?hub=chat"), query: true, want: 200},
		{name: "with port", token: aud("http://127.0.0.1" + port + "/client/?hub=chat"), want: 200},
		{name: "hub in other case", token: aud("http://127.0.0.1/client/?hub=CHAT"), want: 200},
		{name: "no trailing slash", token: aud("http://127.0.0.1/client?hub=chat"), want: 200},
		{name: "more query", token: aud("http://127.0.0.1/client/?hub=chat&asrs.op=%2Fx"), want: 200},
		{name: "audience array", token: func(c jwt.MapClaims) string {
			c["aud"] = []string{"http://x/", "http://127.0.0.1/client/?hub=chat"}
			return sign(t, DevAccessKey, c)
		}, want: 200},
		{name: "another hub", token: aud("http://127.0.0.1/client/?hub=other"), want: 401},
		{name: "no hub in aud", token: aud("http://127.0.0.1/client/"), want: 401},
		{name: "REST path", token: aud("http://127.0.0.1/api/hubs/chat"), want: 401},
	}, badTokenCases(t)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := tt.request(t, e, "POST", "/client/negotiate?hub=Chat&negotiateVersion=1", clientClaims("chat", "u1"))
			if status != tt.want {
				t.Fatalf("got %d (%s), want %d", status, body, tt.want)
			}
			if status == 401 {
				var d struct{ Code, Message string }
				if err := json.Unmarshal([]byte(body), &d); err != nil || d.Code != "Error.Unauthorized" || h.Get("x-ms-error-code") != d.Code {
					t.Errorf("got body %s and x-ms-error-code %q, want a JSON Error.Unauthorized", body, h.Get("x-ms-error-code"))
				}
				if strings.Contains(body, "eyJ") { // the start of every JWT
					t.Errorf("the error repeats the token: %s", body)
				}
			}
		})
	}
}

func TestRESTTokens(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	const path = "/api/hubs/chat/users/u1"
	hostPort := strings.TrimPrefix(e.base, "http://")
	aud := func(a string) func(jwt.MapClaims) string {
		return func(c jwt.MapClaims) string {
			c["aud"] = a
			return sign(t, DevAccessKey, c)
		}
	}
	tests := append([]tokenCase{
		{name: "with port, no query (bindings)", token: aud("http://" + hostPort + path), want: 404},
		{name: "no port, with query (management SDK)", token: aud("http://127.0.0.1" + path + "?api-version=2022-06-01"), want: 404},
		{name: "trailing slash", token: aud("http://127.0.0.1" + path + "/"), want: 404},
		{name: "hub in other case", token: aud("http://127.0.0.1/api/hubs/CHAT/users/u1"), want: 404},
		{name: "in access_token", token: aud("http://127.0.0.1" + path), query: true, want: 404},
		{name: "other user", token: aud("http://127.0.0.1/api/hubs/chat/users/u2"), want: 401},
		{name: "user in other case", token: aud("http://127.0.0.1/api/hubs/chat/users/U1"), want: 401},
		{name: "hub only", token: aud("http://127.0.0.1/api/hubs/chat"), want: 401},
		{name: "client audience", token: aud("http://127.0.0.1/client/?hub=chat"), want: 401},
	}, badTokenCases(t)...)
	good := jwt.MapClaims{"aud": "http://" + hostPort + path, "exp": time.Now().Add(time.Hour).Unix()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := jwt.MapClaims{}
			for k, v := range good {
				claims[k] = v
			}
			// 404: the token was accepted and user u1 has no connection.
			status, _, body := tt.request(t, e, "GET", path+"?api-version=2022-06-01", claims)
			if status != tt.want {
				t.Fatalf("got %d (%s), want %d", status, body, tt.want)
			}
		})
	}
}

func TestUserIDClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		want   string
	}{
		{"asrs.s.uid first", `{"asrs.s.uid":"a","nameid":"b","sub":"c"}`, "a"},
		{"then nameid", `{"nameid":"b","sub":"c"}`, "b"},
		{"then sub", `{"sub":"c"}`, "c"},
		{"nameid array", `{"nameid":["b","x"]}`, "b"},
		{"none", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c tokenClaims
			if err := json.Unmarshal([]byte(tt.claims), &c); err != nil {
				t.Fatal(err)
			}
			if got := c.userID(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUserFromSub connects with a token whose only user claim is sub.
func TestUserFromSub(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	claims := clientClaims("chat", "")
	claims["sub"] = "carol"
	tok := sign(t, DevAccessKey, claims)
	status, _, body := e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", tok, "", nil)
	if status != 200 {
		t.Fatalf("negotiate: got %d (%s), want 200", status, body)
	}
	var nr negotiateResponse
	json.Unmarshal([]byte(body), &nr)
	ws, status, err := e.tryDial("chat", nr.ConnectionToken, tok)
	if err != nil {
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	defer ws.CloseNow()
	(&wsClient{tb: t, ws: ws}).handshake(`{"protocol":"json","version":1}`)
	e.mustREST("HEAD", "/api/hubs/chat/users/carol?api-version=2022-06-01", "", 200)
}
