package msgpackhub

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub/msgpacktest"
)

func TestAppendJSONAsMsgpack(t *testing.T) {
	tests := []struct {
		name string
		json string
		want any // as msgpacktest.Decode returns it
	}{
		{"small int", `1`, int8(1)},
		{"negative int", `-200`, int16(-200)},
		// Positive integers take the unsigned encodings, as MessagePack-CSharp
		// and @msgpack/msgpack write them.
		{"int64 max", `9223372036854775807`, uint64(math.MaxInt64)},
		{"uint32", `4294967295`, uint32(math.MaxUint32)},
		{"int64 min", `-9223372036854775808`, int64(math.MinInt64)},
		{"uint64 only", `18446744073709551615`, uint64(math.MaxUint64)},
		{"past uint64", `18446744073709551616`, float64(18446744073709551616)},
		{"below int64", `-9223372036854775809`, float64(-9223372036854775808)},
		{"fraction", `1.5`, float64(1.5)},
		{"integral fraction stays float", `2.0`, float64(2)},
		{"exponent stays float", `1e3`, float64(1000)},
		{"float64 not float32", `0.1`, float64(0.1)},
		{"overflow is infinity", `1e400`, math.Inf(1)},
		{"string", `"héllo\n"`, "héllo\n"},
		{"true", `true`, true},
		{"null", `null`, nil},
		{"array", `[1,"a",[null]]`, []any{int8(1), "a", []any{nil}}},
		{"empty array", `[]`, []any{}},
		{"map keeps key order", `{"z":1,"a":{"m":[]},"b":false}`, [][2]any{{"z", int8(1)}, {"a", [][2]any{{"m", []any{}}}}, {"b", false}}},
		{"whitespace", " [ 1 , 2 ] \n", []any{int8(1), int8(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendJSONAsMsgpack(nil, []byte(tt.json))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			got := msgpacktest.Decode(t, b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestAppendJSONAsMsgpackErrors(t *testing.T) {
	for _, in := range []string{``, `[1,`, `{"a"}`, `1 2`, `[1]]`, `nul`, `{"a":1,}`} {
		if b, err := AppendJSONAsMsgpack([]byte("keep"), []byte(in)); err == nil {
			t.Errorf("%q: got % x, want an error", in, b)
		} else if string(b) != "keep" {
			t.Errorf("%q: got dst %q after an error, want it unchanged", in, b)
		}
	}
}

func TestAppendMsgpackAsJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 18, 0, 0, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", []byte{0xc0}, `null`},
		{"bools", []byte{0x92, 0xc2, 0xc3}, `[false,true]`},
		{"fixint", []byte{0x05}, `5`},
		{"negative fixint", []byte{0xff}, `-1`},
		{"int64 min", msgpacktest.Encode(t, int64(math.MinInt64)), `-9223372036854775808`},
		{"uint64 max", msgpacktest.Encode(t, uint64(math.MaxUint64)), `18446744073709551615`},
		{"uint8", []byte{0xcc, 0xff}, `255`},
		{"float32 shortest", msgpacktest.Encode(t, float32(0.1)), `0.1`},
		{"float64", msgpacktest.Encode(t, 0.1), `0.1`},
		{"float64 large", msgpacktest.Encode(t, 1e300), `1e+300`},
		{"string escapes", msgpacktest.Encode(t, "a\"b\\\n<"), `"a\"b\\\n\u003c"`},
		{"binary is base64", msgpacktest.Encode(t, []byte{0, 1, 2, 255}), `"AAEC/w=="`},
		{"timestamp", msgpacktest.Encode(t, ts), `"2026-11-29T17:00:00.123456789Z"`},
		{"timestamp 32-bit", []byte{0xd6, 0xff, 0x00, 0x00, 0x00, 0x01}, `"1970-01-01T00:00:01Z"`},
		{"map keeps order", []byte{0x82, 0xa1, 'z', 0x01, 0xa1, 'a', 0x02}, `{"z":1,"a":2}`},
		{"int key", []byte{0x81, 0x07, 0xc3}, `{"7":true}`},
		{"nil and bool keys", []byte{0x82, 0xc0, 0x01, 0xc2, 0x02}, `{"null":1,"false":2}`},
		{"binary key", []byte{0x81, 0xc4, 0x01, 0xff, 0x00}, `{"/w==":0}`},
		{"nested", []byte{0x91, 0x81, 0xa1, 'k', 0x90}, `[{"k":[]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendMsgpackAsJSON(nil, tt.in)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAppendMsgpackAsJSONErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "ends early"},
		{"truncated string", []byte{0xa3, 'a'}, "ends early"},
		{"truncated array", []byte{0x92, 0x01}, "ends early"},
		{"huge array claim", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, "ends early"},
		{"trailing bytes", []byte{0x01, 0x02}, "after the MessagePack value"},
		{"NaN", msgpacktest.Encode(t, math.NaN()), "no JSON form"},
		{"infinity", msgpacktest.Encode(t, math.Inf(-1)), "no JSON form"},
		{"unknown extension", []byte{0xd4, 0x05, 0x00}, "extension type 5"},
		{"bad timestamp length", []byte{0xd5, 0xff, 0x00, 0x00}, "want 4, 8 or 12"},
		{"array key", []byte{0x81, 0x90, 0x01}, "map key"},
		{"never used byte", []byte{0xc1}, "0xc1"},
		{"too deep", bytes.Repeat([]byte{0x91}, maxDepth+2), "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendMsgpackAsJSON([]byte("keep"), tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if string(got) != "keep" {
				t.Errorf("got dst %q after an error, want it unchanged", got)
			}
		})
	}
}

// jsonEqual reports whether a and b hold the same JSON value, numbers
// compared as float64.
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		tb.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		tb.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// FuzzJSONRoundTrip converts valid JSON to MessagePack and back: the value
// must survive (numbers as float64, what JSON readers see), and integers
// written as integers must come back as the same text.
func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range []string{`[1,-2,3.5,"x",true,null,{"a":[{}]}]`, `18446744073709551615`, `-9223372036854775808`, `{"b":1,"a":2}`, `"\u00e9\ud83d\ude00"`, `1e400`, `-0`, `0.000001`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			if _, err := AppendJSONAsMsgpack(nil, in); err == nil {
				t.Fatalf("%q is not valid JSON, but converted", in)
			}
			return
		}
		mp, err := AppendJSONAsMsgpack(nil, in)
		if err != nil {
			if strings.Contains(err.Error(), "nested") {
				return
			}
			t.Fatalf("valid JSON %q: %v", in, err)
		}
		back, err := AppendMsgpackAsJSON(nil, mp)
		if err != nil {
			if strings.Contains(err.Error(), "no JSON form") { // ±Inf from an overflowing number
				return
			}
			t.Fatalf("%q → % x → %v", in, mp, err)
		}
		if !jsonEqual(t, in, back) {
			t.Fatalf("%q came back as %s", in, back)
		}
	})
}

// FuzzMsgpackToJSON converts arbitrary bytes: it never panics, and whatever
// converts is valid JSON that converts back to the same JSON.
func FuzzMsgpackToJSON(f *testing.F) {
	f.Add(msgpacktest.Encode(f, []any{1, "a", nil, true, 1.5, map[string]any{"k": []byte{1}}}))
	f.Add(msgpacktest.Encode(f, time.Unix(1, 2)))
	f.Add([]byte{0x81, 0x07, 0xc3})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xca, 0x7f, 0xc0, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		js, err := AppendMsgpackAsJSON(nil, in)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("% x → %s, which is not valid JSON", in, js)
		}
		mp, err := AppendJSONAsMsgpack(nil, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		again, err := AppendMsgpackAsJSON(nil, mp)
		if err != nil {
			t.Fatalf("%s → % x: %v", js, mp, err)
		}
		if !jsonEqual(t, js, again) {
			t.Fatalf("%s came back as %s", js, again)
		}
	})
}
