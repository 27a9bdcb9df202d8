//go:build !unix

package ledger

import "os"

// lockFile is a no-op where flock(2) is not available: appends stay
// atomic, only a compaction racing another process's append can lose
// that append.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
