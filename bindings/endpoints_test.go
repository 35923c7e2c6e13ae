package bindings_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// endpointKey is the access key of test endpoint name: each signs with its own.
func endpointKey(name string) string { return "key-of-endpoint-" + name + "-0123456789" }

// endpointSpec describes one endpoint of a several-endpoint test client.
type endpointSpec struct {
	name      string
	secondary bool
	srv       *fakeService // nil: an address nothing listens on is not needed (negotiate only)
}

// multiConn builds a connection whose own endpoint is specs[0] (when named
// "") and whose named endpoints are the rest.
func multiConn(tb testing.TB, specs ...endpointSpec) *settings.Connection {
	tb.Helper()
	c := &settings.Connection{Setting: settings.DefaultConnectionStringSetting}
	for i, s := range specs {
		u := fmt.Sprintf("https://%s.service.signalr.net", s.name)
		if s.srv != nil {
			u = s.srv.URL
		}
		if i == 0 && s.name == "" {
			c.Endpoint, c.AccessKey, c.Auth = u, endpointKey(s.name), "access key"
			continue
		}
		typ := settings.Primary
		if s.secondary {
			typ = settings.Secondary
		}
		c.Named = append(c.Named, settings.ServiceEndpoint{Name: s.name, Type: typ, Endpoint: u, AccessKey: endpointKey(s.name), Auth: "access key"})
	}
	return c
}

// multiOptions are fast options for several endpoints on loopback, logging
// into logs.
func multiOptions(logs *testkit.Buffer) bindings.Options {
	return bindings.Options{Transport: http.DefaultClient, Timeout: 5 * time.Second, RetryDelay: time.Millisecond,
		HealthInterval: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))}
}

// negotiateCounts negotiates n times and counts the endpoints chosen, by
// the host of the URL; every token must verify with that endpoint's key.
func negotiateCounts(tb testing.TB, c *bindings.Client, n int, keyOf map[string]string) map[string]int {
	tb.Helper()
	counts := map[string]int{}
	for range n {
		info, err := c.Negotiate(context.Background(), "u", nil)
		if err != nil {
			tb.Fatalf("Negotiate: %v", err)
		}
		u, err := url.Parse(info.URL)
		if err != nil {
			tb.Fatal(err)
		}
		name := keyOf[u.Host]
		_, claims := verifyToken(tb, info.AccessToken, endpointKey(name))
		if aud := claims["aud"].(string); !strings.HasPrefix(aud, u.Scheme+"://"+u.Hostname()+"/") {
			tb.Fatalf("aud %q is not for the chosen endpoint %s", aud, info.URL)
		}
		counts[name]++
	}
	return counts
}

func TestNegotiateSpreadsOverOnlinePrimaries(t *testing.T) {
	specs := []endpointSpec{{name: ""}, {name: "east"}, {name: "west"}, {name: "backup", secondary: true}}
	c := mustNewClient(t, multiConn(t, specs...), "chat", multiOptions(&testkit.Buffer{}))
	hosts := map[string]string{}
	for _, s := range specs {
		hosts[s.name+".service.signalr.net"] = s.name
	}
	const n = 3000
	counts := negotiateCounts(t, c, n, hosts)
	if counts["backup"] != 0 {
		t.Errorf("secondary chosen %d times while primaries are online, want 0", counts["backup"])
	}
	for _, name := range []string{"", "east", "west"} {
		// Each primary expects n/3 = 1000; 800..1200 is more than 6 standard deviations.
		if got := counts[name]; got < 800 || got > 1200 {
			t.Errorf("primary %q chosen %d of %d times, want about %d", name, got, n, n/3)
		}
	}
}

// failingService answers every REST call with status and HEAD /api/health
// with healthy's value.
func failingService(tb testing.TB, status int, healthy *atomic.Bool) *fakeService {
	tb.Helper()
	return newFakeService(tb, func(_ int, r *http.Request) answer {
		if r.URL.Path == "/api/health" {
			if healthy != nil && healthy.Load() {
				return answer{status: http.StatusOK}
			}
			return answer{status: http.StatusServiceUnavailable}
		}
		return answer{status: status}
	})
}

func hostsOf(specs []endpointSpec) map[string]string {
	m := map[string]string{}
	for _, s := range specs {
		u, _ := url.Parse(s.srv.URL)
		m[u.Host] = s.name
	}
	return m
}

