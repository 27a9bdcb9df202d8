package proxy

import (
	"runtime/debug"
	"time"
)

// freeOSMemory returns freed memory to the operating system; a test
// replaces it to count the calls.
var freeOSMemory = debug.FreeOSMemory

// releaseWhenIdle calls freeOSMemory once per idle period: when no exchange
// started during a whole tick of every after some did, and none is in
// flight. Left to itself, the Go runtime collects an idle heap only every
// two minutes and returns its pages over minutes more (docs/reliability.md:
// RSS 84 MB after a burst, still 84 MB three minutes later); the release
// costs one collection of a small heap after each burst, never while busy.
func (s *Server) releaseWhenIdle(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, released := s.seq.Load(), true
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		n := s.seq.Load()
		if n != last {
			last, released = n, false
			continue
		}
		if !released && s.inflight.Load() == 0 {
			freeOSMemory()
			released = true
			s.idleReleases.Add(1)
		}
	}
}
