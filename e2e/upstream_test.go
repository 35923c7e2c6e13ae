package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

// upstreamEvent is one upstream request the test's upstream accepted.
type upstreamEvent struct {
	conn, user, event, invocationID, error string
	contentType, protocol                  string // the request's Content-Type and the body's hub protocol
	args                                   []json.RawMessage
	query                                  url.Values
}

// testUpstream is an app's upstream function in the test: it checks each
// request with the upstream package (signature against the development key,
// headers, body), records it, and answers as a SignalR trigger function
// would:
//
//	connected       403 for the user "refused", else 200
//	echo(x)         the completion with result x
//	fail(s)         the completion with the error "it failed: s"
//	missing         404, as when no function serves the event
//	seq(i)          the completion with result i
//	kick            closes the connection through the service's REST API
//	                (reason "kicked"), then answers
//	anything else   200, empty
type testUpstream struct {
	*httptest.Server

	mu      sync.Mutex
	service string // the service's base URL, for kick
	events  []upstreamEvent
	refused []string // why requests were refused (a bug of the service)
	changed chan struct{}
}

func newTestUpstream(tb testing.TB) *testUpstream {
	tb.Helper()
	u := &testUpstream{changed: make(chan struct{}, 1)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	tb.Cleanup(u.Close)
	return u
}

func (u *testUpstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := upstream.Parse(r.Header, body, []string{devAccessKey})
	if err != nil {
		u.record(upstreamEvent{}, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/signalr/"+req.Hub+"/"+req.Category+"/") {
		u.record(upstreamEvent{}, "path "+r.URL.Path+" does not follow the template")
	}
	u.record(upstreamEvent{conn: req.ConnectionID, user: req.UserID, event: req.Event, invocationID: req.InvocationID,
		error: req.Error, contentType: r.Header.Get("Content-Type"), protocol: req.Protocol, args: req.Arguments, query: req.Query}, "")
	var arg json.RawMessage
	if len(req.Arguments) > 0 {
		arg = req.Arguments[0]
	}
	complete := func(result json.RawMessage, errMsg string) {
		if req.InvocationID == "" {
			return
		}
		b, err := upstream.Completion(req.Protocol, req.InvocationID, result, errMsg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}
	switch req.Event {
	case upstream.EventConnected:
		if req.UserID == "refused" {
			w.WriteHeader(http.StatusForbidden)
		}
	case "echo", "seq":
		complete(arg, "")
	case "fail":
		var s string
		json.Unmarshal(arg, &s)
		complete(nil, "it failed: "+s)
	case "missing":
		http.NotFound(w, r)
	case "kick":
		u.kick(req.Hub, req.ConnectionID)
		complete(nil, "")
	}
}

// kick closes connection id through the service's REST API.
func (u *testUpstream) kick(hub, id string) {
	u.mu.Lock()
	service := u.service
	u.mu.Unlock()
	path := "/api/hubs/" + hub + "/connections/" + url.PathEscape(id)
	now := time.Now()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": service + path, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(devAccessKey))
	req, _ := http.NewRequest(http.MethodDelete, service+path+"?api-version=2022-06-01&reason=kicked", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.record(upstreamEvent{}, "kick: "+err.Error())
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		u.record(upstreamEvent{}, fmt.Sprintf("kick: status %d", resp.StatusCode))
	}
}

func (u *testUpstream) record(e upstreamEvent, refused string) {
	u.mu.Lock()
	if refused != "" {
		u.refused = append(u.refused, refused)
	} else {
		u.events = append(u.events, e)
	}
	u.mu.Unlock()
	select {
	case u.changed <- struct{}{}:
	default:
	}
}

// of returns the events of connection id so far, and the refusals.
func (u *testUpstream) of(id string) ([]upstreamEvent, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []upstreamEvent
	for _, e := range u.events {
		if e.conn == id {
			out = append(out, e)
		}
	}
	return out, append([]string(nil), u.refused...)
}

// waitFor waits until connection id's events satisfy done, and returns
// them; it fails on a refused request or after a minute.
func (u *testUpstream) waitFor(tb testing.TB, id string, done func([]upstreamEvent) bool) []upstreamEvent {
	tb.Helper()
	deadline := time.After(time.Minute)
	for {
		events, refused := u.of(id)
		if len(refused) > 0 {
			tb.Fatalf("the upstream refused requests: %q", refused)
		}
		if done(events) {
			return events
		}
		select {
		case <-u.changed:
		case <-deadline:
			tb.Fatalf("connection %s: upstream events %v, still waiting", id, eventNames(events))
		}
	}
}

func eventNames(events []upstreamEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.event)
	}
	return out
}

// hasEvent reports whether events hold one named event.
func hasEvent(event string) func([]upstreamEvent) bool {
	return func(events []upstreamEvent) bool {
		for _, e := range events {
			if e.event == event {
				return true
			}
		}
		return false
	}
}

// localServiceLine matches the connection string local-service prints.
var localServiceLine = regexp.MustCompile(`Endpoint=http://127\.0\.0\.1;Port=(\d+);`)

// startLocalServiceCmd runs `funcsignalr local-service -addr 127.0.0.1:0
// -upstream <upstreamURL>` and returns the service's base URL.
func startLocalServiceCmd(tb testing.TB, upstreamURL string) string {
	tb.Helper()
	cmd := exec.Command(filepath.Join(appRoot, "funcsignalr"), "local-service", "-addr", "127.0.0.1:0", "-upstream", upstreamURL)
	cmd.Dir = appRoot
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FUNCSIGNALR_LOG_LEVEL=debug"}
	m := testkit.StartProcess(tb, cmd).WaitOutput(tb, localServiceLine, 30*time.Second)
	return "http://127.0.0.1:" + m[1]
}

// clientToken is a client access token of user for hub on the local
// service, as negotiate issues it.
func clientToken(tb testing.TB, hub, user string) string {
	tb.Helper()
	now := time.Now()
	return signWith(tb, jwt.SigningMethodHS256, devKey, jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=" + hub, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "asrs.s.uid": user, "role": "tester",
	})
}

