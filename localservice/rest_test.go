package localservice

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// restStep is one REST call and the answer it must get.
type restStep struct {
	method, path, body string
	want               int
	code               string // x-ms-error-code, when an error
}

// runSteps runs steps in order; {c} in a path is replaced by conn.
func runSteps(t *testing.T, e *testEnv, conn string, steps []restStep) {
	t.Helper()
	for _, st := range steps {
		path := strings.ReplaceAll(st.path, "{c}", conn)
		status, h, body := e.rest(st.method, path, st.body)
		if status != st.want || h.Get("x-ms-error-code") != st.code {
			t.Errorf("%s %s: got %d %q (%s), want %d %q", st.method, path, status, h.Get("x-ms-error-code"), body, st.want, st.code)
			continue
		}
		if st.code != "" && st.method != "HEAD" {
			var d struct{ Code, Message string }
			if err := json.Unmarshal([]byte(body), &d); err != nil || d.Code != st.code || d.Message == "" {
				t.Errorf("%s %s: got body %s, want an ErrorDetail with code %s", st.method, path, body, st.code)
			}
		}
	}
}

const msg = `{"target":"t","arguments":[1]}`

func TestRESTStatusCodesAPIVersion(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "alice")
	const p = "/api/hubs/chat"
	const v = "?api-version=2022-06-01"
	runSteps(t, e, c.id, []restStep{
		{"HEAD", "/api/health" + v, "", 200, ""},
		{"HEAD", "/api/health", "", 200, ""},
		{"POST", p + "/:send" + v, msg, 202, ""},
		{"POST", p + "/:send", msg, 400, "Error.BadRequest"},
		{"HEAD", p + "/users/alice", "", 400, "Error.BadRequest"},
		{"POST", p + "/:send" + v + "&excluded={c}&excluded=x", msg, 202, ""},
		{"POST", p + "/users/alice/:send" + v, msg, 202, ""},
		{"POST", p + "/connections/{c}/:send" + v, msg, 202, ""},
		{"POST", p + "/connections/missing/:send" + v, msg, 202, ""},
		{"POST", p + "/groups/g1/:send" + v, msg, 202, ""},
		{"HEAD", p + "/connections/{c}" + v, "", 200, ""},
		{"HEAD", p + "/connections/missing" + v, "", 404, "Warning.Connection.NotExisted"},
		{"HEAD", p + "/users/alice" + v, "", 200, ""},
		{"HEAD", p + "/users/bob" + v, "", 404, "Warning.User.NotExisted"},
		{"HEAD", p + "/groups/g1" + v, "", 404, "Warning.Group.NotExisted"},
		{"GET", p + "/groups/g1" + v, "", 404, "Warning.Group.NotExisted"},
		{"PUT", p + "/groups/g1/connections/{c}" + v, "", 200, ""},
		{"HEAD", p + "/groups/g1" + v, "", 200, ""},
		{"HEAD", p + "/users/alice/groups/g1" + v, "", 200, ""},
		{"PUT", p + "/groups/g1/connections/missing" + v, "", 404, "Error.Connection.NotExisted"},
		{"DELETE", p + "/groups/g1/connections/{c}" + v, "", 200, ""},
		{"HEAD", p + "/groups/g1" + v, "", 404, "Warning.Group.NotExisted"},
		{"DELETE", p + "/groups/g1/connections/missing" + v, "", 404, "Error.Connection.NotExisted"},
		{"PUT", p + "/users/bob/groups/g2" + v, "", 200, ""},
		{"HEAD", p + "/users/bob/groups/g2" + v, "", 200, ""},
		{"HEAD", p + "/groups/g2" + v, "", 404, "Warning.Group.NotExisted"}, // bob has no connection
		{"HEAD", p + "/users/alice/groups/g2" + v, "", 404, "Info.User.NotInGroup"},
		{"DELETE", p + "/users/bob/groups/g2" + v, "", 204, ""},
		{"HEAD", p + "/users/bob/groups/g2" + v, "", 404, "Info.User.NotInGroup"},
		{"PUT", p + "/users/alice/groups/g2" + v + "&ttl=60", "", 200, ""},
		{"HEAD", p + "/groups/g2" + v, "", 200, ""},
		{"PUT", p + "/users/alice/groups/g3" + v, "", 200, ""},
		{"DELETE", p + "/users/alice/groups" + v, "", 204, ""},
		{"HEAD", p + "/users/alice/groups/g2" + v, "", 404, "Info.User.NotInGroup"},
		{"HEAD", p + "/users/alice/groups/g3" + v, "", 404, "Info.User.NotInGroup"},
		{"PUT", p + "/users/alice/groups/g4" + v + "&ttl=0", "", 200, ""}, // current connections only
		{"HEAD", p + "/groups/g4" + v, "", 200, ""},
		{"DELETE", p + "/connections/{c}/groups" + v, "", 200, ""},
		{"HEAD", p + "/groups/g4" + v, "", 404, "Warning.Group.NotExisted"},
		{"DELETE", p + "/connections/missing/groups" + v, "", 200, ""},
		{"PUT", p + "/users/alice/groups/g1" + v + "&ttl=-1", "", 400, "Error.BadRequest"},
		{"POST", p + "/:closeConnections" + v + "&excluded={c}", "", 204, ""},
		{"POST", p + "/users/nobody/:closeConnections" + v, "", 204, ""},
		{"POST", p + "/groups/none/:closeConnections" + v, "", 204, ""},
		{"HEAD", p + "/connections/{c}" + v, "", 200, ""},
		{"POST", p + "/:generateToken" + v + "&userId=u&minutesToExpire=5", "", 200, ""},
		{"POST", p + "/:generateToken" + v + "&minutesToExpire=0", "", 400, "Error.BadRequest"},
		{"DELETE", p + "/connections/missing" + v, "", 200, ""},
		{"DELETE", p + "/connections/{c}" + v + "&reason=bye", "", 200, ""},
		{"HEAD", p + "/connections/{c}" + v, "", 404, "Warning.Connection.NotExisted"},
		{"HEAD", p + "/users/alice" + v, "", 404, "Warning.User.NotExisted"},
	})
	if m := c.expectClose(); m.Error != "bye" || m.AllowReconnect {
		t.Errorf("got close %s, want error bye without allowReconnect", m.raw)
	}
}

