package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "user-1", "user-1"},
		{"exactly the bound", strings.Repeat("a", MaxRunes), strings.Repeat("a", MaxRunes)},
		{"one over", strings.Repeat("a", MaxRunes+1), strings.Repeat("a", MaxRunes) + Ellipsis},
		{"multi-byte within the bound", strings.Repeat("é", MaxRunes), strings.Repeat("é", MaxRunes)},
		{"multi-byte over", strings.Repeat("é", 700), strings.Repeat("é", MaxRunes) + Ellipsis},
		{"600 KB", strings.Repeat("x", 600<<10), strings.Repeat("x", MaxRunes) + Ellipsis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("got %d bytes %.40q…, want %d bytes %.40q…", len(got), got, len(tt.want), tt.want)
			}
			if !utf8.ValidString(got) && utf8.ValidString(tt.in) {
				t.Errorf("got invalid UTF-8 %q from valid input", got)
			}
		})
	}
}

func TestN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"within", "abc", 3, "abc"},
		{"cut", "abcd", 3, "abc" + Ellipsis},
		{"multi-byte within", "ééé", 3, "ééé"},
		{"multi-byte cut, not split", "éééé", 3, "ééé" + Ellipsis},
		{"invalid bytes count one each", "\xff\xfe\xfdz", 3, "\xff\xfe\xfd" + Ellipsis},
		{"zero", "a", 0, Ellipsis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := N(tt.in, tt.max); got != tt.want {
				t.Errorf("N(%q, %d): got %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user-1", `"user-1"`},
		{"a\nb\x00", `"a\nb\x00"`},
		{"\xff", `"\xff"`},
		{strings.Repeat("a", MaxRunes+1), `"` + strings.Repeat("a", MaxRunes) + Ellipsis + `"`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "abc", strings.Repeat("é", 300), "\xff\xfe" + strings.Repeat("z", 250)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if n := utf8.RuneCountInString(got); n > MaxRunes+1 {
			t.Fatalf("got %d characters, want at most %d", n, MaxRunes+1)
		}
		if got != s && !strings.HasSuffix(got, Ellipsis) {
			t.Fatalf("got %q cut without %q", got, Ellipsis)
		}
		if got != s && !strings.HasPrefix(s, strings.TrimSuffix(got, Ellipsis)) {
			t.Fatalf("got %q, want a prefix of the input", got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("got invalid UTF-8 from valid input")
		}
	})
}
