package timer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeInfo(t *testing.T) {
	at := func(s string) time.Time { return utc(t, s) }
	tests := []struct {
		name, raw string
		want      Info
	}{
		{"host payload, times with offset",
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-29T17:55:00+00:00","Next":"2026-11-29T18:00:00+00:00","LastUpdated":"2026-11-29T17:55:00.0024370+00:00"},"IsPastDue":false}`,
			Info{Schedule: TimerSchedule{AdjustForDST: true}, ScheduleStatus: &ScheduleStatus{
				Last: at("2026-11-29T17:55:00Z"), Next: at("2026-11-29T18:00:00Z"), LastUpdated: at("2026-11-29T17:55:00.002437Z")}}},
		{"older host: unset times without a zone",
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-29T18:00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":true}`,
			Info{Schedule: TimerSchedule{AdjustForDST: true}, ScheduleStatus: &ScheduleStatus{Next: at("2026-11-29T18:00:00Z")}, IsPastDue: true}},
		{"unset written with a zone east of UTC",
			`{"ScheduleStatus":{"Last":"0001-01-01T01:00:00+01:00","Next":"2026-11-29T19:00:00+01:00","LastUpdated":"0001-01-01T00:00:00+00:00"}}`,
			Info{ScheduleStatus: &ScheduleStatus{Next: at("2026-11-29T18:00:00Z")}}},
		{"Z and fraction",
			`{"ScheduleStatus":{"Next":"2026-11-29T18:00:00.5Z"}}`,
			Info{ScheduleStatus: &ScheduleStatus{Next: at("2026-11-29T18:00:00.5Z")}}},
		{"unmonitored: ScheduleStatus null",
			`{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":false}`,
			Info{}},
		{"2018 documentation sample: empty Schedule", `{"Schedule":{},"IsPastDue":false}`, Info{}},
		{"null times", `{"ScheduleStatus":{"Last":null,"Next":null,"LastUpdated":null}}`, Info{ScheduleStatus: &ScheduleStatus{}}},
		{"camelCase names", `{"schedule":{"adjustForDST":true},"isPastDue":true}`,
			Info{Schedule: TimerSchedule{AdjustForDST: true}, IsPastDue: true}},
		{"empty object and unknown fields", ` {"Extra":[1,2]} `, Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeInfo([]byte(tt.raw))
			if err != nil {
				t.Fatalf("DecodeInfo: got error %v, want none", err)
			}
			if !infoEqual(got, tt.want) {
				t.Errorf("DecodeInfo:\n got %s\nwant %s", describe(got), describe(tt.want))
			}
		})
	}
}

func infoEqual(a, b Info) bool {
	if a.Schedule != b.Schedule || a.IsPastDue != b.IsPastDue || (a.ScheduleStatus == nil) != (b.ScheduleStatus == nil) {
		return false
	}
	if a.ScheduleStatus == nil {
		return true
	}
	x, y := a.ScheduleStatus, b.ScheduleStatus
	return x.Last.Equal(y.Last) && x.Next.Equal(y.Next) && x.LastUpdated.Equal(y.LastUpdated)
}

func describe(in Info) string {
	b, _ := json.Marshal(in)
	return string(b)
}

