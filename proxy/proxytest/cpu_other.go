//go:build !unix

package proxytest

import "time"

// CPUTime is the CPU time of the process; 0 where it is not measured.
func CPUTime() time.Duration { return 0 }
