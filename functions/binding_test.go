package functions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/localservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

// otherService is a second SignalR service (an embedded local service on a
// free port) for a non-default ConnectionStringSetting.
func otherService(tb testing.TB) (connectionString string) {
	tb.Helper()
	svc := localservice.New(localservice.Options{})
	srv := httptest.NewServer(svc)
	tb.Cleanup(func() { svc.Close(); srv.Close() })
	u, _ := url.Parse(srv.URL)
	return "Endpoint=http://" + u.Hostname() + ";Port=" + u.Port() + ";AccessKey=" + settings.LocalAccessKey + ";Version=1.0;"
}

// TestUserFunctionSendsThroughNamedSetting registers a hub on a non-default
// ConnectionStringSetting and a hub name from AzureSignalRHubName, resolved
// from each kind of source and spelling, and checks that a user HTTP
// function's send reaches a real client in both of the host's modes.
func TestUserFunctionSendsThroughNamedSetting(t *testing.T) {
	cs := otherService(t)
	tests := []struct {
		name     string
		environ  []string
		settings string // local.settings.json Values
	}{
		{"environment, setting name", []string{"Other=" + cs, "AzureSignalRHubName=Lobby"}, ""},
		{"environment, ConnectionStrings__ form", []string{"ConnectionStrings__Other=" + cs, "AZURESIGNALRHUBNAME=Lobby"}, ""},
		{"local.settings.json, ConnectionStrings: form", nil, `{"Values":{"ConnectionStrings:Other":` + jsonString(cs) + `,"AzureSignalRHubName":"Lobby"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := functions.New()
			other := app.Hub(functions.SignalR{ConnectionStringSetting: "Other"}) // hub from AzureSignalRHubName
			app.HTTP("negotiate", other.NegotiateHandler(""))
			app.HTTP("hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := other.Send(r.Context(), functions.Message{Target: "greet", Arguments: []any{"hi", 42}}); err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			files := map[string]string{}
			if tt.settings != "" {
				files["local.settings.json"] = tt.settings
			}
			dir := appDir(t, map[string]string{"negotiate": httpAnon, "hello": httpAnon}, files)
			r := run(t, app, dir, tt.environ, false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			client, err := signalrtest.Dial(ctx, "http://"+r.addrs["handler"]+"/api/negotiate", nil)
			if err != nil {
				t.Fatalf("connect through negotiate: %v", err)
			}
			defer client.Close()
			if strings.Contains(r.stdout.String(), "embedded local SignalR service") {
				t.Fatalf("the named setting fell back to the local service:\n%s", r.stdout)
			}
			if other.Name() != "lobby" { // resolved before the first request was served
				t.Errorf("hub %q, want lobby (AzureSignalRHubName, lower-cased)", other.Name())
			}
			for _, mode := range []string{"forwarding", "payload"} {
				if mode == "forwarding" {
					if status, _, body := testkit.Do(t, "POST", "http://"+r.addrs["handler"]+"/api/hello", nil, nil); status != http.StatusAccepted {
						t.Fatalf("forwarding: hello answered %d %s, want 202", status, body)
					}
				} else {
					env := `{"Data":{"req":{"Url":"http://x/api/hello","Method":"POST","Query":{},"Headers":{}}},"Metadata":{}}`
					status, _, body := testkit.Do(t, "POST", "http://"+r.addrs["handler"]+"/hello", jsonCT, strings.NewReader(env))
					if status != http.StatusOK || !strings.Contains(body, `"statusCode":202`) {
						t.Fatalf("payload: hello answered %d %s, want 200 with Outputs.res.statusCode 202", status, body)
					}
				}
				msg, err := client.Next(ctx)
				if err != nil {
					t.Fatalf("%s: client got no message: %v", mode, err)
				}
				if msg.Target != "greet" || len(msg.Arguments) != 2 || string(msg.Arguments[0]) != `"hi"` || string(msg.Arguments[1]) != "42" {
					t.Errorf("%s: got %s%s, want greet(\"hi\", 42)", mode, msg.Target, msg.Arguments)
				}
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestInvalidTokenLifetimeFailsNegotiateOnly runs an app whose
// AzureSignalRAccessTokenLifetime is invalid: negotiate through a hub that
// uses the setting answers a ConfigurationError naming it, while send keeps
// working and a hub with its own AccessTokenLifetime (equal to the
// default, so that both share a client) negotiates, whichever is declared
// first.
func TestInvalidTokenLifetimeFailsNegotiateOnly(t *testing.T) {
	for _, explicitFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("explicitFirst=%v", explicitFirst), func(t *testing.T) {
			app := functions.New()
			var hub, explicit *functions.Hub
			if explicitFirst {
				explicit = app.Hub(functions.SignalR{AccessTokenLifetime: time.Hour})
				hub = app.Hub(functions.SignalR{})
			} else {
				hub = app.Hub(functions.SignalR{})
				explicit = app.Hub(functions.SignalR{AccessTokenLifetime: time.Hour})
			}
			app.HTTP("negotiate", hub.NegotiateHandler(""))
			app.HTTP("negotiateexplicit", explicit.NegotiateHandler(""))
			app.HTTP("send", hub.SendHandler())
			dir := appDir(t, map[string]string{"negotiate": httpAnon, "negotiateexplicit": httpAnon, "send": httpFunction}, nil)
			r := run(t, app, dir, []string{"AzureSignalRAccessTokenLifetime=48:00:00"}, true)
			base := "http://" + r.addrs["handler"] + "/api/"

			status, _, body := testkit.Do(t, "GET", base+"negotiate", nil, nil)
			if status != 500 || testkit.ErrorCode(body) != "ConfigurationError" || !strings.Contains(body, "AzureSignalRAccessTokenLifetime") {
				t.Errorf("negotiate: got %d %s, want 500 ConfigurationError naming AzureSignalRAccessTokenLifetime", status, body)
			}
			if status, _, body := testkit.Do(t, "GET", base+"negotiateexplicit", nil, nil); status != 200 {
				t.Errorf("negotiate with the hub's own lifetime: got %d %s, want 200: the setting is not used", status, body)
			}
			status, _, body = testkit.Do(t, "POST", base+"send", http.Header{"Content-Type": {"application/json"}},
				strings.NewReader(`{"target":"t","arguments":[]}`))
			if status != http.StatusAccepted {
				t.Errorf("send: got %d %s, want 202: the lifetime concerns negotiate only", status, body)
			}
		})
	}
}

// TestNegotiateCopiesClaimTypes negotiates with an x-ms-client-principal
// header through a hub that takes its claim types from the
// AzureSignalRClaimTypes setting and through one that lists its own: each
// client token carries the claims of its hub's types and no others.
func TestNegotiateCopiesClaimTypes(t *testing.T) {
	app := functions.New()
	fromSetting := app.Hub(functions.SignalR{})
	own := app.Hub(functions.SignalR{ClaimTypes: []string{"name"}})
	app.HTTP("negotiate", fromSetting.NegotiateHandler(""))
	app.HTTP("negotiateown", own.NegotiateHandler(""))
	dir := appDir(t, map[string]string{"negotiate": httpAnon, "negotiateown": httpAnon}, nil)
	r := run(t, app, dir, []string{"AzureSignalRClaimTypes=roles"}, true)
	principal := base64.StdEncoding.EncodeToString([]byte(
		`{"auth_typ":"aad","claims":[{"typ":"name","val":"Alice"},{"typ":"roles","val":"reader"}]}`))
	tests := []struct {
		function      string
		want, notWant string
		wantValue     string
	}{
		{"negotiate", "roles", "name", "reader"},
		{"negotiateown", "name", "roles", "Alice"},
	}
	for _, tt := range tests {
		status, _, body := testkit.Do(t, "GET", "http://"+r.addrs["handler"]+"/api/"+tt.function,
			http.Header{"X-Ms-Client-Principal": {principal}, "X-Ms-Client-Principal-Id": {"alice"}}, nil)
		if status != 200 {
			t.Fatalf("%s: got %d %s, want 200", tt.function, status, body)
		}
		var info functions.ConnectionInfo
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatalf("%s: answer %s: %v", tt.function, body, err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(info.AccessToken, claims); err != nil {
			t.Fatalf("%s: token: %v", tt.function, err)
		}
		if got := claims[tt.want]; got != tt.wantValue {
			t.Errorf("%s: claim %s = %v, want %q", tt.function, tt.want, got, tt.wantValue)
		}
		if got, ok := claims[tt.notWant]; ok {
			t.Errorf("%s: claim %s = %v, want none (not one of the hub's claim types)", tt.function, tt.notWant, got)
		}
	}
}
