// Package ledger is the persistent inspect.Ledger: an append-only JSON-lines
// file of single-use credential uses (authorization codes, refresh tokens),
// stored as fingerprints only, so a code reused after a proxy restart, or
// through another proxy instance sharing the data directory, is still caught.
//
// Every record is one line written with a single write to a file opened
// with O_APPEND, so several processes can append to the same file without
// interleaving. A Lookup that misses re-reads the lines other processes
// appended since. Entries expire after MaxAge; the file is compacted (rewritten
// with the live entries, then renamed over the old one) when it grows past
// MaxEntries lines or MaxBytes. Appends of new records and compactions
// take an advisory lock on path+".lock" (flock; none where the system has
// no flock), so a compaction never renames a file over a record that
// another process was appending. A corrupt or truncated line is skipped.
//
// The ledger never stops the proxy: it waits for the lock at most
// Options.LockTimeout, and when it cannot lock or open its file (another
// process holding the lock, the file replaced by one it cannot open) it
// keeps the record in memory (reuse is still caught in this process), says
// once through Options.Logf that reuse detection across restarts is
// degraded, and retries the file on the next append, writing the records
// it kept then.
package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/internal/filelock"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Options configure a Ledger. The zero value is usable.
type Options struct {
	// MaxEntries is the number of live entries kept; the file is compacted
	// when it holds twice as many lines. Zero means 10000.
	MaxEntries int
	// MaxBytes triggers compaction when the file grows past it. Zero means 4 MiB.
	MaxBytes int64
	// MaxAge is how long a use is remembered. Zero means 24 hours.
	MaxAge time.Duration
	// Now is the clock used for expiry. Nil means time.Now.
	Now func() time.Time
	// Logf, when set, receives the ledger's warnings: reuse detection
	// across restarts degraded (once), records not written for want of
	// the lock (at the 1st, 2nd, 4th... such record), the file usable again.
	Logf func(format string, args ...any)
	// LockTimeout bounds the wait for the lock file before an append;
	// zero means 3 s. After a wait that timed out, appends only try the
	// lock (no wait) until they get it again.
	LockTimeout time.Duration
}

// maxPending bounds the records kept in memory for a later write while the
// file cannot be locked or opened.
const maxPending = 4096

// Ledger is a file-backed inspect.Ledger, safe for concurrent use by
// several goroutines and by several processes sharing the file.
type Ledger struct {
	path string
	opts Options

	mu      sync.Mutex
	f       *os.File
	lock    *os.File // path+".lock": held by a process while it appends or compacts
	entries map[key]inspect.Use
	// off is how far the file has been read (the end of the last complete line).
	off int64
	// lines counts the lines in the file, for compaction.
	lines int
	// skipped counts corrupt lines seen.
	skipped int
	err     error
	closed  bool

	// pending are records (lines) not written yet: the file could not be
	// locked or opened; the next append that can writes them first.
	pending [][]byte
	// lost counts records dropped because pending was full.
	lost int
	// lockSkips counts appends that gave up waiting for the lock.
	lockSkips int
	// lockStuck: the last wait for the lock timed out.
	lockStuck bool
	// degraded: the file is not being written; said once in the log.
	degraded bool
}

type key struct {
	kind inspect.Kind
	fp   string
}

var _ inspect.Ledger = (*Ledger)(nil)

// Open opens (creating it and its directory if needed) the ledger file at
// path and loads its live entries.
func Open(path string, opts Options) (*Ledger, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 4 << 20
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 3 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: create directory for %s: %w", path, err)
	}
	l := &Ledger{path: path, opts: opts, entries: map[key]inspect.Use{}}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s.lock: %w", path, err)
	}
	l.lock = lock
	if err := l.open(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := l.readNew(); err != nil {
		l.f.Close()
		lock.Close()
		return nil, err
	}
	return l, nil
}

// open opens the file for appending and reading. On failure l.f is nil:
// the next refresh tries again.
func (l *Ledger) open() error {
	l.f = nil
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", l.path, err)
	}
	l.f = f
	l.off, l.lines = 0, 0
	return nil
}

// Lookup returns the first recorded use of the credential, reading the
// records other processes appended when it is not known yet.
func (l *Ledger) Lookup(kind inspect.Kind, fingerprint string) (inspect.Use, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return inspect.Use{}, false
	}
	k := key{kind, redact.Fingerprint(fingerprint)}
	if u, ok := l.live(k); ok {
		return u, true
	}
	if err := l.refresh(); err != nil {
		l.err = err
	}
	return l.live(k)
}

