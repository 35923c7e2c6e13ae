package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/funcsignalr/funcsignalr/internal/testkit"
)

// children are the processes this program started; killAll ends them when
// it is interrupted. Each child also gets SIGKILL if this process dies
// (Pdeathsig), so none outlives a crash.
var children = struct {
	sync.Mutex
	set map[*child]bool
}{set: map[*child]bool{}}

// child is a started binary: funcsignalr, baseline or wsbaseline.
type child struct {
	cmd   *exec.Cmd
	addr  string          // 127.0.0.1:PORT it was told to listen on
	start time.Time       // just before exec
	out   *testkit.Buffer // stdout and stderr
	done  chan struct{}

	bin, dir string   // to launch it again on another port
	env      []string // after the port
	lost     int      // ports lost to another process
}

// tail is the end of the child's output, for error messages.
func (c *child) tail() string {
	s := c.out.String()
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// startChild runs bin in dir as the Functions host runs a custom handler: a
// minimal environment plus FUNCTIONS_CUSTOMHANDLER_PORT (a free loopback
// port) plus env. Nothing is inherited, so a SignalR setting of the caller's
// shell cannot change what is measured.
func startChild(bin, dir string, env ...string) (*child, error) {
	c := &child{bin: bin, dir: dir, env: env}
	if err := c.launch(); err != nil {
		return nil, err
	}
	return c, nil
}

// launch starts the child on a free port. Another process may take the
// port between freePort and the child's listen: waitReady then launches it
// again.
func (c *child) launch() error {
	bin, dir, env := c.bin, c.dir, c.env
	port, err := freePort()
	if err != nil {
		return err
	}
	c.addr, c.done, c.out = net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), make(chan struct{}), &testkit.Buffer{}
	c.cmd = exec.Command(bin)
	c.cmd.Dir = dir
	c.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port),
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID=00000000-0000-0000-0000-000000000006",
		"FUNCTIONS_APP_ROOT_PATH=" + dir,
	}, env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	children.Lock()
	defer children.Unlock()
	c.start = time.Now()
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	children.set[c] = true
	cmd, done := c.cmd, c.done
	go func() { cmd.Wait(); close(done) }()
	return nil
}

// stop ends the child: SIGTERM, then SIGKILL after 3 s.
func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	children.Lock()
	delete(children.set, c)
	children.Unlock()
}

// kill ends the child at once (cold-start runs).
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.done
	children.Lock()
	delete(children.set, c)
	children.Unlock()
}

// killAll kills every child still running.
func killAll() {
	children.Lock()
	defer children.Unlock()
	for c := range children.set {
		c.cmd.Process.Kill()
	}
}

// url is the child's base URL.
func (c *child) url() string { return "http://" + c.addr }

// waitReady polls GET / every 5 ms until it answers, for up to 10 s.
func (c *child) waitReady(ctx context.Context) error {
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := probe.Get(c.url() + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-c.done:
			if strings.Contains(c.tail(), "address already in use") && c.lost < 3 {
				c.lost++
				if err := c.launch(); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s exited before it was ready:\n%s", c.cmd.Path, c.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 10 s:\n%s", c.cmd.Path, c.tail())
}

// rssKiB is the child's resident set size (VmRSS) in KiB.
func (c *child) rssKiB() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux Go supports).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time (user + system, all threads) the child has used.
func (c *child) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
