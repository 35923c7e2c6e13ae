package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// negotiatePath is what SignalR clients POST when pointed at the function app.
const negotiatePath = "/api/negotiate?negotiateVersion=1"

// localServiceEnv makes funcsignalr start its embedded local service on a
// free port: nothing else configured.
const localServiceEnv = "FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"

// measureSizes compares the binaries' sizes, plain and stripped.
func measureSizes(cfg config) (row, error) {
	var sz [4]int64
	for i, p := range []string{cfg.app + "/funcsignalr", cfg.stripped, cfg.baseline, cfg.baselineStripped} {
		fi, err := os.Stat(p)
		if err != nil {
			return row{}, err
		}
		sz[i] = fi.Size()
	}
	return row{
		what:     "binary size (with `-ldflags=\"-s -w\"`)",
		subject:  fmt.Sprintf("%s (%s)", mib(sz[0]), mib(sz[1])),
		baseline: fmt.Sprintf("%s (%s) bench/baseline", mib(sz[2]), mib(sz[3])),
		ratio:    float64(sz[0]) / float64(sz[2]),
	}, nil
}

// measureColdStart starts funcsignalr (nothing configured: the local
// service starts too) and the baseline cfg.coldRuns times each, alternating,
// and times exec → first 200 on GET / and exec → first 200 from negotiate.
func measureColdStart(ctx context.Context, cfg config) ([]row, error) {
	var ready, negotiated [2][]time.Duration // [0] funcsignalr, [1] baseline
	for i := 0; i < 2*cfg.coldRuns; i++ {
		k := i % 2
		bin, env := cfg.app+"/funcsignalr", append([]string{localServiceEnv}, cfg.env...)
		if k == 1 {
			bin, env = cfg.baseline, nil
		}
		r, n, err := coldRun(ctx, bin, cfg.app, env)
		if err != nil {
			return nil, err
		}
		ready[k], negotiated[k] = append(ready[k], r), append(negotiated[k], n)
	}
	const goal = 50 * time.Millisecond
	mk := func(what string, d [2][]time.Duration) row {
		s, b := pct(d[0], 0.5), pct(d[1], 0.5)
		return row{
			what:     fmt.Sprintf("cold start: exec → %s, median (p90) of %d, 1 ms polls", what, cfg.coldRuns),
			subject:  fmt.Sprintf("%s (%s)", ms(s), ms(pct(d[0], 0.9))),
			baseline: fmt.Sprintf("%s (%s) bench/baseline", ms(b), ms(pct(d[1], 0.9))),
			ratio:    float64(s) / float64(b),
			goal:     "median < 50 ms",
			met:      s < goal,
			hasGoal:  true,
		}
	}
	return []row{mk("first 200 on `GET /`", ready), mk("first 200 from negotiate", negotiated)}, nil
}

