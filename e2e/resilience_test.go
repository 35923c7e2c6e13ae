package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/bindings"
	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/funchost"
	"github.com/funcsignalr/funcsignalr/internal/signalrtest"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/localservice"
	"github.com/funcsignalr/funcsignalr/settings"
)

// Resilience tests: load through send, faults of the
// service and of Microsoft Entra ID, and shutdown with clients connected.
// Every host they start is a watchedHost: its output is checked for secrets.

// functionKey is the header send needs under funchost.
var functionKey = http.Header{"X-Functions-Key": {"test-function-key"}, "Content-Type": {"application/json"}}

// watchedHost is a host whose stdout and stderr are checked, once the test
// is over and the handler has exited, for every configured secret and every
// value added with secret.
type watchedHost struct {
	*funchost.Host
	mu      sync.Mutex
	secrets []string
}

// startWatchedHost starts a host as startHost does. The secrets in settings
// (access keys in connection strings, client secrets, passwords) and the
// function key are watched from the start.
func startWatchedHost(tb testing.TB, payloadMode bool, settings ...string) *watchedHost {
	tb.Helper()
	w := &watchedHost{Host: startHost(tb, payloadMode, settings...)}
	w.secret(configuredSecrets(settings)...)
	w.secret(w.FunctionKey)
	tb.Cleanup(func() {
		w.Stop()
		logs := w.Stdout() + w.Stderr()
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, s := range w.secrets {
			if strings.Contains(logs, s) {
				tb.Errorf("the handler's output holds the secret %.12q…", s)
			}
		}
	})
	return w
}

// secret adds values that must never appear in the handler's output.
func (w *watchedHost) secret(values ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range values {
		if len(v) >= 8 { // shorter values would match by chance
			w.secrets = append(w.secrets, v)
		}
	}
}

// configuredSecrets picks the secret values out of app settings.
func configuredSecrets(settings []string) []string {
	var out []string
	for _, kv := range settings {
		k, v, _ := strings.Cut(kv, "=")
		lk := strings.ToLower(k)
		if strings.Contains(lk, "secret") || strings.Contains(lk, "password") {
			out = append(out, v)
		}
		for _, part := range strings.Split(v, ";") {
			pk, pv, _ := strings.Cut(part, "=")
			switch strings.ToLower(strings.TrimSpace(pk)) {
			case "accesskey", "clientsecret":
				out = append(out, pv)
			}
		}
	}
	return out
}

// negotiateInfo calls negotiate and returns its answer; the access token is
// watched as a secret.
func negotiateInfo(tb testing.TB, h *watchedHost, header http.Header) (status int, info bindings.ConnectionInfo, body string) {
	tb.Helper()
	status, _, body = call(tb, h.Host, "POST", "/api/negotiate?negotiateVersion=1", header, "")
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			tb.Fatalf("negotiate answer %s: %v", body, err)
		}
		h.secret(info.AccessToken)
	}
	return status, info, body
}

