package bindings_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/settings"
)

// sendCases maps every operation to its data-plane REST call (api-version
// 2022-06-01, https://learn.microsoft.com/rest/api/signalr/), at
// hub "Chat" (lower-cased on the wire).
var sendCases = []struct {
	name     string
	op       bindings.Operation
	method   string
	path     string // escaped, as on the wire
	wantBody string // "" = no body
}{
	{"broadcast", msg(bindings.Message{Target: "newMessage", Arguments: raws(`"hi"`, `{"a" : 1}`)}),
		"POST", "/api/hubs/chat/:send", `{"target":"newMessage","arguments":["hi",{"a" : 1}]}`},
	{"broadcast without arguments", msg(bindings.Message{Target: "t"}),
		"POST", "/api/hubs/chat/:send", `{"target":"t","arguments":[]}`},
	{"to user", msg(bindings.Message{Target: "t", UserID: "u1", Arguments: raws(`1`)}),
		"POST", "/api/hubs/chat/users/u1/:send", `{"target":"t","arguments":[1]}`},
	{"to group", msg(bindings.Message{Target: "t", GroupName: "g1"}),
		"POST", "/api/hubs/chat/groups/g1/:send", `{"target":"t","arguments":[]}`},
	{"to connection", msg(bindings.Message{Target: "t", ConnectionID: "c1"}),
		"POST", "/api/hubs/chat/connections/c1/:send", `{"target":"t","arguments":[]}`},
	{"connection wins over user and group", msg(bindings.Message{Target: "t", ConnectionID: "c1", UserID: "u1", GroupName: "g1"}),
		"POST", "/api/hubs/chat/connections/c1/:send", `{"target":"t","arguments":[]}`},
	{"user wins over group", msg(bindings.Message{Target: "t", UserID: "u1", GroupName: "g1"}),
		"POST", "/api/hubs/chat/users/u1/:send", `{"target":"t","arguments":[]}`},
	{"target escaped in JSON", msg(bindings.Message{Target: `a"b<ü>`}),
		"POST", "/api/hubs/chat/:send", `{"target":"a\"b\u003cü\u003e","arguments":[]}`},
	{"add user to group", group(bindings.GroupAction{Action: "add", GroupName: "g1", UserID: "u1"}),
		"PUT", "/api/hubs/chat/users/u1/groups/g1", ""},
	{"remove user from group", group(bindings.GroupAction{Action: "remove", GroupName: "g1", UserID: "u1"}),
		"DELETE", "/api/hubs/chat/users/u1/groups/g1", ""},
	{"add connection to group", group(bindings.GroupAction{Action: "add", GroupName: "g1", ConnectionID: "c1"}),
		"PUT", "/api/hubs/chat/groups/g1/connections/c1", ""},
	{"remove connection from group", group(bindings.GroupAction{Action: "remove", GroupName: "g1", ConnectionID: "c1"}),
		"DELETE", "/api/hubs/chat/groups/g1/connections/c1", ""},
	{"connection wins over user", group(bindings.GroupAction{Action: "add", GroupName: "g1", ConnectionID: "c1", UserID: "u1"}),
		"PUT", "/api/hubs/chat/groups/g1/connections/c1", ""},
	{"remove user from all groups", group(bindings.GroupAction{Action: "removeAll", UserID: "u1"}),
		"DELETE", "/api/hubs/chat/users/u1/groups", ""},
	{"remove connection from all groups", group(bindings.GroupAction{Action: "removeAll", ConnectionID: "c1", UserID: "u1"}),
		"DELETE", "/api/hubs/chat/connections/c1/groups", ""},
	{"action in any case", group(bindings.GroupAction{Action: "ADD", GroupName: "g1", UserID: "u1"}),
		"PUT", "/api/hubs/chat/users/u1/groups/g1", ""},
	{"ids escaped as one segment", msg(bindings.Message{Target: "t", UserID: "a/b c"}),
		"POST", "/api/hubs/chat/users/a%2Fb%20c/:send", `{"target":"t","arguments":[]}`},
	{"unicode ids escaped", group(bindings.GroupAction{Action: "add", GroupName: "ü", UserID: "a/b c"}),
		"PUT", "/api/hubs/chat/users/a%2Fb%20c/groups/%C3%BC", ""},
	{"reserved characters escaped", group(bindings.GroupAction{Action: "remove", GroupName: "g?x#y%z", ConnectionID: "c;d,e"}),
		"DELETE", "/api/hubs/chat/groups/g%3Fx%23y%25z/connections/c%3Bd%2Ce", ""},
}