// live returns an entry that has not expired.
func (l *Ledger) live(k key) (inspect.Use, bool) {
	u, ok := l.entries[k]
	if !ok || l.expired(u) {
		return inspect.Use{}, false
	}
	return u, true
}

func (l *Ledger) expired(u inspect.Use) bool {
	return !u.Time.IsZero() && l.opts.Now().Sub(u.Time) > l.opts.MaxAge
}

// Record appends a use. The fingerprint is fingerprinted again if it is not
// one already, so a raw credential can never reach the file. The first use
// of a fingerprint wins; a later one only sets Rotated. Write errors are
// kept for Err (inspect.Ledger has no error result).
func (l *Ledger) Record(u inspect.Use) {
	u.Fingerprint = redact.Fingerprint(u.Fingerprint)
	if u.Fingerprint == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if old, ok := l.live(key{u.Kind, u.Fingerprint}); ok && !u.Time.Before(old.Time) && (old.Rotated || !u.Rotated) {
		// A later use of a known credential changes nothing: the first use
		// is what reuse is reported against. No I/O on the reuse path.
		return
	}
	line, err := json.Marshal(u)
	if err != nil {
		return
	}
	line = append(line, '\n')
	// Another process compacting now would rename a new file over the one
	// this line goes to: appends and compactions take the lock file.
	if err := l.lockBounded(); err != nil {
		l.merge(u)
		l.keep(line)
		l.lockSkips++
		l.err = err
		l.degrade(err)
		if n := l.lockSkips; n&(n-1) == 0 {
			l.logf("ledger: another process holds %s.lock: %d record(s) not written to the file so far (kept in memory and written once the lock is free)", l.path, n)
		}
		return
	}
	defer filelock.Unlock(l.lock)
	// Pick up other processes' records first so the first use wins across
	// them; this also reopens a file that could not be opened before.
	if err := l.refresh(); err != nil {
		l.err = err
	}
	l.merge(u)
	if l.f == nil {
		l.keep(line)
		l.degrade(l.err)
		return
	}
	before, written := l.off, int64(0)
	kept := len(l.pending)
	all := append(l.pending, line)
	for i, p := range all {
		if _, err := l.f.Write(p); err != nil {
			l.err = fmt.Errorf("ledger: append to %s: %w", l.path, err)
			l.pending = all[i:] // one line over maxPending at most
			l.degrade(l.err)
			return
		}
		written += int64(len(p))
	}
	lines := len(all)
	l.pending = nil
	l.err = nil
	if l.degraded {
		l.degraded = false
		l.logf("ledger: %s is usable again; %d record(s) kept meanwhile were written (%d lost: too many)", l.path, kept, l.lost)
		l.lost = 0
	}
	// If the file ends right after our lines, nobody else appended since
	// the refresh: skip reading our own lines back.
	if fi, err := l.f.Stat(); err == nil && fi.Size() == before+written {
		l.off = fi.Size()
		l.lines += lines
	}
	// Our own line is read back by the next refresh; merging it is idempotent.
	if l.lines+1 > 2*l.opts.MaxEntries || l.off+int64(len(line)) > l.opts.MaxBytes {
		if err := l.compact(); err != nil {
			l.err = err
		}
	}
}

