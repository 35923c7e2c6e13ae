package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

const (
	// browserChromium is Debian's Chromium, which playwright-core drives: no
	// browser download is possible (or wanted) in the test environment.
	browserChromium = "/usr/bin/chromium"
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
		a := startStandalone(t, "CORS_ALLOWED_ORIGINS="+page.URL)
		ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
		defer cancel()
		run := runBrowser(ctx, t, browserDir, page.urlFor(a))

		var id string
		select {
		case id = <-page.ready:
		case <-run.done:
			t.Fatalf("page finished before it was connected:\n%s", run)
		case <-ctx.Done():
			t.Fatalf("page not connected after %v:\n%s", browserTimeout, run)
		}
		t.Logf("page %s connected as %s", page.URL, id)

		a.send(t, op{"target": "newMessage", "arguments": []any{"hello browser"}})
		a.send(t, op{"target": "newMessage", "arguments": []any{"hello connection"}, "connectionId": id})

		var rep browserReport
		run.wait(t, &rep)
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
		a := startStandalone(t) // no CORS_ALLOWED_ORIGINS
		ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
		defer cancel()
		run := runBrowser(ctx, t, browserDir, page.urlFor(a))

		var rep browserReport
		run.wait(t, &rep)
		if rep.Result == nil || rep.Result.Stage != "start" || rep.Result.Error == "" {
			t.Fatalf("got %+v, want connection.start() to fail:\n%s", rep.Result, run)
		}
		lines := rep.matching("blocked by CORS policy")
		if len(lines) == 0 || !strings.Contains(lines[0], a.base+"/api/negotiate") {
			t.Errorf("got console %q, want negotiate at %s blocked by CORS policy", rep.Console, a.base)
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
// loads the official browser bundle, connects to the handler named by its
// api query parameter,
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
  .withUrl(new URLSearchParams(location.search).get("api"))
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

// urlFor returns the page's URL, telling it to connect to a's /api.
func (p *browserPage) urlFor(a *signalRApp) string {
	return p.URL + "/?api=" + url.QueryEscape(a.base+"/api")
}

// browserRun is one run of a script of e2e/browser (run.mjs, chat.mjs):
// node driving Chromium.
type browserRun struct {
	script         string
	done           chan struct{}
	err            error // from cmd.Wait, once done
	stdout, stderr testkit.Buffer
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
	return runBrowserScript(ctx, tb, browserDir, "run.mjs", url, fmt.Sprint(pageTimeout.Milliseconds()))
}

// runBrowserScript starts node on a script of e2e/browser with args, as
// runBrowser does.
func runBrowserScript(ctx context.Context, tb testing.TB, browserDir string, args ...string) *browserRun {
	tb.Helper()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+browserChromium)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	r := &browserRun{script: args[0], done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start node %s: %v", args[0], err)
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

// wait waits for the script to end and decodes its report, the last line
// it printed, into report. It fails the test when there is no report, or
// when the script failed: a non-zero exit or an error in the report.
func (r *browserRun) wait(tb testing.TB, report any) {
	tb.Helper()
	<-r.done
	out := bytes.TrimSpace([]byte(r.stdout.String()))
	last := out[bytes.LastIndexByte(out, '\n')+1:]
	var ended struct{ Error string } // the field every script's report has
	if err := json.Unmarshal(last, &ended); err != nil {
		tb.Fatalf("no report from %s (%v, exit: %v):\n%s", r.script, err, r.err, r)
	}
	if r.err != nil || ended.Error != "" {
		tb.Fatalf("%s failed (exit: %v): %s\n%s", r.script, r.err, ended.Error, r)
	}
	if err := json.Unmarshal(last, report); err != nil {
		tb.Fatalf("%s's report: %v\n%s", r.script, err, r)
	}
}

func (r *browserRun) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s stdout:\n", r.script)
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
	fmt.Fprintf(&b, "%s stderr:\n%s", r.script, r.stderr.String())
	return b.String()
}