// TestUpstreamOfficialClient has the official client invoke and send
// through `funcsignalr local-service -upstream` to an upstream in the test,
// over every transport and, where the transport carries binary frames, both
// hub protocols: invoke resolves with the upstream's results and rejects
// with its errors, a send arrives, 1,000 invocations arrive in order, a
// refused connected closes the client with the error, and disconnected
// follows, with the close error when there is one.
func TestUpstreamOfficialClient(t *testing.T) {
	requireNode(t)
	up := newTestUpstream(t)
	service := startLocalServiceCmd(t, up.URL+"/api/signalr/{hub}/{category}/{event}")
	up.mu.Lock()
	up.service = service
	up.mu.Unlock()
	clientURL := service + "/client/?hub=chat"

	for _, transport := range []string{"WebSockets", "ServerSentEvents", "LongPolling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			// The client refuses MessagePack over Server-Sent Events, which
			// carry text only.
			protocols := []string{upstream.ProtocolJSON, upstream.ProtocolMessagePack}
			if transport == "ServerSentEvents" {
				protocols = protocols[:1]
			}
			for _, protocol := range protocols {
				t.Run("invoke and send over "+protocol, func(t *testing.T) {
					invokeAndSend(t, up, clientURL, transport, protocol)
				})
			}
			t.Run("1000 invocations in order", func(t *testing.T) {
				const n = 1000
				c := startClient(t, "seq", clientOptions{URL: clientURL, Transport: transport, AccessToken: clientToken(t, "chat", "bob"),
					Timeout: 2 * time.Minute, Calls: []clientCall{{Invoke: "seq", Repeat: n}}})
				events, code := c.finish(t, time.Minute)
				if code != clientOK {
					t.Fatalf("exit code %d, want %d\n%s", code, clientOK, c.describe())
				}
				var id string
				results := 0
				for _, e := range events {
					switch {
					case e.Event == "connected":
						id = e.ConnectionID
					case e.Event == "result":
						if string(e.Result) != fmt.Sprint(*e.Index) {
							t.Fatalf("call %d resolved with %s, want %d", *e.Index, e.Result, *e.Index)
						}
						results++
					case e.Event == "rejected":
						t.Fatalf("call %d rejected: %s", *e.Index, e.Message)
					}
				}
				if results != n {
					t.Fatalf("got %d results, want %d", results, n)
				}
				ups := up.waitFor(t, id, hasEvent(upstream.EventDisconnected))
				i := 0
				for _, e := range ups {
					if e.event != "seq" {
						continue
					}
					if len(e.args) != 1 || string(e.args[0]) != fmt.Sprint(i) {
						t.Fatalf("upstream invocation %d: got args %s, want [%d]", i, e.args, i)
					}
					i++
				}
				if i != n {
					t.Fatalf("got %d invocations upstream, want %d", i, n)
				}
			})
			t.Run("refused connected", func(t *testing.T) {
				// Expecting a message that never comes, the client runs
				// until it is closed.
				c := startClient(t, "refused", clientOptions{URL: clientURL, Transport: transport, AccessToken: clientToken(t, "chat", "refused"),
					Timeout: time.Minute, Expect: 1})
				events, _ := c.finish(t, time.Minute)
				const want = "Connection rejected by upstream (403)"
				found := false
				for _, e := range events {
					found = found || strings.Contains(e.Message, want) || e.Error != nil && strings.Contains(*e.Error, want)
				}
				if !found {
					t.Errorf("want an error saying %q\n%s", want, c.describe())
				}
			})
			t.Run("kicked", func(t *testing.T) {
				c := startClient(t, "kicked", clientOptions{URL: clientURL, Transport: transport, AccessToken: clientToken(t, "chat", "carol"),
					Timeout: time.Minute, Calls: []clientCall{{Invoke: "kick"}}})
				events, _ := c.finish(t, time.Minute)
				var id string
				for _, e := range events {
					if e.Event == "connected" {
						id = e.ConnectionID
					}
				}
				if id == "" {
					t.Fatalf("the client did not connect\n%s", c.describe())
				}
				ups := up.waitFor(t, id, hasEvent(upstream.EventDisconnected))
				if last := ups[len(ups)-1]; last.event != upstream.EventDisconnected || last.error != "kicked" {
					t.Errorf("got upstream events %q, the last with error %q; want disconnected last with error kicked", eventNames(ups), last.error)
				}
			})
		})
	}
}

