package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// TestSIGTERMStopsABigBatchWithItsCount sends a batch of 1,000 messages to
// a service that takes 300 of them and then stops answering, and SIGTERMs
// the handler while the 301st is in flight: at the end of the 10 s shutdown
// grace the send answers its error with "sent":300, and the process exits
// 0 (it used to wait 10 s, exit 1 and leave the caller with EOF).
func TestSIGTERMStopsABigBatchWithItsCount(t *testing.T) {
	const batch, answered = 1000, 300
	var calls atomic.Int32
	stalled := make(chan struct{})
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= answered {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		close(stalled)
		<-r.Context().Done() // until the handler gives up on it
	})
	h := startHost(t, false, "AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;")

	ops := make([]map[string]any, batch)
	for i := range ops {
		ops[i] = map[string]any{"target": "newMessage", "arguments": []any{i}}
	}
	body, _ := json.Marshal(ops)
	answer := testkit.StartRequest(t, "POST", h.URL+"/api/send",
		http.Header{"Content-Type": {"application/json"}, "X-Functions-Key": {h.FunctionKey}}, bytes.NewReader(body))
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatalf("the service got %d requests, want %d and one in flight", calls.Load(), answered)
	}
	signalled := time.Now()
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	var r testkit.Answer
	select {
	case r = <-answer:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer 30 s after SIGTERM")
	}
	if r.Err != nil {
		t.Fatalf("got %v, want an answer with the count sent\nhandler output:\n%s%s", r.Err, h.Stdout(), h.Stderr())
	}
	var e struct {
		Error struct{ Code, Message string }
		Sent  *int
	}
	json.Unmarshal([]byte(r.Body), &e)
	if r.Status != http.StatusGatewayTimeout || e.Error.Code != "ServiceTimeout" || e.Sent == nil || *e.Sent != answered {
		t.Errorf("got %d %s, want 504 ServiceTimeout with \"sent\":%d", r.Status, r.Body, answered)
	}
	if err := h.Wait(15 * time.Second); err != nil {
		t.Errorf("handler exit: %v, want exit status 0\nhandler output:\n%s%s", err, h.Stdout(), h.Stderr())
	}
	if d := time.Since(signalled); d > 20*time.Second {
		t.Errorf("the handler took %v to stop, want about its 10 s grace", d)
	}
	if got := calls.Load(); got != answered+1 {
		t.Errorf("the service got %d requests, want %d: nothing after the one cut short", got, answered+1)
	}
}

// crossSitePage is a page on another origin that posts to send the way any
// web page can without a CORS preflight: no-cors fetches whose bodies are
// text/plain or undeclared, to /api/send and to the payload endpoint /send.
const crossSitePage = `<!doctype html>
<html><body><script>
(async () => {
  const base = new URLSearchParams(location.search).get("base");
  const message = JSON.stringify({target: "crossSite", arguments: ["from another site"]});
  const envelope = JSON.stringify({Data: {req: {Method: "POST", Url: base + "/api/send",
    Headers: {"Content-Type": ["application/json"]}, Body: message}}, Metadata: {}});
  const posts = [
    ["text/plain", base + "/api/send", message],
    ["undeclared", base + "/api/send", new Blob([message])],
    ["payload envelope", base + "/send", envelope],
  ];
  const messages = [];
  for (const [name, url, body] of posts) {
    try {
      await fetch(url, {method: "POST", mode: "no-cors", body});
      messages.push(name + ": posted");
    } catch (e) {
      messages.push(name + ": " + e);
    }
  }
  window.__result = {messages};
})();
</script></body></html>
`

// TestCrossSitePostCannotSendStandalone opens a page on another origin in
// Chromium that posts to the standalone handler (no function key there)
// without a preflight, and checks that nothing reaches a connected client:
// send answers 415 to bodies not declared as JSON.
func TestCrossSitePostCannotSendStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browserDir := requireBrowser(t)
	a := startStandalone(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	client, err := signalrtest.Dial(ctx, a.base+"/api/negotiate", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, crossSitePage)
	}))
	defer page.Close()
	run := runBrowser(ctx, t, browserDir, page.URL+"/?base="+url.QueryEscape(a.base))
	var rep browserReport
	run.wait(t, &rep)
	if rep.Result == nil || len(rep.Result.Messages) != 3 {
		t.Fatalf("got %+v, want the page to report its 3 posts:\n%s", rep.Result, run)
	}
	for _, m := range rep.Result.Messages {
		if !strings.HasSuffix(m, ": posted") {
			t.Errorf("got %q, want the browser to have posted (no-cors posts need no preflight)", m)
		}
	}

	// A send declared as JSON, after the page's: the client's first message
	// must be this one, not one from the page.
	a.send(t, op{"target": "control", "arguments": []any{"from the app"}})
	next, err := client.Next(ctx)
	if err != nil {
		t.Fatalf("got %v, want the control message", err)
	}
	if next.Target != "control" {
		t.Errorf("got message %s%s first, want the page's posts refused and control first", next.Target, next.Arguments)
	}
	logs := a.logs()
	for _, path := range []string{"path=/api/send status=415", "path=/send status=415"} {
		if !strings.Contains(logs, path) {
			t.Errorf("got logs without %q, want the page's posts answered 415:\n%s", path, logs)
		}
	}
	if n := strings.Count(logs, "status=415"); n != 3 {
		t.Errorf("got %d posts answered 415, want 3", n)
	}
}
