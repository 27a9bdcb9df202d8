//go:build !unix

package webui

import "time"

// cpuTime is not measured here; BenchmarkEvents then reports 0 cpu-us/op.
func cpuTime() time.Duration { return 0 }