func TestRESTStatusCodesV1(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "alice")
	const p = "/api/v1/hubs/chat"
	runSteps(t, e, c.id, []restStep{
		{"HEAD", "/api/v1/health", "", 200, ""},
		{"GET", "/api/v1/health", "", 200, ""},
		{"POST", p, msg, 202, ""},
		{"POST", p + "?excluded={c}", msg, 202, ""},
		{"POST", p + "/users/alice", msg, 202, ""},
		{"POST", p + "/connections/{c}", msg, 202, ""},
		{"POST", p + "/groups/g1", msg, 202, ""},
		{"GET", p + "/connections/{c}", "", 200, ""},
		{"HEAD", p + "/connections/missing", "", 404, "Warning.Connection.NotExisted"},
		{"GET", p + "/users/alice", "", 200, ""},
		{"HEAD", p + "/users/bob", "", 404, "Warning.User.NotExisted"},
		{"GET", p + "/groups/g1", "", 404, "Warning.Group.NotExisted"},
		{"PUT", p + "/groups/g1/connections/{c}", "", 200, ""},
		{"HEAD", p + "/groups/g1", "", 200, ""},
		{"PUT", p + "/groups/g1/connections/missing", "", 404, "Error.Connection.NotExisted"},
		{"DELETE", p + "/groups/g1/connections/{c}", "", 200, ""},
		{"PUT", p + "/connections/{c}/groups/g3", "", 200, ""},
		{"HEAD", p + "/groups/g3", "", 200, ""},
		{"DELETE", p + "/connections/{c}/groups/g3", "", 200, ""},
		{"HEAD", p + "/groups/g3", "", 404, "Warning.Group.NotExisted"},
		{"PUT", p + "/groups/g2/users/bob", "", 202, ""},
		{"GET", p + "/groups/g2/users/bob", "", 200, ""},
		{"HEAD", p + "/users/bob/groups/g2", "", 200, ""},
		{"DELETE", p + "/groups/g2/users/bob", "", 202, ""},
		{"HEAD", p + "/groups/g2/users/bob", "", 404, "Info.User.NotInGroup"},
		{"PUT", p + "/users/bob/groups/g2?ttl=30", "", 202, ""},
		{"DELETE", p + "/users/bob/groups", "", 202, ""},
		{"HEAD", p + "/groups/g2/users/bob", "", 404, "Info.User.NotInGroup"},
		{"DELETE", p + "/connections/{c}?reason=v1", "", 202, ""},
		{"HEAD", p + "/connections/{c}", "", 404, "Warning.Connection.NotExisted"},
	})
	if m := c.expectClose(); m.Error != "v1" {
		t.Errorf("got close %s, want error v1", m.raw)
	}
}

