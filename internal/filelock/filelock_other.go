//go:build !unix

package filelock

import "os"

// Supported reports whether TryLock really excludes other processes: not
// here (no flock).
const Supported = false

// Unlock does nothing.
func Unlock(*os.File) error { return nil }

// TryLock always succeeds.
func TryLock(*os.File) (bool, error) { return true, nil }
