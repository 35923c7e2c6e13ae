package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTwoLocalServicesAsTwoEndpoints configures two local SignalR services
// as two endpoints of the default connection (the setting's own and a
// named one under Azure:SignalR:Endpoints): negotiate hands out both, and
// official clients on each receive every broadcast, in order.
func TestTwoLocalServicesAsTwoEndpoints(t *testing.T) {
	requireNode(t)
	first, second := startLocalService(t), startLocalService(t)
	cs := func(url string) string { return "Endpoint=" + url + ";AccessKey=" + devAccessKey + ";Version=1.0;" }
	a := startStandalone(t,
		"AzureSignalRConnectionString="+cs(first.URL),
		"Azure__SignalR__Endpoints__second="+cs(second.URL))
	logs := a.logs()
	for _, w := range []string{`msg="SignalR endpoint" setting=AzureSignalRConnectionString name="" type=primary host=` + first.Listener.Addr().String(),
		`msg="SignalR endpoint" setting=AzureSignalRConnectionString name=second type=primary host=` + second.Listener.Addr().String()} {
		if !strings.Contains(logs, w) {
			t.Errorf("start-up logs lack %s:\n%s", w, logs)
		}
	}

	// Negotiate spreads over both primaries: take one answer for each.
	infos := map[string]connectionInfo{}
	for i := 0; i < 200 && len(infos) < 2; i++ {
		info := a.negotiate(t, fmt.Sprintf("user-%d", i))
		base, _, _ := strings.Cut(info.URL, "/client/")
		infos[base] = info
	}
	for _, srv := range []string{first.URL, second.URL} {
		if _, ok := infos[srv]; !ok {
			t.Fatalf("200 negotiations never chose %s: got %v", srv, infos)
		}
	}

	const broadcasts = 25
	var want []message
	for i := range broadcasts {
		want = append(want, newMessage("newMessage", i, "broadcast"))
	}
	var clients []*nodeClient
	for i, srv := range []string{first.URL, second.URL} {
		for _, transport := range []string{"WebSockets", "ServerSentEvents"} {
			info := infos[srv]
			clients = append(clients, startClient(t, fmt.Sprintf("endpoint%d-%s", i, transport), clientOptions{
				URL: info.URL, AccessToken: info.AccessToken, Transport: transport, Expect: broadcasts, Timeout: 2 * time.Minute}))
		}
	}
	// And two through the function app: wherever negotiate sends them.
	for i := range 2 {
		clients = append(clients, startClient(t, fmt.Sprintf("via-negotiate-%d", i), clientOptions{
			URL: a.base + "/api", Expect: broadcasts, Timeout: 2 * time.Minute}))
	}
	for _, c := range clients {
		c.connected(t, time.Minute)
	}

	// Single sends, then one batch.
	for i := range 10 {
		a.send(t, op{"target": "newMessage", "arguments": []any{i, "broadcast"}})
	}
	var batch []op
	for i := 10; i < broadcasts; i++ {
		batch = append(batch, op{"target": "newMessage", "arguments": []any{i, "broadcast"}})
	}
	a.send(t, batch...)

	for _, c := range clients {
		events, code := c.finish(t, 30*time.Second)
		if code != clientOK {
			t.Errorf("client exit code %d, want 0\n%s", code, c.describe())
			continue
		}
		got := messages(events)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("client %s received %v, want %v", c.name, got, want)
		}
	}
}
