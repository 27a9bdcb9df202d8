//go:build unix

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// Supported reports whether TryLock really excludes other processes.
const Supported = true

// Unlock releases the lock TryLock took.
func Unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// TryLock takes an exclusive advisory lock on f if it is free; it reports
// false when another holder has it. The lock belongs to f's open file
// description: two opens of one file exclude each other, in one process
// as across processes; closing f releases it, and so does the kernel when
// the process dies.
func TryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}
