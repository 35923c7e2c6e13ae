package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/localservice"
)

// Security and bad-input tests: malformed requests,
// refused tokens, ids that try to leave their REST route. Every host is a
// watchedHost, so no test here lets a secret reach the logs either.

// checkErrorShape reports what is wrong with an error answer, or "": JSON
// {"error":{"code","message"}} (plus "sent" for send), non-empty strings.
func checkErrorShape(ct, body string) string {
	if !strings.HasPrefix(ct, "application/json") {
		return fmt.Sprintf("Content-Type %q, want application/json", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		return "body is not a JSON object"
	}
	for k := range top {
		if k != "error" && k != "sent" {
			return fmt.Sprintf("unexpected member %q", k)
		}
	}
	var e map[string]any
	if err := json.Unmarshal(top["error"], &e); err != nil {
		return "error is not an object"
	}
	if len(e) != 2 {
		return fmt.Sprintf("error has members %v, want code and message", e)
	}
	for _, k := range []string{"code", "message"} {
		if s, ok := e[k].(string); !ok || s == "" {
			return fmt.Sprintf("error.%s is %v, want a non-empty string", k, e[k])
		}
	}
	return ""
}

// rawCall sends a request to u and returns status, Content-Type and body.
func rawCall(tb testing.TB, method, u string, header http.Header, body io.Reader) (int, string, string) {
	tb.Helper()
	status, h, b := testkit.Do(tb, method, u, header, body)
	return status, h.Get("Content-Type"), b
}

// TestMalformedRequestsGetContractErrors sends every kind of malformed
// request through the real binary, under a forwarding and a payload-mode
// host, and directly to the handler for what the host never forwards
// (garbage payload envelopes, unknown paths): each gets a 4xx with the
// contract's JSON error.
func TestMalformedRequestsGetContractErrors(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	public := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"truncated JSON", "POST", "/api/send", "application/json", `{"target"`, 400, "InvalidJson"},
		{"not JSON", "POST", "/api/send", "application/json", `hello`, 400, "InvalidJson"},
		{"trailing garbage", "POST", "/api/send", "application/json", `{"target":"t"} x`, 400, "InvalidJson"},
		{"two objects", "POST", "/api/send", "application/json", `{"target":"t"}{"target":"t"}`, 400, "InvalidJson"},
		{"a string", "POST", "/api/send", "application/json", `"hi"`, 400, "InvalidJson"},
		{"a number", "POST", "/api/send", "application/json", `42`, 400, "InvalidJson"},
		{"null", "POST", "/api/send", "application/json", `null`, 400, "InvalidJson"},
		{"empty body", "POST", "/api/send", "application/json", ``, 400, "InvalidJson"},
		{"whitespace body", "POST", "/api/send", "application/json", " \n\t ", 400, "InvalidJson"},
		{"array holding a number", "POST", "/api/send", "application/json", `[{"target":"t"},1]`, 400, "InvalidJson"},
		{"nested 20,000 deep", "POST", "/api/send", "application/json", deep, 400, "InvalidJson"},
		{"target a boolean", "POST", "/api/send", "application/json", `{"target":true}`, 400, "InvalidMessage"},
		{"target an object", "POST", "/api/send", "application/json", `{"target":{"a":1}}`, 400, "InvalidMessage"},
		{"arguments an object", "POST", "/api/send", "application/json", `{"target":"t","arguments":{"a":1}}`, 400, "InvalidMessage"},
		{"arguments a string", "POST", "/api/send", "application/json", `{"target":"t","arguments":"a"}`, 400, "InvalidMessage"},
		{"userId an array", "POST", "/api/send", "application/json", `{"target":"t","userId":["a"]}`, 400, "InvalidMessage"},
		{"groupName an object", "POST", "/api/send", "application/json", `{"target":"t","groupName":{}}`, 400, "InvalidMessage"},
		{"connectionId a boolean", "POST", "/api/send", "application/json", `{"target":"t","connectionId":false}`, 400, "InvalidMessage"},
		{"action a number", "POST", "/api/send", "application/json", `{"action":1,"userId":"u","groupName":"g"}`, 400, "InvalidMessage"},
		{"action an array", "POST", "/api/send", "application/json", `{"action":["add"],"userId":"u","groupName":"g"}`, 400, "InvalidMessage"},
		{"no target", "POST", "/api/send", "application/json", `{"arguments":[1]}`, 400, "InvalidMessage"},
		{"empty object", "POST", "/api/send", "application/json", `{}`, 400, "InvalidMessage"},
		{"empty target", "POST", "/api/send", "application/json", `{"target":""}`, 400, "InvalidMessage"},
		{"empty userId", "POST", "/api/send", "application/json", `{"target":"t","userId":""}`, 400, "InvalidMessage"},
		{"unknown action", "POST", "/api/send", "application/json", `{"action":"drop","userId":"u","groupName":"g"}`, 400, "InvalidMessage"},
		{"add without group", "POST", "/api/send", "application/json", `{"action":"add","userId":"u"}`, 400, "InvalidMessage"},
		{"removeAll without user", "POST", "/api/send", "application/json", `{"action":"removeAll"}`, 400, "InvalidMessage"},
		{"group name of 1025 characters", "POST", "/api/send", "application/json", `{"target":"t","groupName":"` + strings.Repeat("g", 1025) + `"}`, 400, "InvalidMessage"},
		{"invalid last item of a batch", "POST", "/api/send", "application/json", `[{"target":"t"},{"target":"t"},{"action":"add"}]`, 400, "InvalidMessage"},
		{"body over 1 MiB", "POST", "/api/send", "application/json", `{"target":"t","arguments":["` + strings.Repeat("x", 1<<20) + `"]}`, 413, "PayloadTooLarge"},
		// Over payload mode's envelope limit (6 MiB + 64 KiB) as well.
		{"body of 7 MiB", "POST", "/api/send", "application/json", `{"target":"t","arguments":["` + strings.Repeat("x", 7<<20) + `"]}`, 413, "PayloadTooLarge"},
		{"text/plain", "POST", "/api/send", "text/plain", `{"target":"t"}`, 415, "UnsupportedMediaType"},
		{"application/xml", "POST", "/api/send", "application/xml", `<target>t</target>`, 415, "UnsupportedMediaType"},
		{"form", "POST", "/api/send", "application/x-www-form-urlencoded", `target=t`, 415, "UnsupportedMediaType"},
		{"unparsable Content-Type", "POST", "/api/send", "application/json;;;=", `{"target":"t"}`, 415, "UnsupportedMediaType"},
		{"send with GET", "GET", "/api/send", "", ``, 405, "MethodNotAllowed"},
		{"send with PUT", "PUT", "/api/send", "application/json", `{"target":"t"}`, 405, "MethodNotAllowed"},
		{"send with DELETE", "DELETE", "/api/send", "", ``, 405, "MethodNotAllowed"},
		{"negotiate with DELETE", "DELETE", "/api/negotiate", "", ``, 405, "MethodNotAllowed"},
		{"negotiate with PATCH", "PATCH", "/api/negotiate", "application/json", `{}`, 405, "MethodNotAllowed"},
	}
	for _, payload := range []bool{false, true} {
		mode := map[bool]string{false: "forwarding", true: "payload"}[payload]
		h := startWatchedHost(t, payload)
		for _, tt := range public {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				hd := http.Header{"X-Functions-Key": {h.FunctionKey}}
				if tt.ct != "" {
					hd.Set("Content-Type", tt.ct)
				}
				status, rh, body := call(t, h.Host, tt.method, tt.path, hd, tt.body)
				if status != tt.status || testkit.ErrorCode(body) != tt.code {
					t.Errorf("%s %s = %d %.200s, want %d %s", tt.method, tt.path, status, body, tt.status, tt.code)
				}
				if problem := checkErrorShape(rh.Get("Content-Type"), body); problem != "" {
					t.Errorf("error answer: %s: %.200s", problem, body)
				}
			})
		}

		// What the host never forwards, straight to the handler. A
		// payload-mode answer may carry the error in Outputs.res (the host
		// turns any other status of an invocation into a 500).
		direct := "http://" + h.HandlerAddr
		envelope := func(req string) string { return `{"Data":{"req":` + req + `},"Metadata":{}}` }
		handlerCases := []struct {
			name, method, path, ct, body string
			status                       int
			code                         string
		}{
			{"envelope not JSON", "POST", "/send", "application/json", `not json`, 400, "InvalidJson"},
			{"envelope truncated", "POST", "/send", "application/json", `{"Data":{"req":{`, 400, "InvalidJson"},
			{"envelope an array", "POST", "/send", "application/json", `[]`, 400, "InvalidJson"},
			{"envelope empty", "POST", "/negotiate", "application/json", ``, 400, "InvalidJson"},
			{"no Data", "POST", "/send", "application/json", `{"Metadata":{}}`, 400, "InvalidJson"},
			{"Data a string", "POST", "/send", "application/json", `{"Data":"req"}`, 400, "InvalidJson"},
			{"no Data.req", "POST", "/negotiate", "application/json", `{"Data":{"request":{}}}`, 400, "InvalidJson"},
			{"req a string", "POST", "/send", "application/json", envelope(`"POST /api/send"`), 400, "InvalidJson"},
			{"Method a number", "POST", "/send", "application/json", envelope(`{"Method":5}`), 400, "InvalidJson"},
			{"Headers values not arrays", "POST", "/send", "application/json", envelope(`{"Method":"POST","Headers":{"Content-Type":"application/json"}}`), 400, "InvalidJson"},
			{"Query values not strings", "POST", "/send", "application/json", envelope(`{"Method":"POST","Query":{"a":1}}`), 400, "InvalidJson"},
			{"Body an object", "POST", "/send", "application/json", envelope(`{"Method":"POST","Body":{"target":"t"}}`), 400, "InvalidJson"},
			{"Method with a space", "POST", "/send", "application/json", envelope(`{"Method":"PO ST","Url":"http://localhost/api/send"}`), 400, "InvalidJson"},
			{"envelope over the limit", "POST", "/send", "application/json", `{"Data":{"req":{"Body":"` + strings.Repeat("x", 7<<20) + `"}}}`, 413, "PayloadTooLarge"},
			{"invocation with GET", "GET", "/send", "", ``, 405, "MethodNotAllowed"},
			{"unknown function", "POST", "/broadcast", "application/json", envelope(`{}`), 404, "NotFound"},
			{"unknown path", "GET", "/api/nope", "", ``, 404, "NotFound"},
			{"unknown path below a function", "POST", "/api/send/extra", "application/json", `{"target":"t"}`, 404, "NotFound"},
			{"unknown root path", "GET", "/favicon.ico", "", ``, 404, "NotFound"},
		}
		for _, tt := range handlerCases {
			t.Run(mode+"/direct/"+tt.name, func(t *testing.T) {
				hd := http.Header{}
				if tt.ct != "" {
					hd.Set("Content-Type", tt.ct)
				}
				status, ct, body := unwrapInvocation(rawCall(t, tt.method, direct+tt.path, hd, strings.NewReader(tt.body)))
				if status != tt.status || testkit.ErrorCode(body) != tt.code {
					t.Errorf("%s %s = %d %.200s, want %d %s", tt.method, tt.path, status, body, tt.status, tt.code)
				}
				if problem := checkErrorShape(ct, body); problem != "" {
					t.Errorf("error answer: %s: %.200s", problem, body)
				}
			})
		}

		// A well-formed envelope carrying a malformed request: the
		// invocation succeeds and Outputs.res holds the 4xx error.
		t.Run(mode+"/direct/envelope carrying a malformed send", func(t *testing.T) {
			status, ct, raw := rawCall(t, "POST", direct+"/send", jsonCT, strings.NewReader(envelope(
				`{"Url":"http://localhost/api/send","Method":"POST","Headers":{"Content-Type":["application/json"]},"Body":"{\"target\""}`)))
			if status != 200 || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("invocation = %d %s, want 200 application/json", status, ct)
			}
			status, ct, body := unwrapInvocation(status, ct, raw)
			if status != 400 || testkit.ErrorCode(body) != "InvalidJson" {
				t.Errorf("Outputs.res = %d %s, want 400 InvalidJson", status, body)
			}
			if problem := checkErrorShape(ct, body); problem != "" {
				t.Errorf("Outputs.res: %s", problem)
			}
		})

		// A body over 1 MiB without Content-Length (chunked) is cut off too.
		t.Run(mode+"/direct/chunked body over 1 MiB", func(t *testing.T) {
			big := io.MultiReader(strings.NewReader(`{"target":"t","arguments":["`), bytes.NewReader(bytes.Repeat([]byte("x"), 2<<20)), strings.NewReader(`"]}`))
			status, ct, body := rawCall(t, "POST", direct+"/api/send", jsonCT, big)
			if status != 413 || testkit.ErrorCode(body) != "PayloadTooLarge" {
				t.Errorf("chunked 2 MiB send = %d %.200s, want 413 PayloadTooLarge", status, body)
			}
			if problem := checkErrorShape(ct, body); problem != "" {
				t.Errorf("error answer: %s", problem)
			}
		})
	}
}