func TestRESTValidation(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "alice")
	const v = "?api-version=2022-06-01"
	long := strings.Repeat("g", 1024)
	runSteps(t, e, c.id, []restStep{
		{"POST", "/api/hubs/1chat/:send" + v, msg, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/a-b/:send" + v, msg, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/" + strings.Repeat("h", 129) + "/:send" + v, msg, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/" + strings.Repeat("h", 128) + "/:send" + v, msg, 202, ""},
		{"POST", "/api/hubs/A_b.c,d%60%5Be%5D/:send" + v, msg, 202, ""},
		{"POST", "/api/v1/hubs/a%20b", msg, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/groups/" + long + "/:send" + v, msg, 202, ""},
		{"POST", "/api/hubs/chat/groups/" + long + "g/:send" + v, msg, 400, "Error.BadRequest"},
		{"PUT", "/api/hubs/chat/groups//connections/{c}" + v, "", 400, "Error.BadRequest"},
		{"PUT", "/api/hubs/chat/users//groups/g" + v, "", 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `not json`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `[1]`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, ``, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"arguments":[]}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":""}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":5}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t","arguments":{}}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t","arguments":"x"}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t"} {}`, 400, "Error.BadRequest"},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t"}`, 202, ""},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t","arguments":null}`, 202, ""},
		{"POST", "/api/hubs/chat/:send" + v, `{"Target":"t","Arguments":[1,2,3,4,5,6,7,8,9,10,11,12]}`, 202, ""},
		{"POST", "/api/hubs/chat/:send" + v, `{"target":"t","arguments":["` + strings.Repeat("x", maxMessageSize) + `"]}`, 413, "Error.PayloadTooLarge"},
		{"POST", "/api/hubs/chat/nothing" + v, msg, 404, "Error.NotFound"},
		{"POST", "/api/nothing" + v, msg, 404, "Error.NotFound"},
		{"GET", "/nothing", "", 404, "Error.NotFound"},
		{"GET", "/api/hubs/chat/:send" + v, "", 405, "Error.MethodNotAllowed"},
		{"PATCH", "/api/hubs/chat/users/u/groups/g" + v, "", 405, "Error.MethodNotAllowed"},
		{"POST", "/api/health", "", 405, "Error.MethodNotAllowed"},
		{"POST", "/api/hubs/chat/:send" + v + "&application=1app", msg, 400, "Error.BadRequest"},
	})
	// Only the valid sends to hub chat arrived, the 12 arguments included.
	c.expect("t", "[]")
	c.expect("t", "[]")
	c.expect("t", "[1,2,3,4,5,6,7,8,9,10,11,12]")
}

// TestRESTEscapedSegments checks that an escaped slash stays inside its
// segment: group "a/b" is not group "a".
func TestRESTEscapedSegments(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("chat", "alice")
	const v = "?api-version=2022-06-01"
	runSteps(t, e, c.id, []restStep{
		{"PUT", "/api/hubs/chat/groups/a%2Fb/connections/{c}" + v, "", 200, ""},
		{"HEAD", "/api/hubs/chat/groups/a%2Fb" + v, "", 200, ""},
		{"HEAD", "/api/hubs/chat/groups/a" + v, "", 404, "Warning.Group.NotExisted"},
		{"HEAD", "/api/hubs/chat/groups/a%20b" + v, "", 404, "Warning.Group.NotExisted"},
		{"PUT", "/api/hubs/chat/users/x%2Fy%3Fz/groups/%E4%BD%A0" + v, "", 200, ""},
		{"HEAD", "/api/hubs/chat/users/x%2Fy%3Fz/groups/%E4%BD%A0" + v, "", 200, ""},
	})
	e.send("chat", "groups/a%2Fb", "g")
	c.expect("g", "[]")
}

// TestRESTApplication checks that application=app targets hub app_hub.
func TestRESTApplication(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	c := e.dialWS("app_chat", "alice")
	e.mustREST("POST", "/api/hubs/Chat/:send?api-version=2022-06-01&application=App", msg, http.StatusAccepted)
	c.expect("t", "[1]")
}

