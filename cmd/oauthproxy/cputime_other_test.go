//go:build !unix

package main

import "time"

// cpuTime is not measured here; benchmarks then report no cpu-ns/op.
func cpuTime() time.Duration { return 0 }
