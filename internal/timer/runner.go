package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Job is one timer function for a Runner: a function.json timerTrigger
// binding and the Go function it invokes.
type Job struct {
	// Name is the function's name (its folder); it appears in every log line.
	Name     string
	Schedule Schedule
	// RunOnStartup is function.json's runOnStartup: run once as soon as the
	// Runner starts, then keep to the schedule.
	RunOnStartup bool
	// UseMonitor is function.json's useMonitor, true when absent. The Runner
	// turns monitoring off for schedules that fire more than once a minute,
	// as the host does; an unmonitored job gets a nil ScheduleStatus.
	UseMonitor bool
	// Run is the timer function. A returned error or a panic is logged as a
	// failed run; the schedule goes on.
	Run func(ctx context.Context, info Info) error
}

// PastDueAfter is how late a scheduled run may start and still not be past
// due. A run that starts later (because the previous run of the same job
// was still going, or the process was starved) gets IsPastDue true, as the
// host reports a late invocation. One second is the schedule's own
// resolution and far above the usual timer latency.
const PastDueAfter = time.Second

// Runner fires Jobs on their schedules without the Functions host, the way
// the host's timer listener does:
//
//   - a job never overlaps itself: the next occurrence is computed when a run
//     ends, and an occurrence missed while the job was still running fires
//     at once afterwards, with IsPastDue true; several missed occurrences
//     fire once, as with the host;
//   - ScheduleStatus (for monitored jobs) is the status before the run:
//     Last and LastUpdated = when the previous run started (zero before the
//     first), Next = the occurrence this run is for; after the run, Last
//     becomes its start time (or its occurrence, if the timer fired a little
//     early) and Next the following occurrence;
//   - each run logs one line: info with the function name, scheduled time
//     and duration, or error with the returned error, or error with the
//     recovered panic and its stack.
//
// Jobs run concurrently with each other. The zero Runner uses the wall clock,
// slog.Default and UTC.
type Runner struct {
	Jobs []Job
	// Clock defaults to the wall clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Location is the time zone schedules are evaluated in, UTC by default
	// (the host uses UTC unless WEBSITE_TIME_ZONE or TZ says otherwise).
	Location *time.Location
}

// Run fires the jobs until ctx ends, then waits for the runs in progress
// (their ctx is ctx) and returns nil. It returns an error at once, running
// nothing, when a job has no name, no schedule or no Run, or two jobs share
// a name.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.validate(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, j := range r.Jobs {
		wg.Go(func() { r.runJob(ctx, j) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) validate() error {
	var errs []error
	seen := make(map[string]bool)
	for i, j := range r.Jobs {
		switch {
		case j.Name == "":
			errs = append(errs, fmt.Errorf("timer job %d has no name", i))
			continue
		case seen[j.Name]:
			errs = append(errs, fmt.Errorf("timer job %q is registered twice", j.Name))
		}
		seen[j.Name] = true
		if j.Schedule.spec == nil && j.Schedule.interval <= 0 {
			errs = append(errs, fmt.Errorf("timer job %q has no schedule", j.Name))
		}
		if j.Run == nil {
			errs = append(errs, fmt.Errorf("timer job %q has no Run function", j.Name))
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) clock() Clock {
	if r.Clock == nil {
		return realClock{}
	}
	return r.Clock
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

func (r *Runner) location() *time.Location {
	if r.Location == nil {
		return time.UTC
	}
	return r.Location
}

// runJob is one job's loop; it is the only caller of that job's Run, so runs
// of one job never overlap.
func (r *Runner) runJob(ctx context.Context, j Job) {
	clock, log, loc := r.clock(), r.logger(), r.location()
	monitored := j.Schedule.monitored(j.UseMonitor)
	info := func(status ScheduleStatus, pastDue bool) Info {
		in := Info{Schedule: TimerSchedule{AdjustForDST: j.Schedule.adjustForDST()}, IsPastDue: pastDue}
		if monitored {
			in.ScheduleStatus = &status
		}
		return in
	}

	now := clock.Now().In(loc)
	status := ScheduleStatus{Next: j.Schedule.Next(now)}
	log.Info("timer function scheduled", "function", j.Name, "schedule", j.Schedule.String(),
		"next", status.Next, "runOnStartup", j.RunOnStartup, "monitored", monitored, "timeZone", loc.String())

	if j.RunOnStartup && ctx.Err() == nil {
		start := clock.Now().In(loc)
		r.invoke(ctx, j, start, "runOnStartup", info(status, false))
		status = ScheduleStatus{Last: start, Next: j.Schedule.Next(start), LastUpdated: start}
	}
	for {
		next := status.Next
		if next.IsZero() {
			log.Warn("timer function has no further occurrence; it will not run again", "function", j.Name, "schedule", j.Schedule.String())
			return
		}
		if d := next.Sub(clock.Now()); d > 0 {
			select {
			case <-clock.After(d):
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		start := clock.Now().In(loc)
		pastDue := start.Sub(next) > PastDueAfter
		reason := ""
		if pastDue {
			reason = "isPastDue"
		}
		r.invoke(ctx, j, next, reason, info(status, pastDue))
		// The host computes the next occurrence from the time the run
		// started, or from the occurrence itself when the timer fired early,
		// so that an occurrence never fires twice (TimerListener.InvokeJobFunction).
		last := start
		if next.After(start) {
			last = next
		}
		status = ScheduleStatus{Last: last, Next: j.Schedule.Next(last), LastUpdated: last}
	}
}

// invoke runs j once and logs the outcome in one line. reason is
// "runOnStartup", "isPastDue" or "" for an on-time run, as the host's
// UnscheduledInvocationReason.
func (r *Runner) invoke(ctx context.Context, j Job, scheduled time.Time, reason string, info Info) {
	clock, log := r.clock(), r.logger()
	start := clock.Now()
	err, stack := call(ctx, j.Run, info)
	attrs := []any{"function", j.Name, "scheduled", scheduled, "duration", clock.Now().Sub(start), "isPastDue", info.IsPastDue}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	switch {
	case stack != nil:
		log.ErrorContext(ctx, "timer function panicked", append(attrs, "panic", err.Error(), "stack", string(stack))...)
	case err != nil:
		log.ErrorContext(ctx, "timer function failed", append(attrs, "error", err.Error())...)
	default:
		log.InfoContext(ctx, "timer function ran", attrs...)
	}
}

// call runs fn, turning a panic into an error and the stack where it
// happened.
func call(ctx context.Context, fn func(context.Context, Info) error, info Info) (err error, stack []byte) {
	defer func() {
		if v := recover(); v != nil {
			err, stack = fmt.Errorf("panic: %v", v), debug.Stack()
		}
	}()
	return fn(ctx, info), nil
}