func TestGenerateToken(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	status, _, body := e.rest("POST", "/api/hubs/Chat/:generateToken?api-version=2024-01-01&userId=dora", "")
	if status != 200 {
		t.Fatalf("got %d (%s), want 200", status, body)
	}
	var r struct{ Token string }
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Token == "" {
		t.Fatalf("got %s, want {\"token\":...}", body)
	}
	// The token works for a client of hub chat and carries the user.
	status, _, body = e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", r.Token, "", nil)
	if status != 200 {
		t.Fatalf("negotiate with the generated token: got %d (%s), want 200", status, body)
	}
	var nr negotiateResponse
	json.Unmarshal([]byte(body), &nr)
	c := e.dialToken("chat", "dora", nr.ConnectionToken)
	c.handshake(`{"protocol":"json","version":1}`)
	e.mustREST("HEAD", "/api/hubs/chat/users/dora?api-version=2022-06-01", "", 200)
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		escaped string
		want    []string
		wantErr bool
	}{
		{"/", nil, false},
		{"", nil, false},
		{"/client/", []string{"client"}, false},
		{"/client/negotiate", []string{"client", "negotiate"}, false},
		{"/api/hubs/h/groups/a%2Fb/:send", []string{"api", "hubs", "h", "groups", "a/b", ":send"}, false},
		{"/api/hubs/h/users//groups", []string{"api", "hubs", "h", "users", "", "groups"}, false},
		{"/a%20b%3F", []string{"a b?"}, false},
		{"/a/%zz", nil, true},
	}
	for _, tt := range tests {
		got, err := splitPath(tt.escaped)
		if (err != nil) != tt.wantErr || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("splitPath(%q): got %q, %v, want %q, error %v", tt.escaped, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestRESTDurations checks that durations are range-checked, with a 400
// naming the bound, instead of wrapping into a time in the past.
func TestRESTDurations(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	e.dialWS("chat", "u")
	const v = "?api-version=2024-01-01"
	tests := []struct {
		name, method, path string
		want               int
		wantInMessage      string
	}{
		{"largest minutesToExpire", "POST", "/api/hubs/chat/:generateToken" + v + "&minutesToExpire=2147483647", 200, ""},
		{"minutesToExpire over int32", "POST", "/api/hubs/chat/:generateToken" + v + "&minutesToExpire=2147483648", 400, "from 1 to 2147483647"},
		{"minutesToExpire over int64", "POST", "/api/hubs/chat/:generateToken" + v + "&minutesToExpire=99999999999999999999", 400, "from 1 to 2147483647"},
		{"minutesToExpire 0", "POST", "/api/hubs/chat/:generateToken" + v + "&minutesToExpire=0", 400, "from 1 to 2147483647"},
		{"minutesToExpire not a number", "POST", "/api/hubs/chat/:generateToken" + v + "&minutesToExpire=1h", 400, "from 1 to 2147483647"},
		{"largest ttl", "PUT", "/api/hubs/chat/users/u/groups/big" + v + "&ttl=2147483647", 200, ""},
		{"ttl over int32", "PUT", "/api/hubs/chat/users/u/groups/g" + v + "&ttl=9300000000", 400, "ttl must be an integer from 0 to 2147483647"},
		{"negative ttl", "PUT", "/api/hubs/chat/users/u/groups/g" + v + "&ttl=-1", 400, "ttl must be an integer from 0 to 2147483647"},
		{"v1 ttl over int32", "PUT", "/api/v1/hubs/chat/groups/g/users/u?ttl=2147483648", 400, "ttl must be an integer from 0 to 2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.rest(tt.method, tt.path, "")
			if status != tt.want || !strings.Contains(body, tt.wantInMessage) {
				t.Fatalf("got %d %s, want %d with %q", status, body, tt.want, tt.wantInMessage)
			}
		})
	}
	t.Run("the longest token is valid", func(t *testing.T) {
		_, _, body := e.rest("POST", "/api/hubs/chat/:generateToken"+v+"&minutesToExpire=2147483647", "")
		var r struct{ Token string }
		json.Unmarshal([]byte(body), &r)
		var claims jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(r.Token, &claims); err != nil || claims.ExpiresAt == nil {
			t.Fatalf("got token %q (%v), want one with exp", r.Token, err)
		}
		if want := time.Now().Add(100 * 365 * 24 * time.Hour); claims.ExpiresAt.Before(want) {
			t.Errorf("got exp %v, want after %v", claims.ExpiresAt, want)
		}
		if st, _, body := e.do("POST", "/client/negotiate?hub=chat&negotiateVersion=1", r.Token, "", nil); st != 200 {
			t.Errorf("negotiate with it: got %d (%s), want 200", st, body)
		}
	})
	t.Run("the longest ttl makes a membership", func(t *testing.T) {
		e.mustREST("HEAD", "/api/hubs/chat/users/u/groups/big"+v, "", 200)
	})
}
