//go:build unix

// Package cputime reads the CPU time this process has used, for the
// benchmarks that report CPU per operation (cpu-µs/op) next to wall time:
// on this 2-core machine client, upstream and proxy share the cores, so the
// CPU clock is less noisy than the wall clock.
package cputime

import (
	"syscall"
	"time"
)

// Self is the user+system CPU time of this process so far, all threads;
// 0 when the clock cannot be read.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MinorFaults is the count of minor page faults of this process so far
// (pages touched for the first time, as a growing heap does); 0 when it
// cannot be read.
func MinorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Minflt)
}
