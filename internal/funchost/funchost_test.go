package funchost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeApp(tb testing.TB, host string, functions map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
		tb.Fatal(err)
	}
	for name, fj := range functions {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(fj), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

const httpFunction = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get"],"route":"r1"},{"type":"http","direction":"out","name":"res"}]}`

func TestReadConfig(t *testing.T) {
	tests := []struct {
		name      string
		host      string
		functions map[string]string
		wantErr   string
		wantPath  string
	}{
		{name: "repository app", wantPath: "/api/negotiate"},
		{name: "empty route prefix",
			host:      `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"}},"extensions":{"http":{"routePrefix":""}}}`,
			functions: map[string]string{"f": httpFunction}, wantPath: "/r1"},
		{name: "no executable", host: `{"version":"2.0","customHandler":{"description":{}}}`,
			functions: map[string]string{"f": httpFunction}, wantErr: "DefaultExecutablePath cannot be empty"},
		{name: "old version", host: `{"version":"1.0","customHandler":{"description":{"defaultExecutablePath":"x"}}}`,
			functions: map[string]string{"f": httpFunction}, wantErr: "version"},
		{name: "extra binding", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"}}}`,
			functions: map[string]string{"f": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"queue","direction":"out","name":"q"},{"type":"http","direction":"out","name":"res"}]}`},
			wantErr:   "exactly one"},
		{name: "no functions", host: `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"}}}`, wantErr: "no function folders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("..", "..")
			if tt.host != "" {
				dir = writeApp(t, tt.host, tt.functions)
			}
			cfg, err := ReadConfig(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fn := cfg.Functions[cfg.Names()[0]]
			if got := cfg.PublicPath(fn); got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
		})
	}
}

func TestReadConfigNonHTTPTriggers(t *testing.T) {
	dir := writeApp(t, `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"x"}}}`, map[string]string{
		"tick": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"0 * * * * *"}]}`,
		"work": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"item"},{"type":"queue","direction":"out","name":"out"}]}`,
	})
	cfg, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]string{"tick": {"timertrigger", "myTimer"}, "work": {"queuetrigger", "item"}} {
		fn := cfg.Functions[name]
		if fn.IsHTTP() || fn.Trigger != want[0] || fn.TriggerName != want[1] {
			t.Errorf("%s: %+v, want trigger %s named %s", name, fn, want[0], want[1])
		}
	}
}

func TestRouteMatches(t *testing.T) {
	tests := []struct {
		public, path string
		want         bool
	}{
		{"/api/send", "/api/send", true},
		{"/api/send", "/API/SEND", true},
		{"/api/send", "/api/send/x", false},
		{"/api/signalr/{*rest}", "/api/signalr", true},
		{"/api/signalr/{*rest}", "/api/signalr/chat/messages/x", true},
		{"/api/signalr/{*rest}", "/api/signalrx", false},
	}
	for _, tt := range tests {
		if got := routeMatches(tt.public, tt.path); got != tt.want {
			t.Errorf("routeMatches(%q, %q) = %v, want %v", tt.public, tt.path, got, tt.want)
		}
	}
}
