package e2e

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/funchost"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

const testAccessKey = "E2E-ACCESS-KEY-0123456789-abcdefghijklmnopqrstuv"

// TestRoutesAgreeWithFunctionFolders fails when host.json and the function
// folders name a route the handler does not serve, or the handler serves a
// function the folders do not declare.
func TestRoutesAgreeWithFunctionFolders(t *testing.T) {
	h := startHost(t, false)
	cfg := h.Config
	if got, want := strings.Join(cfg.Names(), ","), "negotiate,send"; got != want {
		t.Fatalf("function folders = %s, want %s", got, want)
	}
	for _, name := range cfg.Names() {
		fn := cfg.Functions[name]
		method := "GET"
		if len(fn.Methods) > 0 {
			method = fn.Methods[0]
		}
		fwd, err := h.Forward(context.Background(), method, cfg.PublicPath(fn), nil, nil)
		if err != nil {
			t.Fatalf("forward %s: %v", name, err)
		}
		if fwd.Status == http.StatusNotFound {
			t.Errorf("forwarded %s %s = 404: the handler does not serve the folder's route", method, cfg.PublicPath(fn))
		}
		pay, err := h.Payload(context.Background(), name, method, "http://localhost"+cfg.PublicPath(fn), nil, nil)
		if err != nil {
			t.Errorf("payload invocation of %s: %v", name, err)
		} else if pay.Status == http.StatusNotFound {
			t.Errorf("payload POST /%s answered 404", name)
		}
	}
	// A function the folders do not declare is not served.
	for _, path := range []string{"/api/broadcast", "/broadcast"} {
		resp, err := h.Forward(context.Background(), "POST", path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", path, resp.Status)
		}
	}
}