func TestSendAccessKey(t *testing.T) {
	clock := newFakeClock()
	for _, tt := range sendCases {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, nil)
			opts := testOptions(srv.Server)
			opts.Now = clock.Now
			r := sendOne(t, keyClient(t, srv.Server, "Chat", opts), srv, tt.op)
			checkRequest(t, r, tt.method, tt.path, tt.wantBody)
			iat := float64(clock.Now().Unix())
			checkAccessKeyToken(t, bearer(t, r.Header), tokenClaims(srv.URL+tt.path, iat, time.Hour))
		})
	}
}

func TestSendEntra(t *testing.T) {
	for _, tt := range sendCases {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, nil)
			conn := &settings.Connection{Endpoint: srv.URL, Credential: &fake.TokenCredential{}}
			r := sendOne(t, mustNewClient(t, conn, "Chat", testOptions(srv.Server)), srv, tt.op)
			checkRequest(t, r, tt.method, tt.path, tt.wantBody)
			if got, want := r.Header.Get("Authorization"), "Bearer fake_token"; got != want {
				t.Errorf("Authorization: got %q, want %q", got, want)
			}
		})
	}
}

// checkRequest checks the method, escaped path, api-version, body and its
// Content-Type of a REST call.
func checkRequest(tb testing.TB, r recorded, method, path, body string) {
	tb.Helper()
	if r.Method != method {
		tb.Errorf("method: got %s, want %s", r.Method, method)
	}
	if r.EscapedPath != path {
		tb.Errorf("path on the wire: got %s, want %s", r.EscapedPath, path)
	}
	if r.Query != "api-version=2022-06-01" {
		tb.Errorf("query: got %q, want api-version=2022-06-01", r.Query)
	}
	if r.Body != body {
		tb.Errorf("body: got %s, want %s", r.Body, body)
	}
	wantType := ""
	if body != "" {
		wantType = "application/json"
		if !json.Valid([]byte(r.Body)) {
			tb.Errorf("body %s is not valid JSON", r.Body)
		}
	}
	if got := r.Header.Get("Content-Type"); got != wantType {
		tb.Errorf("Content-Type: got %q, want %q", got, wantType)
	}
}

// TestSendEscapedPathDecodes checks that the service sees each id as one
// segment that decodes back to the id.
func TestSendEscapedPathDecodes(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	r := sendOne(t, c, srv, group(bindings.GroupAction{Action: "add", GroupName: "ü", UserID: "a/b c"}))
	if got, want := r.Path, "/api/hubs/h/users/a/b c/groups/ü"; got != want {
		t.Errorf("decoded path: got %q, want %q", got, want)
	}
	if got, want := r.RawPath, "/api/hubs/h/users/a%2Fb%20c/groups/%C3%BC"; got != want {
		t.Errorf("raw path: got %q, want %q", got, want)
	}
	_, claims := verifyToken(t, bearer(t, r.Header), testKey)
	if got, want := claims["aud"], srv.URL+"/api/hubs/h/users/a%2Fb%20c/groups/%C3%BC"; got != want {
		t.Errorf("aud: got %v, want %v", got, want)
	}
}

func TestSendServerEndpointWithPath(t *testing.T) {
	srv := newFakeService(t, nil)
	conn := &settings.Connection{Endpoint: "https://x.service.signalr.net", ServerEndpoint: srv.URL + "/proxy/", AccessKey: testKey}
	r := sendOne(t, mustNewClient(t, conn, "h", testOptions(srv.Server)), srv, msg(bindings.Message{Target: "t"}))
	if got, want := r.EscapedPath, "/proxy/api/hubs/h/:send"; got != want {
		t.Errorf("path: got %s, want %s", got, want)
	}
}

func TestSendAnySuccessStatus(t *testing.T) {
	for _, status := range []int{200, 201, 202, 204} {
		srv := newFakeService(t, func(int, *http.Request) answer { return answer{status: status} })
		c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
		if n, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})}); err != nil || n != 1 {
			t.Errorf("status %d: got %d, %v, want 1, nil", status, n, err)
		}
	}
}

