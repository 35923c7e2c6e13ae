package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeDir holds client.mjs and the pinned official client, relative to the
// package directory that go test runs the tests in.
const nodeDir = "node"

// installHint says how to install what the Node-driven tests need.
const installHint = "run ./scripts/test from the repository root: it installs Node.js and npm if absent and runs `npm ci` in e2e/node (CI does the same)"

// requireNode returns the path of node. It fails the test, never skips it,
// when Node.js or a package that e2e/node/package.json pins (the official
// client and its MessagePack protocol) is not installed at that version: a
// missing client must not pass for a working one.
func requireNode(tb testing.TB) string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		tb.Fatalf("node is not on PATH; the end-to-end tests drive the official @microsoft/signalr client under Node.js: %s", installHint)
	}
	var pinned struct{ Dependencies map[string]string }
	raw, err := os.ReadFile(filepath.Join(nodeDir, "package.json"))
	if err == nil {
		err = json.Unmarshal(raw, &pinned)
	}
	if err != nil {
		tb.Fatalf("read e2e/node/package.json: %v", err)
	}
	if len(pinned.Dependencies) == 0 {
		tb.Fatalf("e2e/node/package.json pins no dependencies")
	}
	for _, name := range slices.Sorted(maps.Keys(pinned.Dependencies)) {
		want := pinned.Dependencies[name]
		var installed struct{ Version string }
		raw, err := os.ReadFile(filepath.Join(nodeDir, "node_modules", filepath.FromSlash(name), "package.json"))
		if err != nil {
			tb.Fatalf("%s is not installed in e2e/node/node_modules (%v): %s", name, err, installHint)
		}
		if err := json.Unmarshal(raw, &installed); err != nil {
			tb.Fatalf("e2e/node/node_modules/%s/package.json: %v: %s", name, err, installHint)
		}
		if installed.Version != want {
			tb.Fatalf("e2e/node/node_modules has %s %s, package.json pins %s: %s", name, installed.Version, want, installHint)
		}
	}
	return node
}

// clientOptions are the flags of e2e/node/client.mjs.
type clientOptions struct {
	URL             string        // the function app's /api, or a service's /client/?hub=H
	Transport       string        // WebSockets, ServerSentEvents or LongPolling
	User            string        // sent as x-ms-client-principal-id
	Targets         []string      // hub methods to listen to; default newMessage
	Expect          int           // the client exits 0 after this many messages (0: once connected)
	Timeout         time.Duration // the client gives up after this long (exit 4)
	AccessToken     string        // a raw token, instead of our negotiate's
	SkipNegotiation bool
	Protocol        string       // json (default) or messagepack
	Calls           []clientCall // once connected, invocations issued at once, in order
}

// clientCall is one step of client.mjs's --calls: an invoke (Invoke set) or
// a send (Send set) with Args, issued Repeat times with the index appended
// to Args when Repeat is set.
type clientCall struct {
	Invoke string `json:"invoke,omitempty"`
	Send   string `json:"send,omitempty"`
	Args   []any  `json:"args,omitempty"`
	Repeat int    `json:"repeat,omitempty"`
}

// clientEvent is one JSON line client.mjs prints.
type clientEvent struct {
	Event        string            `json:"event"`
	ConnectionID string            `json:"connectionId,omitempty"`
	Transport    string            `json:"transport,omitempty"`
	Target       string            `json:"target,omitempty"`
	Args         []json.RawMessage `json:"args,omitempty"`
	Stage        string            `json:"stage,omitempty"`
	Message      string            `json:"message,omitempty"`
	Error        *string           `json:"error,omitempty"`
	StatusCode   int               `json:"statusCode,omitempty"`
	Received     int               `json:"received,omitempty"`
	Raw          []byte            `json:"raw,omitempty"`    // a MessagePack invocation as received (base64 in the line)
	Result       json.RawMessage   `json:"result,omitempty"` // what an invoke resolved with
	Index        *int              `json:"index,omitempty"`  // the --calls step of a result or rejected event
	ID           int               `json:"id,omitempty"`     // session.mjs: the command an invoke's result or error answers

	line []byte // the line as printed, for scripts that print other fields
}

func (e clientEvent) String() string {
	raw, _ := json.Marshal(e)
	return string(raw)
}

// Exit codes of client.mjs.
const (
	clientOK          = 0
	clientStartFailed = 2
)

// nodeClient is one running client.mjs: the events it printed so far, its
// stderr (the client's own log) and, once it exited, its exit code.
type nodeClient struct {
	name   string
	exited chan struct{}

	mu       sync.Mutex
	events   []clientEvent
	stderr   bytes.Buffer
	exitCode int
	waitErr  error
}

