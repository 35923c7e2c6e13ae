package hubname_test

import (
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/internal/hubname"
)

func TestProblem(t *testing.T) {
	tests := []struct {
		name string
		want string // "" when the name is valid, else a part of the problem
	}{
		{"a", ""}, {"Chat", ""}, {"chat_1.x`,[]", ""}, {"a" + strings.Repeat("b", 127), ""},
		{"", "hub name is empty"},
		{"1a", `hub name "1a" must start with a letter`},
		{"_a", `hub name "_a" must start with a letter`},
		{"a-b", `hub name "a-b" may only hold letters, digits and _` + "`,.[]"},
		{"a b", `hub name "a b" may only hold`},
		{"a/b", `hub name "a/b" may only hold`},
		{"ä", `hub name "ä" must start with a letter`},
		{"aä", `hub name "aä" may only hold`},
		{"a" + strings.Repeat("b", 128), "hub name is longer than 128 characters"},
	}
	for _, tt := range tests {
		got := hubname.Problem(tt.name)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("Problem(%q): got %q, want %q", tt.name, got, tt.want)
		}
		if valid := hubname.Pattern.MatchString(tt.name); valid != (tt.want == "") {
			t.Errorf("Pattern.MatchString(%q): got %v, want %v", tt.name, valid, tt.want == "")
		}
	}
}