func TestSendBatchInOrder(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	ops, err := bindings.DecodeSend([]byte(`[{"target":"a"},{"action":"add","groupName":"g","userId":"u"},{"target":"b","groupName":"g"}]`))
	if err != nil {
		t.Fatalf("DecodeSend: %v", err)
	}
	n, err := c.Send(context.Background(), ops)
	if err != nil || n != 3 {
		t.Fatalf("Send: got %d, %v, want 3, nil", n, err)
	}
	var got []string
	for _, r := range srv.requests() {
		got = append(got, r.Method+" "+r.EscapedPath)
	}
	want := []string{"POST /api/hubs/h/:send", "PUT /api/hubs/h/users/u/groups/g", "POST /api/hubs/h/groups/g/:send"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls: got %v, want %v", got, want)
	}
}

func TestSendStopsAtFirstFailure(t *testing.T) {
	srv := newFakeService(t, func(n int, _ *http.Request) answer {
		if n == 1 {
			return answer{status: 404, header: map[string]string{"x-ms-error-code": "Error.Connection.NotExisted"}, body: `{"code":"Error.Connection.NotExisted"}`}
		}
		return answer{status: 202}
	})
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	ops := []bindings.Operation{
		msg(bindings.Message{Target: "a"}),
		group(bindings.GroupAction{Action: "add", GroupName: "g", ConnectionID: "c"}),
		msg(bindings.Message{Target: "b"}),
	}
	n, err := c.Send(context.Background(), ops)
	if n != 1 {
		t.Errorf("sent: got %d, want 1", n)
	}
	e := asError(t, err)
	want := &apierror.Error{Code: apierror.ServiceError, ServiceStatus: 404, ServiceCode: "Error.Connection.NotExisted",
		Message: "SignalR service answered 404 (x-ms-error-code Error.Connection.NotExisted) for PUT /api/hubs/h/groups/g/connections/c"}
	if e.Code != want.Code || e.ServiceStatus != want.ServiceStatus || e.ServiceCode != want.ServiceCode || e.Message != want.Message {
		t.Errorf("got %+v, want %+v", e, want)
	}
	if got := len(srv.requests()); got != 2 {
		t.Errorf("requests: got %d, want 2 (none after the failure)", got)
	}
}

func TestSendValidatesEverythingFirst(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	tests := []struct {
		name   string
		ops    []bindings.Operation
		wantIn string
	}{
		{"empty operation", []bindings.Operation{msg(bindings.Message{Target: "a"}), {}}, "operation 1: neither"},
		{"both set", []bindings.Operation{{Message: &bindings.Message{Target: "t"}, GroupAction: &bindings.GroupAction{Action: "add"}}}, "operation 0: both"},
		{"empty target", []bindings.Operation{msg(bindings.Message{Target: "a"}), msg(bindings.Message{})}, "operation 1: target is empty"},
		{"invalid argument", []bindings.Operation{msg(bindings.Message{Target: "a", Arguments: raws(`{`)})}, "arguments[0] is not valid JSON"},
		{"unknown action", []bindings.Operation{group(bindings.GroupAction{Action: "join", GroupName: "g", UserID: "u"})}, `unknown action "join"`},
		{"dot-dot id", []bindings.Operation{msg(bindings.Message{Target: "a", UserID: ".."})}, "userId must not be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := c.Send(context.Background(), tt.ops)
			e := asError(t, err)
			if n != 0 || e.Code != apierror.InvalidMessage || !strings.Contains(e.Message, tt.wantIn) {
				t.Errorf("got %d, %s %q, want 0, InvalidMessage containing %q", n, e.Code, e.Message, tt.wantIn)
			}
		})
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("requests: got %d, want 0", got)
	}
}

func TestSendRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		wantTries int
		wantCode  string // "" = success
	}{
		{"503, 503, 202 succeeds on the third try", []int{503, 503, 202}, 3, ""},
		{"every retriable status", []int{408, 429, 500, 502}, 4, apierror.ServiceError},
		{"504 then 200", []int{504, 200}, 2, ""},
		{"always 500 fails after 4 tries", []int{500, 500, 500, 500, 500, 500}, 4, apierror.ServiceError},
		{"400 is not retried", []int{400, 202}, 1, apierror.ServiceError},
		{"401 is not retried", []int{401, 202}, 1, apierror.ServiceError},
		{"404 is not retried", []int{404, 202}, 1, apierror.ServiceError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, func(n int, _ *http.Request) answer {
				return answer{status: tt.statuses[min(n, len(tt.statuses)-1)], header: map[string]string{"x-ms-error-code": "Test.Code"}}
			})
			c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
			n, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t", Arguments: raws(`1`)})})
			reqs := srv.requests()
			if len(reqs) != tt.wantTries {
				t.Errorf("tries: got %d, want %d", len(reqs), tt.wantTries)
			}
			for i, r := range reqs { // every try carries the whole body and a fresh token
				if r.Body != `{"target":"t","arguments":[1]}` {
					t.Errorf("try %d body: got %q", i, r.Body)
				}
				verifyToken(t, bearer(t, r.Header), testKey)
			}
			if tt.wantCode == "" {
				if err != nil || n != 1 {
					t.Errorf("got %d, %v, want 1, nil", n, err)
				}
				return
			}
			e := asError(t, err)
			last := tt.statuses[min(tt.wantTries-1, len(tt.statuses)-1)]
			if n != 0 || e.Code != tt.wantCode || e.ServiceStatus != last || e.ServiceCode != "Test.Code" {
				t.Errorf("got %d, %+v, want 0, %s status %d", n, e, tt.wantCode, last)
			}
		})
	}
}

func TestSendServiceErrorMessage(t *testing.T) {
	srv := newFakeService(t, func(int, *http.Request) answer {
		return answer{status: 503, header: map[string]string{"x-ms-error-code": "Foo"}, body: `{"code":"Foo","message":"busy"}`}
	})
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	e := asError(t, err)
	if got, want := e.Message, "SignalR service answered 503 (x-ms-error-code Foo) for POST /api/hubs/h/:send"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := e.Error(), "ServiceError: "+e.Message; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if e.Err == nil || !strings.Contains(e.Err.Error(), "busy") {
		t.Errorf("cause: got %v, want the service's body", e.Err)
	}
	if strings.Contains(e.Error(), testKey) || strings.Contains(e.Error(), "Bearer") {
		t.Errorf("message %q holds a secret", e.Error())
	}
}

// TestSendServiceErrorBodyClipped checks that a long error body is kept in
// the cause cut at 512 characters, never inside a UTF-8 sequence, and marked
// as cut.
func TestSendServiceErrorBodyClipped(t *testing.T) {
	srv := newFakeService(t, func(int, *http.Request) answer {
		return answer{status: 400, body: strings.Repeat("é", 600)}
	})
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	e := asError(t, err)
	if e.Err == nil {
		t.Fatalf("got no cause, want the service's body")
	}
	if got, want := e.Err.Error(), "service answered 400: "+strings.Repeat("é", 512)+"…"; got != want {
		t.Errorf("cause: got %d bytes %.60q…, want %d bytes %.60q…", len(got), got, len(want), want)
	}
}

func TestSendHonoursRetryAfter(t *testing.T) {
	srv := newFakeService(t, func(n int, _ *http.Request) answer {
		if n == 0 {
			return answer{status: 429, header: map[string]string{"Retry-After": "1"}}
		}
		return answer{status: 202}
	})
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server)) // RetryDelay 1ms: any wait comes from Retry-After
	if _, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("tries: got %d, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 950*time.Millisecond {
		t.Errorf("gap between tries: got %v, want at least ~1s", gap)
	}
}

func TestSendRetryAfterBeyondTimeoutIsNotAwaited(t *testing.T) {
	srv := newFakeService(t, func(int, *http.Request) answer {
		return answer{status: 429, header: map[string]string{"Retry-After": "120"}}
	})
	opts := testOptions(srv.Server)
	opts.Timeout = time.Second
	c := keyClient(t, srv.Server, "h", opts)
	start := time.Now()
	_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	if e := asError(t, err); e.Code != apierror.ServiceError || e.ServiceStatus != 429 {
		t.Errorf("got %+v, want ServiceError 429", e)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %v, want an immediate answer", d)
	}
}

