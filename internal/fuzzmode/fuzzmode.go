// Package fuzzmode lets a fuzz target trade the memory-hard (argon2id)
// fingerprint, ~50 ms and 7 MiB per distinct value, for a fast stand-in
// while it is fuzzing, so that a bounded fuzz run explores inputs instead
// of hashing them. It changes nothing in a normal test run (seed corpora
// included) or in the product.
package fuzzmode

import (
	"flag"
	"sync/atomic"
)

var cheap atomic.Bool

// EnableIfFuzzing switches to the stand-in when the test binary runs with
// -test.fuzz (go test -fuzz); call it at the top of a Fuzz function.
func EnableIfFuzzing() {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		cheap.Store(true)
	}
}

// Cheap reports whether the stand-in is on.
func Cheap() bool { return cheap.Load() }