func TestReadinessWithin50ms(t *testing.T) {
	var times []time.Duration
	for i := 0; i < 5; i++ {
		h, err := funchost.Start(context.Background(), appRoot, funchost.Options{
			Env: []string{"FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}, ProbeInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, h.ReadyAfter)
		h.Stop()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("process start → first answer on GET /: min %v, median %v, max %v (5 starts)", times[0], times[2], times[4])
	if times[0] > 50*time.Millisecond {
		t.Errorf("fastest readiness %v, want under 50ms", times[0])
	}
}

// TestBothModesAnswerAlike runs every request through a forwarding host and
// a payload-mode host and compares status, Content-Type and body.
func TestBothModesAnswerAlike(t *testing.T) {
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/groups/bad"):
			w.Header().Set("x-ms-error-code", "Error.Test.Rejected")
			w.WriteHeader(http.StatusBadRequest)
		case strings.Contains(r.URL.Path, "/users/slow"):
			time.Sleep(3 * time.Second)
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	settings := []string{
		"AzureSignalRConnectionString=Endpoint=" + svc.URL + ";AccessKey=" + testAccessKey + ";Version=1.0;",
		"AzureSignalRHttpClientTimeout=00:00:01",
		"AzureSignalRHubName=Chat",
	}
	hosts := map[string]*funchost.Host{"forwarding": startHost(t, false, settings...), "payload": startHost(t, true, settings...)}
	key := http.Header{"X-Functions-Key": {"test-function-key"}, "Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		wantStatus               int
		wantCode                 string
	}{
		{"send one", "POST", "/api/send", `{"target":"t","arguments":[1]}`, key, 202, ""},
		{"send batch", "POST", "/api/send", `[{"target":"t"},{"action":"add","groupName":"g","userId":"u"}]`, key, 202, ""},
		{"send code query", "POST", "/api/send?code=test-function-key", `{"target":"t"}`, nil, 202, ""},
		{"send invalid json", "POST", "/api/send", `{"target"`, key, 400, "InvalidJson"},
		{"send invalid message", "POST", "/api/send", `{"arguments":[]}`, key, 400, "InvalidMessage"},
		{"send unknown action", "POST", "/api/send", `{"action":"nope","userId":"u","groupName":"g"}`, key, 400, "InvalidMessage"},
		{"send wrong method", "PUT", "/api/send", `{}`, key, 405, "MethodNotAllowed"},
		{"send too large", "POST", "/api/send", `{"target":"t","arguments":["` + strings.Repeat("x", 1<<20) + `"]}`, key, 413, "PayloadTooLarge"},
		{"send text/plain", "POST", "/api/send", `{"target":"t"}`, http.Header{"X-Functions-Key": {"test-function-key"}, "Content-Type": {"text/plain"}}, 415, "UnsupportedMediaType"},
		{"send service error", "POST", "/api/send", `{"target":"t","groupName":"bad"}`, key, 502, "ServiceError"},
		{"send timeout", "POST", "/api/send", `{"target":"t","userId":"slow"}`, key, 504, "ServiceTimeout"},
		{"negotiate wrong method", "DELETE", "/api/negotiate", ``, nil, 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type answer struct {
				status   int
				ct, body string
			}
			got := map[string]answer{}
			for mode, h := range hosts {
				status, hd, body := call(t, h, tt.method, tt.path, tt.header, tt.body)
				got[mode] = answer{status, hd.Get("Content-Type"), body}
				if status != tt.wantStatus {
					t.Errorf("%s: status = %d, want %d: %s", mode, status, tt.wantStatus, body)
				}
				if code := testkit.ErrorCode(body); code != tt.wantCode {
					t.Errorf("%s: code = %q, want %q: %s", mode, code, tt.wantCode, body)
				}
				if !strings.HasPrefix(hd.Get("Content-Type"), "application/json") {
					t.Errorf("%s: Content-Type = %q, want application/json", mode, hd.Get("Content-Type"))
				}
			}
			if got["forwarding"] != got["payload"] {
				t.Errorf("modes differ:\nforwarding %+v\npayload    %+v", got["forwarding"], got["payload"])
			}
		})
	}
	// Negotiate succeeds in both modes with the same URL.
	for mode, h := range hosts {
		status, _, body := call(t, h, "POST", "/api/negotiate?negotiateVersion=1", nil, "")
		if status != 200 || !strings.Contains(body, `"url":"`+svc.URL+`/client/?hub=chat"`) {
			t.Errorf("%s negotiate = %d %s, want 200 with the hub URL", mode, status, body)
		}
	}
	// The fake service saw the valid sends only: invalid bodies sent nothing.
	for _, r := range svc.Requests() {
		if !strings.HasPrefix(r.Path, "/api/hubs/chat/") || r.RawQuery != "api-version=2022-06-01" {
			t.Errorf("service request %s %s?%s, want /api/hubs/chat/... with api-version=2022-06-01", r.Method, r.Path, r.RawQuery)
		}
		if strings.Contains(r.Body, "xxxxxxxxxx") {
			t.Errorf("an oversized body reached the service")
		}
	}
}

func TestSendNeedsTheFunctionKey(t *testing.T) {
	h := startHost(t, false)
	for _, hd := range []http.Header{nil, {"X-Functions-Key": {"wrong"}}} {
		if status, _, _ := call(t, h, "POST", "/api/send", hd, `{"target":"t"}`); status != http.StatusUnauthorized {
			t.Errorf("send with key header %v = %d, want 401 from the host", hd, status)
		}
	}
	if status, _, body := call(t, h, "GET", "/api/negotiate", nil, ""); status != 200 {
		t.Errorf("anonymous negotiate = %d %s, want 200", status, body)
	}
}

func TestNotConfiguredInAzure(t *testing.T) {
	for _, payload := range []bool{false, true} {
		h := startHost(t, payload, "WEBSITE_INSTANCE_ID=abc123")
		status, _, body := call(t, h, "GET", "/api/negotiate", nil, "")
		if status != 500 || testkit.ErrorCode(body) != "ConfigurationError" ||
			!strings.Contains(body, "AzureSignalRConnectionString") || !strings.Contains(body, "__serviceUri") {
			t.Errorf("payload=%v: negotiate = %d %s, want 500 ConfigurationError naming both settings", payload, status, body)
		}
		waitFor(t, 2*time.Second, "the start-up configuration line", func() bool {
			return strings.Contains(h.Stderr(), "AzureSignalRConnectionString")
		})
	}
}

func TestInvalidSettingKeepsTheProcessUp(t *testing.T) {
	h := startHost(t, false, "AzureSignalRConnectionString=Endpoint=https://x.service.signalr.net;AuthType=bogus;Version=1.0;")
	status, _, body := call(t, h, "GET", "/api/negotiate", nil, "")
	if status != 500 || testkit.ErrorCode(body) != "ConfigurationError" || !strings.Contains(body, "bogus") {
		t.Errorf("negotiate = %d %s, want 500 ConfigurationError naming the AuthType value", status, body)
	}
	if status, _, _ := call(t, h, "GET", "/api/negotiate", nil, ""); status != 500 {
		t.Errorf("second call = %d, want the process still up answering 500", status)
	}
}

func TestGracefulShutdownFinishesInFlightSends(t *testing.T) {
	arrived := make(chan struct{}, 1)
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	})
	h := startHost(t, false, "AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;")
	answer := testkit.StartRequest(t, "POST", h.URL+"/api/send", http.Header{"X-Functions-Key": {"test-function-key"}}, strings.NewReader(`{"target":"t"}`))
	select {
	case <-arrived:
	case r := <-answer:
		t.Fatalf("the send ended (%d %s, %v) before it reached the service", r.Status, r.Body, r.Err)
	case <-time.After(5 * time.Second):
		t.Fatal("the send never reached the service")
	}
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-answer:
		if r.Err != nil || r.Status != 202 {
			t.Errorf("in-flight send = %d %s (%v), want 202", r.Status, r.Body, r.Err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight send did not end within 15 s of SIGTERM")
	}
	if err := h.Wait(5 * time.Second); err != nil {
		t.Errorf("handler exit: %v, want a clean exit", err)
	}
}

// TestLogsHoldNoSecrets runs access-key and client-secret configurations
// through successes and failures and scans everything the handler wrote.
func TestLogsHoldNoSecrets(t *testing.T) {
	const clientSecret = "E2E-CLIENT-SECRET-do-not-log-42"
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/auth/accessKey" {
			w.Write([]byte(`{"KeyId":"kid-1","AccessKey":"TEMPORARY-KEY-from-exchange-0123456789"}`))
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	auth := testkit.NewAuthority(t) // refusing, it quotes the client secret back
	auth.SetFail(true)
	keyHost := startHost(t, false,
		"AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;",
		"AzureSignalRHttpClientTimeout=00:00:02")
	entraHost := startHost(t, false,
		"AzureSignalRConnectionString__serviceUri="+svc.URL,
		"AzureSignalRConnectionString__tenantId=tenant1",
		"AzureSignalRConnectionString__clientId=client1",
		"AzureSignalRConnectionString__clientSecret="+clientSecret,
		"AzureSignalRConnectionString__disableInstanceDiscovery=true",
		"AZURE_AUTHORITY_HOST="+auth.URL,
		"SSL_CERT_FILE="+auth.CertFile)
	key := http.Header{"X-Functions-Key": {"test-function-key"}}
	var bodies []string
	for _, h := range []*funchost.Host{keyHost, entraHost} {
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/api/negotiate", ""},
			{"POST", "/api/send", `{"target":"t"}`},
		} {
			_, _, body := call(t, h, req.method, req.path, key, req.body)
			bodies = append(bodies, body)
		}
	}
	if code := testkit.ErrorCode(bodies[2]); code != "AuthenticationUnavailable" {
		t.Errorf("Entra negotiate with a failing authority: code %q, want AuthenticationUnavailable (%s)", code, bodies[2])
	}
	// The cause is logged, the secret the authority quoted back scrubbed.
	for _, want := range []string{"credential=ClientSecretCredential", "aadsts=AADSTS7000215", "[REDACTED]"} {
		if !strings.Contains(entraHost.Stderr(), want) {
			t.Errorf("the handler's error log does not hold %q:\n%s", want, entraHost.Stderr())
		}
	}
	auth.SetFail(false)
	status, _, body := call(t, entraHost, "GET", "/api/negotiate", nil, "")
	if status != 200 {
		t.Errorf("Entra negotiate after the authority recovered = %d %s, want 200", status, body)
	}
	bodies = append(bodies, body)
	logs := keyHost.Stdout() + keyHost.Stderr() + entraHost.Stdout() + entraHost.Stderr()
	if !strings.Contains(logs, "SignalR connection") {
		t.Errorf("no start-up connection line in the logs:\n%s", logs)
	}
	for _, secret := range []string{testAccessKey, clientSecret, "TEMPORARY-KEY-from-exchange", "token-for-client1", "test-function-key"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold secret %q:\n%s", secret, logs)
		}
		for _, b := range bodies {
			if strings.Contains(b, secret) {
				t.Errorf("a response holds secret %q: %s", secret, b)
			}
		}
	}
}