func TestNegotiateFallsBackWhenPrimariesAreOffline(t *testing.T) {
	var up atomic.Bool // every endpoint answers its probe with 503 until set
	specs := []endpointSpec{
		{name: "p1", srv: failingService(t, http.StatusServiceUnavailable, &up)},
		{name: "p2", srv: failingService(t, http.StatusBadGateway, &up)},
		{name: "s1", secondary: true, srv: failingService(t, http.StatusAccepted, &up)},
		{name: "s2", secondary: true, srv: failingService(t, http.StatusAccepted, &up)},
	}
	logs := &testkit.Buffer{}
	c := mustNewClient(t, multiConn(t, specs...), "chat", multiOptions(logs))
	hosts := hostsOf(specs)

	// The primaries fail: they go offline, the secondaries took the message.
	if _, err := c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})}); err == nil {
		t.Fatal("Send: got nil error, want the primaries' failure")
	}
	counts := negotiateCounts(t, c, 400, hosts)
	if counts["p1"]+counts["p2"] != 0 || counts["s1"] < 120 || counts["s2"] < 120 {
		t.Errorf("with the primaries offline: got %v, want only secondaries, about evenly", counts)
	}

	// Now the secondaries fail too: none is online, so any primary.
	for _, s := range specs[2:] {
		s.srv.respond = func(_ int, r *http.Request) answer { return answer{hang: r.Method != http.MethodHead, status: 503} }
	}
	opts := multiOptions(logs)
	opts.Timeout = 200 * time.Millisecond
	c2 := mustNewClient(t, multiConn(t, specs...), "chat", opts)
	if _, err := c2.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})}); err == nil {
		t.Fatal("Send: got nil error, want every endpoint's failure")
	}
	counts = negotiateCounts(t, c2, 400, hosts)
	if counts["s1"]+counts["s2"] != 0 || counts["p1"] < 120 || counts["p2"] < 120 {
		t.Errorf("with every endpoint offline: got %v, want only primaries, about evenly", counts)
	}
}

