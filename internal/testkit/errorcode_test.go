package testkit

import "testing"

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"an error", `{"error":{"code":"NotFound","message":"no such hub"}}`, "NotFound"},
		{"an error without a message", `{"error":{"code":"InvalidJson"}}`, "InvalidJson"},
		{"a success", `{"url":"http://x","accessToken":"t"}`, ""},
		{"an empty body", ``, ""},
		{"not JSON", `Bad Request`, ""},
		{"JSON after the code", `{"error":{"code":"Late"}} trailing`, ""},
		{"a code that is not a string", `{"error":{"code":42}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.body); got != tt.want {
				t.Errorf("ErrorCode(%q): got %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}
