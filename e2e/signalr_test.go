package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// The end-to-end tests: the official @microsoft/signalr client
// (e2e/node/client.mjs) negotiates through our negotiate function, follows
// its redirect to the embedded local SignalR service, and receives what our
// send function sends, over every transport.

// devAccessKey is the local service's public development key, the official
// emulator's.
const devAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// transports are the client transports the local service offers.
var transports = []string{"WebSockets", "ServerSentEvents", "LongPolling"}

// signalRApp is a running funcsignalr as its callers see it.
type signalRApp struct {
	base    string      // scheme://host:port in front of /api
	sendKey http.Header // what send needs: the function key under the host
	logs    func() string
}

// httpClient bounds every call the tests make to the app.
var httpClient = &http.Client{Timeout: time.Minute}

// startStandalone runs the built binary as `go run .` does: in the app root,
// without FUNCTIONS_CUSTOMHANDLER_PORT, so it serves standalone. It listens
// on a port the kernel picks (FUNCSIGNALR_ADDR=127.0.0.1:0), read back from
// its "funcsignalr listening" log line, and so does the embedded service:
// no test needs 127.0.0.1:7071 or :8888, and a developer's `go run .` on
// them does not get in the way.
func startStandalone(tb testing.TB, settings ...string) *signalRApp {
	tb.Helper()
	return startStandaloneApp(tb, appRoot, "funcsignalr", settings...)
}

// startStandaloneApp is startStandalone for another function app root built
// with funchost.Build, whose executable is exe.
func startStandaloneApp(tb testing.TB, root, exe string, settings ...string) *signalRApp {
	tb.Helper()
	cmd := exec.Command(filepath.Join(root, exe))
	cmd.Dir = root
	// Only what a developer's shell surely has: no SignalR settings, no
	// FUNCTIONS_CUSTOMHANDLER_PORT.
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FUNCSIGNALR_ADDR=127.0.0.1:0",
		"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0",
		"FUNCSIGNALR_LOG_LEVEL=debug",
	}, settings...)
	p := testkit.StartProcess(tb, cmd)
	m := p.WaitOutput(tb, standaloneListening, 30*time.Second)
	return &signalRApp{base: "http://" + m[1], logs: p.Output.String}
}

// standaloneListening matches the line the handler logs once it serves.
var standaloneListening = regexp.MustCompile(`msg="funcsignalr listening" addr=(127\.0\.0\.1:\d+) mode=standalone`)

// startForwardingHost runs the handler under the fake Functions host in
// forwarding mode; clients and senders use the host's public URL.
func startForwardingHost(tb testing.TB) *signalRApp {
	tb.Helper()
	h := startHost(tb, false)
	return &signalRApp{
		base:    h.URL,
		sendKey: http.Header{"X-Functions-Key": {h.FunctionKey}},
		logs:    func() string { return h.Stdout() + h.Stderr() },
	}
}

// connectionInfo is negotiate's answer.
type connectionInfo struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// negotiate calls our negotiate function as user.
func (a *signalRApp) negotiate(tb testing.TB, user string) connectionInfo {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, a.base+"/api/negotiate?negotiateVersion=1", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if user != "" {
		req.Header.Set("x-ms-client-principal-id", user)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /api/negotiate: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var info connectionInfo
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &info) != nil || info.URL == "" || info.AccessToken == "" {
		tb.Fatalf("POST /api/negotiate = %d %s, want 200 {\"url\",\"accessToken\"}", resp.StatusCode, body)
	}
	return info
}

// op is one object of a send body: a message or a group action.
type op = map[string]any

