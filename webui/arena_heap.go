//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package webui

// mapBytes allocates n bytes on the heap: this platform's build does not
// map memory (one object without pointers: the collector does not scan it).
func mapBytes(n int) (mem []byte, mapped bool) { return make([]byte, n), false }

// unmapBytes is never called here (nothing is mapped).
func unmapBytes([]byte) {}
