// Command benchtab measures funcsignalr and prints one
// markdown table. Every number has a baseline measured in the same run,
// interleaved with it where possible, because a shared machine is noisy:
// read the ratios (funcsignalr ÷ baseline).
//
//   - negotiate throughput through the real binary (access key; Microsoft
//     Entra ID with a cached key from fake Entra and key-exchange endpoints)
//     against bench/baseline answering the same bytes, same load generator;
//   - send latency to one WebSocket client, and broadcast throughput and
//     latency to many, against REST calls straight to the local service;
//   - broadcast throughput to MessagePack clients against as many JSON
//     clients, and bytes on the wire per message for each;
//   - several SignalR endpoints against one: negotiate req/s with three,
//     send latency to two;
//   - cold start to GET / and to the first negotiate against bench/baseline;
//   - memory per idle client against bench/wsbaseline, and binary size;
//   - on request (-only limits), hostile load on the local service:
//     user-group adds as the hub grows, and RSS while clients do not read.
//
// It only measures: a missed goal is printed as such, not an error. bench/run
// builds the binaries and runs it; see bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	app              string // app root: funcsignalr, host.json, function folders
	stripped         string // funcsignalr built with -ldflags="-s -w"
	baseline         string // bench/baseline
	baselineStripped string
	wsbaseline       string // bench/wsbaseline

	conns    int           // negotiate load: keep-alive connections
	warmup   time.Duration // negotiate load: not counted
	duration time.Duration // negotiate load: counted, per round
	rounds   int           // negotiate load rounds
	coldRuns int           // cold starts of each binary
	sends    int           // single-client sends per path
	clients  int           // idle / broadcast clients
	burst    int           // broadcast sends per burst
	senders  int           // concurrent senders of a burst
	paced    int           // paced broadcast sends, both paths together
	only     string        // comma list of sections to run; empty = all but limits

	memberships intList       // limits: hub sizes at which user-group adds are measured
	adds        int           // limits: adds measured at each size
	stuckSends  int           // limits: 1 MB messages to one client that does not read
	stuck       int           // limits: clients of the broadcast that do not read
	stuckFor    time.Duration // limits: how long 1 MB messages are broadcast
	env         envFlag       // extra environment of every funcsignalr child
}

// intList is a comma-separated list of integers.
type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }

func (l *intList) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// envFlag collects repeated -env KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(kv string) error {
	if !strings.Contains(kv, "=") {
		return fmt.Errorf("%q is not KEY=VALUE", kv)
	}
	*e = append(*e, kv)
	return nil
}

// row is one line of the table.
type row struct {
	what, subject, baseline string
	ratio                   float64 // funcsignalr ÷ baseline
	goal                    string
	hasGoal, met            bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.app, "app", "", "app root holding the funcsignalr binary, host.json and the function folders (required)")
	flag.StringVar(&cfg.stripped, "stripped", "", "funcsignalr built with -ldflags=\"-s -w\" (required)")
	flag.StringVar(&cfg.baseline, "baseline", "", "bench/baseline binary (required)")
	flag.StringVar(&cfg.baselineStripped, "baseline-stripped", "", "bench/baseline built with -ldflags=\"-s -w\" (required)")
	flag.StringVar(&cfg.wsbaseline, "wsbaseline", "", "bench/wsbaseline binary (required)")
	flag.IntVar(&cfg.conns, "conns", 32, "negotiate load: keep-alive connections")
	flag.DurationVar(&cfg.warmup, "warmup", 200*time.Millisecond, "negotiate load: warm-up per round, not counted")
	flag.DurationVar(&cfg.duration, "duration", time.Second, "negotiate load: measured time per round")
	flag.IntVar(&cfg.rounds, "rounds", 5, "negotiate load: rounds")
	flag.IntVar(&cfg.coldRuns, "cold-runs", 20, "cold starts of each binary")
	flag.IntVar(&cfg.sends, "sends", 500, "single-client sends through each path")
	flag.IntVar(&cfg.clients, "clients", 1000, "idle and broadcast WebSocket clients")
	flag.IntVar(&cfg.burst, "burst", 200, "broadcast sends per burst (≤ the service's 1024-message send buffer)")
	flag.IntVar(&cfg.senders, "senders", 8, "concurrent senders of a broadcast burst")
	flag.IntVar(&cfg.paced, "paced", 100, "paced broadcast sends, half through each path")
	flag.StringVar(&cfg.only, "only", "", "run only these sections, comma-separated: negotiate, send, msgpack, endpoints, cold, size, limits (limits runs only when named)")
	cfg.memberships = intList{1000, 10000, 100000}
	flag.Var(&cfg.memberships, "memberships", "limits: hub sizes (user-group memberships) at which adds are measured, comma-separated")
	flag.IntVar(&cfg.adds, "adds", 2000, "limits: user-group adds measured at each hub size")
	flag.IntVar(&cfg.stuckSends, "stuck-sends", 300, "limits: 1 MB messages sent to one client that does not read")
	flag.IntVar(&cfg.stuck, "stuck", 10, "limits: broadcast clients that do not read (of -clients)")
	flag.DurationVar(&cfg.stuckFor, "stuck-for", 10*time.Second, "limits: how long 1 MB messages are broadcast")
	flag.Var(&cfg.env, "env", "KEY=VALUE added to the environment of every funcsignalr process (repeatable), e.g. GOGC=400 to try a setting")
	flag.Parse()
	for name, v := range map[string]string{"-app": cfg.app, "-stripped": cfg.stripped, "-baseline": cfg.baseline,
		"-baseline-stripped": cfg.baselineStripped, "-wsbaseline": cfg.wsbaseline} {
		if v == "" {
			fmt.Fprintf(os.Stderr, "benchtab: %s is required (bench/run sets it)\n", name)
			os.Exit(2)
		}
	}
	if cfg.burst > 1000 {
		fmt.Fprintln(os.Stderr, "benchtab: -burst over 1000 would overflow the service's send buffer")
		os.Exit(2)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		killAll()
		fmt.Fprintln(os.Stderr, "benchtab: interrupted")
		os.Exit(130)
	}()
	rows, err := run(context.Background(), cfg)
	killAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, rows)
}

// run measures everything, one section after the other.
func run(ctx context.Context, cfg config) ([]row, error) {
	work, err := os.MkdirTemp("", "benchtab-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var rows []row
	sections := []struct {
		key, name string
		run       func() ([]row, error)
	}{
		{"negotiate", "negotiate throughput", func() ([]row, error) { return measureNegotiate(ctx, cfg, work) }},
		{"send", "send, broadcast and memory", func() ([]row, error) { return measureSendAndMemory(ctx, cfg) }},
		{"msgpack", "MessagePack broadcast", func() ([]row, error) { return measureMessagePack(ctx, cfg) }},
		{"endpoints", "several endpoints against one", func() ([]row, error) { return measureEndpoints(ctx, cfg) }},
		{"cold", "cold start", func() ([]row, error) { return measureColdStart(ctx, cfg) }},
		{"size", "binary size", func() ([]row, error) { r, err := measureSizes(cfg); return []row{r}, err }},
		{"limits", "hostile load on the local service", func() ([]row, error) { return measureLimits(ctx, cfg) }},
	}
	for _, s := range sections {
		named := slices.Contains(strings.Split(cfg.only, ","), s.key)
		if cfg.only != "" && !named || cfg.only == "" && s.key == "limits" {
			continue
		}
		start := time.Now()
		fmt.Fprintf(os.Stderr, "benchtab: measuring %s…\n", s.name)
		r, err := s.run()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "benchtab: %s done in %.1f s\n", s.name, time.Since(start).Seconds())
		rows = append(rows, r...)
	}
	return rows, nil
}

func printTable(w *os.File, rows []row) {
	fmt.Fprintf(w, "funcsignalr benchmarks (%s, %s/%s, GOMAXPROCS %d, %s)\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintln(w, "| measure | funcsignalr | baseline | ratio (funcsignalr ÷ baseline) | goal |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		goal := "— (no goal)"
		if r.hasGoal {
			verdict := "GOAL met"
			if !r.met {
				verdict = "GOAL missed"
			}
			goal = verdict + ": " + r.goal
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s |\n", cell(r.what), cell(r.subject), cell(r.baseline), r.ratio, goal)
	}
}

// cell escapes a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
