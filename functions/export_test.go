package functions

import "github.com/funcsignalr/funcsignalr/internal/timer"

// SetClock makes a's standalone timers run on c (tests drive a FakeClock).
func SetClock(a *App, c timer.Clock) { a.clock = c }
