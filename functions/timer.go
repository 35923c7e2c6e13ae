package functions

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/funcsignalr/funcsignalr/handler"
	"github.com/funcsignalr/funcsignalr/internal/timer"
	"github.com/funcsignalr/funcsignalr/settings"
)

// TimerInfo is a timer invocation as the Functions host describes it (its
// TimerInfo, as JSON in the invocation payload, which json.Unmarshal
// reads), and as funcsignalr fills it when it fires timers itself.
// ScheduleStatus is nil when the schedule is not monitored.
type TimerInfo = timer.Info

// TimerSchedule describes the schedule: AdjustForDST is true for NCRONTAB
// schedules, false for a TimeSpan.
type TimerSchedule = timer.TimerSchedule

// ScheduleStatus is the monitored schedule's state as the host keeps it:
// Last is when the previous run started, Next the occurrence this run is
// for, LastUpdated when the status last changed. A zero time is unknown.
type ScheduleStatus = timer.ScheduleStatus

// hostTimer runs a timer function for the host's invocation: the TimerInfo
// is Data.<trigger binding name>, its times read leniently (with or
// without a zone; 0001-01-01T00:00:00 is the zero time).
func hostTimer(fn TimerFunc) handler.InvokeFunc {
	return func(ctx context.Context, f handler.Function, req *handler.InvokeRequest) (*handler.InvocationResult, error) {
		raw, ok := req.Data[f.TriggerName]
		if !ok {
			return nil, fmt.Errorf("the invocation has no Data.%s (the timerTrigger binding's value)", f.TriggerName)
		}
		info, err := timer.DecodeInfo(raw)
		if err != nil {
			return nil, fmt.Errorf("Data.%s is not a TimerInfo: %w", f.TriggerName, err)
		}
		if err := fn(ctx, info); err != nil {
			return nil, err
		}
		return &handler.InvocationResult{}, nil
	}
}

// timerJobs builds the standalone runner's jobs from the timer folders
// and the schedules check parsed.
func (a *App) timerJobs(fa handler.App) []timer.Job {
	var jobs []timer.Job
	for _, f := range fa.Functions {
		fn, ok := a.timerFunc(f.Name)
		sched, parsed := a.schedules[f.Name]
		if f.Trigger != handler.TriggerTimer || !ok || !parsed {
			continue // not a timer, or refused by check
		}
		monitor := f.UseMonitor == nil || *f.UseMonitor
		jobs = append(jobs, timer.Job{Name: f.Name, Schedule: sched, RunOnStartup: f.RunOnStartup, UseMonitor: monitor,
			Run: fn})
	}
	return jobs
}

func (a *App) timerFunc(name string) (TimerFunc, bool) {
	for n, fn := range a.timers {
		if strings.EqualFold(n, name) {
			return fn, true
		}
	}
	return nil, false
}

// runTimers fires the timer functions on their schedules until ctx ends,
// as the host would: standalone only. The host's time zone is UTC unless
// the app setting WEBSITE_TIME_ZONE (or TZ) names another.
func (a *App) runTimers(ctx context.Context, fa handler.App, values *settings.Values, log *slog.Logger) {
	r := &timer.Runner{Jobs: a.timerJobs(fa), Clock: a.clock, Logger: log, Location: timeZone(values, log)}
	if err := r.Run(ctx); err != nil {
		log.Error("timer functions not started", "error", err.Error())
	}
}
