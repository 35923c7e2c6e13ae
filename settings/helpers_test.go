package settings_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/testkit"
	"github.com/funcsignalr/funcsignalr/settings"
)

// valuesOf builds Values from one source given as key, value pairs.
func valuesOf(tb testing.TB, kv ...string) *settings.Values {
	tb.Helper()
	if len(kv)%2 != 0 {
		tb.Fatalf("valuesOf: odd number of arguments %q", kv)
	}
	pairs := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		pairs[kv[i]] = kv[i+1]
	}
	return settings.NewValues(discardLogger(), settings.Source{Name: "test", Pairs: pairs})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// captureLogger returns a logger whose text output (debug and up) lands in the buffer.
func captureLogger(tb testing.TB) (*slog.Logger, *testkit.Buffer) {
	tb.Helper()
	buf := &testkit.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// writeFile writes content to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name string, content []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// checkError asserts err is a *apierror.Error for key whose text holds
// every want and no notWant.
func checkError(tb testing.TB, err error, key string, want, notWant []string) {
	tb.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want *apierror.Error", err, err)
	}
	if e.Key != key {
		tb.Errorf("Key: got %q, want %q (error %q)", e.Key, key, err)
	}
	checkText(tb, "error", err.Error(), want, notWant)
}

// checkText asserts that got, the text of what (an error, a log), holds
// every want and no notWant.
func checkText(tb testing.TB, what, got string, want, notWant []string) {
	tb.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			tb.Errorf("%s: got %q, want it to contain %q", what, got, w)
		}
	}
	for _, nw := range notWant {
		if strings.Contains(got, nw) {
			tb.Errorf("%s: got %q, want it not to contain %q", what, got, nw)
		}
	}
}

// mustResolve resolves the connection of setting from kv (key, value
// pairs) and fails the test on an error.
func mustResolve(tb testing.TB, setting string, opts settings.Options, kv ...string) *settings.Connection {
	tb.Helper()
	c, err := settings.Resolve(valuesOf(tb, kv...), setting, opts)
	if err != nil {
		tb.Fatalf("Resolve: got error %v, want nil", err)
	}
	return c
}
