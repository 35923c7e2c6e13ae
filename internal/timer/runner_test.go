package timer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitLimit bounds every wait on a condition, so a broken runner fails the
// test instead of hanging it. Nothing waits on a schedule.
const waitLimit = 10 * time.Second

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	tb.Cleanup(cancel)
	return ctx
}

// logSink collects JSON log records and lets a test wait for them.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.buf.Write(p)
}

// runs returns the records of runs (not the start-up lines).
func (l *logSink) runs(tb testing.TB) []map[string]any {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := rec["msg"].(string); msg != "timer function scheduled" {
			out = append(out, rec)
		}
	}
	return out
}

// waitRuns waits until n run records have been logged and returns them.
func (l *logSink) waitRuns(tb testing.TB, n int) []map[string]any {
	tb.Helper()
	ctx := testContext(tb)
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if recs := l.runs(tb); len(recs) >= n {
			return recs
		}
		select {
		case <-changed:
		case <-ctx.Done():
			tb.Fatalf("got %d run log records, want %d", len(l.runs(tb)), n)
		}
	}
}

type harness struct {
	clock *FakeClock
	logs  *logSink
}

// goRun starts r.Run in a goroutine. The returned stop ends Run's context
// and checks that Run then returns nil, within waitLimit.
func goRun(tb testing.TB, r *Runner) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		tb.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: got error %v, want nil", err)
			}
		case <-time.After(waitLimit):
			tb.Fatal("Run did not return after its context ended")
		}
	}
}

// startRunner runs jobs on a fake clock set to at, until the test ends.
func startRunner(tb testing.TB, at time.Time, loc *time.Location, jobs ...Job) *harness {
	tb.Helper()
	h := &harness{clock: NewFakeClock(at), logs: newLogSink()}
	r := &Runner{Jobs: jobs, Clock: h.clock, Location: loc, Logger: slog.New(slog.NewJSONHandler(h.logs, nil))}
	tb.Cleanup(goRun(tb, r))
	return h
}

// waitTimer waits until the runner waits on the clock and checks when for.
func (h *harness) waitTimer(tb testing.TB, want time.Time) {
	tb.Helper()
	if err := h.clock.BlockUntil(testContext(tb), 1); err != nil {
		tb.Fatalf("runner never waited on the clock: %v", err)
	}
	if got := h.clock.Pending(); len(got) != 1 || !got[0].Equal(want) {
		tb.Fatalf("runner waits for %v, want [%v]", got, want)
	}
}

// recorder returns a Run function that passes each Info on.
func recorder() (func(context.Context, Info) error, chan Info) {
	ch := make(chan Info, 16)
	return func(_ context.Context, in Info) error { ch <- in; return nil }, ch
}

func receive(tb testing.TB, ch <-chan Info) Info {
	tb.Helper()
	select {
	case in := <-ch:
		return in
	case <-time.After(waitLimit):
		tb.Fatal("timer function was not invoked")
		return Info{}
	}
}

