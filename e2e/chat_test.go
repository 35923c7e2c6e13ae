package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/funchost"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// chatDir is the example's source: main.go, host.json, the function folders.
var chatDir = filepath.Join("..", "examples", "chat")

// chatApp builds the example app beside appRoot, once for the tests that
// need it, and returns its root.
var chatApp = sync.OnceValues(func() (string, error) {
	return funchost.Build(chatDir, filepath.Join(filepath.Dir(appRoot), "chat"))
})

// startChat runs examples/chat standalone, as `cd examples/chat && go run .`
// does, on free ports.
func startChat(tb testing.TB) *signalRApp {
	tb.Helper()
	root, err := chatApp()
	if err != nil {
		tb.Fatalf("build examples/chat: %v", err)
	}
	return startStandaloneApp(tb, root, "chat")
}

// chatTargets are the client methods the chat's functions call.
var chatTargets = []string{"newMessage", "newConnection", "connectionClosed", "tick"}

// session is one e2e/node/session.mjs: an official client that stays
// connected and invokes hub methods on command.
type session struct {
	*nodeClient
	user, connectionID string
	stdin              io.WriteCloser

	mu     sync.Mutex
	nextID int
	seen   map[string]int // per target: events before this index are consumed
}

// connectSession connects user ("" for none) to a's hub through negotiate
// and waits until it is connected.
func connectSession(tb testing.TB, a *signalRApp, user string) *session {
	tb.Helper()
	s := startSession(tb, a, user)
	s.connectionID = s.connected(tb, 20*time.Second).ConnectionID
	return s
}

func startSession(tb testing.TB, a *signalRApp, user string) *session {
	tb.Helper()
	args := []string{"session.mjs", "--url", a.base + "/api", "--targets", strings.Join(chatTargets, ","), "--timeout", "120000"}
	if user != "" {
		args = append(args, "--user", user)
	}
	name := user
	if name == "" {
		name = "nameless"
	}
	c, stdin := startNode(tb, name, args, nil, 3*time.Minute, true)
	return &session{nodeClient: c, user: user, stdin: stdin, seen: map[string]int{}}
}