// lockBounded takes the lock file, waiting at most LockTimeout (or only
// trying, after a wait that timed out).
func (l *Ledger) lockBounded() error {
	wait := l.opts.LockTimeout
	if l.lockStuck {
		wait = 0
	}
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		ok, err := filelock.TryLock(l.lock)
		if err != nil {
			return fmt.Errorf("ledger: lock %s.lock: %w", l.path, err)
		}
		if ok {
			l.lockStuck = false
			return nil
		}
		if !time.Now().Before(deadline) {
			l.lockStuck = true
			return fmt.Errorf("ledger: lock %s.lock: still held by another process after %s", l.path, wait)
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// keep holds a line for the next append that can write it.
func (l *Ledger) keep(line []byte) {
	if len(l.pending) >= maxPending {
		l.lost++
		return
	}
	l.pending = append(l.pending, line)
}

// degrade says once, until the file works again, that it does not.
func (l *Ledger) degrade(err error) {
	if l.degraded {
		return
	}
	l.degraded = true
	l.logf("%v; reuse detection across restarts is degraded: this process still remembers the codes it sees, and retries the file on the next append", err)
}

func (l *Ledger) logf(format string, args ...any) {
	if l.opts.Logf != nil {
		l.opts.Logf(format, args...)
	}
}

// merge applies one record to the in-memory view.
func (l *Ledger) merge(u inspect.Use) {
	k := key{u.Kind, u.Fingerprint}
	old, ok := l.entries[k]
	if ok && !l.expired(old) {
		if old.Flow == u.Flow {
			if u.Rotated && !old.Rotated {
				old.Rotated = true
			}
			l.entries[k] = old
			return
		}
		if u.Time.Before(old.Time) {
			u.Rotated = u.Rotated || old.Rotated
			l.entries[k] = u
			return
		}
		if u.Rotated && !old.Rotated {
			old.Rotated = true
			l.entries[k] = old
		}
		return
	}
	if !l.expired(u) {
		l.entries[k] = u
	}
}

// refresh reads lines appended since the last read; if the file was
// replaced (compacted by another process) it reopens it and reads it whole.
func (l *Ledger) refresh() error {
	if l.f == nil {
		if err := l.open(); err != nil {
			return err
		}
		return l.readNew()
	}
	fi, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("ledger: stat %s: %w", l.path, err)
	}
	cur, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("ledger: stat %s: %w", l.path, err)
	}
	if !os.SameFile(fi, cur) || fi.Size() < l.off {
		l.f.Close()
		if err := l.open(); err != nil {
			return err
		}
	} else if fi.Size() == l.off {
		return nil
	}
	return l.readNew()
}

// readNew reads complete lines from l.off to the end of the file.
func (l *Ledger) readNew() error {
	r := bufio.NewReader(io.NewSectionReader(l.f, l.off, 1<<62))
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			l.off += int64(len(line))
			l.lines++
			l.parseLine(line)
		}
		if errors.Is(err, io.EOF) {
			// A partial last line is left for the next read (it may still be
			// being written, or it is a truncated tail that parseLine
			// recovers from once a newline follows).
			return nil
		}
		if err != nil {
			return fmt.Errorf("ledger: read %s: %w", l.path, err)
		}
	}
}

// recordStart begins every record; it lets parseLine recover a record
// appended after a truncated line.
var recordStart = []byte(`{"kind":`)

// parseLine merges one line; a corrupt line is skipped, and if a record
// was appended to a truncated line, the record is recovered.
func (l *Ledger) parseLine(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var u inspect.Use
	if err := json.Unmarshal(line, &u); err != nil || !valid(u) {
		i := bytes.LastIndex(line, recordStart)
		if i <= 0 || json.Unmarshal(line[i:], &u) != nil || !valid(u) {
			l.skipped++
			return
		}
	}
	l.merge(u)
}

// valid reports whether a decoded record is usable (and holds no raw value).
func valid(u inspect.Use) bool {
	return (u.Kind == inspect.KindCode || u.Kind == inspect.KindRefreshToken) && redact.IsFingerprint(u.Fingerprint)
}

// compact rewrites the file with the live entries (at most MaxEntries,
// newest kept) and renames it over the old one.
func (l *Ledger) compact() error {
	if err := l.refresh(); err != nil {
		return err
	}
	var live []inspect.Use
	for k, u := range l.entries {
		if l.expired(u) {
			delete(l.entries, k)
			continue
		}
		live = append(live, u)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Time.Before(live[j].Time) })
	if len(live) > l.opts.MaxEntries {
		for _, u := range live[:len(live)-l.opts.MaxEntries] {
			delete(l.entries, key{u.Kind, u.Fingerprint})
		}
		live = live[len(live)-l.opts.MaxEntries:]
	}
	var buf bytes.Buffer
	for _, u := range live {
		b, err := json.Marshal(u)
		if err != nil {
			continue
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(l.path), filepath.Base(l.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	l.f.Close()
	if err := l.open(); err != nil {
		return err
	}
	return l.readNew()
}

// LockSkips returns how many appends gave up waiting for the lock (their
// records were kept in memory for a later write).
func (l *Ledger) LockSkips() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lockSkips
}

// Len returns the number of live entries known to this instance.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, u := range l.entries {
		if !l.expired(u) {
			n++
		}
	}
	return n
}

// Skipped returns how many corrupt lines were skipped while reading.
func (l *Ledger) Skipped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.skipped
}

// Err returns the last error met while appending, re-reading or compacting
// since the last successful append (nil if none). The ledger keeps working
// in memory after an error.
func (l *Ledger) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file. Lookup and Record do nothing afterwards.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.lock.Close()
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("ledger: close %s: %w", l.path, err)
	}
	return nil
}