func mustParse(tb testing.TB, expr string) Schedule {
	tb.Helper()
	s, err := Parse(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func checkInfo(tb testing.TB, got Info, want Info) {
	tb.Helper()
	if !infoEqual(got, want) {
		tb.Errorf("TimerInfo:\n got %s\nwant %s", describe(got), describe(want))
	}
}

func status(last, next, lastUpdated time.Time) *ScheduleStatus {
	return &ScheduleStatus{Last: last, Next: next, LastUpdated: lastUpdated}
}

func TestRunnerFiresOnSchedule(t *testing.T) {
	start := utc(t, "2026-11-29T18:00:30Z")
	var zero time.Time
	tests := []struct {
		name, expr    string
		first, second time.Time
		adjustForDST  bool
	}{
		{"NCRONTAB with seconds", "0 * * * * *", utc(t, "2026-11-29T18:01:00Z"), utc(t, "2026-11-29T18:02:00Z"), true},
		{"NCRONTAB, 5 fields", "*/2 * * * *", utc(t, "2026-11-29T18:02:00Z"), utc(t, "2026-11-29T18:04:00Z"), true},
		{"TimeSpan", "00:05:00", utc(t, "2026-11-29T18:05:30Z"), utc(t, "2026-11-29T18:10:30Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, infos := recorder()
			h := startRunner(t, start, nil, Job{Name: "tick", Schedule: mustParse(t, tt.expr), UseMonitor: true, Run: run})

			h.waitTimer(t, tt.first)
			h.clock.Set(tt.first)
			checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{tt.adjustForDST}, ScheduleStatus: status(zero, tt.first, zero)})

			h.waitTimer(t, tt.second)
			h.clock.Set(tt.second)
			checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{tt.adjustForDST}, ScheduleStatus: status(tt.first, tt.second, tt.first)})

			recs := h.logs.waitRuns(t, 2)
			for i, want := range []time.Time{tt.first, tt.second} {
				rec := recs[i]
				if rec["level"] != "INFO" || rec["msg"] != "timer function ran" || rec["function"] != "tick" ||
					rec["scheduled"] != want.Format(time.RFC3339Nano) || rec["duration"] != 0.0 || rec["reason"] != nil {
					t.Errorf("log of run %d: got %v, want INFO \"timer function ran\" for tick scheduled %v, duration 0", i+1, rec, want)
				}
			}
		})
	}
}

func TestRunnerRunOnStartup(t *testing.T) {
	start := utc(t, "2026-11-29T18:20:00Z")
	hour := utc(t, "2026-11-29T19:00:00Z")
	run, infos := recorder()
	h := startRunner(t, start, nil, Job{Name: "hourly", Schedule: mustParse(t, "0 0 * * * *"), RunOnStartup: true, UseMonitor: true, Run: run})

	var zero time.Time
	checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{true}, ScheduleStatus: status(zero, hour, zero)})
	h.waitTimer(t, hour)
	h.clock.Set(hour)
	checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{true}, ScheduleStatus: status(start, hour, start)})

	recs := h.logs.waitRuns(t, 2)
	if recs[0]["reason"] != "runOnStartup" || recs[0]["scheduled"] != start.Format(time.RFC3339) {
		t.Errorf("log of the start-up run: got %v, want reason runOnStartup, scheduled %v", recs[0], start)
	}
	if recs[1]["reason"] != nil {
		t.Errorf("log of the scheduled run: got reason %v, want none", recs[1]["reason"])
	}
}

func TestRunnerOverrunIsPastDueWithoutOverlap(t *testing.T) {
	at := func(s string) time.Time { return utc(t, "2026-11-29T"+s+"Z") }
	infos := make(chan Info, 16)
	release := make(chan struct{})
	var calls, active, maxActive atomic.Int32
	run := func(ctx context.Context, in Info) error {
		if n := active.Add(1); n > maxActive.Load() {
			maxActive.Store(n)
		}
		defer active.Add(-1)
		infos <- in
		if calls.Add(1) == 1 {
			<-release
		}
		return nil
	}
	h := startRunner(t, at("18:00:30"), nil, Job{Name: "slow", Schedule: mustParse(t, "0 * * * * *"), UseMonitor: true, Run: run})

	h.waitTimer(t, at("18:01:00"))
	h.clock.Set(at("18:01:00"))
	checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{true}, ScheduleStatus: status(time.Time{}, at("18:01:00"), time.Time{})})

	// The run overruns the 18:02:00 occurrence; nothing may be waiting to
	// start a second run meanwhile.
	h.clock.Set(at("18:02:30"))
	if p := h.clock.Pending(); len(p) != 0 {
		t.Fatalf("while a run is going the runner waits for %v, want nothing", p)
	}
	close(release)
	checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{true}, IsPastDue: true,
		ScheduleStatus: status(at("18:01:00"), at("18:02:00"), at("18:01:00"))})

	// Half a second late is within PastDueAfter.
	h.waitTimer(t, at("18:03:00"))
	h.clock.Set(at("18:03:00.5"))
	checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{true},
		ScheduleStatus: status(at("18:02:30"), at("18:03:00"), at("18:02:30"))})

	recs := h.logs.waitRuns(t, 3)
	if d := recs[0]["duration"]; d != float64(90*time.Second) {
		t.Errorf("log of the overrunning run: got duration %v, want %d (90s)", d, 90*time.Second)
	}
	if recs[1]["isPastDue"] != true || recs[1]["reason"] != "isPastDue" || recs[1]["scheduled"] != "2026-11-29T18:02:00Z" {
		t.Errorf("log of the late run: got %v, want isPastDue true, reason isPastDue, scheduled 18:02:00", recs[1])
	}
	if recs[2]["isPastDue"] != false {
		t.Errorf("log of the run 0.5s late: got isPastDue %v, want false", recs[2]["isPastDue"])
	}
	if m := maxActive.Load(); m != 1 {
		t.Errorf("concurrent runs of one job: got %d, want 1", m)
	}
}

