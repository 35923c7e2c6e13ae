package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/upstream"
)

// echoUpstream is an upstream endpoint built on internal/upstream, as an
// app's signalr function is: it answers connection events with 200 and
// invocations of "echo" with a completion holding {"echo":[arguments]},
// of "fail" with the error "no luck", in the request's protocol. It records
// the Content-Type and protocol of every invocation.
type echoUpstream struct {
	mu          sync.Mutex
	invocations []upstreamSeen
}

type upstreamSeen struct {
	contentType, protocol, target string
	arguments                     []json.RawMessage
}

func (u *echoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := upstream.Parse(r.Header, body, []string{devAccessKey})
	if err != nil {
		handler.Respond(w, err)
		return
	}
	if req.Type != upstream.TypeInvocation {
		return
	}
	u.mu.Lock()
	u.invocations = append(u.invocations, upstreamSeen{r.Header.Get("Content-Type"), req.Protocol, req.Target, req.Arguments})
	u.mu.Unlock()
	if req.InvocationID == "" {
		return
	}
	var result json.RawMessage
	errMsg := ""
	switch req.Target {
	case "echo":
		result, _ = json.Marshal(map[string]any{"echo": req.Arguments})
	default:
		errMsg = "no luck"
	}
	completion, err := upstream.Completion(req.Protocol, req.InvocationID, result, errMsg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(completion)
}

// TestMessagePackInvokeThroughUpstream has the official MessagePack client
// invoke hub methods of `funcsignalr local-service -upstream`: the service
// forwards the invocation as application/x-msgpack, the upstream (built on
// internal/upstream) sees the arguments as JSON and answers a MessagePack
// completion, and invoke resolves with the result or rejects with the error,
// over WebSockets and long polling.
func TestMessagePackInvokeThroughUpstream(t *testing.T) {
	requireNode(t)
	up := &echoUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	base := startLocalServiceCmd(t, srv.URL+"/api/signalr")
	token := clientToken(t, "chat", "carol")
	args := `[42,9223372036854775807,18446744073709551615,1.5,"text",true,null,[1,{"k":"v"}]]`
	for _, transport := range []string{"WebSockets", "LongPolling"} {
		t.Run(transport, func(t *testing.T) {
			c := startClient(t, "invoke echo", clientOptions{URL: base + "/client/?hub=chat", AccessToken: token, Transport: transport,
				Protocol: "messagepack", Invoke: "echo", InvokeArgs: json.RawMessage(args), Expect: 1, Timeout: time.Minute})
			events, code := c.finish(t, 30*time.Second)
			var result json.RawMessage
			for _, e := range events {
				if e.Event == "result" {
					result = e.Result
				}
			}
			if want := `{"echo":` + args + `}`; code != clientOK || canonicalJSON(result) != canonicalJSON([]byte(want)) {
				t.Fatalf("invoke echo: got %s (exit code %d), want %s\n%s", result, code, want, c.describe())
			}

			f := startClient(t, "invoke fail", clientOptions{URL: base + "/client/?hub=chat", AccessToken: token, Transport: transport,
				Protocol: "messagepack", Invoke: "fail", Expect: 1, Timeout: time.Minute})
			events, _ = f.finish(t, 30*time.Second)
			rejected := false
			for _, e := range events {
				rejected = rejected || e.Event == "error" && e.Stage == "invoke" && strings.Contains(e.Message, "no luck")
			}
			if !rejected {
				t.Fatalf("invoke fail: want a rejection with the upstream's error \"no luck\"\n%s", f.describe())
			}
		})
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.invocations) != 4 {
		t.Fatalf("the upstream got %d invocations, want 4", len(up.invocations))
	}
	for _, inv := range up.invocations {
		if inv.contentType != upstream.ContentTypeMessagePack || inv.protocol != upstream.ProtocolMessagePack {
			t.Errorf("invocation of %s: got Content-Type %q, protocol %q; want %s, %s", inv.target, inv.contentType, inv.protocol,
				upstream.ContentTypeMessagePack, upstream.ProtocolMessagePack)
		}
		if inv.target == "echo" {
			got, _ := json.Marshal(inv.arguments)
			// JavaScript numbers hold the big integers as doubles already, so
			// the values compare as doubles.
			if canonicalJSON(got) != canonicalJSON([]byte(args)) {
				t.Errorf("echo arguments upstream: got %s, want %s", got, args)
			}
		}
	}
}
