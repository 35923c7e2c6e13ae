package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The "limits" section: what hostile load costs the embedded local service.
//
//   - user-group adds per second once the hub holds 1k, 10k and 100k
//     user-group memberships: an add must not cost more as the hub grows;
//   - RSS while 1 MB messages go to a client that stopped reading, and while
//     they are broadcast to 1,000 clients of which 10 stopped reading: what
//     a client that does not read can hold is bounded by the per-connection
//     byte budget.

// sendBufferBytes is the local service's default per-connection byte budget
// (localservice.Options.SendBufferBytes).
const sendBufferBytes = 4 << 20

// restCaller calls the local service's REST API with a token per request,
// as the binding does.
type restCaller struct {
	hc   *http.Client
	base string // http://127.0.0.1:PORT
}

// do sends method path?api-version=2022-06-01&query with body (JSON; none
// when empty); any answer but want is an error.
func (rc *restCaller) do(ctx context.Context, method, path, query, body string, want int) error {
	tok, err := devToken(rc.base + path)
	if err != nil {
		return err
	}
	u := rc.base + path + "?api-version=2022-06-01"
	if query != "" {
		u += "&" + query
	}
	_, err = call(ctx, rc.hc, method, u, tok, body, want)
	return err
}

// localApp is funcsignalr running its embedded local service, with a
// client for both.
type localApp struct {
	*child
	hc   *http.Client
	rest *restCaller // the service's REST API
}

// negotiateURL is the app's negotiate function.
func (a *localApp) negotiateURL() string { return a.url() + negotiatePath }

// startLocalService starts funcsignalr with its embedded local service and
// finds the service through negotiate. The client keeps up to idle
// connections per host and gives up on a call after timeout.
func startLocalService(ctx context.Context, cfg config, idle int, timeout time.Duration) (*localApp, error) {
	apps, stop, err := startApps(ctx, cfg, []string{localServiceEnv})
	if err != nil {
		return nil, err
	}
	a := &localApp{child: apps[0], hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: idle}, Timeout: timeout}}
	var info connectionInfo
	if err := postJSON(ctx, a.hc, a.negotiateURL(), "", &info); err != nil {
		stop()
		return nil, fmt.Errorf("%w\n%s", err, a.tail())
	}
	svc, err := url.Parse(info.URL)
	if err != nil {
		stop()
		return nil, err
	}
	a.rest = &restCaller{hc: a.hc, base: svc.Scheme + "://" + svc.Host}
	return a, nil
}

