package livelog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return l.b.Write(p)
}

func TestAsyncWriterKeepsEveryLineInOrderPerWriter(t *testing.T) {
	var dst lockedBuffer
	a := NewAsyncWriter(&dst)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				fmt.Fprintf(a, "g%d line %d\n", g, i)
			}
		}(g)
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(dst.b.String()), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*500)
	}
	next := map[string]int{}
	for _, l := range lines {
		var g string
		var i int
		if _, err := fmt.Sscanf(l, "%s line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if i != next[g] {
			t.Fatalf("%s: got line %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	if _, err := a.Write([]byte("late\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAsyncWriterReportsErrors(t *testing.T) {
	a := NewAsyncWriter(failWriter{})
	io.WriteString(a, "x\n")
	if err := a.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close() = %v, want the destination's error", err)
	}
}

// TestAsyncWriterFlushesWithoutClose: a lone line reaches the destination
// on its own (the live log must not wait for more traffic or for Close).
func TestAsyncWriterFlushesWithoutClose(t *testing.T) {
	var dst lockedBuffer
	a := NewAsyncWriter(&dst)
	defer a.Close()
	io.WriteString(a, "lonely line\n")
	// Not a timing check: the line must come at all before Close; the
	// limit only keeps a bug from hanging the test.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		dst.mu.Lock()
		got := dst.b.String()
		dst.mu.Unlock()
		if got == "lonely line\n" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the line was never written without Close")
}
