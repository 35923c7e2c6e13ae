package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// browserChromium is Debian's Chromium, which playwright-core drives: no
	// browser download is possible (or wanted) in the test environment.
	browserChromium = "/usr/bin/chromium"
	// browserHandlerAddr is where the handler listens without a Functions host.
	browserHandlerAddr = "127.0.0.1:7071"
	// browserTimeout bounds one browser run, start to finish.
	browserTimeout = 60 * time.Second
)

// TestBrowserPageOnAnotherOrigin proves that a page on another origin can
// use the handler the way a web app does: the official @microsoft/signalr
// browser bundle, in a real Chromium, negotiates through /api (CORS on the
// handler), follows the redirect to the local service (CORS and WebSockets
// there), and receives a broadcast and a connection-targeted message sent
// through /api/send. The control case shows the browser does block the page
// when the handler does not allow its origin, so the first case can fail.
func TestBrowserPageOnAnotherOrigin(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browserDir := requireBrowser(t)

	t.Run("allowed origin negotiates and receives", func(t *testing.T) {
		page := newBrowserPage(t, browserDir)
		startBrowserHandler(t, "CORS_ALLOWED_ORIGINS="+page.URL)
		ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
		defer cancel()
		run := runBrowser(ctx, t, browserDir, page.URL)

		var id string
		select {
		case id = <-page.ready:
		case <-run.done:
			t.Fatalf("page finished before it was connected:\n%s", run)
		case <-ctx.Done():
			t.Fatalf("page not connected after %v:\n%s", browserTimeout, run)
		}
		t.Logf("page %s connected as %s", page.URL, id)

		browserSend(t, `{"target":"newMessage","arguments":["hello browser"]}`)
		browserSend(t, fmt.Sprintf(`{"target":"newMessage","arguments":["hello connection"],"connectionId":%q}`, id))

		rep := run.wait(t)
		if rep.Result == nil || rep.Result.Error != "" {
			t.Fatalf("page did not receive the messages:\n%s", run)
		}
		if got := rep.Result.ConnectionID; got != id {
			t.Errorf("got result for connection %q, want %q", got, id)
		}
		for _, want := range []string{"hello browser", "hello connection"} {
			if !slices.Contains(rep.Result.Messages, want) {
				t.Errorf("got messages %q, want %q among them", rep.Result.Messages, want)
			}
		}
		if lines := rep.matching("CORS"); len(lines) > 0 {
			t.Errorf("got CORS failures in the browser console, want none:\n%s", strings.Join(lines, "\n"))
		}
		if len(rep.FailedRequests) > 0 {
			t.Errorf("got failed requests, want none:\n%s", strings.Join(rep.FailedRequests, "\n"))
		}
		if lines := rep.matching("WebSocket connected to ws://127.0.0.1:"); len(lines) == 0 {
			t.Errorf("got no WebSocket connection to the local service in the console, want one:\n%s", run)
		}
	})

	t.Run("origin not allowed is blocked by the browser", func(t *testing.T) {
		page := newBrowserPage(t, browserDir)
		startBrowserHandler(t) // no CORS_ALLOWED_ORIGINS
		ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
		defer cancel()
		run := runBrowser(ctx, t, browserDir, page.URL)

		rep := run.wait(t)
		if rep.Result == nil || rep.Result.Stage != "start" || rep.Result.Error == "" {
			t.Fatalf("got %+v, want connection.start() to fail:\n%s", rep.Result, run)
		}
		lines := rep.matching("blocked by CORS policy")
		if len(lines) == 0 || !strings.Contains(lines[0], "http://"+browserHandlerAddr+"/api/negotiate") {
			t.Errorf("got console %q, want negotiate at %s blocked by CORS policy", rep.Console, browserHandlerAddr)
		}
		select {
		case id := <-page.ready:
			t.Errorf("page connected as %s, want it blocked", id)
		default:
		}
	})
}

// requireBrowser returns the absolute path of e2e/browser after checking
// that Chromium, node and e2e/browser's packages are installed: missing
// ones fail the test (the suite is meant to run them), naming the fix.
func requireBrowser(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs("browser")
	if err != nil {
		tb.Fatal(err)
	}
	var missing []string
	if _, err := os.Stat(browserChromium); err != nil {
		missing = append(missing, browserChromium+" (Debian package chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	for _, p := range []string{"playwright-core/package.json", "@microsoft/signalr/dist/browser/signalr.min.js"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p)); err != nil {
			missing = append(missing, filepath.Join("e2e/browser/node_modules", p))
		}
	}
	if len(missing) > 0 {
		tb.Fatalf("browser test needs %s: run ./scripts/test, which installs them "+
			"(apt-get install chromium; npm ci in e2e/browser), or go test -short to skip it",
			strings.Join(missing, ", "))
	}
	return dir
}

// browserPage is the page a web app would serve, on its own origin: it
// loads the official browser bundle, connects to the standalone handler,
// reports its connection id to /ready and sets window.__result once it
// has received both test messages (or a failure).
type browserPage struct {
	*httptest.Server
	ready chan string
}

const browserPageHTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>funcsignalr browser test</title><link rel="icon" href="data:,"></head>
<body>
<script src="/signalr.min.js"></script>
<script>
const want = ["hello browser", "hello connection"];
const messages = [];
const connection = new signalR.HubConnectionBuilder()
  .withUrl("http://` + browserHandlerAddr + `/api")
  .configureLogging(signalR.LogLevel.Information)
  .build();
connection.on("newMessage", (text) => {
  messages.push(text);
  if (want.every((w) => messages.includes(w))) {
    window.__result = { connectionId: connection.connectionId, messages };
  }
});
connection.start()
  .then(() => {
    window.__ready = connection.connectionId;
    return fetch("/ready?id=" + encodeURIComponent(connection.connectionId));
  })
  .catch((e) => { window.__result = { stage: "start", error: String(e && e.message || e) }; });