// unwrapInvocation returns the function's answer inside a payload-mode
// invocation answer (200 with Outputs.res), or the answer itself.
func unwrapInvocation(status int, ct, body string) (int, string, string) {
	var inv struct {
		Outputs map[string]struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
	}
	if status != 200 || json.Unmarshal([]byte(body), &inv) != nil {
		return status, ct, body
	}
	res, ok := inv.Outputs["res"]
	if !ok {
		return status, ct, body
	}
	return res.StatusCode, res.Headers["Content-Type"], res.Body
}

// ---- tokens ----

// tokenCase mints a token for a request whose right audience is aud.
type tokenCase struct {
	name string
	mint func(tb testing.TB, aud string) string
}

// signWith signs claims with key by method, as a token a test presents.
func signWith(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func goodClaims(aud string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "asrs.s.uid": "alice"}
}

func claimsWith(aud string, change func(jwt.MapClaims)) jwt.MapClaims {
	c := goodClaims(aud)
	change(c)
	return c
}

var devKey = []byte(localservice.DevAccessKey)

// badTokens are tokens the service must refuse, whatever the endpoint.
var badTokens = []tokenCase{
	{"wrong key", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, []byte("WRONG-KEY-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ"), goodClaims(aud))
	}},
	{"empty key", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, []byte{}, goodClaims(aud))
	}},
	{"wrong audience host", func(tb testing.TB, aud string) string {
		u, _ := url.Parse(aud)
		u.Host = "evil.example"
		return signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(u.String()))
	}},
	{"wrong audience scheme", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(strings.Replace(aud, "http://", "https://", 1)))
	}},
	{"audience of another hub", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(strings.Replace(aud, "default", "other", 1)))
	}},
	{"no audience", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) { delete(c, "aud") }))
	}},
	{"expired an hour ago", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["nbf"] = c["iat"]
		}))
	}},
	{"expired a minute ago", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
	}},
	{"no exp", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) { delete(c, "exp") }))
	}},
	{"not valid before an hour from now", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }))
	}},
	{"alg none", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims(aud))
	}},
	{"alg none, signature kept", func(tb testing.TB, aud string) string {
		good := signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(aud))
		parts := strings.Split(good, ".")
		parts[0] = jwtSegment(`{"alg":"none","typ":"JWT"}`)
		return strings.Join(parts, ".")
	}},
	{"alg NONE in capitals", func(tb testing.TB, aud string) string {
		good := signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(aud))
		parts := strings.Split(good, ".")
		return jwtSegment(`{"alg":"NONE","typ":"JWT"}`) + "." + parts[1] + "."
	}},
	{"HS512 with the right key", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS512, devKey, goodClaims(aud))
	}},
	{"HS384 with the right key", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS384, devKey, goodClaims(aud))
	}},
	{"payload changed after signing", func(tb testing.TB, aud string) string {
		good := signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(aud))
		parts := strings.Split(good, ".")
		c := goodClaims(aud)
		c["asrs.s.uid"] = "mallory"
		raw, _ := json.Marshal(c)
		parts[1] = jwtSegment(string(raw))
		return strings.Join(parts, ".")
	}},
	{"signature dropped", func(tb testing.TB, aud string) string {
		good := signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(aud))
		return good[:strings.LastIndex(good, ".")+1]
	}},
	{"garbage", func(tb testing.TB, aud string) string { return "abc.def.ghi" }},
	{"longer than 4096 characters", func(tb testing.TB, aud string) string {
		return signWith(tb, jwt.SigningMethodHS256, devKey, claimsWith(aud, func(c jwt.MapClaims) { c["pad"] = strings.Repeat("p", 4096) }))
	}},
}

