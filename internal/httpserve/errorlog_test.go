package httpserve

import (
	"strings"
	"testing"
)

// TestErrorLog checks that each line net/http writes to Server.ErrorLog is
// one record, at error for failures to accept and panics, else at warn.
func TestErrorLog(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"accept error",
			"http: Accept error: accept tcp 127.0.0.1:8080: accept4: too many open files; retrying in 5ms",
			`level=ERROR msg="http server" error="http: Accept error: accept tcp 127.0.0.1:8080: accept4: too many open files; retrying in 5ms"`},
		{"panic",
			"http: panic serving 127.0.0.1:50000: boom\ngoroutine 7 [running]:\n",
			`level=ERROR msg="http server" error="http: panic serving 127.0.0.1:50000: boom\ngoroutine 7 [running]:"`},
		{"malformed request",
			"http: URL query contains semicolon, which is no longer a supported separator",
			`level=WARN msg="http server" error="http: URL query contains semicolon, which is no longer a supported separator"`},
		{"TLS handshake", "http: TLS handshake error from 127.0.0.1:50000: EOF",
			`level=WARN msg="http server" error="http: TLS handshake error from 127.0.0.1:50000: EOF"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := logLines()
			ErrorLog(logger).Print(tt.line)
			if got := strings.TrimSuffix(logs.String(), "\n"); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