func TestDecodeInfoErrors(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
	}{
		{``, []string{"want a JSON object"}},
		{`null`, []string{"want a JSON object", "null"}},
		{`[]`, []string{"want a JSON object"}},
		{`"x"`, []string{"want a JSON object, got a string"}},
		{`[1,2]`, []string{"want a JSON object, got an array"}},
		{`xyz`, []string{"decode timer info", "invalid character 'x'"}},
		{`{"ScheduleStatus":{"Last":"` + strings.Repeat("é", 100) + `"}}`, []string{`"` + strings.Repeat("é", 64) + `…" is not an RFC 3339`}},
		{`{"IsPastDue":"yes"}`, []string{"IsPastDue must be a JSON bool", "string"}},
		{`{"Schedule":{"AdjustForDST":1}}`, []string{"Schedule.AdjustForDST must be a JSON bool"}},
		{`{"ScheduleStatus":{"Last":"yesterday"}}`, []string{"ScheduleStatus.Last", `"yesterday" is not an RFC 3339 timestamp`}},
		{`{"ScheduleStatus":{"Next":5}}`, []string{"ScheduleStatus.Next", "want a timestamp string or null, got 5"}},
		{`{"ScheduleStatus":{"LastUpdated":"2026-13-01T00:00:00Z"}}`, []string{"ScheduleStatus.LastUpdated"}},
		{`{"ScheduleStatus":[]}`, []string{"decode timer info"}},
		{`{"IsPastDue":true`, []string{"decode timer info", "unexpected end"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := DecodeInfo([]byte(tt.raw))
			if err == nil {
				t.Fatalf("DecodeInfo(%s): got %s and no error, want an error", tt.raw, describe(got))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("DecodeInfo(%s) error: got %q, want it to contain %q", tt.raw, err, w)
				}
			}
		})
	}
}

func TestInfoJSON(t *testing.T) {
	plus2 := time.FixedZone("", 2*60*60)
	tests := []struct {
		name string
		in   Info
		want string
	}{
		{"monitored, before the first run",
			Info{Schedule: TimerSchedule{AdjustForDST: true}, ScheduleStatus: &ScheduleStatus{Next: time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)}},
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00+00:00","Next":"2026-11-29T18:00:00+00:00","LastUpdated":"0001-01-01T00:00:00+00:00"},"IsPastDue":false}`},
		{"fractions to 100ns and a zone",
			Info{ScheduleStatus: &ScheduleStatus{
				Last:        time.Date(2026, 11, 29, 19, 55, 0, 2437099, plus2),
				Next:        time.Date(2026, 11, 29, 20, 0, 0, 0, plus2),
				LastUpdated: time.Date(2026, 11, 29, 19, 55, 0, 500000000, plus2)}, IsPastDue: true},
			`{"Schedule":{"AdjustForDST":false},"ScheduleStatus":{"Last":"2026-11-29T19:55:00.002437+02:00","Next":"2026-11-29T20:00:00+02:00","LastUpdated":"2026-11-29T19:55:00.5+02:00"},"IsPastDue":true}`},
		{"unmonitored", Info{Schedule: TimerSchedule{AdjustForDST: true}},
			`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("json.Marshal:\n got %s\nwant %s", b, tt.want)
			}
			back, err := DecodeInfo(b)
			if err != nil {
				t.Fatalf("DecodeInfo(json.Marshal(info)): %v", err)
			}
			if describe(back) != tt.want {
				t.Errorf("round trip:\n got %s\nwant %s", describe(back), tt.want)
			}
		})
	}
}

// FuzzDecodeInfo checks that DecodeInfo never panics, and that what it
// accepts encodes to JSON it reads back to the same encoding.
func FuzzDecodeInfo(f *testing.F) {
	for _, seed := range []string{
		`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-29T17:55:00+00:00","Next":"2026-11-29T18:00:00+00:00","LastUpdated":"2026-11-29T17:55:00.0024370+00:00"},"IsPastDue":false}`,
		`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-29T18:00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":true}`,
		`{"ScheduleStatus":{"Last":"0001-01-01T01:00:00+01:00","Next":"0001-12-31T23:00:00-05:00"}}`,
		`{"ScheduleStatus":null}`,
		`{"schedule":{},"isPastDue":true}`,
		`{"ScheduleStatus":{"Next":5}}`,
		`null`, `{`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		info, err := DecodeInfo(raw)
		if err != nil {
			return
		}
		first, err := json.Marshal(info)
		if err != nil {
			t.Fatalf("json.Marshal of a decoded info: %v", err)
		}
		again, err := DecodeInfo(first)
		if err != nil {
			t.Fatalf("DecodeInfo(%s), its own encoding: %v", first, err)
		}
		second, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if string(first) != string(second) {
			t.Errorf("encoding not stable:\n first %s\nsecond %s", first, second)
		}
	})
}