// coldRun starts bin once and polls every millisecond: GET / until it
// answers, then negotiate until it answers 200 with a token.
func coldRun(ctx context.Context, bin, dir string, env []string) (ready, negotiated time.Duration, err error) {
	c, err := startChild(bin, dir, env...)
	if err != nil {
		return 0, 0, err
	}
	defer c.kill()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	deadline := c.start.Add(5 * time.Second)
	poll := func(what string, try func() bool) (time.Duration, error) {
		for {
			if try() {
				return time.Since(c.start), nil
			}
			select {
			case <-c.done:
				return 0, fmt.Errorf("%s exited during a cold start:\n%s", bin, c.tail())
			case <-ctx.Done():
				return 0, ctx.Err()
			default:
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s: no %s within 5 s of exec:\n%s", bin, what, c.tail())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if ready, err = poll("answer on GET /", func() bool {
		resp, err := hc.Get(c.url() + "/")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return 0, 0, err
	}
	negotiated, err = poll("successful negotiate", func() bool {
		resp, err := hc.Post(c.url()+negotiatePath, "", nil)
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"accessToken":"`))
	})
	return ready, negotiated, err
}

// startApps starts one funcsignalr per list of settings (each followed by
// cfg.env) and waits until every one answers; stop ends them all.
func startApps(ctx context.Context, cfg config, settings ...[]string) (apps []*child, stop func(), err error) {
	stop = func() {
		for _, a := range apps {
			a.stop()
		}
	}
	for _, s := range settings {
		c, err := startChild(cfg.app+"/funcsignalr", cfg.app, append(slices.Clip(s), cfg.env...)...)
		if err != nil {
			stop()
			return nil, nil, err
		}
		apps = append(apps, c)
	}
	for _, a := range apps {
		if err := a.waitReady(ctx); err != nil {
			stop()
			return nil, nil, err
		}
	}
	return apps, stop, nil
}

// hammerRounds loads negotiate on each target for cfg.rounds rounds,
// rotating which goes first, and returns answers per second and the
// server's CPU time per answer, [target][round]. Each round's figures go to
// stderr under section and the targets' names.
func hammerRounds(cfg config, section string, targets []*child, names ...string) (rps [][]float64, cpu [][]time.Duration, err error) {
	rps = make([][]float64, len(targets))
	cpu = make([][]time.Duration, len(targets))
	for r := 0; r < cfg.rounds; r++ {
		for j := range targets {
			i := (r + j) % len(targets) // rotate who goes first
			t := targets[i]
			req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: benchtab\r\nContent-Length: 0\r\n\r\n", negotiatePath, t.addr)
			v, c, err := hammer(t.addr, []byte(req), cfg.conns, cfg.warmup, cfg.duration, t.cpuTime)
			if err != nil {
				return nil, nil, fmt.Errorf("%w\n%s", err, t.tail())
			}
			rps[i], cpu[i] = append(rps[i], v), append(cpu[i], c)
		}
		figures := make([]string, len(targets))
		for i, name := range names {
			figures[i] = fmt.Sprintf("%s %.0f/s %v CPU/req", name, rps[i][r], cpu[i][r])
		}
		fmt.Fprintf(os.Stderr, "benchtab: %s round %d: %s\n", section, r+1, strings.Join(figures, ", "))
	}
	return rps, cpu, nil
}

// medianRatio is the median over rounds of a[r] ÷ b[r].
func medianRatio(a, b []float64) float64 {
	ratios := make([]float64, len(a))
	for r := range ratios {
		ratios[r] = a[r] / b[r]
	}
	return median(ratios)
}

// measureNegotiate loads negotiate with an access key and with Microsoft
// Entra ID (cached temporary key) and the baseline answering the same bytes,
// cfg.rounds rounds in rotating order.
func measureNegotiate(ctx context.Context, cfg config, work string) ([]row, error) {
	fakes, err := newEntraFakes(work)
	if err != nil {
		return nil, err
	}
	defer fakes.Close()
	apps, stop, err := startApps(ctx, cfg,
		[]string{"AzureSignalRConnectionString=Endpoint=http://127.0.0.1;Port=8888;AccessKey=BENCH-ACCESS-KEY-0123456789abcdefghijklmnopqrstu;Version=1.0;"},
		fakes.env())
	if err != nil {
		return nil, err
	}
	defer stop()
	hc := &http.Client{Timeout: 10 * time.Second}
	var body []byte
	for _, h := range apps {
		b, err := call(ctx, hc, http.MethodPost, h.url()+negotiatePath, "", "", http.StatusOK)
		if err != nil {
			return nil, fmt.Errorf("negotiate: %w\n%s", err, h.tail())
		}
		if body == nil {
			body = b
		}
	}
	base, err := startChild(cfg.baseline, cfg.app, "BASELINE_BODY="+string(body))
	if err != nil {
		return nil, err
	}
	defer base.stop()
	if err := base.waitReady(ctx); err != nil {
		return nil, err
	}

	rps, cpu, err := hammerRounds(cfg, "negotiate", []*child{base, apps[0], apps[1]}, "baseline", "access key", "Entra")
	if err != nil {
		return nil, err
	}
	if n := fakes.exchanges.Load(); n != 1 {
		return nil, fmt.Errorf("Entra: %d access-key exchanges during the load, want 1 (the key is cached)", n)
	}
	mk := func(what string, i int) row {
		ratio := medianRatio(rps[i], rps[0])
		sc, bc := pct(cpu[i], 0.5), pct(cpu[0], 0.5)
		return row{
			what:     fmt.Sprintf("negotiate req/s, %s (%d keep-alive conns, median of %d × %v); server CPU per request", what, cfg.conns, cfg.rounds, cfg.duration),
			subject:  fmt.Sprintf("%.0f/s; %s CPU/req (×%.2f)", median(rps[i]), us1(sc), float64(sc)/float64(bc)),
			baseline: fmt.Sprintf("%.0f/s; %s CPU/req; bare net/http, same %d-byte body", median(rps[0]), us1(bc), len(body)),
			ratio:    ratio, goal: "≥ 0.80 × baseline req/s", met: ratio >= 0.8, hasGoal: true,
		}
	}
	return []row{mk("access key", 1), mk("Entra ID, cached key", 2)}, nil
}

// sendPaths sends {"target":"bench","arguments":[seq]} to everyone either
// through funcsignalr's send function or straight to the local service's
// REST API (what the binding does, minus the handler).
type sendPaths struct {
	hc       *http.Client
	function string      // <handler>/api/send
	rest     *restCaller // the local service
}

func (p *sendPaths) send(ctx context.Context, direct bool, seq int) error {
	body := `{"target":"bench","arguments":[` + strconv.Itoa(seq) + `]}`
	if direct {
		return p.rest.do(ctx, http.MethodPost, "/api/hubs/default/:send", "", body, http.StatusAccepted)
	}
	_, err := call(ctx, p.hc, http.MethodPost, p.function, "", body, http.StatusAccepted)
	return err
}

// delivery is one invocation a client received.
type delivery struct {
	seq int
	at  time.Time
}

// measureSendAndMemory runs funcsignalr with its local service and measures
// send latency to one client, the memory of cfg.clients idle clients, and
// broadcast to them; then the memory of as many idle connections on
// wsbaseline.
func measureSendAndMemory(ctx context.Context, cfg config) ([]row, error) {
	h, err := startLocalService(ctx, cfg, 64, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	paths := &sendPaths{hc: h.hc, function: h.url() + "/api/send", rest: h.rest}

	// One client: latency of each send, alternating function and REST.
	got := make(chan delivery, 64)
	one, err := dialSignalR(ctx, h.hc, h.negotiateURL(), func(arg []byte, at time.Time) {
		n, _ := strconv.Atoi(string(arg))
		got <- delivery{n, at}
	})
	if err != nil {
		return nil, err
	}
	const warm = 50
	var lat [2][]time.Duration // [0] function, [1] REST
	for i := 0; i < warm+2*cfg.sends; i++ {
		direct := i%2 == 1
		t0 := time.Now()
		if err := paths.send(ctx, direct, i); err != nil {
			return nil, err
		}
		select {
		case d := <-got:
			if d.seq != i {
				return nil, fmt.Errorf("client got message %d, want %d", d.seq, i)
			}
			if i >= warm {
				k := 0
				if direct {
					k = 1
				}
				lat[k] = append(lat[k], d.at.Sub(t0))
			}
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("message %d never reached the client\n%s", i, h.tail())
		}
	}
	one.Close()
	rows := []row{}
	for _, q := range []float64{0.5, 0.99} {
		s, b := pct(lat[0], q), pct(lat[1], q)
		rows = append(rows, row{
			what:     fmt.Sprintf("send → local service → 1 WebSocket client, p%g latency (%d sends per path)", q*100, cfg.sends),
			subject:  us(s),
			baseline: us(b) + " REST POST straight to the local service",
			ratio:    float64(s) / float64(b),
		})
	}

	// Idle clients: memory, then broadcast to them.
	before, err := h.rssKiB()
	if err != nil {
		return nil, err
	}
	fl, err := openFleet(ctx, h.hc, h.negotiateURL(), cfg.clients, 6*cfg.burst+cfg.paced)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, h.tail())
	}
	defer fl.close()
	time.Sleep(time.Second)
	after, err := h.rssKiB()
	if err != nil {
		return nil, err
	}
	bBefore, bAfter, err := baselineIdleMemory(ctx, cfg)
	if err != nil {
		return nil, err
	}
	memRow := row{
		what: fmt.Sprintf("memory: RSS growth for %d idle WebSocket clients (connected through negotiate)", cfg.clients),
		subject: fmt.Sprintf("+%s = %.1f KiB/client (idle process %s)",
			mib((after-before)<<10), float64(after-before)/float64(cfg.clients), mib(before<<10)),
		baseline: fmt.Sprintf("+%s = %.1f KiB/client, bench/wsbaseline (Accept + Read loop)",
			mib((bAfter-bBefore)<<10), float64(bAfter-bBefore)/float64(cfg.clients)),
		ratio: float64(after-before) / float64(bAfter-bBefore),
	}

	bRows, err := fl.broadcast(ctx, cfg, paths)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, h.tail())
	}
	return append(append(rows, bRows...), memRow), nil
}

