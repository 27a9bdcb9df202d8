package webui

import (
	"os"
	"sync/atomic"
)

// The ring's records live in chunks of memory mapped from the operating
// system, not allocated on the Go heap: the collector never marks or
// counts them, so a full ring does not grow the heap's goal (and with it
// the pages the heap touches for the first time, each of which costs a
// page fault: 14-20 µs of CPU on the VM docs/benchmarks.md measured,
// most of the web UI's cost while its ring fills). A chunk whose records
// were all evicted is reused for the next ones, already faulted in.
// Where mapping is not available (see mapBytes), chunks are plain byte
// slices, still one object without pointers each.

// pageSize rounds chunk sizes.
var pageSize = os.Getpagesize()

// chunk is one mapping of the arena: records back to back from the
// start, used bytes of mem taken.
type chunk struct {
	mem    []byte
	mapped bool  // mem came from mapBytes: release it with unmapBytes
	used   int   // bytes taken by records
	seq    int64 // the arena's count of chunks before this one
}

// roundPage rounds n up to whole pages.
func roundPage(n int) int { return (n + pageSize - 1) / pageSize * pageSize }

// newChunk maps a chunk of size bytes (whole pages).
func newChunk(size int) *chunk {
	mem, mapped := mapBytes(size)
	return &chunk{mem: mem, mapped: mapped}
}

// release gives c's memory back.
func (c *chunk) release() {
	if c.mapped {
		unmapBytes(c.mem)
	}
	c.mem = nil
}

// arena is the store's chunks: apart from the store, so that a cleanup
// can release them once the store is gone.
type arena struct {
	chunks []*chunk // oldest first; chunks[chead:] are live
	chead  int
	spare  *chunk // one emptied chunk kept for reuse, already faulted in
	// released is set once releaseAll ran (TestStoreReleasedWhenUnreachable).
	released atomic.Bool
}

// size is the bytes the arena holds: its live chunks and the spare.
func (a *arena) size() int64 {
	var n int64
	for _, c := range a.chunks[a.chead:] {
		n += int64(len(c.mem))
	}
	if a.spare != nil {
		n += int64(len(a.spare.mem))
	}
	return n
}

// releaseAll gives every chunk back (the store is unreachable).
func (a *arena) releaseAll() {
	for _, c := range a.chunks[a.chead:] {
		c.release()
	}
	if a.spare != nil {
		a.spare.release()
	}
	a.chunks, a.chead, a.spare = nil, 0, nil
	a.released.Store(true)
}
