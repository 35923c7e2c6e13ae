package functions

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Logger returns the app's logger: structured lines in the format of
// funcsignalr's own logs, errors on stderr and the rest on stdout, which
// the Functions host collects (stderr at level Error). It may be taken before Run; until Run it writes to
// slog.Default.
func (a *App) Logger() *slog.Logger { return slog.New(lateHandler{target: &a.log}) }

// lateHandler sends records to the logger Run installs, applying the
// attributes and groups it was derived with at that time.
type lateHandler struct {
	target *atomic.Pointer[slog.Logger]
	ops    []func(slog.Handler) slog.Handler
}

func (h lateHandler) handler() slog.Handler {
	l := h.target.Load()
	if l == nil {
		l = slog.Default()
	}
	t := l.Handler()
	for _, op := range h.ops {
		t = op(t)
	}
	return t
}

func (h lateHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.handler().Enabled(ctx, level)
}

func (h lateHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h lateHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lateHandler{target: h.target, ops: append(h.ops[:len(h.ops):len(h.ops)], func(t slog.Handler) slog.Handler { return t.WithAttrs(attrs) })}
}

func (h lateHandler) WithGroup(name string) slog.Handler {
	return lateHandler{target: h.target, ops: append(h.ops[:len(h.ops):len(h.ops)], func(t slog.Handler) slog.Handler { return t.WithGroup(name) })}
}