func TestRunnerRecoversPanicsAndLogsErrors(t *testing.T) {
	start := utc(t, "2026-11-29T18:00:30Z")
	var calls atomic.Int32
	ran := make(chan struct{}, 3)
	run := func(context.Context, Info) error {
		defer func() { ran <- struct{}{} }()
		switch calls.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return errors.New("storage unreachable")
		}
		return nil
	}
	h := startRunner(t, start, nil, Job{Name: "fragile", Schedule: mustParse(t, "0 * * * * *"), UseMonitor: true, Run: run})
	for i := 1; i <= 3; i++ {
		next := start.Add(time.Duration(i)*time.Minute - 30*time.Second)
		h.waitTimer(t, next)
		h.clock.Set(next)
		select {
		case <-ran:
		case <-time.After(waitLimit):
			t.Fatalf("run %d did not happen", i)
		}
	}
	recs := h.logs.waitRuns(t, 3)
	tests := []struct {
		level, msg, key, value string
	}{
		{"ERROR", "timer function panicked", "panic", "panic: boom"},
		{"ERROR", "timer function failed", "error", "storage unreachable"},
		{"INFO", "timer function ran", "", ""},
	}
	for i, tt := range tests {
		rec := recs[i]
		if rec["level"] != tt.level || rec["msg"] != tt.msg || rec["function"] != "fragile" {
			t.Errorf("log of run %d: got level %v msg %v function %v, want %s %q fragile", i+1, rec["level"], rec["msg"], rec["function"], tt.level, tt.msg)
		}
		if tt.key != "" && rec[tt.key] != tt.value {
			t.Errorf("log of run %d: got %s %v, want %q", i+1, tt.key, rec[tt.key], tt.value)
		}
	}
	if stack, _ := recs[0]["stack"].(string); !strings.Contains(stack, "runner_test.go") {
		t.Errorf("log of the panic: got stack %q, want one through runner_test.go", stack)
	}
}

func TestRunnerUnmonitored(t *testing.T) {
	start := utc(t, "2026-11-29T18:00:30Z")
	tests := []struct {
		name, expr string
		useMonitor bool
		next       time.Time
	}{
		{"useMonitor false", "0 * * * * *", false, utc(t, "2026-11-29T18:01:00Z")},
		{"more than once a minute", "*/10 * * * * *", true, utc(t, "2026-11-29T18:00:40Z")},
		{"TimeSpan under a minute", "00:00:20", true, utc(t, "2026-11-29T18:00:50Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, infos := recorder()
			s := mustParse(t, tt.expr)
			h := startRunner(t, start, nil, Job{Name: "quick", Schedule: s, UseMonitor: tt.useMonitor, Run: run})
			h.waitTimer(t, tt.next)
			h.clock.Set(tt.next)
			checkInfo(t, receive(t, infos), Info{Schedule: TimerSchedule{s.adjustForDST()}})
		})
	}
}