// send posts ops to our send function, one object alone or several as a
// batch, and fails unless all were carried out.
func (a *signalRApp) send(tb testing.TB, ops ...op) {
	tb.Helper()
	var body any = ops
	if len(ops) == 1 {
		body = ops[0]
	}
	raw, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, a.base+"/api/send", bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range a.sendKey {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /api/send: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	var answer struct{ Sent *int }
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(got, &answer) != nil || answer.Sent == nil || *answer.Sent != len(ops) {
		short := string(raw)
		if len(short) > 300 {
			short = short[:300] + "…"
		}
		tb.Fatalf("POST /api/send %s = %d %s, want 202 {\"sent\":%d}", short, resp.StatusCode, got, len(ops))
	}
}

// TestSignalRClientStandalone runs the official client against funcsignalr
// started as `go run .` does, withUrl("http://<its address>/api"), over every
// transport.
func TestSignalRClientStandalone(t *testing.T) {
	requireNode(t)
	a := startStandalone(t)
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) { exerciseClients(t, a, transport) })
	}
}

// TestSignalRClientUnderFunctionsHost runs the same through the fake
// Functions host in forwarding mode, send with the function key.
func TestSignalRClientUnderFunctionsHost(t *testing.T) {
	requireNode(t)
	a := startForwardingHost(t)
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) { exerciseClients(t, a, transport) })
	}
}

// localClientURL matches negotiate's redirect to the embedded service.
var localClientURL = regexp.MustCompile(`^http://127\.0\.0\.1:(\d+)/client/\?hub=default$`)