// fleet is many clients of one hub that record when each message arrived.
type fleet struct {
	clients   []*sigClient
	recv      [][]int64 // [client][seq]: UnixNano of arrival, 0 = not yet
	delivered atomic.Int64
	stray     atomic.Int64 // invocations with an unexpected argument
}

// openFleet connects n JSON clients through negotiateURL, 8 at a time.
func openFleet(ctx context.Context, hc *http.Client, negotiateURL string, n, seqs int) (*fleet, error) {
	return openFleetWith(ctx, n, seqs, func(ctx context.Context, onInvocation func([]byte, time.Time)) (*sigClient, error) {
		return dialSignalR(ctx, hc, negotiateURL, onInvocation)
	})
}

// openFleetWith connects n clients with dial, 8 at a time.
func openFleetWith(ctx context.Context, n, seqs int, dial func(ctx context.Context, onInvocation func([]byte, time.Time)) (*sigClient, error)) (*fleet, error) {
	f := &fleet{clients: make([]*sigClient, n), recv: make([][]int64, n)}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f.recv[i] = make([]int64, seqs)
				row := f.recv[i]
				c, err := dial(ctx, func(arg []byte, at time.Time) {
					seq, err := strconv.Atoi(string(arg))
					if err != nil || seq < 0 || seq >= len(row) || row[seq] != 0 {
						f.stray.Add(1)
						return
					}
					row[seq] = at.UnixNano()
					f.delivered.Add(1) // publishes row[seq] to whoever loads delivered
				})
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("client %d: %w", i, err)
				}
				f.clients[i] = c
				mu.Unlock()
				if err != nil {
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		f.close()
		return nil, first
	}
	return f, nil
}

