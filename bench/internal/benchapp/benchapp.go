// Package benchapp runs a function app in-process for the benchmarks:
// host.json and the given function folders in a temporary directory,
// standalone on free ports, with the embedded local SignalR service. It
// also summarises the latencies they measure.
package benchapp

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/funcsignalr/funcsignalr/functions"
	"github.com/funcsignalr/funcsignalr/internal/apptest"
)

// Function folders' function.json.
const (
	HTTPAnonymous = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},{"type":"http","direction":"out","name":"res"}]}`
	Upstream      = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"signalr/{*rest}"},{"type":"http","direction":"out","name":"res"}]}`
)

// Start runs app with the given folders (name → function.json) until the
// benchmark ends and returns the handler's base URL, http://127.0.0.1:PORT.
func Start(tb testing.TB, app *functions.App, folders map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	write := func(rel, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("host.json", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"},"enableForwardingHttpRequest":true}}`)
	for name, fj := range folders {
		write(filepath.Join(name, "function.json"), fj)
	}
	return apptest.Start(tb, app, dir)
}

// Percentile returns the p-th quantile (0 ≤ p ≤ 1) of d, which must not be
// empty: the value at rank p·(len(d)-1) of the sorted durations, rounded
// down. d itself is left unsorted.
func Percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}
