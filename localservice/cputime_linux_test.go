package localservice

import (
	"runtime"
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's own usage.
const rusageThread = 1

// measureCPU runs f on one locked OS thread and returns the CPU time that
// thread spent: unlike wall time, it does not grow when other processes
// keep the machine busy.
func measureCPU(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	if syscall.Getrusage(rusageThread, &before) != nil {
		start := time.Now()
		f()
		return time.Since(start)
	}
	f()
	syscall.Getrusage(rusageThread, &after)
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return cpu(after) - cpu(before)
}