func TestSendReachesEveryEndpointInOrder(t *testing.T) {
	// Each endpoint answers operation k only once every endpoint has
	// received it: sends that were not concurrent would never complete.
	const endpoints, operations = 3, 4
	var mu sync.Mutex
	var events []string // "start k" when an endpoint receives operation k, "end k" when it answers
	received := make([]int, operations)
	all := make([]chan struct{}, operations) // closed once every endpoint received operation k
	for k := range all {
		all[k] = make(chan struct{})
	}
	var specs []endpointSpec
	for i := range endpoints {
		srv := newFakeService(t, func(k int, r *http.Request) answer {
			mu.Lock()
			events = append(events, fmt.Sprintf("start %d", k))
			if received[k]++; received[k] == endpoints {
				close(all[k])
			}
			mu.Unlock()
			select {
			case <-all[k]:
			case <-time.After(5 * time.Second):
				return answer{status: http.StatusBadRequest, body: "operation not sent to every endpoint at once"}
			}
			mu.Lock()
			events = append(events, fmt.Sprintf("end %d", k))
			mu.Unlock()
			return answer{status: http.StatusAccepted}
		})
		specs = append(specs, endpointSpec{name: string(rune('a' + i)), srv: srv})
	}
	c := mustNewClient(t, multiConn(t, specs...), "chat", multiOptions(&testkit.Buffer{}))
	ops := []bindings.Operation{
		msg(bindings.Message{Target: "first", Arguments: raws(`1`)}),
		group(bindings.GroupAction{Action: "add", GroupName: "g", UserID: "u"}),
		msg(bindings.Message{Target: "third", GroupName: "g"}),
		group(bindings.GroupAction{Action: "removeAll", UserID: "u"}),
	}
	sent, err := c.Send(context.Background(), ops)
	if err != nil || sent != len(ops) {
		t.Fatalf("Send: got %d, %v; want %d, nil", sent, err, len(ops))
	}
	want := []string{"POST /api/hubs/chat/:send", "PUT /api/hubs/chat/users/u/groups/g",
		"POST /api/hubs/chat/groups/g/:send", "DELETE /api/hubs/chat/users/u/groups"}
	for _, s := range specs {
		var got []string
		for _, r := range s.srv.requests() {
			got = append(got, r.Method+" "+r.EscapedPath)
			if key := endpointKey(s.name); r.Header.Get("Authorization") != "" {
				verifyToken(t, bearer(t, r.Header), key)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("endpoint %s received %q, want %q", s.name, got, want)
		}
	}
	// Operation k+1 starts nowhere before operation k ended everywhere.
	mu.Lock()
	defer mu.Unlock()
	for i, ev := range events {
		var kind string
		var k int
		fmt.Sscanf(ev, "%s %d", &kind, &k)
		if kind != "start" {
			continue
		}
		for _, earlier := range events[:i] {
			var ek string
			var n int
			fmt.Sscanf(earlier, "%s %d", &ek, &n)
			if n > k {
				t.Fatalf("events %q: operation %d started after operation %d", events, k, n)
			}
		}
		for _, later := range events[i+1:] {
			if later == fmt.Sprintf("end %d", k-1) {
				t.Fatalf("events %q: operation %d started before operation %d ended everywhere", events, k, k-1)
			}
		}
	}
}

func TestSendPartialFailureNamesTheFailedEndpoints(t *testing.T) {
	ok1, ok2 := newFakeService(t, nil), newFakeService(t, nil)
	tests := []struct {
		name     string
		failing  []endpointSpec
		timeout  time.Duration
		wantCode string
		wantIn   []string
	}{
		{"one endpoint answers 500", []endpointSpec{{name: "west", srv: failingService(t, 500, nil)}}, 5 * time.Second,
			apierror.ServiceError, []string{"failed at 1 of 3 SignalR endpoints", `endpoint "west" (`, "answered 500"}},
		{"one endpoint does not answer", []endpointSpec{{name: "slow", srv: newFakeService(t, func(int, *http.Request) answer { return answer{hang: true} })}},
			300 * time.Millisecond, apierror.ServiceTimeout, []string{`endpoint "slow" (`, "did not answer"}},
		{"two fail: the first one's code", []endpointSpec{
			{name: "a-refuses", srv: failingService(t, 403, nil)},
			{name: "b-down", srv: failingService(t, 503, nil)}}, 5 * time.Second,
			apierror.ServiceError, []string{"failed at 2 of 4", `endpoint "a-refuses" (`, "answered 403", `endpoint "b-down" (`, "answered 503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n1, n2 := len(ok1.requests()), len(ok2.requests())
			specs := append([]endpointSpec{{name: "", srv: ok1}, {name: "zz-ok", srv: ok2}}, tt.failing...)
			opts := multiOptions(&testkit.Buffer{})
			opts.Timeout = tt.timeout
			c := mustNewClient(t, multiConn(t, specs...), "chat", opts)
			ops := []bindings.Operation{msg(bindings.Message{Target: "one"}), msg(bindings.Message{Target: "two"})}
			sent, err := c.Send(context.Background(), ops)
			if sent != 0 {
				t.Errorf("sent: got %d, want 0", sent)
			}
			e := asError(t, err)
			if e.Code != tt.wantCode {
				t.Errorf("code: got %s, want %s (%v)", e.Code, tt.wantCode, e)
			}
			for _, w := range append(tt.wantIn, tt.failing[0].srv.Listener.Addr().String()) {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q, want it to contain %q", e.Message, w)
				}
			}
			if strings.Contains(e.Message, `endpoint "zz-ok"`) || strings.Contains(e.Message, `endpoint "" (`) {
				t.Errorf("message %q names an endpoint that carried the operation out", e.Message)
			}
			for name, got := range map[string][]recorded{"": ok1.requests()[n1:], "zz-ok": ok2.requests()[n2:]} {
				if len(got) != 1 || got[0].Body != `{"target":"one","arguments":[]}` {
					t.Errorf("healthy endpoint %q received %d requests %v, want the first operation only", name, len(got), got)
				}
			}
		})
	}
}

