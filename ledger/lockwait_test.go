//go:build unix

package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/redact"
)

// TestLockWaitBounded: another process holds the ledger's lock and does
// not let go (hung, or stopped in a debugger). An append waits for it at
// most LockTimeout, then keeps the record in memory and says so in a
// counted warning; lookups are not blocked; once the lock is free the next
// append writes what was kept. Before, the append waited for ever with
// the ledger's mutex held, and with it the inspection of every exchange.
func TestLockWaitBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	var log logLines
	l := open(t, path, c, func(o *Options) {
		o.Logf = log.logf
		o.LockTimeout = 100 * time.Millisecond
	})
	// The other process's lock (flock locks belong to the open file, so a
	// second open of the lock file contends with the ledger's own).
	other, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	const n = 4
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			l.Record(use(code("locked-%d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("f%d", i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		syscall.Flock(int(other.Fd()), syscall.LOCK_UN) // let it finish, so that the cleanup can close the ledger
		<-done
		t.Fatal("Record still waiting for a lock held by another process")
	}
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(code("locked-%d", 2))); !ok {
		t.Errorf("Lookup of a record whose write was skipped: got not found, want found (in memory)")
	}
	if got := l.Skipped(); got != 0 {
		t.Errorf("Skipped (corrupt lines): got %d, want 0", got)
	}
	if got := l.LockSkips(); got != n {
		t.Errorf("LockSkips: got %d, want %d", got, n)
	}
	// Counted: the 1st, 2nd and 4th skip are said, not every one.
	if got := log.count("another process holds"); got != 3 {
		t.Errorf("lock warnings for %d skipped writes: got %d, want 3 (1st, 2nd, 4th):\n%s", n, got, log.String())
	}
	if got := log.count("reuse detection across restarts is degraded"); got != 1 {
		t.Errorf("degraded notices: got %d, want 1:\n%s", got, log.String())
	}

	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	l.Record(use(code("unlocked"), t0.Add(time.Minute), "u1"))
	fresh := open(t, path, c)
	for i := range n {
		if _, ok := fresh.Lookup(inspect.KindCode, redact.Fingerprint(code("locked-%d", i))); !ok {
			t.Errorf("after a restart, record %d made while locked out: got not found, want found", i)
		}
	}
	if _, ok := fresh.Lookup(inspect.KindCode, redact.Fingerprint(code("unlocked"))); !ok {
		t.Errorf("after a restart, the record made after the lock was free: got not found, want found")
	}
}