// exerciseClients connects official clients through negotiate over
// transport, sends to everyone, users, groups and connections through send,
// and checks that each client got exactly its messages, in order:
//
//   - A and A2 are two connections of user alice (A2 connects later), B one of bob;
//   - group membership by user covers alice's later connection;
//   - after remove and removeAll, group messages do not arrive: a later
//     sentinel sent to the user does, and the client compares its whole
//     ordered list, so a group message sent before the sentinel would show;
//   - 1,000 messages, in batches of 100 and as single sends, arrive complete
//     and in order at every connection.
//
// Names carry the transport so that subtests cannot see each other.
func exerciseClients(t *testing.T, a *signalRApp, transport string) {
	suffix := strings.ToLower(transport)
	alice, bob := "alice-"+suffix, "bob-"+suffix
	room := func(name string) string { return "room-" + name + "-" + suffix }

	// Negotiate through our function: a redirect to the local service, with
	// the user id from x-ms-client-principal-id in the token.
	info := a.negotiate(t, alice)
	if m := localClientURL.FindStringSubmatch(info.URL); m == nil || strings.HasSuffix(a.base, ":"+m[1]) {
		t.Fatalf("negotiate url = %q, want http://127.0.0.1:<the local service's port>/client/?hub=default", info.URL)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(info.AccessToken, claims, func(*jwt.Token) (any, error) { return []byte(devAccessKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()); err != nil {
		t.Fatalf("negotiate accessToken does not verify with the development key: %v", err)
	}
	if uid, aud := claims["asrs.s.uid"], claims["aud"]; uid != alice || aud != "http://127.0.0.1/client/?hub=default" {
		t.Errorf("negotiate token asrs.s.uid = %v, aud = %v; want %q and http://127.0.0.1/client/?hub=default", uid, aud, alice)
	}

	msg := func(text string) message { return newMessage("newMessage", text) }
	// Twelve arguments of every JSON type: no 10-argument limit, no
	// re-encoding surprises.
	everyone := []any{"to everyone", 1, 2.5, true, nil, map[string]any{"nested": map[string]any{"a": []any{1, "x"}}},
		[]any{}, "ünïcødé ✓ \u2028 \"quoted\"", "", -9, 1e21, 11}
	const bulk = 1000
	var bulkMsgs []message
	for i := range bulk {
		bulkMsgs = append(bulkMsgs, newMessage("bulk", i, "bulk"))
	}
	wantA := append([]message{newMessage("newMessage", everyone...), msg("to alice"), msg("to room-user"),
		msg("to every connection of alice"), msg("to room-user, alice's later connection too"),
		msg("to alice's first connection"), msg("in room-a"), msg("sentinel")}, bulkMsgs...)
	wantA2 := append([]message{msg("to every connection of alice"), msg("to room-user, alice's later connection too"),
		msg("in room-a"), msg("sentinel")}, bulkMsgs...)
	wantB := append([]message{newMessage("newMessage", everyone...), msg("to bob's connection"), msg("to room-conn"),
		msg("in room-c"), msg("sentinel")}, bulkMsgs...)

	start := func(name, user string, want []message) *nodeClient {
		return startClient(t, name, clientOptions{URL: a.base + "/api", Transport: transport, User: user,
			Targets: []string{"newMessage", "bulk"}, Expect: len(want), Timeout: 3 * time.Minute})
	}
	A := start("A ("+alice+")", alice, wantA)
	B := start("B ("+bob+")", bob, wantB)
	aID, bID := connectedOver(t, A, transport), connectedOver(t, B, transport)

	a.send(t, op{"target": "newMessage", "arguments": everyone})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to alice"}, "userId": alice})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to bob's connection"}, "connectionId": bID})
	a.send(t, op{"action": "add", "groupName": room("user"), "userId": alice})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to room-user"}, "groupName": room("user")})
	a.send(t, op{"action": "add", "groupName": room("conn"), "connectionId": bID})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to room-conn"}, "groupName": room("conn")})

	A2 := start("A2 ("+alice+", later)", alice, wantA2)
	connectedOver(t, A2, transport)
	a.send(t, op{"target": "newMessage", "arguments": []any{"to every connection of alice"}, "userId": alice})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to room-user, alice's later connection too"}, "groupName": room("user")})
	a.send(t, op{"target": "newMessage", "arguments": []any{"to alice's first connection"}, "connectionId": aID})

	// remove: by user and by connection.
	a.send(t, op{"action": "remove", "groupName": room("user"), "userId": alice})
	a.send(t, op{"action": "remove", "groupName": room("conn"), "connectionId": bID})
	a.send(t, op{"target": "newMessage", "arguments": []any{"after remove: must not arrive"}, "groupName": room("user")})
	a.send(t, op{"target": "newMessage", "arguments": []any{"after remove: must not arrive"}, "groupName": room("conn")})

	// removeAll: by user and by connection, after proving the adds worked.
	a.send(t,
		op{"action": "add", "groupName": room("a"), "userId": alice},
		op{"action": "add", "groupName": room("b"), "userId": alice},
		op{"action": "add", "groupName": room("c"), "connectionId": bID},
		op{"action": "add", "groupName": room("d"), "connectionId": bID})
	a.send(t,
		op{"target": "newMessage", "arguments": []any{"in room-a"}, "groupName": room("a")},
		op{"target": "newMessage", "arguments": []any{"in room-c"}, "groupName": room("c")})
	a.send(t, op{"action": "removeAll", "userId": alice})
	a.send(t, op{"action": "removeAll", "connectionId": bID})
	var gone []op
	for _, g := range []string{"a", "b", "c", "d"} {
		gone = append(gone, op{"target": "newMessage", "arguments": []any{"after removeAll: must not arrive"}, "groupName": room(g)})
	}
	a.send(t, gone...)

	// The sentinels, straight to the users.
	a.send(t, op{"target": "newMessage", "arguments": []any{"sentinel"}, "userId": alice})
	a.send(t, op{"target": "newMessage", "arguments": []any{"sentinel"}, "userId": bob})

	// 1,000 messages to everyone: batches of 100, then 100 single sends,
	// then batches again.
	bulkOp := func(i int) op { return op{"target": "bulk", "arguments": []any{i, "bulk"}} }
	for i := 0; i < bulk; {
		if i >= 300 && i < 400 {
			a.send(t, bulkOp(i))
			i++
			continue
		}
		batch := make([]op, 0, 100)
		for ; len(batch) < 100; i++ {
			batch = append(batch, bulkOp(i))
		}
		a.send(t, batch...)
	}

	for _, c := range []struct {
		client *nodeClient
		want   []message
	}{{A, wantA}, {A2, wantA2}, {B, wantB}} {
		events, code := c.client.finish(t, 30*time.Second)
		got := messages(events)
		if diff := diffMessages(got, c.want); diff != "" || code != clientOK {
			t.Errorf("client %s (exit code %d): %s\n%s", c.client.name, code, diff, c.client.describe())
		}
	}
}

