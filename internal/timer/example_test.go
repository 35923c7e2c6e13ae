package timer_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/timer"
)

func ExampleParse() {
	from := time.Date(2026, time.November, 29, 18, 0, 30, 0, time.UTC)
	for _, expr := range []string{"0 */5 * * * *", "30 9 * * Mon-Fri", "00:10:00", "0 0 0 30 2 *"} {
		s, err := timer.Parse(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-16s next %s\n", s, s.Next(from).Format(time.RFC3339))
	}
	// Output:
	// 0 */5 * * * *    next 2026-11-29T18:05:00Z
	// 30 9 * * Mon-Fri next 2026-11-30T09:30:00Z
	// 00:10:00         next 2026-11-29T18:10:30Z
	// timer schedule "0 0 0 30 2 *" never fires: no date matches its {day}, {month} and {day-of-week} fields together
}

func ExampleRunner() {
	clock := timer.NewFakeClock(time.Date(2026, time.November, 29, 18, 0, 30, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	schedule, _ := timer.Parse("0 * * * * *")
	runner := &timer.Runner{
		Clock:  clock,
		Logger: slog.New(slog.DiscardHandler),
		Jobs: []timer.Job{{
			Name:         "broadcast",
			Schedule:     schedule,
			RunOnStartup: true,
			UseMonitor:   true,
			Run: func(ctx context.Context, info timer.Info) error {
				fmt.Printf("at %s: next %s, past due %v\n", clock.Now().Format("15:04:05"),
					info.ScheduleStatus.Next.Format("15:04:05"), info.IsPastDue)
				return nil
			},
		}},
	}
	done := make(chan error)
	go func() { done <- runner.Run(ctx) }()

	// The start-up run happens at once; then the runner waits for 18:01:00.
	clock.BlockUntil(ctx, 1)
	clock.Advance(30 * time.Second)
	clock.BlockUntil(ctx, 1)
	cancel()
	fmt.Println(<-done)
	// Output:
	// at 18:00:30: next 18:01:00, past due false
	// at 18:01:00: next 18:01:00, past due false
	// <nil>
}
