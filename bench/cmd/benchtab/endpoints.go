package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/funcsignalr/funcsignalr/localservice"
)

// benchKey is the access key of the negotiate-only endpoints (nothing is
// sent to them: negotiate signs locally).
const benchKey = "BENCH-ACCESS-KEY-0123456789abcdefghijklmnopqrstu"

// endpointSetting is a connection string for endpoint host:port.
func endpointSetting(hostPort, key string) string {
	return "Endpoint=http://" + hostPort + ";AccessKey=" + key + ";Version=1.0;"
}

// measureEndpoints compares funcsignalr with several SignalR endpoints to
// funcsignalr with one, in the same run: negotiate req/s with three
// endpoints (choosing one per request) against one, and send latency to two
// local services (concurrent calls) against one.
func measureEndpoints(ctx context.Context, cfg config) ([]row, error) {
	negotiateRow, err := measureNegotiateEndpoints(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rows := []row{negotiateRow}
	for _, delay := range []time.Duration{0, serviceDelay} {
		r, err := measureSendEndpoints(ctx, cfg, delay)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// serviceDelay stands for the network between a function app and a
// SignalR resource in another region or zone: the local services wait this
// long before answering a REST call, in the second send measurement. On
// loopback alone, the two endpoints' calls compete for the same cores as
// the handler; across a network they mostly wait, concurrently.
const serviceDelay = 2 * time.Millisecond

func measureNegotiateEndpoints(ctx context.Context, cfg config) (row, error) {
	own := "AzureSignalRConnectionString=" + endpointSetting("127.0.0.1:8888", benchKey)
	targets, stop, err := startApps(ctx, cfg, []string{own}, []string{own,
		"Azure__SignalR__Endpoints__east=" + endpointSetting("127.0.0.2:8888", benchKey+"-east"),
		"Azure__SignalR__Endpoints__west=" + endpointSetting("127.0.0.3:8888", benchKey+"-west")})
	if err != nil {
		return row{}, err
	}
	defer stop()
	one, three := targets[0], targets[1]
	// Both must negotiate; three must spread over its endpoints.
	hc := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]bool{}
	for i := 0; i < 100 && len(seen) < 3; i++ {
		var info connectionInfo
		if err := postJSON(ctx, hc, three.url()+negotiatePath, "", &info); err != nil {
			return row{}, fmt.Errorf("negotiate with three endpoints: %w\n%s", err, three.tail())
		}
		seen[strings.SplitN(info.URL, "/client/", 2)[0]] = true
	}
	if len(seen) != 3 {
		return row{}, fmt.Errorf("negotiate with three endpoints chose only %v in 100 calls", seen)
	}
	var info connectionInfo
	if err := postJSON(ctx, hc, one.url()+negotiatePath, "", &info); err != nil {
		return row{}, fmt.Errorf("negotiate with one endpoint: %w\n%s", err, one.tail())
	}

	rps, cpu, err := hammerRounds(cfg, "endpoints negotiate", targets, "one", "three")
	if err != nil {
		return row{}, err
	}
	ratio := medianRatio(rps[1], rps[0])
	sc, oc := pct(cpu[1], 0.5), pct(cpu[0], 0.5)
	return row{
		what: fmt.Sprintf("negotiate req/s with 3 endpoints (%d keep-alive conns, median of %d × %v); server CPU per request",
			cfg.conns, cfg.rounds, cfg.duration),
		subject:  fmt.Sprintf("%.0f/s; %s CPU/req (×%.2f)", median(rps[1]), us1(sc), float64(sc)/float64(oc)),
		baseline: fmt.Sprintf("%.0f/s; %s CPU/req with 1 endpoint", median(rps[0]), us1(oc)),
		ratio:    ratio, goal: "≥ 0.95 × one endpoint", met: ratio >= 0.95, hasGoal: true,
	}, nil
}

// startBenchService runs a local SignalR service on a free loopback port
// whose REST calls are answered after delay.
func startBenchService(delay time.Duration) (addr string, stop func(), err error) {
	svc := localservice.New(localservice.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var h http.Handler = svc
	if delay > 0 {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/hubs/") {
				time.Sleep(delay)
			}
			svc.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { svc.Close(); srv.Close() }, nil
}

func measureSendEndpoints(ctx context.Context, cfg config, delay time.Duration) (row, error) {
	var addrs []string
	for range 2 {
		addr, stop, err := startBenchService(delay)
		if err != nil {
			return row{}, err
		}
		defer stop()
		addrs = append(addrs, addr)
	}
	own := "AzureSignalRConnectionString=" + endpointSetting(addrs[0], localservice.DevAccessKey)
	targets, stop, err := startApps(ctx, cfg, []string{own},
		[]string{own, "Azure__SignalR__Endpoints__second=" + endpointSetting(addrs[1], localservice.DevAccessKey)})
	if err != nil {
		return row{}, err
	}
	defer stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	send := func(t *child, seq int) (time.Duration, error) {
		body := `{"target":"bench","arguments":[` + strconv.Itoa(seq) + `]}`
		start := time.Now()
		if _, err := call(ctx, hc, http.MethodPost, t.url()+"/api/send", "", body, http.StatusAccepted); err != nil {
			return 0, fmt.Errorf("%w\n%s", err, t.tail())
		}
		return time.Since(start), nil
	}
	const warmup = 50
	lat := make([][]time.Duration, len(targets))
	for n := 0; n < warmup+cfg.sends; n++ {
		for j := range targets {
			i := (n + j) % len(targets) // alternate who goes first
			d, err := send(targets[i], n)
			if err != nil {
				return row{}, err
			}
			if n >= warmup {
				lat[i] = append(lat[i], d)
			}
		}
	}
	p50one, p50two := pct(lat[0], 0.5), pct(lat[1], 0.5)
	ratio := float64(p50two) / float64(p50one)
	where := "local services on loopback"
	if delay > 0 {
		where = fmt.Sprintf("local services answering after %v (a network)", delay)
	}
	return row{
		what:     fmt.Sprintf("send latency (POST /api/send → 202) to 2 endpoints, %s; p50 (p99) of %d, alternating", where, cfg.sends),
		subject:  fmt.Sprintf("%s (%s)", us(p50two), us(pct(lat[1], 0.99))),
		baseline: fmt.Sprintf("%s (%s) to 1 endpoint", us(p50one), us(pct(lat[0], 0.99))),
		ratio:    ratio, goal: "≤ 1.2 × one endpoint", met: ratio <= 1.2, hasGoal: true,
	}, nil
}