// measureLimits runs the limits section.
func measureLimits(ctx context.Context, cfg config) ([]row, error) {
	rows, err := measureUserGroupAdds(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r, err := measureStuckUser(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rows = append(rows, r)
	r, err = measureStuckBroadcast(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return append(rows, r), nil
}

// measureUserGroupAdds fills a hub with user-group memberships (distinct
// users, 100 groups, ttl 1 h so that expiry bookkeeping is exercised) and
// measures cfg.adds further adds at each size of cfg.memberships, from 8
// concurrent senders.
func measureUserGroupAdds(ctx context.Context, cfg config) ([]row, error) {
	h, err := startLocalService(ctx, cfg, 16, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	next := 0
	// add makes n more memberships and returns how long they took.
	add := func(n int) (time.Duration, error) {
		first := next
		next += n
		start := time.Now()
		err := sendConcurrently(first, n, 8, func(k int) error {
			return h.rest.do(ctx, http.MethodPut, fmt.Sprintf("/api/hubs/limits/users/u%d/groups/g%d", k, k%100), "ttl=3600", "", http.StatusOK)
		})
		return time.Since(start), err
	}
	var rows []row
	var firstRate float64
	for _, size := range cfg.memberships {
		if size > next {
			if _, err := add(size - next); err != nil {
				return nil, fmt.Errorf("fill to %d memberships: %w\n%s", size, err, h.tail())
			}
		}
		d, err := add(cfg.adds)
		if err != nil {
			return nil, fmt.Errorf("adds at %d memberships: %w\n%s", size, err, h.tail())
		}
		rate := float64(cfg.adds) / d.Seconds()
		if firstRate == 0 {
			firstRate = rate
		}
		r := row{
			what:     fmt.Sprintf("user-group adds/s at %d memberships (%d adds, 8 senders, REST PUT …/users/{u}/groups/{g}?ttl=3600)", size, cfg.adds),
			subject:  fmt.Sprintf("%.0f/s", rate),
			baseline: fmt.Sprintf("%.0f/s at %d memberships", firstRate, cfg.memberships[0]),
			ratio:    rate / firstRate,
		}
		if size != cfg.memberships[0] {
			r.hasGoal, r.goal, r.met = true, "flat within 2× (ratio ≥ 0.50)", r.ratio >= 0.5
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// bigMessage is a REST body of about 1 MB, within the service's 1 MiB limit.
var bigMessage = `{"target":"big","arguments":["` + strings.Repeat("x", 1_000_000) + `"]}`

// peakGrowth runs load while it samples h's RSS every 20 ms, and returns
// the RSS before the load and its peak growth during it, in bytes.
func peakGrowth(h *child, load func() error) (before, growth int64, err error) {
	kib, err := h.rssKiB()
	if err != nil {
		return 0, 0, err
	}
	stop, peak := make(chan struct{}), make(chan int64, 1)
	go func() {
		var p int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := h.rssKiB(); err == nil && v > p {
				p = v
			}
			select {
			case <-stop:
				peak <- p
				return
			case <-t.C:
			}
		}
	}()
	err = load()
	close(stop)
	p := <-peak
	if err != nil {
		return 0, 0, err
	}
	return kib << 10, (p - kib) << 10, nil
}

// connectIdle connects n clients through h's negotiate and waits settle
// for the process to settle; all but the first stuck read and discard
// every message, counting 1 MB ones in received. closeAll closes them all.
func connectIdle(ctx context.Context, h *localApp, n, stuck int, settle time.Duration, received *atomic.Int64) (clients []*sigClient, closeAll func(), err error) {
	closeAll = func() {
		for _, c := range clients {
			c.Close()
		}
	}
	for i := range n {
		c, err := dialSignalR(ctx, h.hc, h.negotiateURL(), nil)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("client %d: %w\n%s", i, err, h.tail())
		}
		clients = append(clients, c)
		if i >= stuck {
			go drain(c.ws, received)
		}
	}
	time.Sleep(settle)
	return clients, closeAll, nil
}

// measureStuckUser connects one client that never reads and sends
// cfg.stuckSends 1 MB messages to it (to its connection: the function's
// negotiate gives it no user), as fast as the service takes them: the peak
// RSS growth against the byte budget.
func measureStuckUser(ctx context.Context, cfg config) (row, error) {
	h, err := startLocalService(ctx, cfg, 16, 30*time.Second)
	if err != nil {
		return row{}, err
	}
	defer h.stop()
	clients, closeAll, err := connectIdle(ctx, h, 1, 1, 500*time.Millisecond, nil)
	if err != nil {
		return row{}, err
	}
	defer closeAll()
	path := "/api/hubs/default/connections/" + url.PathEscape(clients[0].id) + "/:send"
	before, growth, err := peakGrowth(h.child, func() error {
		for i := range cfg.stuckSends {
			if err := h.rest.do(ctx, http.MethodPost, path, "", bigMessage, http.StatusAccepted); err != nil {
				return fmt.Errorf("send %d to the stuck client: %w", i, err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		return nil
	})
	if err != nil {
		return row{}, err
	}
	return row{
		what:     fmt.Sprintf("RSS growth: %d messages of 1 MB to 1 client that stopped reading", cfg.stuckSends),
		subject:  fmt.Sprintf("+%s (idle process %s)", mib(growth), mib(before)),
		baseline: fmt.Sprintf("%s, the per-connection byte budget", mib(sendBufferBytes)),
		ratio:    float64(growth) / sendBufferBytes,
		goal:     "bounded by the byte budget, not by the messages sent (ratio ≤ 8: the budget, the message in flight, and the garbage of reading 1 MB requests)",
		hasGoal:  true,
		met:      float64(growth)/sendBufferBytes <= 8,
	}, nil
}

// measureStuckBroadcast connects cfg.clients clients through negotiate, of
// which cfg.stuck never read and the others read and discard, then
// broadcasts 1 MB messages for cfg.stuckFor: the peak RSS growth against
// the byte budget of the stuck clients.
func measureStuckBroadcast(ctx context.Context, cfg config) (row, error) {
	h, err := startLocalService(ctx, cfg, 64, 30*time.Second)
	if err != nil {
		return row{}, err
	}
	defer h.stop()
	var received atomic.Int64 // messages the reading clients completed
	_, closeAll, err := connectIdle(ctx, h, cfg.clients, cfg.stuck, time.Second, &received)
	if err != nil {
		return row{}, err
	}
	defer closeAll()
	readers := int64(cfg.clients - cfg.stuck)
	sent := 0
	before, growth, err := peakGrowth(h.child, func() error {
		for end := time.Now().Add(cfg.stuckFor); time.Now().Before(end); sent++ {
			if err := h.rest.do(ctx, http.MethodPost, "/api/hubs/default/:send", "", bigMessage, http.StatusAccepted); err != nil {
				return fmt.Errorf("broadcast %d: %w", sent, err)
			}
			// Pace at what the readers take: at most 4 messages ahead of them.
			for received.Load() < int64(sent-3)*readers && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}
		return nil
	})
	if err != nil {
		return row{}, err
	}
	budget := int64(cfg.stuck) * sendBufferBytes
	return row{
		what: fmt.Sprintf("RSS growth: %d broadcasts of 1 MB to %d clients, %d of which stopped reading (%s)",
			sent, cfg.clients, cfg.stuck, cfg.stuckFor),
		subject:  fmt.Sprintf("+%s (with %d clients %s)", mib(growth), cfg.clients, mib(before)),
		baseline: fmt.Sprintf("%s, the byte budget of the %d stuck clients", mib(budget), cfg.stuck),
		ratio:    float64(growth) / float64(budget),
		goal:     "bounded by the byte budget (ratio ≤ 2)",
		hasGoal:  true,
		met:      float64(growth)/float64(budget) <= 2,
	}, nil
}

// drain reads and discards every message of ws, counting those that carry
// an invocation of big.
func drain(ws *websocket.Conn, received *atomic.Int64) {
	ws.SetReadLimit(-1)
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			return
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil && !errors.Is(err, io.EOF) {
			return
		}
		received.Add(n / 1_000_000) // a 1 MB message, possibly several in one frame
	}
}