func (f *fleet) close() {
	for _, c := range f.clients {
		if c != nil {
			c.Close()
		}
	}
}

// lastArrival is when the last of seqs first … end-1 reached a client, in
// Unix nanoseconds.
func (f *fleet) lastArrival(first, end int) int64 {
	var last int64
	for _, row := range f.recv {
		for _, at := range row[first:end] {
			last = max(last, at)
		}
	}
	return last
}

// waitDelivered waits until total deliveries reach target (at most 30 s).
func (f *fleet) waitDelivered(ctx context.Context, target int64) error {
	deadline := time.Now().Add(30 * time.Second)
	for f.delivered.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("broadcast: %d of %d deliveries after 30 s (%d stray)", f.delivered.Load(), target, f.stray.Load())
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	if n := f.stray.Load(); n > 0 {
		return fmt.Errorf("broadcast: %d unexpected or duplicate deliveries", n)
	}
	return nil
}

// broadcast measures deliveries per second in bursts (cfg.burst sends as
// fast as one sender goes, function and REST in ABBA order) and delivery
// latency at a steady 50 sends/s (alternating function and REST).
func (f *fleet) broadcast(ctx context.Context, cfg config, paths *sendPaths) ([]row, error) {
	n := int64(len(f.clients))
	seq := 0
	var rate, perFrame [2][]float64
	// A warm-up burst through each path (not counted), then ABBA.
	for round, direct := range []bool{false, true, false, true, true, false} {
		target := f.delivered.Load() + n*int64(cfg.burst)
		first := seq
		frames0 := defaultStats.frames.Load()
		start := time.Now()
		if err := sendConcurrently(first, cfg.burst, cfg.senders, func(seq int) error { return paths.send(ctx, direct, seq) }); err != nil {
			return nil, err
		}
		seq += cfg.burst
		sentIn := time.Since(start)
		if err := f.waitDelivered(ctx, target); err != nil {
			return nil, err
		}
		last := f.lastArrival(first, seq)
		k, path := 0, "function"
		if direct {
			k, path = 1, "REST"
		}
		r := float64(n*int64(cfg.burst)) / time.Unix(0, last).Sub(start).Seconds()
		mpf := float64(n*int64(cfg.burst)) / float64(defaultStats.frames.Load()-frames0)
		fmt.Fprintf(os.Stderr, "benchtab: broadcast burst %d via %s: %.0f deliveries/s, %.1f messages per frame, sends took %v of %v\n", round+1, path, r, mpf, sentIn.Round(time.Millisecond), time.Unix(0, last).Sub(start).Round(time.Millisecond))
		if round >= 2 {
			rate[k], perFrame[k] = append(rate[k], r), append(perFrame[k], mpf)
		}
	}

	first := seq
	sent := make([]time.Time, cfg.paced)
	target := f.delivered.Load() + n*int64(cfg.paced)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := range cfg.paced {
		<-tick.C
		sent[i] = time.Now()
		if err := paths.send(ctx, i%2 == 1, seq); err != nil {
			tick.Stop()
			return nil, err
		}
		seq++
	}
	tick.Stop()
	if err := f.waitDelivered(ctx, target); err != nil {
		return nil, err
	}
	var lat [2][]time.Duration
	for _, row := range f.recv {
		for i, at := range row[first:seq] {
			lat[i%2] = append(lat[i%2], time.Unix(0, at).Sub(sent[i]))
		}
	}
	s, b := median(rate[0]), median(rate[1])
	return []row{{
		what:     fmt.Sprintf("broadcast to %d clients: deliveries/s (bursts of %d sends from %d concurrent senders, 2 per path after a warm-up)", n, cfg.burst, cfg.senders),
		subject:  fmt.Sprintf("%.0f/s (%.1f messages per frame)", s, median(perFrame[0])),
		baseline: fmt.Sprintf("%.0f/s (%.1f messages per frame) REST straight to the local service", b, median(perFrame[1])),
		ratio:    s / b,
	}, {
		what:     fmt.Sprintf("broadcast to %d clients: p99 (p50) delivery latency, %d sends at 50/s", n, cfg.paced/2),
		subject:  fmt.Sprintf("%s (%s)", ms(pct(lat[0], 0.99)), ms(pct(lat[0], 0.5))),
		baseline: fmt.Sprintf("%s (%s) REST straight to the local service", ms(pct(lat[1], 0.99)), ms(pct(lat[1], 0.5))),
		ratio:    float64(pct(lat[0], 0.99)) / float64(pct(lat[1], 0.99)),
	}}, nil
}

