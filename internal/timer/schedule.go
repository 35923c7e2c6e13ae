// Package timer runs timer-triggered functions without the Azure Functions
// host, the way the host's timer extension (Microsoft.Azure.WebJobs.Extensions,
// Timers) does: it parses a function.json schedule (NCRONTAB or a TimeSpan),
// fires each job on that schedule, honours runOnStartup, never overlaps a job
// with itself, and hands every run the TimerInfo the host would: Schedule,
// ScheduleStatus (Last/Next/LastUpdated, null when the schedule is not
// monitored) and IsPastDue. It also reads the TimerInfo that the host sends a
// custom handler in Data.<binding>, leniently (timestamps with or without a
// zone, 0001-01-01T00:00:00 for "unset").
//
// The clock is injected (Clock; FakeClock for tests), so nothing here sleeps
// on a real schedule in tests.
package timer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed function.json "schedule": an NCRONTAB expression or a
// TimeSpan interval. The zero Schedule never fires. Build one with Parse.
type Schedule struct {
	expr string
	// spec is set for NCRONTAB expressions.
	spec *cron.SpecSchedule
	// interval is set for TimeSpan schedules.
	interval time.Duration
}

// Fields of an NCRONTAB expression with seconds, in order, named as on
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions.
var fieldNames = [6]string{"{second}", "{minute}", "{hour}", "{day}", "{month}", "{day-of-week}"}

// Full English names, as NCrontab (the library the host uses) knows them.
// NCrontab accepts any case-insensitive prefix of a name ("Mon", "mon",
// "Monday", even "M"), the first name in this order winning.
var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

var (
	// Both parsers take day-of-month, month and day-of-week; robfig/cron fills
	// seconds with 0 when the field is left out.
	parserWithSeconds    = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	parserWithoutSeconds = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
)

// The high bit robfig/cron sets in a field parsed from "*" or "?"
// (github.com/robfig/cron/v3 spec.go, starBit).
const starBit = 1 << 63

// never is how far Next looks ahead before deciding a schedule has no further
// occurrence. NCrontab combines day-of-month and day-of-week with AND, so a
// schedule such as "0 0 0 29 2 1" (29 February on a Monday) fires once every
// 28 years or so.
const never = 50

// Parse reads a function.json timer schedule, as the host's timer extension
// accepts it:
//
//   - NCRONTAB with six fields, "{second} {minute} {hour} {day} {month} {day-of-week}";
//   - NCRONTAB with five fields (no seconds; the extension assumes a seconds
//     field only when there are not exactly five fields);
//   - a .NET TimeSpan, "hh:mm:ss", "hh:mm", "d.hh:mm:ss" or "d" (days),
//     optionally with fractional seconds; it must be greater than zero.
//
// Fields follow NCrontab: numbers, *, ranges (1-5), lists (1,3), steps (*/5,
// 5/15 = 5-59/15); months 1-12 and days of the week 0-6 (0 = Sunday; 7 is not
// accepted) or their English names and any prefix of them (Jan, Mon, Monday).
// Where robfig/cron and NCrontab differ, Parse follows NCrontab: a day must
// match both the {day} and the {day-of-week} field ("0 0 0 13 * Fri" is
// Friday the 13th, not every 13th and every Friday); "?", "TZ=", "CRON_TZ="
// and "@" descriptors are refused. App-setting references (%name%) are not
// resolved here. Errors name the expression and say what is wrong.
func Parse(expr string) (Schedule, error) {
	trimmed := strings.TrimSpace(expr)
	fields := strings.Fields(trimmed)
	switch {
	case trimmed == "":
		return Schedule{}, fmt.Errorf("timer schedule %q is empty: want NCRONTAB \"{second} {minute} {hour} {day} {month} {day-of-week}\" or a TimeSpan such as 00:05:00", expr)
	case len(fields) == 1:
		d, err := parseTimeSpan(trimmed)
		if err != nil {
			return Schedule{}, fmt.Errorf("timer schedule %q: %w", expr, err)
		}
		return Schedule{expr: trimmed, interval: d}, nil
	case len(fields) != 5 && len(fields) != 6:
		return Schedule{}, fmt.Errorf("timer schedule %q has %d fields: NCRONTAB needs 6, \"{second} {minute} {hour} {day} {month} {day-of-week}\", or 5 without {second}", expr, len(fields))
	}
	spec, err := parseCron(fields)
	if err != nil {
		return Schedule{}, fmt.Errorf("timer schedule %q: %w", expr, err)
	}
	s := Schedule{expr: strings.Join(fields, " "), spec: spec}
	// Any reference time does: whether a day exists (30 February) does not
	// depend on it.
	if s.Next(time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, fmt.Errorf("timer schedule %q never fires: no date matches its {day}, {month} and {day-of-week} fields together", expr)
	}
	return s, nil
}