func TestRunnerLocation(t *testing.T) {
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	run, infos := recorder()
	h := startRunner(t, utc(t, "2026-06-01T06:00:00Z"), plus2, Job{Name: "nine", Schedule: mustParse(t, "0 0 9 * * *"), UseMonitor: true, Run: run})
	nine := utc(t, "2026-06-01T07:00:00Z") // 09:00 at UTC+2
	h.waitTimer(t, nine)
	h.clock.Set(nine)
	in := receive(t, infos)
	if got := in.ScheduleStatus.Next; !got.Equal(nine) || got.Location() != plus2 {
		t.Errorf("ScheduleStatus.Next: got %v, want %v in UTC+2", got, nine.In(plus2))
	}
}

func TestRunnerJobsAreIndependent(t *testing.T) {
	start := utc(t, "2026-11-29T18:00:30Z")
	blocked := make(chan struct{})
	stuck := func(ctx context.Context, _ Info) error {
		close(blocked)
		<-ctx.Done()
		return ctx.Err()
	}
	run, infos := recorder()
	h := startRunner(t, start, nil,
		Job{Name: "stuck", Schedule: mustParse(t, "0 * * * * *"), RunOnStartup: true, Run: stuck},
		Job{Name: "free", Schedule: mustParse(t, "0 * * * * *"), Run: run})
	<-blocked
	h.waitTimer(t, utc(t, "2026-11-29T18:01:00Z"))
	h.clock.Set(utc(t, "2026-11-29T18:01:00Z"))
	receive(t, infos)
}

func TestRunnerStopsOnContext(t *testing.T) {
	start := utc(t, "2026-11-29T18:00:30Z")
	tests := []struct {
		name  string
		inRun bool // cancel while a run is going rather than while waiting
	}{
		{"while waiting", false},
		{"while running", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewFakeClock(start)
			running := make(chan struct{})
			var sawCancel atomic.Bool
			run := func(ctx context.Context, _ Info) error {
				close(running)
				<-ctx.Done()
				sawCancel.Store(true)
				return ctx.Err()
			}
			r := &Runner{Jobs: []Job{{Name: "j", Schedule: mustParse(t, "0 * * * * *"), RunOnStartup: tt.inRun, Run: run}},
				Clock: clock, Logger: slog.New(slog.DiscardHandler)}
			stop := goRun(t, r)
			if tt.inRun {
				<-running
			} else if err := clock.BlockUntil(testContext(t), 1); err != nil {
				t.Fatal(err)
			}
			stop()
			if got := sawCancel.Load(); got != tt.inRun {
				t.Errorf("run saw its context end: got %v, want %v", got, tt.inRun)
			}
		})
	}
}

func TestRunnerRejectsBadJobs(t *testing.T) {
	ok := func(context.Context, Info) error { return nil }
	s := mustParse(t, "0 * * * * *")
	tests := []struct {
		name string
		jobs []Job
		want []string
	}{
		{"no name", []Job{{Schedule: s, Run: ok}}, []string{"timer job 0 has no name"}},
		{"no schedule", []Job{{Name: "a", Run: ok}}, []string{`timer job "a" has no schedule`}},
		{"no Run", []Job{{Name: "a", Schedule: s}}, []string{`timer job "a" has no Run function`}},
		{"duplicate, all reported", []Job{{Name: "a", Schedule: s, Run: ok}, {Name: "a", Schedule: s}},
			[]string{`timer job "a" is registered twice`, `timer job "a" has no Run function`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Jobs: tt.jobs, Clock: NewFakeClock(time.Now()), Logger: slog.New(slog.DiscardHandler)}
			err := r.Run(context.Background())
			if err == nil {
				t.Fatal("Run: got nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run error: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
