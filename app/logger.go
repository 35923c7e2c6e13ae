package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// newLogger logs text lines: errors to stderr, everything else to stdout.
// The Functions host logs a handler's stdout at Information and its stderr
// at Error, so the split keeps levels meaningful in Application Insights.
func newLogger(stdout, stderr io.Writer, level string) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	return slog.New(splitHandler{
		out: slog.NewTextHandler(stdout, opts),
		err: slog.NewTextHandler(stderr, opts),
	})
}

// splitHandler sends records at error level and above to err, the rest to out.
type splitHandler struct{ out, err slog.Handler }

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.out.Enabled(ctx, l) }

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		return h.err.Handle(ctx, r)
	}
	return h.out.Handle(ctx, r)
}

func (h splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return splitHandler{out: h.out.WithAttrs(attrs), err: h.err.WithAttrs(attrs)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{out: h.out.WithGroup(name), err: h.err.WithGroup(name)}
}