</script>
</body>
</html>
`

func newBrowserPage(tb testing.TB, browserDir string) *browserPage {
	tb.Helper()
	p := &browserPage{ready: make(chan string, 1)}
	bundle := filepath.Join(browserDir, "node_modules/@microsoft/signalr/dist/browser/signalr.min.js")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, browserPageHTML)
	})
	mux.HandleFunc("GET /signalr.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, bundle)
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		select {
		case p.ready <- r.URL.Query().Get("id"):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	p.Server = httptest.NewServer(mux)
	tb.Cleanup(p.Close)
	return p
}

// startBrowserHandler runs the built binary as `go run .` would (no Functions
// host) on browserHandlerAddr, with the embedded local service on a free port.
// The address is fixed, so it waits up to 30 s for another test or a
// developer's `go run .` to let go of it.
func startBrowserHandler(tb testing.TB, settings ...string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		waitBrowserAddrFree(tb, browserHandlerAddr, time.Until(deadline))
		stdout, stderr, err := tryStartBrowserHandler(tb, settings)
		if err == nil {
			return
		}
		// Lost a race for the address: wait for it again.
		if !strings.Contains(stderr, "address already in use") || time.Now().After(deadline) {
			tb.Fatalf("standalone handler: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
	}
}

// tryStartBrowserHandler starts the handler and waits until it logs that it
// is listening; the process is stopped at cleanup.
func tryStartBrowserHandler(tb testing.TB, settings []string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut browserOutput
	cmd := exec.Command(filepath.Join(appRoot, "funcsignalr"))
	cmd.Dir = appRoot
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0",
		"FUNCSIGNALR_LOG_LEVEL=debug",
	}, settings...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start handler: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if tb.Failed() {
			tb.Logf("handler stdout:\n%s\nhandler stderr:\n%s", out.String(), errOut.String())
		}
	})

	timeout := time.After(15 * time.Second)
	for !strings.Contains(out.String(), "funcsignalr listening") {
		select {
		case <-exited:
			return out.String(), errOut.String(), fmt.Errorf("exited before it was ready: %v", cmd.ProcessState)
		case <-timeout:
			return out.String(), errOut.String(), errors.New("not ready after 15 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return "", "", nil
}

// waitBrowserAddrFree waits until addr can be listened on.
func waitBrowserAddrFree(tb testing.TB, addr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s still in use after waiting 30 s (another funcsignalr, `go run .` or test?); "+
				"the standalone handler needs it: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// browserSend calls the standalone handler's send function.
func browserSend(tb testing.TB, body string) {
	tb.Helper()
	resp, err := http.Post("http://"+browserHandlerAddr+"/api/send", "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatalf("send %s: %v", body, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("send %s: got %d %s, want 202", body, resp.StatusCode, got)
	}
}

// browserRun is one run of browser/run.mjs: node driving Chromium on a page.
type browserRun struct {
	done           chan struct{}
	err            error // from cmd.Wait, once done
	stdout, stderr browserOutput
}

// browserReport is what run.mjs prints.
type browserReport struct {
	Result *struct {
		ConnectionID string   `json:"connectionId"`
		Messages     []string `json:"messages"`
		Stage        string   `json:"stage"`
		Error        string   `json:"error"`
	} `json:"result"`
	Console        []string `json:"console"`
	FailedRequests []string `json:"failedRequests"`
	Error          string   `json:"error"`
}

// matching returns the console lines that contain s.
func (r browserReport) matching(s string) []string {
	var lines []string
	for _, l := range r.Console {
		if strings.Contains(l, s) {
			lines = append(lines, l)
		}
	}
	return lines
}

// runBrowser starts run.mjs on url. Cancelling ctx stops node with SIGTERM,
// on which playwright closes Chromium; node is killed if it lingers.
func runBrowser(ctx context.Context, tb testing.TB, browserDir, url string) *browserRun {
	tb.Helper()
	pageTimeout := browserTimeout - 15*time.Second
	cmd := exec.CommandContext(ctx, "node", "run.mjs", url, fmt.Sprint(pageTimeout.Milliseconds()))
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+browserChromium)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	r := &browserRun{done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start node run.mjs: %v", err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	tb.Cleanup(func() {
		cmd.Cancel()
		<-r.done
	})
	return r
}

// wait waits for run.mjs to end and returns its report.
func (r *browserRun) wait(tb testing.TB) browserReport {
	tb.Helper()
	<-r.done
	var rep browserReport
	out := bytes.TrimSpace([]byte(r.stdout.String()))
	last := out[bytes.LastIndexByte(out, '\n')+1:]
	if err := json.Unmarshal(last, &rep); err != nil {
		tb.Fatalf("no report from run.mjs (%v, exit: %v):\n%s", err, r.err, r)
	}
	if r.err != nil || rep.Error != "" {
		tb.Fatalf("run.mjs failed (exit: %v):\n%s", r.err, r)
	}
	return rep
}

func (r *browserRun) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run.mjs stdout:\n")
	sc := bufio.NewScanner(strings.NewReader(r.stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v any
		if json.Unmarshal(sc.Bytes(), &v) == nil {
			pretty, _ := json.MarshalIndent(v, "  ", "  ")
			fmt.Fprintf(&b, "  %s\n", pretty)
		} else {
			fmt.Fprintf(&b, "  %s\n", sc.Text())
		}
	}
	fmt.Fprintf(&b, "run.mjs stderr:\n%s", r.stderr.String())
	return b.String()
}

// browserOutput is a bytes.Buffer safe for a process writing while a test reads.
type browserOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
