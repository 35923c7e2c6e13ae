package funchost

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the handler die with the test process, so a test
// that panics or times out leaves no handler holding its ports.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
