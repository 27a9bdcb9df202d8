package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/redact"
)

// waitLimit bounds waits so that a bug fails instead of hanging; it is a
// safety net, not a performance assertion.
const waitLimit = 20 * time.Second

// logLines collects Options.Logf output.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, a ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, a...))
	l.mu.Unlock()
}

// count returns how many lines contain s.
func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestReopenAfterFailedReopen: another process compacted the file (renamed
// a new one over it) and this one cannot open the new file (here: a
// directory stands in its place for a while). The ledger keeps what it is
// given in memory, says once that reuse detection across restarts is
// degraded, and as soon as the file can be opened again the next append
// reopens it and writes what it kept. Before, the failed reopen left a
// closed file behind: every later append failed until a restart.
func TestReopenAfterFailedReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.jsonl")
	c := &clock{now: t0}
	var log logLines
	l := open(t, path, c, func(o *Options) { o.Logf = log.logf })
	l.Record(use(code("first"), t0, "f1"))

	// "Another process" replaced the file, and the replacement cannot be opened.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Record(use(code("while-broken-%d", i), t0.Add(time.Duration(i+1)*time.Second), fmt.Sprintf("b%d", i)))
	}
	if l.Err() == nil {
		t.Errorf("Err while the file cannot be opened: got nil, want the open error")
	}
	// The records are known to this process all the same.
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(code("while-broken-%d", 1))); !ok {
		t.Errorf("Lookup of a record made while the file was broken: got not found, want found (in memory)")
	}
	if n := log.count("reuse detection across restarts is degraded"); n != 1 {
		t.Errorf("log lines saying reuse detection is degraded: got %d, want 1:\n%s", n, log.String())
	}

	// The file comes back (the other process's compacted copy).
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".old", path); err != nil {
		t.Fatal(err)
	}
	l.Record(use(code("after"), t0.Add(time.Minute), "a1"))
	if err := l.Err(); err != nil {
		t.Errorf("Err after the file came back: got %v, want nil", err)
	}
	if n := log.count("usable again"); n != 1 {
		t.Errorf("log lines saying the ledger is usable again: got %d, want 1:\n%s", n, log.String())
	}
	// A restart (a new instance) knows every record, including those made
	// while the file was broken.
	fresh := open(t, path, c)
	for _, cd := range []string{code("first"), code("while-broken-%d", 0), code("while-broken-%d", 2), code("after")} {
		if _, ok := fresh.Lookup(inspect.KindCode, redact.Fingerprint(cd)); !ok {
			t.Errorf("after a restart, %.20s...: got not found, want found", cd)
		}
	}
}
