//go:build unix

package webui

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of this process so far (the test
// binary: the UI and the benchmark's producer, not a page read by curl).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
