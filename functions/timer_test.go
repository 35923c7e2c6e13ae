package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/internal/timer"
)

func timerJSON(schedule string, runOnStartup bool) string {
	fj, _ := json.Marshal(map[string]any{"bindings": []any{map[string]any{
		"type": "timerTrigger", "direction": "in", "name": "myTimer", "schedule": schedule, "runOnStartup": runOnStartup}}})
	return string(fj)
}

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

func TestStandaloneTimerFiresOnSchedule(t *testing.T) {
	tests := []struct {
		name         string
		schedule     string
		runOnStartup bool
		advance      time.Duration // after start-up, until the first scheduled run
		wantMonitor  bool
	}{
		{"NCRONTAB with seconds", "*/5 * * * * *", false, 5 * time.Second, false},
		{"NCRONTAB without seconds", "*/2 * * * *", false, 2 * time.Minute, true},
		{"TimeSpan", "00:00:30", false, 30 * time.Second, false},
		{"runOnStartup", "0 0 * * * *", true, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := timer.NewFakeClock(start)
			runs := make(chan functions.TimerInfo, 4)
			app := functions.New()
			functions.SetClock(app, clock)
			app.Timer("tick", func(ctx context.Context, info functions.TimerInfo) error {
				runs <- info
				return nil
			})
			run(t, app, appDir(t, map[string]string{"tick": timerJSON(tt.schedule, tt.runOnStartup)}, nil), nil, false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tt.runOnStartup {
				select {
				case info := <-runs:
					if info.IsPastDue {
						t.Errorf("runOnStartup run: IsPastDue true, want false")
					}
				case <-ctx.Done():
					t.Fatal("runOnStartup: no run at start-up")
				}
			}
			if err := clock.BlockUntil(ctx, 1); err != nil {
				t.Fatalf("the runner never waited: %v", err)
			}
			select {
			case info := <-runs:
				t.Fatalf("ran before its time: %+v", info)
			default:
			}
			clock.Advance(tt.advance)
			select {
			case info := <-runs:
				if info.IsPastDue {
					t.Errorf("IsPastDue true for an on-time run")
				}
				if (info.ScheduleStatus != nil) != tt.wantMonitor {
					t.Errorf("ScheduleStatus %+v, want monitored=%v", info.ScheduleStatus, tt.wantMonitor)
				}
				if tt.wantMonitor && !info.ScheduleStatus.Next.Equal(start.Add(tt.advance)) {
					t.Errorf("ScheduleStatus.Next %v, want the occurrence %v", info.ScheduleStatus.Next, start.Add(tt.advance))
				}
			case <-ctx.Done():
				t.Fatal("no run after the schedule's time passed")
			}
		})
	}
}

func TestTimersDoNotFireUnderTheHost(t *testing.T) {
	clock := timer.NewFakeClock(start)
	app := functions.New()
	functions.SetClock(app, clock)
	fired := make(chan struct{}, 1)
	app.Timer("tick", func(context.Context, functions.TimerInfo) error { fired <- struct{}{}; return nil })
	r := run(t, app, appDir(t, map[string]string{"tick": timerJSON("* * * * * *", true)}, nil),
		[]string{"FUNCTIONS_CUSTOMHANDLER_PORT=0"}, false)
	clock.Advance(time.Hour)
	status, _, body := testkit.Do(t, "POST", "http://"+r.addrs["handler"]+"/tick", jsonCT,
		strings.NewReader(`{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`))
	if status != 200 {
		t.Fatalf("invocation: %d %s", status, body)
	}
	select {
	case <-fired: // the host's invocation
	default:
		t.Fatal("the host's invocation did not run the function")
	}
	select {
	case <-fired:
		t.Fatal("the timer fired by itself under the host")
	default:
	}
}