// invoke calls a hub method and waits for its outcome: the result, or the
// error the client's promise rejected with.
func (s *session) invoke(tb testing.TB, method string, args ...any) (result string, errText string) {
	tb.Helper()
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	if args == nil {
		args = []any{}
	}
	cmd, _ := json.Marshal(map[string]any{"id": id, "invoke": method, "args": args})
	if _, err := s.stdin.Write(append(cmd, '\n')); err != nil {
		tb.Fatalf("%s: write command: %v\n%s", s.name, err, s.describe())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, exited := s.snapshot()
		for _, e := range events {
			if e.ID != id {
				continue
			}
			if e.Event == "result" {
				return canonicalJSON(e.Result), ""
			}
			return "", e.Message
		}
		if exited || time.Now().After(deadline) {
			tb.Fatalf("%s: no outcome for %s%s within 20s\n%s", s.name, method, mustJSON(args), s.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ok invokes a hub method that must succeed.
func (s *session) ok(tb testing.TB, method string, args ...any) {
	tb.Helper()
	if _, errText := s.invoke(tb, method, args...); errText != "" {
		tb.Fatalf("%s: %s%s failed: %s", s.name, method, mustJSON(args), errText)
	}
}

// next returns the arguments (canonical JSON) of the next message for
// target that this test has not looked at yet.
func (s *session) next(tb testing.TB, target string) string {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, exited := s.snapshot()
		s.mu.Lock()
		for i := s.seen[target]; i < len(events); i++ {
			if e := events[i]; e.Event == "message" && e.Target == target {
				s.seen[target] = i + 1
				s.mu.Unlock()
				raw, _ := json.Marshal(e.Args)
				return canonicalJSON(raw)
			}
		}
		s.seen[target] = len(events)
		s.mu.Unlock()
		if exited || time.Now().After(deadline) {
			tb.Fatalf("%s: no %s within 20s\n%s", s.name, target, s.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor consumes target's messages until one equal to want arrives.
func (s *session) waitFor(tb testing.TB, target, want string) {
	tb.Helper()
	want = canonicalJSON([]byte(want))
	for s.next(tb, target) != want {
		// an earlier one: keep looking
	}
}

func (s *session) stop(tb testing.TB) {
	tb.Helper()
	if _, err := s.stdin.Write([]byte(`{"stop":true}` + "\n")); err != nil {
		tb.Fatalf("%s: stop: %v", s.name, err)
	}
	if _, code := s.finish(tb, 20*time.Second); code != clientOK {
		tb.Errorf("%s: exit code %d after stop, want 0\n%s", s.name, code, s.describe())
	}
}

func mustJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// chatMessage is newMessage's argument as the chat sends it.
func chatMessage(sender, connectionID, text string) string {
	return canonicalJSON([]byte(mustJSON([]any{map[string]string{"sender": sender, "connectionId": connectionID, "text": text}})))
}

func chatConnection(s *session) string {
	return canonicalJSON([]byte(mustJSON([]any{map[string]string{"connectionId": s.connectionID, "userId": s.user}})))
}

// TestChatExampleWithNodeClients drives every function of examples/chat
// with the official client under Node.js, offline: the embedded local
// service forwards the clients' invocations and connection events to the
// app's signalr function, whose SignalR trigger functions answer and send.
func TestChatExampleWithNodeClients(t *testing.T) {
	a := startChat(t)

	t.Run("a connection without a user id is refused", func(t *testing.T) {
		s := startSession(t, a, "")
		events, code := s.finish(t, 20*time.Second)
		refused := false
		for _, e := range events {
			msg := e.Message
			if e.Error != nil {
				msg = *e.Error
			}
			if (e.Event == "closed" || e.Event == "error") && strings.Contains(msg, "403") {
				refused = true
			}
		}
		if !refused || code == clientOK {
			t.Errorf("got exit %d, want the connection closed as rejected (403)\n%s", code, s.describe())
		}
	})

	alice := connectSession(t, a, "alice")
	bob := connectSession(t, a, "bob")
	// nothingBefore proves that neither client received a newMessage not
	// yet looked at before a marker that from broadcasts now: the service
	// delivers one connection's messages in the order they were sent.
	nothingBefore := func(t *testing.T, from *session, marker string) {
		t.Helper()
		from.ok(t, "broadcast", marker)
		for _, c := range []*session{alice, bob} {
			if got, want := c.next(t, "newMessage"), chatMessage(from.user, from.connectionID, marker); got != want {
				t.Errorf("%s got %s, want nothing before %s", c.user, got, want)
			}
		}
	}

	t.Run("connected announces the newcomer", func(t *testing.T) {
		alice.waitFor(t, "newConnection", chatConnection(bob))
	})
	t.Run("whoami", func(t *testing.T) {
		result, errText := alice.invoke(t, "whoami")
		if want := chatConnection(alice); "["+result+"]" != want || errText != "" {
			t.Errorf("got %s %q, want %s", result, errText, want)
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		alice.ok(t, "broadcast", "hello all")
		for _, s := range []*session{alice, bob} {
			if got, want := s.next(t, "newMessage"), chatMessage("alice", alice.connectionID, "hello all"); got != want {
				t.Errorf("%s got %s, want %s", s.user, got, want)
			}
		}
	})
	t.Run("sendToUser", func(t *testing.T) {
		alice.ok(t, "sendToUser", "bob", "psst bob")
		if got, want := bob.next(t, "newMessage"), chatMessage("alice", alice.connectionID, "psst bob"); got != want {
			t.Errorf("bob got %s, want %s", got, want)
		}
		nothingBefore(t, alice, "marker 1")
	})
	t.Run("sendToConnection", func(t *testing.T) {
		bob.ok(t, "sendToConnection", alice.connectionID, "psst alice")
		if got, want := alice.next(t, "newMessage"), chatMessage("bob", bob.connectionID, "psst alice"); got != want {
			t.Errorf("alice got %s, want %s", got, want)
		}
		nothingBefore(t, bob, "marker 2")
	})
	t.Run("joinGroup, sendToGroup, leaveGroup", func(t *testing.T) {
		alice.ok(t, "joinGroup", "room")
		bob.ok(t, "sendToGroup", "room", "to the room")
		if got, want := alice.next(t, "newMessage"), chatMessage("bob", bob.connectionID, "to the room"); got != want {
			t.Errorf("alice got %s, want %s", got, want)
		}
		nothingBefore(t, bob, "marker 3")
		alice.ok(t, "leaveGroup", "room")
		bob.ok(t, "sendToGroup", "room", "nobody left")
		nothingBefore(t, alice, "marker 4")
	})
	t.Run("joinUserToGroup, leaveUserFromGroup", func(t *testing.T) {
		alice.ok(t, "joinUserToGroup", "bob", "team")
		alice.ok(t, "sendToGroup", "team", "to the team")
		if got, want := bob.next(t, "newMessage"), chatMessage("alice", alice.connectionID, "to the team"); got != want {
			t.Errorf("bob got %s, want %s", got, want)
		}
		nothingBefore(t, alice, "marker 5")
		alice.ok(t, "leaveUserFromGroup", "bob", "team")
		alice.ok(t, "sendToGroup", "team", "bob left")
		nothingBefore(t, bob, "marker 6")
	})
	// examples/chat's own tests check every hub method's arguments; these
	// show that a function's error text reaches the official client as is.
	t.Run("wrong arguments are refused with what was expected", func(t *testing.T) {
		tests := []struct {
			method  string
			args    []any
			wantErr string
		}{
			{"broadcast", nil, "broadcast expects 1 argument (text string), got 0"},
			{"joinUserToGroup", []any{"bob", 7}, "joinUserToGroup expects 2 arguments (userId string, group string): group is not string"},
		}
		for _, tt := range tests {
			t.Run(tt.method+mustJSON(tt.args), func(t *testing.T) {
				result, errText := alice.invoke(t, tt.method, tt.args...)
				if errText != tt.wantErr {
					t.Errorf("got result %s error %q, want error %q", result, errText, tt.wantErr)
				}
			})
		}
		nothingBefore(t, alice, "marker 7")
	})
	t.Run("an unknown hub method is refused", func(t *testing.T) {
		_, errText := alice.invoke(t, "shout", "hi")
		if errText == "" {
			t.Errorf("got no error, want the invocation to fail")
		}
	})
	t.Run("messages posts to everyone", func(t *testing.T) {
		status, _, body := testkit.Do(t, "POST", a.base+"/api/messages",
			http.Header{"Content-Type": {"application/json"}, "X-Ms-Client-Principal-Id": {"carol"}}, strings.NewReader(`{"text":"from HTTP"}`))
		if status != http.StatusAccepted || body != `{"sent":1}` {
			t.Fatalf("got %d %s, want 202 {\"sent\":1}", status, body)
		}
		for _, s := range []*session{alice, bob} {
			if got, want := s.next(t, "newMessage"), chatMessage("carol", "", "from HTTP"); got != want {
				t.Errorf("%s got %s, want %s", s.user, got, want)
			}
		}
	})
	t.Run("ticker broadcasts the time", func(t *testing.T) {
		var ticks []struct{ Time string }
		if err := json.Unmarshal([]byte(bob.next(t, "tick")), &ticks); err != nil || len(ticks) != 1 {
			t.Fatalf("tick: %v, want one {\"time\"} argument", err)
		}
		at, err := time.Parse(time.RFC3339, ticks[0].Time)
		if err != nil || !strings.HasSuffix(ticks[0].Time, "Z") || at.Second()%5 != 0 || time.Since(at).Abs() > time.Minute {
			t.Errorf("tick time %q: want RFC 3339 in UTC, on a multiple of 5 s, about now", ticks[0].Time)
		}
	})
	t.Run("disconnected announces who left", func(t *testing.T) {
		bob.stop(t)
		alice.waitFor(t, "connectionClosed", chatConnection(bob))
	})
	alice.stop(t)
	if t.Failed() {
		t.Logf("chat logs:\n%s", a.logs())
	}
}

// chatScreenshot, when set, is where TestChatExampleInBrowser saves its
// screenshot of the chat page (the README's docs/chat.png):
//
//	go test ./e2e/ -run TestChatExampleInBrowser -args -chat-screenshot=$PWD/docs/chat.png
var chatScreenshot = flag.String("chat-screenshot", "", "save the chat page's screenshot to this file")

// chatSteps are the steps of e2e/browser/chat.mjs, in order.
var chatSteps = []string{
	"alice connects",
	"bob connects and alice sees him in the list",
	"a message to everyone reaches both",
	"a private message reaches bob only",
	"a group message reaches members only",
	"the clock ticks",
	"screenshot",
	"a refused call shows the function's error",
	"the list drops bob when his page closes",
}

// TestChatExampleInBrowser uses the chat page of examples/chat in a real
// Chromium as two people would, offline: the page and the official
// browser bundle come from the app itself, hub methods reach the SignalR
// trigger functions through the embedded local service.
func TestChatExampleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browserDir := requireBrowser(t)

	// The bundle the app serves is the pinned npm package's, byte for byte.
	served, err := os.ReadFile(filepath.Join(chatDir, "static", "signalr.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := os.ReadFile(filepath.Join(browserDir, "node_modules/@microsoft/signalr/dist/browser/signalr.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, pinned) {
		t.Errorf("examples/chat/static/signalr.min.js differs from @microsoft/signalr's dist/browser/signalr.min.js pinned in e2e/browser: copy it again")
	}

	a := startChat(t)
	shot := *chatScreenshot
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "chat.png")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := runBrowserScript(ctx, t, browserDir, "chat.mjs", a.base+"/api/index", shot, "15000")
	var rep struct {
		Steps          []string
		Clock          []string
		Console        []string
		FailedRequests []string
	}
	run.wait(t, &rep)
	if !slices.Equal(rep.Steps, chatSteps) {
		t.Fatalf("chat.mjs passed %q, want %q\n%s", rep.Steps, chatSteps, run)
	}
	t.Logf("clock went from %s to %s", rep.Clock[0], rep.Clock[1])
	if len(rep.FailedRequests) > 0 {
		t.Errorf("got failed requests, want none:\n%s", strings.Join(rep.FailedRequests, "\n"))
	}
	for _, line := range rep.Console {
		if strings.Contains(line, "pageerror") || strings.Contains(line, " error: ") {
			t.Errorf("got an error in a page's console: %s", line)
		}
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %v, want a PNG", shot, err)
	}
}