func TestSendTimeout(t *testing.T) {
	tests := []struct {
		name       string
		timeout    time.Duration
		tryTimeout time.Duration
		wantTries  int // 0 = don't check
	}{
		{"tries time out and run out", 2 * time.Second, 50 * time.Millisecond, 4},
		{"overall timeout ends the first try", 150 * time.Millisecond, 0, 1},
		{"overall timeout ends the retries", 300 * time.Millisecond, 100 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeService(t, func(int, *http.Request) answer { return answer{hang: true} })
			opts := testOptions(srv.Server)
			opts.Timeout, opts.TryTimeout = tt.timeout, tt.tryTimeout
			c := keyClient(t, srv.Server, "h", opts)
			start := time.Now()
			n, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
			elapsed := time.Since(start)
			e := asError(t, err)
			if n != 0 || e.Code != apierror.ServiceTimeout {
				t.Errorf("got %d, %+v, want 0, ServiceTimeout", n, e)
			}
			if !strings.Contains(e.Message, "POST /api/hubs/h/:send") {
				t.Errorf("message: got %q, want it to name the call", e.Message)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("cause: got %v, want context.DeadlineExceeded", e.Err)
			}
			if limit := tt.timeout + 500*time.Millisecond; elapsed > limit {
				t.Errorf("took %v, want at most %v", elapsed, limit)
			}
			if got := len(srv.requests()); tt.wantTries != 0 && got != tt.wantTries {
				t.Errorf("tries: got %d, want %d", got, tt.wantTries)
			}
		})
	}
}

func TestSendCallerCancels(t *testing.T) {
	srv := newFakeService(t, func(int, *http.Request) answer { return answer{hang: true} })
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Send(ctx, []bindings.Operation{msg(bindings.Message{Target: "t"})})
	if e := asError(t, err); e.Code != apierror.ServiceTimeout || !strings.Contains(e.Message, "canceled") {
		t.Errorf("got %+v, want ServiceTimeout saying canceled", e)
	}
}

func TestSendUnreachable(t *testing.T) {
	srv := newFakeService(t, nil)
	srv.Close() // nothing listens any more
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	_, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	e := asError(t, err)
	if e.Code != apierror.ServiceError || !strings.Contains(e.Message, "could not reach the SignalR service for POST /api/hubs/h/:send") {
		t.Errorf("got %+v, want ServiceError saying the service could not be reached", e)
	}
	if strings.Contains(e.Message, "api-version") {
		t.Errorf("message %q repeats the request URL", e.Message)
	}
}

func TestSendEntraTokenFailure(t *testing.T) {
	srv := newFakeService(t, nil)
	cred := &fake.TokenCredential{}
	cred.SetError(errors.New("AADSTS7000215: invalid client secret provided: s3cret-dump"))
	c := mustNewClient(t, &settings.Connection{Endpoint: srv.URL, Credential: cred}, "h", testOptions(srv.Server))
	n, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	e := asError(t, err)
	if n != 0 || e.Code != apierror.AuthenticationUnavailable {
		t.Fatalf("got %d, %+v, want 0, AuthenticationUnavailable", n, e)
	}
	if !strings.Contains(e.Message, "Microsoft Entra ID token") || !strings.Contains(e.Message, "POST /api/hubs/h/:send") {
		t.Errorf("message: got %q, want it to name the token step and the call", e.Message)
	}
	if strings.Contains(e.Error(), "AADSTS") || strings.Contains(e.Error(), "s3cret") {
		t.Errorf("message %q copies the credential's error", e.Error())
	}
	if !strings.Contains(e.Err.Error(), "AADSTS7000215") {
		t.Errorf("cause: got %v, want the credential's error kept", e.Err)
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("requests: got %d, want 0", got)
	}
}

func TestSendEmpty(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	if n, err := c.Send(context.Background(), nil); n != 0 || err != nil {
		t.Errorf("got %d, %v, want 0, nil", n, err)
	}
}

// TestSendLongIDs: REST tokens carry the escaped path in aud and are not held
// to the client-token length limit; the service's header limit is 16 KB.
func TestSendLongIDs(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	// Long, and escaped three times over, yet within the REST token's limit.
	r := sendOne(t, c, srv, group(bindings.GroupAction{Action: "add", GroupName: strings.Repeat("😀", 100), UserID: strings.Repeat("u", 1000)}))
	_, claims := verifyToken(t, bearer(t, r.Header), testKey)
	if got, want := claims["aud"], srv.URL+r.EscapedPath; got != want {
		t.Errorf("aud: got %v, want %v", got, want)
	}
}

func TestSendContextAlreadyDone(t *testing.T) {
	srv := newFakeService(t, nil)
	c := keyClient(t, srv.Server, "h", testOptions(srv.Server))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := c.Send(ctx, []bindings.Operation{msg(bindings.Message{Target: "t"})})
	if e := asError(t, err); n != 0 || e.Code != apierror.ServiceTimeout {
		t.Errorf("got %d, %+v, want 0, ServiceTimeout", n, e)
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("requests: got %d, want 0", got)
	}
}