// sendConcurrently calls send with seqs first … first+count-1 from senders
// goroutines; the first error stops them all.
func sendConcurrently(first, count, senders int, send func(seq int) error) error {
	var next atomic.Int64
	next.Store(int64(first))
	errs := make(chan error, senders)
	for range senders {
		go func() {
			for {
				seq := int(next.Add(1) - 1)
				if seq >= first+count {
					errs <- nil
					return
				}
				if err := send(seq); err != nil {
					next.Store(int64(first + count)) // stop the others
					errs <- err
					return
				}
			}
		}()
	}
	var firstErr error
	for range senders {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// baselineIdleMemory opens cfg.clients idle WebSockets to wsbaseline and
// returns its VmRSS (KiB) before and after.
func baselineIdleMemory(ctx context.Context, cfg config) (before, after int64, err error) {
	b, err := startChild(cfg.wsbaseline, cfg.app)
	if err != nil {
		return 0, 0, err
	}
	defer b.stop()
	if err := b.waitReady(ctx); err != nil {
		return 0, 0, err
	}
	if before, err = b.rssKiB(); err != nil {
		return 0, 0, err
	}
	conns := make([]*websocket.Conn, 0, cfg.clients)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for range cfg.clients {
		c, _, err := websocket.Dial(ctx, "ws://"+b.addr+"/ws", nil)
		if err != nil {
			return 0, 0, fmt.Errorf("wsbaseline: %w", err)
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	after, err = b.rssKiB()
	return before, after, err
}

// pct is the q-quantile (nearest rank) of d.
func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string  { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
func us1(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func us(d time.Duration) string  { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }
func mib(bytes int64) string     { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }
