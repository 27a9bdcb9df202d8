package filelock

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTryLock: two opens of one file exclude each other (as two
// processes do); Unlock and Close each free the lock.
func TestTryLock(t *testing.T) {
	if !Supported {
		t.Skip("no flock on this system: TryLock always succeeds")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	try := func(what string, f *os.File, want bool) {
		t.Helper()
		got, err := TryLock(f)
		if err != nil || got != want {
			t.Fatalf("%s: TryLock = %v, %v; want %v", what, got, err, want)
		}
	}
	a, b := open(), open()
	try("first holder", a, true)
	try("second open while held", b, false)
	if err := Unlock(a); err != nil {
		t.Fatal(err)
	}
	try("second open after Unlock", b, true)
	try("first open while the second holds it", a, false)
	b.Close()
	try("first open after the holder closed its file", a, true)
}
