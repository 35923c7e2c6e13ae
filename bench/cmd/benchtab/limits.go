package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/funcsignalr/localservice"
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

// do sends method path?api-version=2022-06-01&query with body and returns
// the status.
func (rc *restCaller) do(ctx context.Context, method, path, query, body string) (int, error) {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": rc.base + path, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(localservice.DevAccessKey))
	if err != nil {
		return 0, err
	}
	u := rc.base + path + "?api-version=2022-06-01"
	if query != "" {
		u += "&" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startLocalService starts funcsignalr with its embedded local service and
// returns it with the service's base URL.
func startLocalService(ctx context.Context, cfg config, hc *http.Client) (*child, string, error) {
	h, err := startChild(cfg.app+"/funcsignalr", cfg.app, append([]string{localServiceEnv}, cfg.env...)...)
	if err != nil {
		return nil, "", err
	}
	if err := h.waitReady(ctx); err != nil {
		h.stop()
		return nil, "", err
	}
	var info connectionInfo
	if err := postJSON(ctx, hc, h.url()+negotiatePath, "", &info); err != nil {
		h.stop()
		return nil, "", fmt.Errorf("%w\n%s", err, h.out.tail())
	}
	svc, err := url.Parse(info.URL)
	if err != nil {
		h.stop()
		return nil, "", err
	}
	return h, svc.Scheme + "://" + svc.Host, nil
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
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	h, base, err := startLocalService(ctx, cfg, hc)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	rc := &restCaller{hc: hc, base: base}
	next := 0
	// add makes n more memberships and returns how long they took.
	add := func(n int) (time.Duration, error) {
		first := next
		next += n
		var i atomic.Int64
		i.Store(int64(first))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				for {
					k := int(i.Add(1) - 1)
					if k >= first+n {
						return
					}
					path := fmt.Sprintf("/api/hubs/limits/users/u%d/groups/g%d", k, k%100)
					st, err := rc.do(ctx, http.MethodPut, path, "ttl=3600", "")
					if err == nil && st != http.StatusOK {
						err = fmt.Errorf("PUT %s: %d", path, st)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						i.Store(int64(first + n)) // stop the others
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), firstErr
	}
	var rows []row
	var firstRate float64
	for _, size := range cfg.memberships {
		if size > next {
			if _, err := add(size - next); err != nil {
				return nil, fmt.Errorf("fill to %d memberships: %w\n%s", size, err, h.out.tail())
			}
		}
		d, err := add(cfg.adds)
		if err != nil {
			return nil, fmt.Errorf("adds at %d memberships: %w\n%s", size, err, h.out.tail())
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

// peakRSS samples h's RSS every 20 ms until stop is closed and returns the
// largest, in KiB.
func peakRSS(h *child, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := h.rssKiB(); err == nil && v > peak {
				peak = v
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// measureStuckUser connects one client that never reads and sends
// cfg.stuckSends 1 MB messages to it (to its connection: the function's
// negotiate gives it no user), as fast as the service takes them: the peak
// RSS growth against the byte budget.
func measureStuckUser(ctx context.Context, cfg config) (row, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	h, base, err := startLocalService(ctx, cfg, hc)
	if err != nil {
		return row{}, err
	}
	defer h.stop()
	stuck, err := dialSignalR(ctx, hc, h.url()+negotiatePath, nil)
	if err != nil {
		return row{}, err
	}
	defer stuck.Close()
	time.Sleep(500 * time.Millisecond)
	before, err := h.rssKiB()
	if err != nil {
		return row{}, err
	}
	stop := make(chan struct{})
	peak := peakRSS(h, stop)
	rc := &restCaller{hc: hc, base: base}
	for i := range cfg.stuckSends {
		if st, err := rc.do(ctx, http.MethodPost, "/api/hubs/default/connections/"+url.PathEscape(stuck.id)+"/:send", "", bigMessage); err != nil || st != http.StatusAccepted {
			close(stop)
			return row{}, fmt.Errorf("send %d to the stuck client: %d %v", i, st, err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	growth := (<-peak - before) << 10
	return row{
		what:     fmt.Sprintf("RSS growth: %d messages of 1 MB to 1 client that stopped reading", cfg.stuckSends),
		subject:  fmt.Sprintf("+%s (idle process %s)", mib(growth), mib(before<<10)),
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
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	h, base, err := startLocalService(ctx, cfg, hc)
	if err != nil {
		return row{}, err
	}
	defer h.stop()
	var received atomic.Int64 // messages the reading clients completed
	clients := make([]*sigClient, cfg.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := dialSignalR(ctx, hc, h.url()+negotiatePath, nil)
		if err != nil {
			return row{}, fmt.Errorf("client %d: %w\n%s", i, err, h.out.tail())
		}
		clients[i] = c
		if i >= cfg.stuck {
			go drain(c.ws, &received)
		}
	}
	time.Sleep(time.Second)
	before, err := h.rssKiB()
	if err != nil {
		return row{}, err
	}
	stop := make(chan struct{})
	peak := peakRSS(h, stop)
	rc := &restCaller{hc: hc, base: base}
	readers := int64(cfg.clients - cfg.stuck)
	sent := 0
	for end := time.Now().Add(cfg.stuckFor); time.Now().Before(end); sent++ {
		if st, err := rc.do(ctx, http.MethodPost, "/api/hubs/default/:send", "", bigMessage); err != nil || st != http.StatusAccepted {
			close(stop)
			return row{}, fmt.Errorf("broadcast %d: %d %v", sent, st, err)
		}
		// Pace at what the readers take: at most 4 messages ahead of them.
		for received.Load() < int64(sent-3)*readers && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	growth := (<-peak - before) << 10
	budget := int64(cfg.stuck) * sendBufferBytes
	return row{
		what: fmt.Sprintf("RSS growth: %d broadcasts of 1 MB to %d clients, %d of which stopped reading (%s)",
			sent, cfg.clients, cfg.stuck, cfg.stuckFor),
		subject:  fmt.Sprintf("+%s (with %d clients %s)", mib(growth), cfg.clients, mib(before<<10)),
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
