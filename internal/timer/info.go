package timer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/jsonkind"
)

// Info is the TimerInfo of one timer invocation: as the Functions host
// sends it to a custom handler in Data.<binding name> (JObject.FromObject
// of the extension's TimerInfo), which json.Unmarshal and DecodeInfo read,
// and as funcsignalr fills it when it fires timers itself, standalone:
//
//	{"Schedule":{"AdjustForDST":true},
//	 "ScheduleStatus":{"Last":"…","Next":"…","LastUpdated":"…"},
//	 "IsPastDue":false}
type Info struct {
	Schedule TimerSchedule `json:"Schedule"`
	// ScheduleStatus is nil (JSON null) when the schedule is not monitored:
	// useMonitor false in function.json, or a schedule that fires more
	// often than once a minute.
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	// IsPastDue is true when this invocation runs later than its scheduled
	// occurrence (standalone: more than a second late, for instance because
	// the previous run was still going).
	IsPastDue bool `json:"IsPastDue"`
}

// TimerSchedule describes the invocation's schedule as the host writes it.
type TimerSchedule struct {
	// AdjustForDST is true for NCRONTAB schedules and false for TimeSpan
	// ones, as the extension's CronSchedule and ConstantSchedule report it.
	AdjustForDST bool `json:"AdjustForDST"`
}

// ScheduleStatus is the host's record of a monitored schedule, as the
// function sees it while it runs (github.com/Azure/azure-functions-dotnet-worker
// issue 954 discusses these semantics):
//
//   - Last: when the previous run of this function happened (zero before the
//     first run);
//   - Next: the occurrence this run was scheduled for (the extension updates
//     the record only after the run);
//   - LastUpdated: when the record was last written (zero before the first
//     run).
//
// The zero time stands for the host's "unset" value, DateTime.MinValue,
// written 0001-01-01T00:00:00+00:00.
type ScheduleStatus struct {
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

// hostTimeLayout is how Newtonsoft.Json writes a DateTime of local kind
// (IsoDateFormat): seven optional fraction digits and a numeric offset, never
// "Z".
const hostTimeLayout = "2006-01-02T15:04:05.9999999-07:00"

// readLayouts are the timestamp forms DecodeInfo accepts: RFC 3339 with or
// without fraction, and the same without a zone (older hosts wrote the unset
// value as "0001-01-01T00:00:00"; azure-functions-host issue 7391).
var readLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// unsetBefore mirrors the extension's ScheduleMonitor.DefaultDateTimeThreshold
// (DateTime.MinValue plus one year): anything earlier means "unset". It also
// covers DateTime.MinValue written in a zone east of UTC
// ("0001-01-01T01:00:00+01:00").
var unsetBefore = time.Date(2, time.January, 1, 0, 0, 0, 0, time.UTC)

// MarshalJSON writes the status the way the host does: each time with its
// offset ("2026-11-29T18:00:00+00:00"), the zero time as
// "0001-01-01T00:00:00+00:00".
func (s ScheduleStatus) MarshalJSON() ([]byte, error) {
	format := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00+00:00"
		}
		return t.Format(hostTimeLayout)
	}
	return json.Marshal(struct {
		Last        string `json:"Last"`
		Next        string `json:"Next"`
		LastUpdated string `json:"LastUpdated"`
	}{format(s.Last), format(s.Next), format(s.LastUpdated)})
}

// UnmarshalJSON reads a status leniently: each time may be RFC 3339 with or
// without a fraction or a zone (no zone = UTC, the host's default time zone),
// null or missing (= zero); a time before year 2 is the zero time.
func (s *ScheduleStatus) UnmarshalJSON(data []byte) error {
	var raw struct {
		Last        json.RawMessage
		Next        json.RawMessage
		LastUpdated json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	var out ScheduleStatus
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *time.Time
	}{
		{"Last", raw.Last, &out.Last},
		{"Next", raw.Next, &out.Next},
		{"LastUpdated", raw.LastUpdated, &out.LastUpdated},
	} {
		t, err := parseHostTime(f.raw)
		if err != nil {
			return fmt.Errorf("ScheduleStatus.%s: %w", f.name, err)
		}
		*f.dst = t
	}
	*s = out
	return nil
}

func parseHostTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return time.Time{}, fmt.Errorf("want a timestamp string or null, got %s", clip.N(string(raw), maxEchoed))
	}
	for _, layout := range readLayouts {
		t, err := time.Parse(layout, str)
		if err != nil {
			continue
		}
		if t.Before(unsetBefore) {
			return time.Time{}, nil
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (such as 2026-11-29T18:00:00Z, with or without the zone)", clip.N(str, maxEchoed))
}

// maxEchoed is how many characters of a bad value an error quotes.
const maxEchoed = 64

// DecodeInfo reads the TimerInfo the host sends a custom handler as
// Data.<timer binding name>. It is lenient where hosts differ: field names in
// any case, timestamps with or without a zone or fraction,
// "0001-01-01T00:00:00" for unset, missing or null Schedule, ScheduleStatus,
// IsPastDue and times. It fails on what is not a TimerInfo at all (not a JSON
// object, a wrongly typed field, a malformed timestamp), saying where.
func DecodeInfo(raw []byte) (Info, error) {
	raw = bytes.TrimSpace(raw)
	// Malformed JSON is left to json.Unmarshal, whose error says where.
	if kind := jsonkind.Of(raw); kind == "empty" || kind != "object" && json.Valid(raw) {
		return Info{}, fmt.Errorf("decode timer info: want a JSON object, got %s", jsonkind.Article(kind))
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Info{}, fmt.Errorf("decode timer info: %s must be a JSON %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return Info{}, fmt.Errorf("decode timer info: %w", err)
	}
	return info, nil
}
