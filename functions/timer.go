package functions

import (
	"context"
	"log/slog"
	"time"

	"github.com/funcsignalr/funcsignalr/handler"
)

// TimerInfo is a timer invocation as the Functions host describes it (its
// TimerInfo, as JSON in the invocation payload), and as funcsignalr fills
// it when it fires timers itself.
type TimerInfo struct {
	Schedule TimerSchedule `json:"Schedule"`
	// ScheduleStatus is nil when the schedule is not monitored (useMonitor
	// false, or a schedule firing more often than once a minute).
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	// IsPastDue is true when this invocation runs later than scheduled.
	IsPastDue bool `json:"IsPastDue"`
}

// TimerSchedule describes the schedule.
type TimerSchedule struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

// ScheduleStatus is the monitored schedule's state: the last and next
// occurrences and when the status was last updated. A zero time is unknown.
type ScheduleStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

func hostTimer(fn TimerFunc) handler.InvokeFunc {
	return func(ctx context.Context, f handler.Function, req *handler.InvokeRequest) (*handler.InvocationResult, error) {
		return nil, fn(ctx, TimerInfo{})
	}
}

func (a *App) runTimers(ctx context.Context, fa handler.App, logger *slog.Logger) {}