// connectedOver waits for c to connect and checks it used transport.
func connectedOver(t *testing.T, c *nodeClient, transport string) string {
	t.Helper()
	e := c.connected(t, time.Minute)
	if e.Transport != transport || e.ConnectionID == "" {
		t.Fatalf("client %s connected with %s, want transport %s and a connectionId", c.name, e, transport)
	}
	return e.ConnectionID
}

// diffMessages describes how got differs from want, or returns "".
func diffMessages(got, want []message) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("message %d = %s, want %s (got %d messages, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	switch {
	case len(got) < len(want):
		return fmt.Sprintf("got %d messages, want %d: missing from %s on", len(got), len(want), want[len(got)])
	case len(got) > len(want):
		return fmt.Sprintf("got %d messages, want %d: extra %s", len(got), len(want), got[len(want)])
	}
	return ""
}

// TestLocalServiceRefusesBadTokens has the official client connect straight
// to the embedded service with tokens minted here: a valid one connects, and
// one signed with another key, an expired one or one for another hub is
// refused with 401, at the service's negotiate and at a WebSocket connect
// that skips it.
func TestLocalServiceRefusesBadTokens(t *testing.T) {
	requireNode(t)
	a := startForwardingHost(t)
	serviceURL := a.negotiate(t, "").URL // http://127.0.0.1:<port>/client/?hub=default
	if !localClientURL.MatchString(serviceURL) {
		t.Fatalf("negotiate url = %q, want the local service's /client/?hub=default", serviceURL)
	}
	u, err := url.Parse(serviceURL)
	if err != nil {
		t.Fatal(err)
	}
	audience := "http://" + u.Hostname() + "/client/?hub=default"
	now := time.Now()
	mint := func(key, aud string, exp time.Time) string {
		claims := jwt.MapClaims{"aud": aud, "iat": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix(), "asrs.s.uid": "mallory"}
		return signWith(t, jwt.SigningMethodHS256, []byte(key), claims)
	}
	tests := []struct {
		name    string
		token   string
		refused bool
	}{
		{"valid", mint(devAccessKey, audience, now.Add(time.Hour)), false},
		{"wrong key", mint("WRONG0KEY0ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678", audience, now.Add(time.Hour)), true},
		{"expired", mint(devAccessKey, audience, now.Add(-time.Hour)), true},
		{"another hub", mint(devAccessKey, "http://"+u.Hostname()+"/client/?hub=otherhub", now.Add(time.Hour)), true},
	}
	for _, tt := range tests {
		for _, skip := range []bool{false, true} {
			name := tt.name + "/negotiate"
			if skip {
				name = tt.name + "/skip negotiation"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := startClient(t, name, clientOptions{URL: serviceURL, Transport: "WebSockets", AccessToken: tt.token,
					SkipNegotiation: skip, Timeout: time.Minute})
				events, code := c.finish(t, 60*time.Second)
				var connected, refused bool
				for _, e := range events {
					connected = connected || e.Event == "connected"
					refused = refused || (e.Event == "error" && e.Stage == "start" && e.StatusCode == http.StatusUnauthorized)
				}
				switch {
				case tt.refused && (connected || !refused || code != clientStartFailed):
					t.Errorf("want the connection refused with 401 (exit code %d)\n%s", clientStartFailed, c.describe())
				case !tt.refused && (!connected || code != clientOK):
					t.Errorf("want the control token to connect (exit code %d)\n%s", clientOK, c.describe())
				}
			})
		}
	}
}