// startClient runs client.mjs with o. The process is bounded by o.Timeout
// plus a margin, and killed when the test ends.
func startClient(tb testing.TB, name string, o clientOptions) *nodeClient {
	tb.Helper()
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	args := []string{"client.mjs", "--url", o.URL, "--expect", strconv.Itoa(o.Expect),
		"--timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10)}
	if o.Transport != "" {
		args = append(args, "--transport", o.Transport)
	}
	if o.User != "" {
		args = append(args, "--user", o.User)
	}
	if len(o.Targets) > 0 {
		args = append(args, "--targets", strings.Join(o.Targets, ","))
	}
	if o.SkipNegotiation {
		args = append(args, "--skip-negotiation")
	}
	if o.Protocol != "" {
		args = append(args, "--protocol", o.Protocol)
	}
	if o.Calls != nil {
		calls, err := json.Marshal(o.Calls)
		if err != nil {
			tb.Fatal(err)
		}
		args = append(args, "--calls", string(calls))
	}
	var env []string
	if o.AccessToken != "" {
		env = append(env, "SIGNALR_CLIENT_ACCESS_TOKEN="+o.AccessToken) // off the command line
	}
	c, _ := startNode(tb, name, args, env, o.Timeout+30*time.Second, false)
	return c
}

// startNode runs a script of e2e/node (args[0]) and collects the JSON lines
// it prints as events. env is added to the test's environment. The process
// is killed after limit, or when the test ends. With stdin, the returned
// writer is the script's standard input.
func startNode(tb testing.TB, name string, args, env []string, limit time.Duration, stdin bool) (*nodeClient, io.WriteCloser) {
	tb.Helper()
	node := requireNode(tb)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"), env...)
	c := &nodeClient{name: name, exited: make(chan struct{})}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.stderr.Write(p)
	})
	var in io.WriteCloser
	var err error
	if stdin {
		if in, err = cmd.StdinPipe(); err != nil {
			cancel()
			tb.Fatal(err)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start node %s: %v", args[0], err)
	}
	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var e clientEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = clientEvent{Event: "unparsable", Message: sc.Text()}
			}
			e.line = bytes.Clone(sc.Bytes())
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		}
		err := cmd.Wait()
		c.mu.Lock()
		c.waitErr = err
		c.exitCode = cmd.ProcessState.ExitCode()
		c.mu.Unlock()
	}()
	tb.Cleanup(func() {
		cancel() // kills node if it is still running
		<-c.exited
	})
	return c, in
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// snapshot returns the events so far and whether the process has exited.
func (c *nodeClient) snapshot() ([]clientEvent, bool) {
	select {
	case <-c.exited:
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]clientEvent(nil), c.events...), true
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]clientEvent(nil), c.events...), false
}

// describe summarises what the client did, for failure messages: the first
// and last events, the exit status and the end of its log.
func (c *nodeClient) describe() string {
	events, exited := c.snapshot()
	c.mu.Lock()
	stderr, code, waitErr := c.stderr.String(), c.exitCode, c.waitErr
	c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "client %s: %d events", c.name, len(events))
	for i, e := range events {
		if i == 10 && len(events) > 20 {
			fmt.Fprintf(&b, "\n  … %d more …", len(events)-20)
		}
		if i >= 10 && i < len(events)-10 {
			continue
		}
		fmt.Fprintf(&b, "\n  %s", e)
	}
	if exited {
		fmt.Fprintf(&b, "\n  exit code %d (%v)", code, waitErr)
	} else {
		b.WriteString("\n  still running")
	}
	if len(stderr) > 4000 {
		stderr = "…" + stderr[len(stderr)-4000:]
	}
	if stderr != "" {
		fmt.Fprintf(&b, "\n  stderr:\n%s", stderr)
	}
	return b.String()
}

// connected waits for the client's connected line and returns it; it fails
// when the client exits first or takes longer than timeout.
func (c *nodeClient) connected(tb testing.TB, timeout time.Duration) clientEvent {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		events, exited := c.snapshot()
		for _, e := range events {
			if e.Event == "connected" {
				return e
			}
		}
		if exited {
			tb.Fatalf("the client exited without connecting\n%s", c.describe())
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the client did not connect within %v\n%s", timeout, c.describe())
		}
		select {
		case <-c.exited:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// finish waits for the client to exit and returns its events and exit code.
// It fails when the client goes idle (prints nothing) for longer than idle
// without exiting: a message that never comes fails the test after idle, not
// after the client's whole timeout.
func (c *nodeClient) finish(tb testing.TB, idle time.Duration) ([]clientEvent, int) {
	tb.Helper()
	seen, deadline := -1, time.Now()
	for {
		events, exited := c.snapshot()
		if exited {
			break
		}
		if len(events) != seen {
			seen, deadline = len(events), time.Now().Add(idle)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the client printed nothing for %v and did not exit: a message is missing?\n%s", idle, c.describe())
		}
		select {
		case <-c.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
	events, _ := c.snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	var exitErr *exec.ExitError
	if c.waitErr != nil && !errors.As(c.waitErr, &exitErr) {
		tb.Fatalf("client %s: %v", c.name, c.waitErr)
	}
	return events, c.exitCode
}

// message is one hub invocation a client received, its arguments as
// canonical JSON so that equal values compare equal.
type message struct {
	Target, Args string
}

func (m message) String() string { return m.Target + m.Args }

// newMessage is the message a send of target with args delivers.
func newMessage(target string, args ...any) message {
	if args == nil {
		args = []any{} // as client.mjs prints a message without arguments
	}
	raw, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	return message{target, canonicalJSON(raw)}
}

// canonicalJSON re-encodes raw with sorted keys and Go's number and string
// forms.
func canonicalJSON(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON: " + string(raw)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// messages returns the message events in the order received.
func messages(events []clientEvent) []message {
	var ms []message
	for _, e := range events {
		if e.Event == "message" {
			raw, _ := json.Marshal(e.Args)
			ms = append(ms, message{e.Target, canonicalJSON(raw)})
		}
	}
	return ms
}