func TestOfflineEndpointComesBackThroughTheProbe(t *testing.T) {
	var healthy atomic.Bool
	var failing atomic.Bool
	failing.Store(true)
	var probes atomic.Int32
	flaky := newFakeService(t, func(_ int, r *http.Request) answer {
		if r.Method == http.MethodHead && r.URL.Path == "/api/health" {
			probes.Add(1)
			if healthy.Load() {
				return answer{status: http.StatusOK}
			}
			return answer{status: http.StatusServiceUnavailable}
		}
		if failing.Load() {
			return answer{status: http.StatusInternalServerError}
		}
		return answer{status: http.StatusAccepted}
	})
	steady := newFakeService(t, nil)
	specs := []endpointSpec{{name: "flaky", srv: flaky}, {name: "steady", srv: steady}}
	logs := &testkit.Buffer{}
	c := mustNewClient(t, multiConn(t, specs...), "chat", multiOptions(logs))
	hosts := hostsOf(specs)

	for range 3 { // several failures: one offline line
		c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	}
	if got := negotiateCounts(t, c, 50, hosts); got["flaky"] != 0 {
		t.Errorf("while offline: got %v, want steady only", got)
	}
	eventually(t, "two probes answered 503", func() bool { return probes.Load() >= 2 })
	if got := negotiateCounts(t, c, 50, hosts); got["flaky"] != 0 {
		t.Errorf("after failed probes: got %v, want steady only", got)
	}
	failing.Store(false)
	healthy.Store(true)
	eventually(t, "the endpoint back online", func() bool { return strings.Contains(logs.String(), "back online") })
	n := probes.Load()
	if got := negotiateCounts(t, c, 400, hosts); got["flaky"] < 120 {
		t.Errorf("back online: got %v, want both primaries, about evenly", got)
	}
	// No probe while every endpoint is online (400 negotiations span
	// several probe intervals).
	if got := probes.Load(); got != n {
		t.Errorf("probes while online: got %d more, want none", got-n)
	}
	out := logs.String()
	if got := strings.Count(out, "is offline"); got != 1 {
		t.Errorf("offline lines: got %d, want 1:\n%s", got, out)
	}
	if got := strings.Count(out, "back online"); got != 1 {
		t.Errorf("online lines: got %d, want 1:\n%s", got, out)
	}
	if !strings.Contains(out, "endpoint=flaky") || !strings.Contains(out, "host="+flaky.Listener.Addr().String()) {
		t.Errorf("logs %q, want the endpoint's name and host", out)
	}
	for _, r := range flaky.requests() {
		if r.Method == http.MethodHead && r.Header.Get("Authorization") != "" {
			t.Errorf("the health probe carries an Authorization header")
		}
	}
}

// TestCloseStopsTheHealthWatch checks that Close ends the watch, even
// while it probes an offline endpoint.
func TestCloseStopsTheHealthWatch(t *testing.T) {
	specs := []endpointSpec{{name: "a", srv: failingService(t, 503, nil)}, {name: "b", srv: newFakeService(t, nil)}}
	c, err := bindings.NewClient(multiConn(t, specs...), "chat", multiOptions(&testkit.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	c.Send(context.Background(), []bindings.Operation{msg(bindings.Message{Target: "t"})})
	eventually(t, "a probe", func() bool {
		for _, r := range specs[0].srv.requests() {
			if r.Method == http.MethodHead {
				return true
			}
		}
		return false
	})
	c.Close()
	c.Close()
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "(*health).run") {
		t.Errorf("the health watch still runs after Close:\n%s", stacks)
	}
}

// TestEntraEndpointsHaveTheirOwnKeys negotiates over two endpoints
// authenticated with Microsoft Entra ID against the fake authority: each
// exchanges its own temporary key once and signs its tokens with it.
func TestEntraEndpointsHaveTheirOwnKeys(t *testing.T) {
	authority := newFakeAuthority(t)
	ka, kb := newKeyService(t, 0), newKeyService(t, 0)
	conn := &settings.Connection{
		Endpoint: "https://a.service.signalr.net", ServerEndpoint: ka.URL, Credential: authority.credential(t),
		Named: []settings.ServiceEndpoint{{Name: "b", Type: settings.Primary, Endpoint: "https://b.service.signalr.net",
			ServerEndpoint: kb.URL, Credential: authority.credential(t)}},
	}
	opts := testOptions(ka.Server)
	opts.Logger = slog.New(slog.DiscardHandler)
	c := mustNewClient(t, conn, "chat", opts)
	seen := map[string]int{}
	for range 200 {
		info, err := c.Negotiate(context.Background(), "u", nil)
		if err != nil {
			t.Fatalf("Negotiate: %v", err)
		}
		checkKid(t, info.AccessToken, 1) // each service's first key
		seen[info.URL]++
	}
	if len(seen) != 2 {
		t.Errorf("URLs: got %v, want both endpoints", seen)
	}
	if ka.exchanges() != 1 || kb.exchanges() != 1 {
		t.Errorf("key exchanges: got %d and %d, want 1 each", ka.exchanges(), kb.exchanges())
	}
	if got := authority.Tokens(); got != 2 {
		t.Errorf("Entra token requests: got %d, want 2 (one per endpoint's credential)", got)
	}
}
