//go:build !unix

// Package cputime reads the CPU time this process has used, for the
// benchmarks that report CPU per operation (cpu-µs/op) next to wall time.
package cputime

import "time"

// Self is not measured on this platform: it returns 0, and benchmarks then
// report 0 cpu-µs/op.
func Self() time.Duration { return 0 }

// MinorFaults is not measured on this platform: it returns 0.
func MinorFaults() int64 { return 0 }