// serviceBase is the scheme://host:port of a client URL from negotiate.
func serviceBase(tb testing.TB, clientURL string) string {
	tb.Helper()
	u, err := url.Parse(clientURL)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// restToken signs a data-plane REST token for the request URL u (no query)
// with key, as bindings does.
func restToken(tb testing.TB, key, u string) string {
	tb.Helper()
	return signWith(tb, jwt.SigningMethodHS256, []byte(key), jwt.MapClaims{
		"aud": u, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
}

// dial connects a signalrtest client through the host's negotiate function.
func dial(tb testing.TB, ctx context.Context, h *funchost.Host, user string) *signalrtest.Client {
	tb.Helper()
	var hd http.Header
	if user != "" {
		hd = http.Header{"X-Ms-Client-Principal-Id": {user}}
	}
	c, err := signalrtest.Dial(ctx, h.URL+"/api/negotiate", hd)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// expectMessages reads from c until it has the targets in want, in order,
// and fails on anything else.
func expectMessages(tb testing.TB, c *signalrtest.Client, timeout time.Duration, want ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i, target := range want {
		m, err := c.Next(ctx)
		if err != nil {
			tb.Fatalf("message %d: %v, want %s", i, err, target)
		}
		if m.Target != target {
			tb.Fatalf("message %d = %s%s, want %s", i, m.Target, m.Arguments, target)
		}
	}
}

// expectNoMessage fails if c gets a message within d.
func expectNoMessage(tb testing.TB, c *signalrtest.Client, d time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := c.Next(ctx); err == nil {
		tb.Fatalf("unexpected message %s%s", m.Target, m.Arguments)
	}
}

// ---- load ----

// The load plan: loadClients clients, two connections per user, users in
// loadGroups groups of 50 connections; loadSenders senders each send
// loadPerSender messages in batches of loadBatch, each message to
// everyone, a group, a user or a connection.
const (
	loadClients   = 1000
	loadUsers     = loadClients / 2
	loadGroups    = 20
	loadSenders   = 10
	loadPerSender = 1000
	loadBatch     = 20
	// loadWindow is how many of its own sequence numbers a sender may run
	// ahead of the slowest client. The service drops a client that falls
	// 1024 messages behind (its send buffer), by design; the window keeps
	// every client within loadSenders*(loadWindow+loadBatch) = 600 of them,
	// so the test checks delivery, not how fast a raced test process reads.
	loadWindow = 40
)

// loadUser is the user of client i.
func loadUser(i int) int { return i / 2 }

// loadTarget says who message n of sender s goes to: everyone (2% of the
// messages, 200,000 deliveries), a connection (2%), a user (50%, two
// connections each) or a group (46%, 50 connections each): about 440,000
// deliveries in all.
func loadTarget(s, n int) (kind string, id int) {
	switch {
	case n%50 == 0:
		return "all", 0
	case n%50 == 25:
		return "connection", (s*97 + n*13) % loadClients
	case n%2 == 1:
		return "user", (s*53 + n*7) % loadUsers
	default:
		return "group", (s + n/2) % loadGroups
	}
}

// loadReaches reports whether message n of sender s reaches client i.
func loadReaches(s, n, i int) bool {
	kind, id := loadTarget(s, n)
	switch kind {
	case "group":
		return loadUser(i)%loadGroups == id
	case "user":
		return loadUser(i) == id
	case "connection":
		return i == id
	}
	return true
}

func loadMessage(s, n int, clients []*signalrtest.Client) map[string]any {
	m := map[string]any{"target": "load", "arguments": []int{s, n}}
	switch kind, id := loadTarget(s, n); kind {
	case "group":
		m["groupName"] = "group" + strconv.Itoa(id)
	case "user":
		m["userId"] = "user" + strconv.Itoa(id)
	case "connection":
		m["connectionId"] = clients[id].ConnectionID()
	}
	return m
}

// loadClientState is what one client saw.
type loadClientState struct {
	last     [loadSenders]atomic.Int64 // last sequence number from each sender
	received int
	err      error
	stopped  atomic.Bool // the reader returned
}

// TestLoadThousandClientsTenThousandMessages drives the real binary under
// funchost with its embedded local service: 1,000 WebSocket clients, 10
// senders POSTing 10,000 messages through send (broadcast, group and user),
// and checks that every client gets exactly the messages meant for it, once
// each and in each sender's order.
func TestLoadThousandClientsTenThousandMessages(t *testing.T) {
	start := time.Now()
	h := startWatchedHost(t, false, "FUNCSIGNALR_LOG_LEVEL=info")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// 1,000 clients, 32 dialling at a time.
	clients := make([]*signalrtest.Client, loadClients)
	var dialErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := signalrtest.Dial(ctx, h.URL+"/api/negotiate",
				http.Header{"X-Ms-Client-Principal-Id": {"user" + strconv.Itoa(loadUser(i))}})
			if err != nil {
				dialErr.CompareAndSwap(nil, fmt.Errorf("client %d: %w", i, err))
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	t.Cleanup(func() { closeAll(clients) })
	if err := dialErr.Load(); err != nil {
		t.Fatalf("dial: %v", err)
	}
	dialled := time.Now()

	sender := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadSenders + 2}}
	defer sender.CloseIdleConnections()
	send := func(body any) error {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", h.URL+"/api/send", bytes.NewReader(raw))
		req.Header = functionKey.Clone()
		resp, err := sender.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("send answered %d: %s", resp.StatusCode, b.String())
		}
		return nil
	}

	// Users join their groups (user-level membership: both connections).
	for from := 0; from < loadUsers; from += 100 {
		var actions []map[string]string
		for u := from; u < from+100; u++ {
			actions = append(actions, map[string]string{"action": "add", "userId": "user" + strconv.Itoa(u), "groupName": "group" + strconv.Itoa(u%loadGroups)})
		}
		if err := send(actions); err != nil {
			t.Fatalf("join groups: %v", err)
		}
	}

	// Every client reads until the final "done" broadcast.
	states := make([]*loadClientState, loadClients)
	var readers sync.WaitGroup
	for i, c := range clients {
		st := &loadClientState{}
		for s := range st.last {
			st.last[s].Store(-1)
		}
		states[i] = st
		readers.Add(1)
		go func() {
			defer readers.Done()
			st.err = readLoad(ctx, c, i, st)
			st.stopped.Store(true)
		}()
	}

	// Ten senders, each waiting for the slowest client to be within
	// loadWindow of its next batch.
	var sendErr atomic.Value
	var senders sync.WaitGroup
	for s := 0; s < loadSenders; s++ {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for n0 := 0; n0 < loadPerSender; n0 += loadBatch {
				if err := waitForClients(ctx, states, s, n0-loadWindow); err != nil {
					sendErr.CompareAndSwap(nil, fmt.Errorf("sender %d before %d: %w", s, n0, err))
					return
				}
				batch := make([]map[string]any, 0, loadBatch)
				for n := n0; n < n0+loadBatch; n++ {
					batch = append(batch, loadMessage(s, n, clients))
				}
				if err := send(batch); err != nil {
					sendErr.CompareAndSwap(nil, fmt.Errorf("sender %d, batch at %d: %w", s, n0, err))
					return
				}
			}
		}()
	}
	senders.Wait()
	if err := sendErr.Load(); err != nil {
		cancel()
		readers.Wait()
		t.Fatal(err)
	}
	sent := time.Now()
	if err := send(map[string]any{"target": "done"}); err != nil {
		t.Fatal(err)
	}
	readers.Wait()
	drained := time.Now()

	deliveries, failures := 0, 0
	for i, st := range states {
		want := 0
		for s := 0; s < loadSenders; s++ {
			for n := 0; n < loadPerSender; n++ {
				if loadReaches(s, n, i) {
					want++
				}
			}
		}
		switch {
		case st.err != nil:
			failures++
			if failures <= 10 {
				t.Errorf("client %d: %v", i, st.err)
			}
		case st.received != want:
			failures++
			if failures <= 10 {
				t.Errorf("client %d got %d messages, want %d", i, st.received, want)
			}
		}
		deliveries += st.received
	}
	if failures > 10 {
		t.Errorf("… %d clients failed in all", failures)
	}

	// Closing every client leaves no connection behind in the service.
	closeAll(clients)
	_, info, _ := negotiateInfo(t, h, nil)
	base := serviceBase(t, info.URL)
	waitFor(t, 10*time.Second, "every user's connections to be gone", func() bool {
		for u := 0; u < loadUsers; u += 7 {
			p := base + "/api/hubs/default/users/user" + strconv.Itoa(u)
			req, _ := http.NewRequest("HEAD", p+"?api-version=2022-06-01", nil)
			req.Header.Set("Authorization", "Bearer "+restToken(t, localservice.DevAccessKey, p))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return false
			}
		}
		return true
	})
	t.Logf("%d clients, %d messages by %d senders, %d deliveries: dial %v, send %v, drain %v, close %v, total %v",
		loadClients, loadSenders*loadPerSender, loadSenders, deliveries,
		dialled.Sub(start).Round(time.Millisecond), sent.Sub(dialled).Round(time.Millisecond),
		drained.Sub(sent).Round(time.Millisecond), time.Since(drained).Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond))
}

