//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package webui

import "syscall"

// mapBytes maps n bytes of zeroed anonymous memory, private to the
// process; on failure it falls back to the heap (mapped is false).
func mapBytes(n int) (mem []byte, mapped bool) {
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), false
	}
	return mem, true
}

// unmapBytes releases memory from mapBytes. Nothing may use mem after.
func unmapBytes(mem []byte) { _ = syscall.Munmap(mem) }
