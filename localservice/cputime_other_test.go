//go:build !linux

package localservice

import "time"

// measureCPU falls back to wall time where there is no per-thread usage.
func measureCPU(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
