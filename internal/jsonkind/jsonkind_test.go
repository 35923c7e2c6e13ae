package jsonkind

import "testing"

func TestOfAndArticle(t *testing.T) {
	tests := []struct{ raw, kind, described string }{
		{`{"a":1}`, "object", "an object"},
		{` [1]`, "array", "an array"},
		{`"x"`, "string", "a string"},
		{"\n42", "number", "a number"},
		{`-1.5e3`, "number", "a number"},
		{`true`, "boolean", "a boolean"},
		{`false`, "boolean", "a boolean"},
		{`null`, "null", "null"},
		{" \t", "empty", "an empty"},
	}
	for _, tt := range tests {
		if got := Of([]byte(tt.raw)); got != tt.kind {
			t.Errorf("Of(%q) = %q, want %q", tt.raw, got, tt.kind)
		}
		if got := Article(Of([]byte(tt.raw))); got != tt.described {
			t.Errorf("Article(Of(%q)) = %q, want %q", tt.raw, got, tt.described)
		}
	}
}