// parseCron parses 5 or 6 NCRONTAB fields with robfig/cron, after turning
// NCrontab's day and month names into numbers.
func parseCron(fields []string) (*cron.SpecSchedule, error) {
	names := fieldNames[:]
	parser := parserWithSeconds
	if len(fields) == 5 {
		names = fieldNames[1:]
		parser = parserWithoutSeconds
	}
	normalized := make([]string, len(fields))
	for i, f := range fields {
		if at := strings.IndexAny(f, "?=@"); at >= 0 {
			hint := map[byte]string{
				'?': "use * for any value",
				'=': "the time zone comes from WEBSITE_TIME_ZONE, not the expression",
				'@': "descriptors such as @daily are not NCRONTAB",
			}[f[at]]
			return nil, fmt.Errorf("the %s field %q uses %q, which NCRONTAB does not accept (%s)", names[i], f, f[at:at+1], hint)
		}
		var err error
		switch names[i] {
		case "{month}":
			normalized[i], err = replaceNames(f, monthNames, 1)
		case "{day-of-week}":
			normalized[i], err = replaceNames(f, dayNames, 0)
		default:
			normalized[i] = f
		}
		if err != nil {
			return nil, fmt.Errorf("the %s field %q: %w", names[i], f, err)
		}
	}
	sched, err := parser.Parse(strings.Join(normalized, " "))
	if err != nil {
		return nil, fmt.Errorf("%s%w", blame(parser, normalized, names), err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unexpected schedule type %T from robfig/cron", sched)
	}
	bits := []uint64{spec.Minute, spec.Hour, spec.Dom, spec.Month, spec.Dow}
	if len(fields) == 6 {
		bits = append([]uint64{spec.Second}, bits...)
	}
	for i, b := range bits {
		if b&^starBit == 0 {
			return nil, fmt.Errorf("the %s field %q names no value", names[i], fields[i])
		}
	}
	return spec, nil
}

// blame finds the field robfig/cron refused, by parsing each field alone with
// the others set to *, so that an error can name it ("the {hour} field
// \"25\": ...").
func blame(parser cron.Parser, fields, names []string) string {
	for i := range fields {
		probe := make([]string, len(fields))
		for j := range probe {
			probe[j] = "*"
		}
		probe[i] = fields[i]
		if _, err := parser.Parse(strings.Join(probe, " ")); err != nil {
			return fmt.Sprintf("the %s field %q: ", names[i], fields[i])
		}
	}
	return ""
}

// replaceNames turns each name in a {month} or {day-of-week} field into its
// number, the way NCrontab reads names: a case-insensitive prefix of the full
// English name, first match wins. Only whole values of a list or range are
// names; a step (after /) is always a number.
func replaceNames(field string, names []string, first int) (string, error) {
	items := strings.Split(field, ",")
	for i, item := range items {
		rng, step, hasStep := strings.Cut(item, "/")
		bounds := strings.Split(rng, "-")
		for j, b := range bounds {
			if b == "" || !isLetters(b) {
				continue
			}
			n := -1
			for k, name := range names {
				if len(b) <= len(name) && strings.EqualFold(name[:len(b)], b) {
					n = k + first
					break
				}
			}
			if n < 0 {
				return "", fmt.Errorf("%q is not a name; use a number or one of %s (or a prefix such as %.3s)", b, strings.Join(names, ", "), names[1])
			}
			bounds[j] = strconv.Itoa(n)
		}
		items[i] = strings.Join(bounds, "-")
		if hasStep {
			items[i] += "/" + step
		}
	}
	return strings.Join(items, ","), nil
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// timeSpanPattern is the .NET TimeSpan "c"/"g" shape the host parses with
// TimeSpan.TryParse: [d.]hh:mm[:ss[.fffffff]], or a whole number of days.
var timeSpanPattern = regexp.MustCompile(`^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)

// parseTimeSpan reads a TimeSpan schedule. Hours must be 0-23 and minutes and
// seconds 0-59, as TimeSpan.TryParse requires; a day or more is written
// d.hh:mm:ss.
func parseTimeSpan(s string) (time.Duration, error) {
	const want = "want NCRONTAB (6 or 5 fields separated by spaces) or a TimeSpan hh:mm:ss or d.hh:mm:ss"
	if days, err := strconv.ParseUint(s, 10, 16); err == nil {
		if days == 0 {
			return 0, fmt.Errorf("a TimeSpan schedule must be greater than zero")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	m := timeSpanPattern.FindStringSubmatch(s)
	if m == nil {
		if strings.HasPrefix(s, "-") {
			return 0, fmt.Errorf("a TimeSpan schedule must be greater than zero")
		}
		return 0, fmt.Errorf("not a valid schedule: %s", want)
	}
	num := func(i int) int {
		if m[i] == "" {
			return 0
		}
		n, _ := strconv.Atoi(m[i]) // digits only, at most 5 of them for days below
		return n
	}
	if len(m[1]) > 5 {
		return 0, fmt.Errorf("TimeSpan days %s out of range", m[1])
	}
	days, hours, minutes, seconds := num(1), num(2), num(3), num(4)
	switch {
	case hours > 23:
		return 0, fmt.Errorf("TimeSpan hours %d out of range 0-23 (write a day or more as d.hh:mm:ss)", hours)
	case minutes > 59:
		return 0, fmt.Errorf("TimeSpan minutes %d out of range 0-59", minutes)
	case seconds > 59:
		return 0, fmt.Errorf("TimeSpan seconds %d out of range 0-59", seconds)
	}
	var frac time.Duration
	if m[5] != "" {
		f, _ := strconv.Atoi((m[5] + "000000000")[:9]) // nine digits: nanoseconds
		frac = time.Duration(f)
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour +
		time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second + frac
	if d <= 0 {
		return 0, fmt.Errorf("a TimeSpan schedule must be greater than zero")
	}
	return d, nil
}

// Next returns the first occurrence strictly after after, in after's
// location; the zero time when there is none (the zero Schedule, or no
// matching date within 50 years).
//
// An NCRONTAB schedule is evaluated on the wall clock of after's location
// (robfig/cron: a time skipped by a daylight-saving change is skipped, a
// repeated one fires once). A TimeSpan schedule fires at after plus the
// interval, as the host's ConstantSchedule does: the runner passes the time
// the previous run started, so intervals are not aligned to the clock.
func (s Schedule) Next(after time.Time) time.Time {
	switch {
	case s.interval > 0:
		return after.Add(s.interval)
	case s.spec == nil:
		return time.Time{}
	}
	limit := after.AddDate(never, 0, 0)
	t := after
	for {
		c := s.spec.Next(t)
		if c.IsZero() || c.After(limit) {
			return time.Time{}
		}
		// robfig/cron matches either the day of month or the day of week
		// when both fields are restricted; NCrontab requires both.
		if s.spec.Dom&(1<<uint(c.Day())) != 0 && s.spec.Dow&(1<<uint(c.Weekday())) != 0 {
			return c
		}
		y, m, d := c.Date()
		t = time.Date(y, m, d+1, 0, 0, 0, 0, c.Location()).Add(-time.Nanosecond)
	}
}

// String returns the expression as written in function.json (spaces
// normalized).
func (s Schedule) String() string { return s.expr }

// monitored reports whether the host would monitor this schedule (persist
// its status and report ScheduleStatus) given function.json's useMonitor
// (true when absent). The host turns monitoring off for a TimeSpan under one
// minute and for a cron schedule with more than one occurrence in the minute
// after start-up (TimerSchedule.Create in azure-webjobs-sdk-extensions); here
// a cron schedule is unmonitored when its {second} field names more than one
// second, i.e. whenever it fires more than once in some minute, which does
// not depend on the time of start-up.
func (s Schedule) monitored(useMonitor bool) bool {
	switch {
	case !useMonitor:
		return false
	case s.interval > 0:
		return s.interval >= time.Minute
	case s.spec == nil:
		return false
	}
	seconds := s.spec.Second &^ starBit
	return seconds&(seconds-1) == 0 // at most one bit set
}

// adjustForDST is what the host reports as Schedule.AdjustForDST: true for
// cron schedules, false for a TimeSpan (ConstantSchedule).
func (s Schedule) adjustForDST() bool { return s.spec != nil }