func TestHostInvocations(t *testing.T) {
	got := make(chan functions.TimerInfo, 1)
	app := functions.New()
	app.Timer("tick", func(ctx context.Context, info functions.TimerInfo) error { got <- info; return nil })
	app.Timer("failing", func(context.Context, functions.TimerInfo) error { return errors.New("database down") })
	app.Timer("panicking", func(context.Context, functions.TimerInfo) error { panic("secret-panic-text") })
	app.Generic("work", func(ctx context.Context, req *functions.InvokeRequest) (*functions.InvokeResponse, error) {
		var item string
		if err := json.Unmarshal(req.Data["item"], &item); err != nil {
			return nil, err
		}
		return &functions.InvokeResponse{Outputs: map[string]any{"out": strings.ToUpper(item)}, Logs: []string{"done"}, ReturnValue: len(item)}, nil
	})
	app.Generic("genpanic", func(context.Context, *functions.InvokeRequest) (*functions.InvokeResponse, error) {
		panic("secret-panic-text")
	})
	app.HTTP("httppanic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret-panic-text") }))
	dir := appDir(t, map[string]string{
		"tick": timerJSON("0 */5 * * * *", false), "failing": timerJSON("0 0 * * * *", false), "panicking": timerJSON("0 0 * * * *", false),
		"work": queueJSON, "genpanic": queueJSON, "httppanic": httpAnon,
	}, nil)
	r := run(t, app, dir, []string{"FUNCTIONS_CUSTOMHANDLER_PORT=0"}, false)
	base := "http://" + r.addrs["handler"]
	tests := []struct {
		name, path, body string
		wantStatus       int
		wantBody         string // exact JSON, or an error code
	}{
		{"timer with the host's old timestamps", "/tick",
			`{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-03-02T10:05:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"tick"}}}`,
			200, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"timer error fails the invocation", "/failing", `{"Data":{"myTimer":{"IsPastDue":false}},"Metadata":{}}`, 500, "InternalError"},
		{"timer panic fails the invocation", "/panicking", `{"Data":{"myTimer":{"IsPastDue":false}},"Metadata":{}}`, 500, "InternalError"},
		{"timer without its binding", "/tick", `{"Data":{},"Metadata":{}}`, 500, "InternalError"},
		{"generic", "/work", `{"Data":{"item":"hello"},"Metadata":{"DequeueCount":1}}`, 200, `{"Outputs":{"out":"HELLO"},"Logs":["done"],"ReturnValue":5}`},
		{"generic panic", "/genpanic", `{"Data":{"item":"x"},"Metadata":{}}`, 500, "InternalError"},
		{"not JSON", "/work", `nope`, 400, "InvalidJson"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := testkit.Do(t, "POST", base+tt.path, jsonCT, strings.NewReader(tt.body))
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if strings.HasPrefix(body, `{"error"`) {
				if code := testkit.ErrorCode(body); code != tt.wantBody {
					t.Errorf("code %q (%s), want %q", code, body, tt.wantBody)
				}
			} else if body != tt.wantBody {
				t.Errorf("body %s, want %s", body, tt.wantBody)
			}
			if strings.Contains(body, "secret-panic-text") {
				t.Errorf("a panic's text reached the answer: %s", body)
			}
		})
	}
	info := <-got
	if !info.IsPastDue || info.ScheduleStatus == nil || !info.ScheduleStatus.Last.IsZero() ||
		!info.ScheduleStatus.Next.Equal(time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("TimerInfo %+v (status %+v), want IsPastDue, zero Last, Next 10:05 UTC", info, info.ScheduleStatus)
	}

	// An HTTP function's panic: 500 InternalError, the process keeps serving.
	for i := 0; i < 2; i++ {
		status, _, body := testkit.Do(t, "GET", base+"/api/httppanic", nil, nil)
		if status != 500 || testkit.ErrorCode(body) != "InternalError" || strings.Contains(body, "secret-panic-text") {
			t.Errorf("HTTP panic %d: %d %s, want 500 InternalError without the panic's text", i, status, body)
		}
	}
	if n := strings.Count(r.stderr.String(), "secret-panic-text"); n < 4 {
		t.Errorf("%d panics logged, want 4 with their stacks:\n%s", n, r.stderr)
	}
}

// TestTimerInfoReadsTheHostPayload unmarshals TimerInfo values as the
// Functions host writes them (Data.<binding name> of a timer invocation),
// the unset time included.
func TestTimerInfoReadsTheHostPayload(t *testing.T) {
	next := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		payload string
		want    functions.TimerInfo
	}{
		{"monitored, first run",
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-29T18:00:00+00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}`,
			functions.TimerInfo{Schedule: functions.TimerSchedule{AdjustForDST: true}, ScheduleStatus: &functions.ScheduleStatus{Next: next}}},
		{"monitored, past due",
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-29T17:55:00.0000000+00:00","Next":"2026-11-29T18:00:00+00:00","LastUpdated":"2026-11-29T17:55:00.1234567+00:00"},"IsPastDue":true}`,
			functions.TimerInfo{Schedule: functions.TimerSchedule{AdjustForDST: true}, IsPastDue: true, ScheduleStatus: &functions.ScheduleStatus{
				Last: next.Add(-5 * time.Minute), Next: next, LastUpdated: next.Add(-5*time.Minute + 123456700)}}},
		{"not monitored, TimeSpan", `{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":false}`, functions.TimerInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got functions.TimerInfo
			if err := json.Unmarshal([]byte(tt.payload), &got); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if got.Schedule != tt.want.Schedule || got.IsPastDue != tt.want.IsPastDue || (got.ScheduleStatus == nil) != (tt.want.ScheduleStatus == nil) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if s, w := got.ScheduleStatus, tt.want.ScheduleStatus; s != nil &&
				(!s.Last.Equal(w.Last) || !s.Next.Equal(w.Next) || !s.LastUpdated.Equal(w.LastUpdated)) {
				t.Errorf("ScheduleStatus: got %+v, want %+v", *s, *w)
			}
		})
	}
}

// TestStandaloneTimerTimeZone fires a daily 09:00 schedule standalone with
// the time zone set in local.settings.json, as `go run .` reads it: the
// runner waits for 09:00 in that zone, or in UTC when the name is unknown
// (which is logged).
func TestStandaloneTimerTimeZone(t *testing.T) {
	tests := []struct {
		name     string
		values   string // local.settings.json Values
		environ  []string
		wantNext time.Time
		wantLog  string
	}{
		{"WEBSITE_TIME_ZONE in local.settings.json", `{"website_time_zone":"Europe/Paris"}`, nil,
			time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), "timeZone=Europe/Paris"},
		{"TZ in the environment", `{}`, []string{"TZ=America/New_York"},
			time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), "timeZone=America/New_York"},
		{"unknown zone", `{"WEBSITE_TIME_ZONE":"W. Europe Standard Time"}`, nil,
			time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC), "unknown time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := timer.NewFakeClock(start) // 10:00 UTC
			app := functions.New()
			functions.SetClock(app, clock)
			app.Timer("daily", func(context.Context, functions.TimerInfo) error { return nil })
			dir := appDir(t, map[string]string{"daily": timerJSON("0 0 9 * * *", false)},
				map[string]string{"local.settings.json": `{"Values":` + tt.values + `}`})
			r := run(t, app, dir, tt.environ, false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := clock.BlockUntil(ctx, 1); err != nil {
				t.Fatalf("the runner never waited: %v", err)
			}
			if got := clock.Pending(); len(got) != 1 || !got[0].Equal(tt.wantNext) {
				t.Errorf("the runner waits until %v, want %v", got, tt.wantNext)
			}
			if logs := r.stdout.String() + r.stderr.String(); !strings.Contains(logs, tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs)
			}
		})
	}
}