// bigValues holds the values whose MessagePack and JSON forms differ most:
// integers beyond 2^53 (JavaScript numbers hold them as doubles, so they
// compare as doubles), a float, nil, nested maps and arrays.
const bigValues = `{"echo":[42,9223372036854775807,18446744073709551615,1.5,"text",true,null,[1,{"k":"v"}]]}`

// invokeAndSend has a client speaking protocol invoke and send through the
// service to up, and checks what the client got and what up saw: every
// invocation forwarded in the client's protocol and with its Content-Type,
// results and errors carried back in it.
func invokeAndSend(tb testing.TB, up *testUpstream, clientURL, transport, protocol string) {
	tb.Helper()
	c := startClient(tb, "invoke", clientOptions{URL: clientURL, Transport: transport, Protocol: protocol,
		AccessToken: clientToken(tb, "chat", "alice"), Timeout: time.Minute, Calls: []clientCall{
			{Invoke: "echo", Args: []any{map[string]any{"a": []any{1, "x"}}}},
			{Invoke: "echo", Args: []any{"str"}},
			{Invoke: "echo", Args: []any{42.5}},
			{Invoke: "echo", Args: []any{nil}},
			{Invoke: "fail", Args: []any{"boom"}},
			{Invoke: "missing"},
			{Send: "note", Args: []any{"hi", 2}},
			{Invoke: "echo", Args: []any{json.RawMessage(bigValues)}},
		}})
	events, code := c.finish(tb, time.Minute)
	if code != clientOK {
		tb.Fatalf("exit code %d, want %d\n%s", code, clientOK, c.describe())
	}
	want := map[int]string{
		0: `result {"a":[1,"x"]}`, 1: `result "str"`, 2: `result 42.5`, 3: `result null`,
		4: `rejected it failed: boom`, 5: `rejected Invocation failed, status code 404`,
		7: "result " + canonicalJSON([]byte(bigValues)),
	}
	got := map[int]string{}
	var id string
	for _, e := range events {
		switch {
		case e.Event == "connected":
			id = e.ConnectionID
		case e.Index != nil && e.Event == "result":
			got[*e.Index] = "result " + canonicalJSON(e.Result)
		case e.Index != nil:
			got[*e.Index] = e.Event + " " + e.Message
		}
	}
	for i, w := range want {
		if got[i] != w {
			tb.Errorf("call %d: got %q, want %q", i, got[i], w)
		}
	}
	if len(got) != len(want) {
		tb.Errorf("got %d settled calls reported, want %d: %v", len(got), len(want), got)
	}
	ups := up.waitFor(tb, id, hasEvent(upstream.EventDisconnected))
	names := eventNames(ups)
	wantNames := []string{"connected", "echo", "echo", "echo", "echo", "fail", "missing", "note", "echo", "disconnected"}
	if strings.Join(names, ",") != strings.Join(wantNames, ",") {
		tb.Fatalf("got upstream events %q, want %q", names, wantNames)
	}
	wantType := map[string]string{upstream.ProtocolJSON: upstream.ContentTypeJSON, upstream.ProtocolMessagePack: upstream.ContentTypeMessagePack}[protocol]
	for _, e := range ups {
		if e.user != "alice" {
			tb.Errorf("%s: got user %q, want alice", e.event, e.user)
		}
		if e.query.Get("hub") != "chat" || e.query.Has("access_token") {
			tb.Errorf("%s: got client query %v, want hub=chat without access_token", e.event, e.query)
		}
		if e.event == upstream.EventConnected || e.event == upstream.EventDisconnected {
			continue
		}
		if e.contentType != wantType || e.protocol != protocol {
			tb.Errorf("%s: got Content-Type %q, protocol %q; want %s, %s", e.event, e.contentType, e.protocol, wantType, protocol)
		}
	}
	if note := ups[len(ups)-3]; note.invocationID != "" || len(note.args) != 2 || string(note.args[0]) != `"hi"` {
		tb.Errorf("send: got id %q args %s, want no id and [\"hi\",2]", note.invocationID, note.args)
	}
	if big := ups[len(ups)-2]; len(big.args) != 1 || canonicalJSON(big.args[0]) != canonicalJSON([]byte(bigValues)) {
		tb.Errorf("echo arguments upstream: got %s, want [%s]", big.args, bigValues)
	}
	if last := ups[len(ups)-1]; last.error != "" {
		tb.Errorf("disconnected: got error %q, want none after stop()", last.error)
	}
}
