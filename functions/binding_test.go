package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
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
				var status int
				if mode == "forwarding" {
					status, _ = call(t, "POST", "http://"+r.addrs["handler"]+"/api/hello", "", "")
				} else {
					env := `{"Data":{"req":{"Url":"http://x/api/hello","Method":"POST","Query":{},"Headers":{}}},"Metadata":{}}`
					var body string
					status, body = call(t, "POST", "http://"+r.addrs["handler"]+"/hello", "application/json", env)
					if status == 200 && !strings.Contains(body, `"statusCode":202`) {
						t.Errorf("payload answer %s, want Outputs.res.statusCode 202", body)
					}
					status = 202
				}
				if status != http.StatusAccepted {
					t.Fatalf("%s: hello answered %d", mode, status)
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
