package httpserve

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
)

// ErrorLog returns a logger for http.Server.ErrorLog that turns each line
// net/http writes into a record of logger with the message "http server"
// and the line in "error": at error when the server failed to accept a
// connection ("http: Accept error: …; retrying in …", as when the process
// is out of file descriptors) or a handler panicked ("http: panic serving
// …"), at warn for the rest, most of it about a caller's malformed request.
func ErrorLog(logger *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{logger}, "", 0)
}

type errorLogWriter struct{ logger *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	level := slog.LevelWarn
	if strings.Contains(msg, "Accept error") || strings.Contains(msg, "panic serving") {
		level = slog.LevelError
	}
	w.logger.Log(context.Background(), level, "http server", "error", msg)
	return len(p), nil
}
