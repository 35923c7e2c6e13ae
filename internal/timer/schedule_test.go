package timer

import (
	"strings"
	"testing"
	"time"
)

func utc(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// nextN returns the n occurrences of s after from, formatted RFC 3339.
func nextN(s Schedule, from time.Time, n int) []string {
	var out []string
	for t := from; len(out) < n; {
		t = s.Next(t)
		if t.IsZero() {
			return append(out, "never")
		}
		out = append(out, t.Format(time.RFC3339Nano))
	}
	return out
}

func TestParseNext(t *testing.T) {
	tests := []struct {
		name, expr string
		from       string
		want       []string // the next three occurrences
		wantString string
	}{
		{"six fields, every five minutes across a month end", "0 */5 * * * *", "2026-01-31T23:58:00Z",
			[]string{"2026-02-01T00:00:00Z", "2026-02-01T00:05:00Z", "2026-02-01T00:10:00Z"}, "0 */5 * * * *"},
		{"seconds field", "*/15 * * * * *", "2026-11-29T12:00:50Z",
			[]string{"2026-11-29T12:01:00Z", "2026-11-29T12:01:15Z", "2026-11-29T12:01:30Z"}, ""},
		{"strictly after an occurrence", "0 0 0 31 * *", "2026-01-31T00:00:00Z",
			[]string{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"}, ""},
		{"year boundary", "0 0 0 1 1 *", "2026-12-31T23:59:59Z",
			[]string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"}, ""},
		{"leap day", "0 0 0 29 2 *", "2026-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}, ""},
		{"five fields: weekdays at 9:30, seconds 0", "30 9 * * 1-5", "2026-01-30T10:00:00Z",
			[]string{"2026-02-02T09:30:00Z", "2026-02-03T09:30:00Z", "2026-02-04T09:30:00Z"}, "30 9 * * 1-5"},
		{"five fields every minute", "* * * * *", "2026-11-29T12:00:30Z",
			[]string{"2026-11-29T12:01:00Z", "2026-11-29T12:02:00Z", "2026-11-29T12:03:00Z"}, ""},
		{"day of month AND day of week (Friday the 13th)", "0 0 0 13 * 5", "2026-01-01T00:00:00Z",
			[]string{"2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z", "2026-11-13T00:00:00Z"}, ""},
		{"day names, full and abbreviated", "0 0 0 13 * Friday", "2026-03-13T00:00:00Z",
			[]string{"2026-11-13T00:00:00Z", "2027-08-13T00:00:00Z", "2028-10-13T00:00:00Z"}, ""},
		{"stepped day of month AND a day name", "0 0 0 */2 * sun", "2026-01-01T00:00:00Z",
			[]string{"2026-01-11T00:00:00Z", "2026-01-25T00:00:00Z", "2026-02-01T00:00:00Z"}, ""},
		{"month names and a name range", "0 0 12 * JAN,feb Mon-Tue", "2026-01-31T00:00:00Z",
			[]string{"2026-02-02T12:00:00Z", "2026-02-03T12:00:00Z", "2026-02-09T12:00:00Z"}, ""},
		{"N/step means N to max", "0 5/20 * * * *", "2026-11-29T12:00:00Z",
			[]string{"2026-11-29T12:05:00Z", "2026-11-29T12:25:00Z", "2026-11-29T12:45:00Z"}, ""},
		{"Sunday is 0", "0 0 0 * * 0", "2026-11-28T00:00:00Z",
			[]string{"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"}, ""},
		{"spaces normalized", "  0  0 *  * * *  ", "2026-11-29T12:00:00Z",
			[]string{"2026-11-29T13:00:00Z", "2026-11-29T14:00:00Z", "2026-11-29T15:00:00Z"}, "0 0 * * * *"},
		{"TimeSpan hh:mm:ss", "00:05:00", "2026-11-29T12:00:01Z",
			[]string{"2026-11-29T12:05:01Z", "2026-11-29T12:10:01Z", "2026-11-29T12:15:01Z"}, "00:05:00"},
		{"TimeSpan d.hh:mm:ss", "1.02:00:00", "2026-11-29T12:00:00Z",
			[]string{"2026-11-30T14:00:00Z", "2026-12-01T16:00:00Z", "2026-12-02T18:00:00Z"}, ""},
		{"TimeSpan hh:mm", "01:30", "2026-11-29T12:00:00Z",
			[]string{"2026-11-29T13:30:00Z", "2026-11-29T15:00:00Z", "2026-11-29T16:30:00Z"}, ""},
		{"TimeSpan fraction", "00:00:00.25", "2026-11-29T12:00:00Z",
			[]string{"2026-11-29T12:00:00.25Z", "2026-11-29T12:00:00.5Z", "2026-11-29T12:00:00.75Z"}, ""},
		{"TimeSpan whole days", "2", "2026-11-29T12:00:00Z",
			[]string{"2026-12-01T12:00:00Z", "2026-12-03T12:00:00Z", "2026-12-05T12:00:00Z"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", tt.expr, err)
			}
			got := nextN(s, utc(t, tt.from), 3)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Parse(%q) occurrences after %s: got %v, want %v", tt.expr, tt.from, got, tt.want)
			}
			if tt.wantString != "" && s.String() != tt.wantString {
				t.Errorf("String(): got %q, want %q", s.String(), tt.wantString)
			}
		})
	}
}

func TestNextKeepsLocation(t *testing.T) {
	s, err := Parse("0 0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	paris := time.FixedZone("UTC+2", 2*60*60)
	got := s.Next(time.Date(2026, 6, 1, 10, 0, 0, 0, paris))
	want := time.Date(2026, 6, 2, 9, 0, 0, 0, paris)
	if !got.Equal(want) || got.Location() != paris {
		t.Errorf("Next: got %v, want %v (9:00 on the wall clock of the time given)", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string // substrings of the error
	}{
		{"", []string{`"" is empty`}},
		{"   ", []string{"is empty"}},
		{"* * * *", []string{`"* * * *" has 4 fields`, "NCRONTAB needs 6"}},
		{"0 * * * * * 2026", []string{"has 7 fields"}},
		{"60 * * * * *", []string{`the {second} field "60"`, "above maximum (59)"}},
		{"0 0 24 * * *", []string{`the {hour} field "24"`, "above maximum (23)"}},
		{"0 0 0 0 * *", []string{`the {day} field "0"`, "below minimum (1)"}},
		{"0 0 0 * 13 *", []string{`the {month} field "13"`}},
		{"0 0 0 * * 7", []string{`the {day-of-week} field "7"`, "above maximum (6)"}},
		{"0 0 * * 8", []string{`the {day-of-week} field "8"`}},
		{"70 * * * *", []string{`the {minute} field "70"`}},
		{"0 0 0 * * Funday", []string{`the {day-of-week} field "Funday"`, `"Funday" is not a name`, "Sunday, Monday"}},
		{"0 0 0 * Smarch *", []string{`"Smarch" is not a name`, "January"}},
		{"0 0 0 * * 5-1", []string{"beyond end of range"}},
		{"0 */0 * * * *", []string{`the {minute} field "*/0"`, "step"}},
		{"0 0 0 ? * *", []string{`the {day} field "?"`, "does not accept"}},
		{"TZ=UTC 0 0 * * *", []string{`"TZ=UTC"`, `"="`}},
		{"0 0 0 , * *", []string{`the {day} field ","`, "names no value"}},
		{"0 0 0 1a * *", []string{`the {day} field "1a"`}},
		{"0 0 0 30 2 *", []string{"never fires"}},
		{"0 0 0 31 4,6 *", []string{"never fires"}},
		{"@daily", []string{"not a valid schedule", "TimeSpan"}},
		{"abc", []string{`"abc"`, "not a valid schedule"}},
		{"00:00:00", []string{"greater than zero"}},
		{"0", []string{"greater than zero"}},
		{"-00:05:00", []string{"greater than zero"}},
		{"24:00:00", []string{"hours 24 out of range", "d.hh:mm:ss"}},
		{"00:60:00", []string{"minutes 60 out of range"}},
		{"00:00:60", []string{"seconds 60 out of range"}},
		{"123456.00:00:00", []string{"days 123456 out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q): got %q and no error, want an error", tt.expr, s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error: got %q, want it to contain %q", tt.expr, err, w)
				}
			}
		})
	}
}

func TestZeroScheduleNeverFires(t *testing.T) {
	var s Schedule
	if got := s.Next(time.Now()); !got.IsZero() {
		t.Errorf("zero Schedule Next: got %v, want the zero time", got)
	}
}

func TestMonitored(t *testing.T) {
	tests := []struct {
		expr       string
		useMonitor bool
		want       bool
	}{
		{"0 */5 * * * *", true, true},
		{"0 */5 * * * *", false, false},
		{"0 * * * * *", true, true},
		{"*/5 * * * *", true, true},
		{"* * * * * *", true, false},
		{"*/30 * * * * *", true, false},
		{"0,30 0 9 * * *", true, false}, // twice within 9:00, though only then
		{"00:01:00", true, true},
		{"01:00:00", true, true},
		{"00:00:59", true, false},
		{"00:05:00", false, false},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.monitored(tt.useMonitor); got != tt.want {
			t.Errorf("%q with useMonitor %v: monitored got %v, want %v", tt.expr, tt.useMonitor, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"0 */5 * * * *", "30 9 * * 1-5", "0 0 0 13 * Fri", "00:05:00", "1.00:00:00",
		"TZ=UTC", "TZ= 0 0 * * *", "0 0 0 30 2 *", "* * * * * *", "0 0 0 , * *", "0 0 0 * * M-/"} {
		f.Add(seed)
	}
	from := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		if next := s.Next(from); !next.After(from) {
			t.Errorf("Parse(%q).Next(%v): got %v, want a later time", expr, from, next)
		}
	})
}