// jwtSegment encodes one part of a JWT.
func jwtSegment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestTokensRefusedByTheLocalService tries bad tokens on the embedded local
// service of the real binary: client negotiate, the WebSocket connection,
// and a REST send each answer 401, while a good token passes.
func TestTokensRefusedByTheLocalService(t *testing.T) {
	h := startWatchedHost(t, false)
	status, info, body := negotiateInfo(t, h, nil)
	if status != 200 {
		t.Fatalf("negotiate = %d %s", status, body)
	}
	base := serviceBase(t, info.URL)
	clientAud := "http://127.0.0.1/client/?hub=default"
	negotiateURL := base + "/client/negotiate?hub=default&negotiateVersion=1"
	restPath := base + "/api/hubs/default/:send"
	restURL := restPath + "?api-version=2022-06-01"

	// A good negotiate gives a connection token for the WebSocket checks.
	good := signWith(t, jwt.SigningMethodHS256, devKey, goodClaims(clientAud))
	h.secret(good)
	st, _, nbody := rawCall(t, "POST", negotiateURL, http.Header{"Authorization": {"Bearer " + good}}, nil)
	if st != 200 {
		t.Fatalf("negotiate with a good token = %d %s", st, nbody)
	}
	var conn struct{ ConnectionToken string }
	json.Unmarshal([]byte(nbody), &conn)
	connectURL := base + "/client/?hub=default&id=" + url.QueryEscape(conn.ConnectionToken)
	wsUpgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}

	restBody := func() io.Reader { return strings.NewReader(`{"target":"t"}`) }
	if st, _, b := rawCall(t, "POST", restURL, http.Header{"Authorization": {"Bearer " + signWith(t, jwt.SigningMethodHS256, devKey, goodClaims(restPath))},
		"Content-Type": {"application/json"}}, restBody()); st != 202 {
		t.Fatalf("REST send with a good token = %d %s, want 202", st, b)
	}

	cross := []tokenCase{
		{"a REST token on the client endpoint", func(tb testing.TB, aud string) string {
			return signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(restPath))
		}},
		{"a client token on the REST endpoint", func(tb testing.TB, aud string) string {
			return signWith(tb, jwt.SigningMethodHS256, devKey, goodClaims(clientAud))
		}},
	}
	for _, tc := range append(badTokens, cross...) {
		t.Run(tc.name, func(t *testing.T) {
			clientTok, restTok := tc.mint(t, clientAud), tc.mint(t, restPath)
			checks := []struct {
				what, method, url string
				header            http.Header
				body              io.Reader
			}{
				{"negotiate", "POST", negotiateURL, http.Header{"Authorization": {"Bearer " + clientTok}}, nil},
				{"negotiate with access_token=", "POST", negotiateURL + "&access_token=" + url.QueryEscape(clientTok), nil, nil},
				{"WebSocket connect", "GET", connectURL, withAuth(wsUpgrade, clientTok), nil},
				{"REST send", "POST", restURL, http.Header{"Authorization": {"Bearer " + restTok}, "Content-Type": {"application/json"}}, restBody()},
			}
			for _, c := range checks {
				if tc.name == "a REST token on the client endpoint" && c.what == "REST send" ||
					tc.name == "a client token on the REST endpoint" && c.what != "REST send" {
					continue // the right token for that endpoint
				}
				status, _, body := rawCall(t, c.method, c.url, c.header, c.body)
				if status != http.StatusUnauthorized {
					t.Errorf("%s = %d %.200s, want 401", c.what, status, body)
				}
				if strings.Contains(body, clientTok) || strings.Contains(body, restTok) {
					t.Errorf("%s: the answer repeats the token", c.what)
				}
			}
		})
	}
}

