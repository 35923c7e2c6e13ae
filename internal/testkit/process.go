package testkit

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// Process is a child process whose stdout and stderr a test reads as they
// come.
type Process struct {
	Cmd    *exec.Cmd
	Output *Buffer // stdout and stderr, interleaved
	exited chan struct{}
}

// StartProcess starts cmd with its stdout and stderr in one Buffer. At
// cleanup it is interrupted (SIGINT, as Ctrl-C) and killed if still running
// 15 s later; when the test failed, its output is logged.
func StartProcess(tb testing.TB, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Cmd: cmd, Output: &Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
		if tb.Failed() {
			tb.Logf("output of %s:\n%s", cmd.Path, p.Output)
		}
	})
	return p
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitOutput waits until re matches the output and returns the match and
// its submatches. It fails the test if the process exits first or timeout
// passes.
func (p *Process) WaitOutput(tb testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		if m := re.FindStringSubmatch(p.Output.String()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			if m := re.FindStringSubmatch(p.Output.String()); m != nil {
				return m
			}
			tb.Fatalf("%s exited before its output matched %s:\n%s", p.Cmd.Path, re, p.Output)
		case <-deadline:
			tb.Fatalf("the output of %s did not match %s within %v:\n%s", p.Cmd.Path, re, timeout, p.Output)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Eventually polls cond until it holds, failing the test after timeout
// with what was awaited.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
	}
}