// readLoad reads client i's messages until "done", checking each.
func readLoad(ctx context.Context, c *signalrtest.Client, i int, st *loadClientState) error {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return fmt.Errorf("after %d messages: %w", st.received, err)
		}
		if m.Target == "done" {
			return nil
		}
		if m.Target != "load" || len(m.Arguments) != 2 {
			return fmt.Errorf("unexpected message %s%s", m.Target, m.Arguments)
		}
		s, err1 := strconv.Atoi(string(m.Arguments[0]))
		n, err2 := strconv.Atoi(string(m.Arguments[1]))
		if err1 != nil || err2 != nil || s < 0 || s >= loadSenders || n < 0 || n >= loadPerSender {
			return fmt.Errorf("unexpected arguments %s", m.Arguments)
		}
		if !loadReaches(s, n, i) {
			return fmt.Errorf("got message %d of sender %d, which is not for this client", n, s)
		}
		if last := st.last[s].Load(); int64(n) <= last {
			return fmt.Errorf("message %d of sender %d after its message %d: out of order or twice", n, s, last)
		}
		st.last[s].Store(int64(n))
		st.received++
	}
}

// waitForClients waits until every client has seen the last message of
// sender s numbered below upTo that reaches it: then no message of s before
// upTo is still queued for any client.
func waitForClients(ctx context.Context, states []*loadClientState, s, upTo int) error {
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < len(states); {
		want := -1
		for n := upTo - 1; n >= 0; n-- {
			if loadReaches(s, n, i) {
				want = n
				break
			}
		}
		for states[i].last[s].Load() < int64(want) {
			if states[i].stopped.Load() {
				return fmt.Errorf("client %d stopped reading at message %d of this sender", i, states[i].last[s].Load())
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("client %d is stuck at message %d of this sender for 30s", i, states[i].last[s].Load())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
		i++
	}
	return nil
}

// closeAll closes clients concurrently.
func closeAll(clients []*signalrtest.Client) {
	var wg sync.WaitGroup
	for _, c := range clients {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
}

// ---- goroutine leaks ----

// TestNoGoroutineLeakInProcess runs what the binary runs — the handler, the
// bindings client and the local service — in the test process, where
// goroutines can be counted: clients connect, get messages, join and leave
// groups and disconnect, some only negotiate, the service shuts down with
// clients still connected; afterwards the process is back to the goroutines
// it had before.
func TestNoGoroutineLeakInProcess(t *testing.T) {
	baseline := settledGoroutines()
	httpc := &http.Client{Transport: &http.Transport{}}
	func() {
		svc := localservice.New(localservice.Options{})
		svcSrv := httptest.NewServer(svc)
		defer svcSrv.Close()
		defer svc.Close()
		client, err := bindings.NewClient(settings.LocalConnection(svcSrv.Listener.Addr().String()), "Leak", bindings.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		app, err := handler.LoadApp("..")
		if err != nil {
			t.Fatal(err)
		}
		hd, err := handler.New(handler.Config{App: app, Negotiator: client, Sender: client})
		if err != nil {
			t.Fatal(err)
		}
		fn := httptest.NewServer(hd)
		defer fn.Close()
		send := func(body string) {
			t.Helper()
			resp, err := httpc.Post(fn.URL+"/api/send", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("send %s = %d, want 202", body, resp.StatusCode)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		const perRound = 100
		var last []*signalrtest.Client
		for round := 0; round < 3; round++ {
			clients := make([]*signalrtest.Client, perRound)
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := signalrtest.Dial(ctx, fn.URL+"/api/negotiate", http.Header{"X-Ms-Client-Principal-Id": {"u" + strconv.Itoa(i%10)}})
					if err != nil {
						t.Error(err)
						return
					}
					clients[i] = c
				}()
			}
			wg.Wait()
			if t.Failed() {
				closeAll(clients)
				return
			}
			// Connections that negotiate and never connect.
			for i := 0; i < 5; i++ {
				negotiateOnly(t, httpc, fn.URL)
			}
			send(`[{"action":"add","userId":"u1","groupName":"g"},{"action":"add","groupName":"g","connectionId":"` + clients[2].ConnectionID() + `"},` +
				`{"target":"all"},{"target":"group","groupName":"g"},{"action":"removeAll","userId":"u1"}]`)
			for i, c := range clients {
				want := []string{"all"}
				if i%10 == 1 || i == 2 {
					want = append(want, "group")
				}
				expectMessages(t, c, 10*time.Second, want...)
			}
			if round < 2 {
				closeAll(clients)
			} else {
				closeAll(clients[:perRound/2])
				last = clients[perRound/2:]
			}
		}
		// The service shuts down with clients connected: each gets a close
		// message.
		svc.Close()
		for i, c := range last {
			if _, err := c.Next(ctx); !errors.As(err, new(*signalrtest.CloseError)) {
				t.Errorf("client %d after the service closed: %v, want a close message", i, err)
			}
		}
		closeAll(last)
	}()
	httpc.CloseIdleConnections()

	var n int
	deadline := time.Now().Add(10 * time.Second)
	for n = runtime.NumGoroutine(); n > baseline && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	if n > baseline {
		var b bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("%d goroutines 10s after everything closed, %d before:\n%s", n, baseline, b.String())
	}
}

// negotiateOnly negotiates a connection at the service and never connects.
func negotiateOnly(tb testing.TB, httpc *http.Client, fnURL string) {
	tb.Helper()
	resp, err := httpc.Post(fnURL+"/api/negotiate", "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	var info bindings.ConnectionInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	req, _ := http.NewRequest("POST", strings.Replace(info.URL, "/client/?", "/client/negotiate?", 1)+"&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	resp, err = httpc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("service negotiate = %d, want 200", resp.StatusCode)
	}
}

// settledGoroutines is the goroutine count once it stops falling (what
// earlier tests left winding down), within 2 s.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// ---- faults ----

// fault is an answer the faultProxy gives instead of the service's.
type fault struct {
	status int
	header http.Header
}

// faultProxy is a reverse proxy in front of a SignalR service: client
// traffic (negotiate, WebSockets) passes through; REST calls get the planned
// faults first, one per call, then pass through.
type faultProxy struct {
	*httptest.Server
	mu     sync.Mutex
	faults []fault
	calls  []string // method and path of every REST call, faulted or not
}

func newFaultProxy(tb testing.TB, target string) *faultProxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &faultProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			p.mu.Lock()
			p.calls = append(p.calls, r.Method+" "+r.URL.EscapedPath())
			var f *fault
			if len(p.faults) > 0 {
				f = &p.faults[0]
				p.faults = p.faults[1:]
			}
			p.mu.Unlock()
			if f != nil {
				for k, vs := range f.header {
					w.Header()[k] = vs
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(f.status)
				fmt.Fprintf(w, `{"code":"Injected","message":"fault injected by the test"}`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.Close)
	return p
}

// plan sets the faults of the next REST calls and forgets past calls.
func (p *faultProxy) plan(faults ...fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.calls = faults, nil
}

func (p *faultProxy) restCalls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// startLocalService starts an in-process local SignalR service.
func startLocalService(tb testing.TB) *httptest.Server {
	tb.Helper()
	svc := localservice.New(localservice.Options{})
	srv := httptest.NewServer(svc)
	tb.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	return srv
}

func repeat(n int, f fault) []fault {
	out := make([]fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestSendRecoversFromThrottlingAndUnavailability puts a fault-injecting
// proxy between the handler and a local service configured as a real one
// (connection string with the proxy as Endpoint): 429 and 5xx answers are
// retried (at most three times, honouring Retry-After) and the message
// reaches a client connected through negotiate exactly once.
func TestSendRecoversFromThrottlingAndUnavailability(t *testing.T) {
	proxy := newFaultProxy(t, startLocalService(t).URL)
	h := startWatchedHost(t, false,
		"AzureSignalRConnectionString=Endpoint="+proxy.URL+";AccessKey="+localservice.DevAccessKey+";Version=1.0;",
		"AzureSignalRHttpClientTimeout=00:00:20")
	c := dial(t, context.Background(), h.Host, "alice")
	// The client's negotiate went through the proxy, untouched.
	if calls := proxy.restCalls(); len(calls) != 0 {
		t.Fatalf("REST calls before any send: %v", calls)
	}

	quick := http.Header{"Retry-After-Ms": {"100"}}
	tests := []struct {
		name       string
		faults     []fault
		wantStatus int
		wantTries  int
		min, max   time.Duration
		wantInMsg  []string
	}{
		{"429 with Retry-After 1, then success", []fault{{429, http.Header{"Retry-After": {"1"}}}}, 202, 2, 900 * time.Millisecond, 10 * time.Second, nil},
		{"503 without Retry-After, then success", []fault{{503, nil}}, 202, 2, 500 * time.Millisecond, 10 * time.Second, nil},
		{"408, 500, 502, then success on the third retry", []fault{{408, quick}, {500, quick}, {502, quick}}, 202, 4, 250 * time.Millisecond, 10 * time.Second, nil},
		{"503 four times: the error after three retries", repeat(4, fault{503, http.Header{"Retry-After-Ms": {"100"}, "X-Ms-Error-Code": {"Error.Test.Unavailable"}}}),
			502, 4, 250 * time.Millisecond, 10 * time.Second, []string{"503", "Error.Test.Unavailable"}},
		{"504 four times", repeat(4, fault{504, quick}), 502, 4, 250 * time.Millisecond, 10 * time.Second, []string{"504"}},
		{"429 asking for longer than the timeout: answered at once", []fault{{429, http.Header{"Retry-After": {"3600"}}}}, 502, 1, 0, 5 * time.Second, []string{"429"}},
		{"400 is not retried", []fault{{400, http.Header{"X-Ms-Error-Code": {"Error.Test.Bad"}}}}, 502, 1, 0, 5 * time.Second, []string{"400", "Error.Test.Bad"}},
		{"no fault", nil, 202, 1, 0, 5 * time.Second, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy.plan(tt.faults...)
			target := "m" + strconv.Itoa(i)
			start := time.Now()
			status, _, body := call(t, h.Host, "POST", "/api/send", functionKey, `{"target":"`+target+`","arguments":[`+strconv.Itoa(i)+`],"userId":"alice"}`)
			took := time.Since(start)
			if status != tt.wantStatus {
				t.Fatalf("send = %d %s, want %d", status, body, tt.wantStatus)
			}
			if tt.wantStatus != 202 && testkit.ErrorCode(body) != "ServiceError" {
				t.Errorf("error code %q, want ServiceError: %s", testkit.ErrorCode(body), body)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(body, s) {
					t.Errorf("error %s does not name %q", body, s)
				}
			}
			if calls := proxy.restCalls(); len(calls) != tt.wantTries {
				t.Errorf("the service was called %d times (%v), want %d", len(calls), calls, tt.wantTries)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("send took %v, want between %v and %v", took, tt.min, tt.max)
			}
			if status == 202 {
				expectMessages(t, c, 5*time.Second, target)
			}
			expectNoMessage(t, c, 100*time.Millisecond) // once, and nothing of a failed send
		})
	}
}

// TestSendToAServiceThatNeverAnswers: with AzureSignalRHttpClientTimeout
// 2 s, sends to a service that accepts requests and never answers get 504
// ServiceTimeout after about 2 s, negotiate keeps answering meanwhile, and
// once the service answers again sends succeed: nothing is stuck.
func TestSendToAServiceThatNeverAnswers(t *testing.T) {
	var hang atomic.Bool
	release := make(chan struct{})
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	t.Cleanup(func() { close(release) }) // before the fake service closes
	const timeout = 2 * time.Second
	h := startWatchedHost(t, false,
		"AzureSignalRConnectionString=Endpoint="+svc.URL+";AccessKey="+testAccessKey+";Version=1.0;",
		"AzureSignalRHttpClientTimeout=00:00:02")
	hang.Store(true)

	type result struct {
		status int
		code   string
		took   time.Duration
		err    error
	}
	const hanging = 8
	results := make(chan result, hanging)
	for i := 0; i < hanging; i++ {
		go func() {
			start := time.Now()
			req, _ := http.NewRequest("POST", h.URL+"/api/send", strings.NewReader(`{"target":"t","userId":"u`+strconv.Itoa(i)+`"}`))
			req.Header = functionKey.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			results <- result{resp.StatusCode, testkit.ErrorCode(b.String()), time.Since(start), nil}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if status, _, body := negotiateInfo(t, h, nil); status != 200 {
		t.Errorf("negotiate while sends hang = %d %s, want 200", status, body)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("negotiate while sends hang took %v, want it at once (the sends hang for %v)", took, timeout)
	}
	for i := 0; i < hanging; i++ {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("send: %v", r.err)
		case r.status != http.StatusGatewayTimeout || r.code != "ServiceTimeout":
			t.Errorf("send to a silent service = %d %s, want 504 ServiceTimeout", r.status, r.code)
		case r.took < timeout-100*time.Millisecond || r.took > timeout+4*time.Second:
			t.Errorf("504 after %v, want about %v", r.took, timeout)
		}
	}
	if n := len(svc.Requests()); n < hanging {
		t.Errorf("the service got %d requests, want at least %d", n, hanging)
	}

	hang.Store(false)
	before := len(svc.Requests())
	start = time.Now()
	if status, _, body := call(t, h.Host, "POST", "/api/send", functionKey, `{"target":"t","groupName":"back"}`); status != 202 {
		t.Fatalf("send once the service answers again = %d %s, want 202", status, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("send after the outage took %v", took)
	}
	reqs := svc.Requests()[before:]
	if len(reqs) != 1 || reqs[0].Path != "/api/hubs/default/groups/back/:send" {
		t.Errorf("after the outage the service got %+v, want one POST to groups/back", reqs)
	}
}

// restartableAuthority is a Microsoft Entra authority over TLS that can go
// down (its port refuses connections) and come back on the same address;
// every incarnation serves httptest's fixed localhost certificate, which the
// handler trusts through SSL_CERT_FILE.
type restartableAuthority struct {
	URL      string
	CertFile string
	addr     string
	mux      *http.ServeMux
	srv      *httptest.Server
	tokens   atomic.Int64
}

func newRestartableAuthority(tb testing.TB) *restartableAuthority {
	tb.Helper()
	a := &restartableAuthority{mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /{t}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		b := a.URL + "/" + r.PathValue("t")
		json.NewEncoder(w).Encode(map[string]string{"issuer": b + "/v2.0",
			"authorization_endpoint": b + "/oauth2/v2.0/authorize", "token_endpoint": b + "/oauth2/v2.0/token"})
	})
	a.mux.HandleFunc("POST /{t}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		a.tokens.Add(1)
		fmt.Fprint(w, `{"access_token":"entra-token","expires_in":3600,"token_type":"Bearer"}`)
	})
	a.up(tb, "127.0.0.1:0")
	a.addr = a.srv.Listener.Addr().String()
	a.URL = a.srv.URL
	a.CertFile = filepath.Join(tb.TempDir(), "authority.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	if err := os.WriteFile(a.CertFile, pemBytes, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.down)
	return a
}

// up starts serving on addr.
func (a *restartableAuthority) up(tb testing.TB, addr string) {
	tb.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may take a moment to go
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("authority back on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(a.mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	a.srv = srv
}

// down closes the listener and every connection.
func (a *restartableAuthority) down() {
	if a.srv != nil {
		a.srv.CloseClientConnections()
		a.srv.Close()
		a.srv = nil
	}
}

// TestEntraOutageRecoversWithoutRestart: with an identity-based connection
// (client secret) and the Microsoft Entra authority unreachable, negotiate
// and send answer 503 AuthenticationUnavailable within the timeout; once the
// authority is back, the same process negotiates with the exchanged key and
// sends with the bearer token.
func TestEntraOutageRecoversWithoutRestart(t *testing.T) {
	const temporaryKey = "TEMPORARY-ACCESS-KEY-from-the-exchange-0123456789"
	svc := newFakeService(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer entra-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/v1/auth/accessKey" {
			fmt.Fprintf(w, `{"KeyId":"kid-entra","AccessKey":%q}`, temporaryKey)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	auth := newRestartableAuthority(t)
	auth.down()
	h := startWatchedHost(t, false,
		"AzureSignalRConnectionString__serviceUri="+svc.URL,
		"AzureSignalRConnectionString__tenantId=tenant1",
		"AzureSignalRConnectionString__clientId=client1",
		"AzureSignalRConnectionString__clientSecret=E2E-CLIENT-SECRET-outage-7",
		"AzureSignalRConnectionString__disableInstanceDiscovery=true",
		"AZURE_AUTHORITY_HOST="+auth.URL,
		"SSL_CERT_FILE="+auth.CertFile,
		"AzureSignalRHttpClientTimeout=00:00:03")
	h.secret(temporaryKey, "entra-token")

	// Down: both functions answer 503 AuthenticationUnavailable, in time.
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/negotiate", ""},
		{"POST", "/api/send", `{"target":"t"}`},
		{"GET", "/api/negotiate", ""},
	} {
		start := time.Now()
		status, _, body := call(t, h.Host, req.method, req.path, functionKey, req.body)
		if status != http.StatusServiceUnavailable || testkit.ErrorCode(body) != "AuthenticationUnavailable" {
			t.Errorf("%s %s with the authority down = %d %s, want 503 AuthenticationUnavailable", req.method, req.path, status, body)
		}
		if took := time.Since(start); took > 3*time.Second+4*time.Second {
			t.Errorf("%s %s with the authority down took %v, want about the 3s timeout at most", req.method, req.path, took)
		}
	}
	if n := len(svc.Requests()); n != 0 {
		t.Errorf("the service got %d requests while no token could be had", n)
	}

	// Back: the same process recovers.
	auth.up(t, auth.addr)
	status, info, body := negotiateInfo(t, h, nil)
	if status != http.StatusOK {
		t.Fatalf("negotiate after the authority came back = %d %s, want 200", status, body)
	}
	tok, err := jwt.Parse(info.AccessToken, func(*jwt.Token) (any, error) { return []byte(temporaryKey), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || tok.Header["kid"] != "kid-entra" {
		t.Errorf("client token %v (kid %v), want one signed with the exchanged key, kid kid-entra", err, tok.Header["kid"])
	}
	if status, _, body := call(t, h.Host, "POST", "/api/send", functionKey, `{"target":"t","userId":"u1"}`); status != 202 {
		t.Fatalf("send after the authority came back = %d %s, want 202", status, body)
	}
	var sends int
	for _, r := range svc.Requests() {
		if r.Path == "/api/hubs/default/users/u1/:send" {
			sends++
			if r.Auth != "Bearer entra-token" {
				t.Errorf("send authorized with %.20q…, want the Entra bearer token", r.Auth)
			}
		}
	}
	if sends != 1 {
		t.Errorf("the service got %d sends, want 1", sends)
	}
	if auth.tokens.Load() == 0 {
		t.Error("the authority issued no token")
	}
}

// localServiceLogged matches the start-up line naming the embedded service.
var localServiceLogged = regexp.MustCompile(`using the embedded local SignalR service.* endpoint=http://(127\.0\.0\.1:\d+)`)

// TestServiceShutdownClosesClientsPromptly: SIGTERM to the handler with
// WebSocket clients connected to its embedded service: every client gets a
// close message or a closed connection within a few seconds, the process
// exits cleanly, and a handler started again on the same address takes new
// clients.
func TestServiceShutdownClosesClientsPromptly(t *testing.T) {
	h := startWatchedHost(t, false) // the embedded service on a port the kernel picks
	var addr string
	waitFor(t, 10*time.Second, "the embedded service's address in the log", func() bool {
		m := localServiceLogged.FindStringSubmatch(h.Stdout())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 20
	clients := make([]*signalrtest.Client, n)
	for i := range clients {
		clients[i] = dial(t, ctx, h.Host, "u"+strconv.Itoa(i))
	}
	if status, _, body := call(t, h.Host, "POST", "/api/send", functionKey, `{"target":"hello"}`); status != 202 {
		t.Fatalf("send = %d %s", status, body)
	}
	for _, c := range clients {
		expectMessages(t, c, 5*time.Second, "hello")
	}

	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	type ending struct {
		took  time.Duration
		close bool
		err   error
	}
	endings := make(chan ending, n)
	for _, c := range clients {
		go func() {
			wait, stop := context.WithTimeout(ctx, 10*time.Second)
			defer stop()
			_, err := c.Next(wait)
			var ce *signalrtest.CloseError
			endings <- ending{time.Since(start), errors.As(err, &ce), err}
		}()
	}
	var closed, lost int
	var slowest time.Duration
	for i := 0; i < n; i++ {
		e := <-endings
		slowest = max(slowest, e.took)
		switch {
		case errors.Is(e.err, context.DeadlineExceeded):
			t.Errorf("a client saw nothing for %v after SIGTERM", e.took)
		case e.took > 5*time.Second:
			t.Errorf("a client saw its connection end %v after SIGTERM (%v), want within 5s", e.took, e.err)
		case e.close:
			closed++
		default:
			lost++
		}
	}
	t.Logf("after SIGTERM: %d clients got a close message, %d a closed connection; slowest %v", closed, lost, slowest.Round(time.Millisecond))
	if err := h.Wait(10 * time.Second); err != nil {
		t.Errorf("handler exit after SIGTERM: %v, want a clean exit", err)
	}

	// Restarted on the same address, the service takes clients again.
	h2 := startWatchedHost(t, false, "FUNCSIGNALR_LOCAL_ADDR="+addr)
	c := dial(t, ctx, h2.Host, "again")
	if status, _, body := call(t, h2.Host, "POST", "/api/send", functionKey, `{"target":"back","userId":"again"}`); status != 202 {
		t.Fatalf("send after restart = %d %s", status, body)
	}
	expectMessages(t, c, 5*time.Second, "back")
}