func withAuth(h http.Header, token string) http.Header {
	h = h.Clone()
	h.Set("Authorization", "Bearer "+token)
	return h
}

// ---- ids in REST paths ----

// TestIDsCannotLeaveTheirRESTRoute sends user ids, group names and
// connection ids made to escape a REST path (slashes, dot segments, escapes,
// query and fragment marks, control characters) through send to a recording
// service: each id lands escaped in exactly its own path segment of the
// intended route, or — for "." / ".." and control characters — send answers
// 400 InvalidMessage and calls nothing.
func TestIDsCannotLeaveTheirRESTRoute(t *testing.T) {
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	h := startWatchedHost(t, false, "AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;",
		"AzureSignalRHubName=Chat")
	accepted := []string{
		"a/b", "/", "//", "../x", "x/..", "a/../../b", "..%2F", "%2F", "%2f", "%2e%2e", "%2E%2E%2F", "...", ". .", ".. ",
		"a?b=c", "?", "?api-version=1", "a#b", "#", "a b", "a+b", "a;b=c", ";", "a\\b", "..\\..", "%", "%zz", "%00",
		"é/ü", "\u2028", "\ufeff", "a&b=c", "~user", "*", ":send", "users", "groups/x",
	}
	rejected := []string{".", "..", "a\x00b", "\t", "a\nb", "\r\n", "\x7f", "a\u0085b", "\x1b[31m"}

	type op struct {
		name     string
		body     func(v string) map[string]string
		template string // the route below /api/hubs/chat, {} for the id (every {} is v)
	}
	ops := []op{
		{"send to user", func(v string) map[string]string { return map[string]string{"target": "t", "userId": v} }, "POST users/{}/:send"},
		{"send to group", func(v string) map[string]string { return map[string]string{"target": "t", "groupName": v} }, "POST groups/{}/:send"},
		{"send to connection", func(v string) map[string]string { return map[string]string{"target": "t", "connectionId": v} }, "POST connections/{}/:send"},
		{"add user to group", func(v string) map[string]string {
			return map[string]string{"action": "add", "userId": v, "groupName": v}
		}, "PUT users/{}/groups/{}"},
		{"remove connection from group", func(v string) map[string]string {
			return map[string]string{"action": "remove", "connectionId": v, "groupName": v}
		}, "DELETE groups/{}/connections/{}"},
		{"remove user from all groups", func(v string) map[string]string { return map[string]string{"action": "removeAll", "userId": v} }, "DELETE users/{}/groups"},
		{"remove connection from all groups", func(v string) map[string]string {
			return map[string]string{"action": "removeAll", "connectionId": v}
		}, "DELETE connections/{}/groups"},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			for _, v := range append(accepted, rejected...) {
				wantRejected := false
				for _, r := range rejected {
					wantRejected = wantRejected || r == v
				}
				body, _ := json.Marshal(o.body(v))
				before := len(svc.Requests())
				status, _, answer := call(t, h.Host, "POST", "/api/send", functionKey, string(body))
				got := svc.Requests()[before:]
				if wantRejected {
					if status != 400 || testkit.ErrorCode(answer) != "InvalidMessage" {
						t.Errorf("id %q = %d %s, want 400 InvalidMessage", v, status, answer)
					}
					if len(got) != 0 {
						t.Errorf("id %q reached the service: %+v", v, got)
					}
					continue
				}
				if status != 202 {
					t.Errorf("id %q = %d %s, want 202", v, status, answer)
					continue
				}
				if len(got) != 1 {
					t.Errorf("id %q: the service got %d requests, want 1", v, len(got))
					continue
				}
				if problem := checkRoute(got[0], o.template, v); problem != "" {
					t.Errorf("id %q: %s %s?%s: %s", v, got[0].Method, got[0].Path, got[0].RawQuery, problem)
				}
			}
		})
	}
}

