//go:build unix

package proxytest

import (
	"syscall"
	"time"
)

// CPUTime is the user+system CPU time of the whole process so far (0 if
// the system does not say).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
