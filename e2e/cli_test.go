package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandLine runs the built binary with help and with mistakes: help
// prints the usage on stdout and exits 0; an unknown flag or argument prints
// it on stderr and exits 2, without starting a server.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // on stdout for code 0, on stderr otherwise
	}{
		{[]string{"--help"}, 0, "Usage:"},
		{[]string{"-h"}, 0, "Usage:"},
		{[]string{"-port", "9000"}, 2, "flag provided but not defined: -port"},
		{[]string{"serve"}, 2, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(filepath.Join(appRoot, "funcsignalr"), tt.args...)
			cmd.Dir = appRoot
			cmd.Env = []string{"FUNCSIGNALR_ADDR=127.0.0.1:0", "FUNCSIGNALR_LOCAL_ADDR=127.0.0.1:0"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = time.Second
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			err := cmd.Wait()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, &stdout, &stderr)
			}
			out, other := &stdout, &stderr
			if tt.wantCode != 0 {
				out, other = &stderr, &stdout
			}
			if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(out.String(), "Usage:") {
				t.Errorf("got %q, want %q and the usage", out, tt.wantOut)
			}
			if other.Len() > 0 {
				t.Errorf("the other stream got %q, want nothing", other)
			}
		})
	}
}