// checkRoute reports how r strays from "METHOD a/{}/b" below
// /api/hubs/chat with every {} being id, or "".
func checkRoute(r recorded, template, id string) string {
	method, route, _ := strings.Cut(template, " ")
	if r.Method != method {
		return "method " + r.Method + ", want " + method
	}
	if r.RawQuery != "api-version=2022-06-01" {
		return "query is not exactly api-version=2022-06-01"
	}
	want := append([]string{"", "api", "hubs", "chat"}, strings.Split(route, "/")...)
	segs := strings.Split(r.Path, "/")
	if len(segs) != len(want) {
		return fmt.Sprintf("%d path segments, want %d", len(segs), len(want))
	}
	for i, w := range want {
		got, err := url.PathUnescape(segs[i])
		if err != nil {
			return fmt.Sprintf("segment %d %q is not validly escaped", i, segs[i])
		}
		if w == "{}" {
			w = id
		} else if segs[i] != w {
			return fmt.Sprintf("segment %d is %q, want %q", i, segs[i], w)
		}
		if got != w {
			return fmt.Sprintf("segment %d unescapes to %q, want %q", i, got, w)
		}
	}
	return ""
}

// TestHubNameCannotLeaveItsRoute: a hub name that would change REST paths
// is a ConfigurationError for every call, and nothing reaches the service.
func TestHubNameCannotLeaveItsRoute(t *testing.T) {
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	for _, hub := range []string{"a/b", "..", "chat?x=1", "chat#x", "chat%2F..", "1chat"} {
		t.Run(hub, func(t *testing.T) {
			h := startWatchedHost(t, false, "AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;",
				"AzureSignalRHubName="+hub)
			for _, req := range []struct{ method, path, body string }{{"POST", "/api/send", `{"target":"t"}`}, {"GET", "/api/negotiate", ""}} {
				status, _, body := call(t, h.Host, req.method, req.path, functionKey, req.body)
				if status != 500 || testkit.ErrorCode(body) != "ConfigurationError" {
					t.Errorf("%s with hub %q = %d %s, want 500 ConfigurationError", req.path, hub, status, body)
				}
			}
		})
	}
	if n := len(svc.Requests()); n != 0 {
		t.Errorf("the service got %d requests", n)
	}
}
