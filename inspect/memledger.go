package inspect

import (
	"slices"
	"sync"
	"time"
)

// MemoryLedger is an in-memory Ledger, safe for concurrent use. It keeps at
// most MaxEntries entries and forgets entries older than a day (relative to
// the newest recorded use, so replaying an old capture works).
type MemoryLedger struct {
	mu      sync.Mutex
	entries map[ledgerKey]Use
	newest  time.Time
	// MaxEntries bounds the ledger; zero means 100000.
	MaxEntries int
}

type ledgerKey struct {
	kind Kind
	fp   string
}

// LedgerMaxAge is how long a use is remembered.
const LedgerMaxAge = 24 * time.Hour

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{entries: map[ledgerKey]Use{}}
}

// Lookup returns the first recorded use of a credential.
func (l *MemoryLedger) Lookup(kind Kind, fingerprint string) (Use, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.entries[ledgerKey{kind, fingerprint}]
	if ok && !l.newest.IsZero() && !u.Time.IsZero() && l.newest.Sub(u.Time) > LedgerMaxAge {
		return Use{}, false
	}
	return u, ok
}

// Record stores a use; the first use of a fingerprint wins, later uses only
// set Rotated.
func (l *MemoryLedger) Record(u Use) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[ledgerKey]Use{}
	}
	if u.Time.After(l.newest) {
		l.newest = u.Time
	}
	k := ledgerKey{u.Kind, u.Fingerprint}
	if old, ok := l.entries[k]; ok && (old.Time.IsZero() || l.newest.Sub(old.Time) <= LedgerMaxAge) {
		if u.Rotated && !old.Rotated {
			old.Rotated = true
			l.entries[k] = old
		}
		return
	}
	l.entries[k] = u
	max := l.MaxEntries
	if max <= 0 {
		max = 100000
	}
	if len(l.entries) > max {
		l.prune(max)
	}
}

// prune drops expired entries and, if still over max, the older half.
func (l *MemoryLedger) prune(max int) {
	for k, u := range l.entries {
		if !u.Time.IsZero() && l.newest.Sub(u.Time) > LedgerMaxAge {
			delete(l.entries, k)
		}
	}
	if len(l.entries) <= max {
		return
	}
	// Still full: drop the older half.
	times := make([]time.Time, 0, len(l.entries))
	for _, u := range l.entries {
		times = append(times, u.Time)
	}
	cut := nth(times, len(times)/2)
	for k, u := range l.entries {
		if u.Time.Before(cut) {
			delete(l.entries, k)
		}
	}
}

// nth returns the n-th earliest time.
func nth(ts []time.Time, n int) time.Time {
	slices.SortFunc(ts, time.Time.Compare)
	return ts[n]
}
