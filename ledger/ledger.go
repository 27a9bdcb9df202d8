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
}

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

// open opens the file for appending and reading.
func (l *Ledger) open() error {
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
	if err := lockFile(l.lock); err != nil {
		l.err = fmt.Errorf("ledger: lock %s.lock: %w", l.path, err)
		return
	}
	defer unlockFile(l.lock)
	// Pick up other processes' records first so the first use wins across them.
	if err := l.refresh(); err != nil {
		l.err = err
	}
	l.merge(u)
	before := l.off
	if _, err := l.f.Write(line); err != nil {
		l.err = fmt.Errorf("ledger: append to %s: %w", l.path, err)
		return
	}
	// If the file ends right after our line, nobody else appended since the
	// refresh: skip reading our own line back.
	if fi, err := l.f.Stat(); err == nil && fi.Size() == before+int64(len(line)) {
		l.off = fi.Size()
		l.lines++
	}
	// Our own line is read back by the next refresh; merging it is idempotent.
	if l.lines+1 > 2*l.opts.MaxEntries || l.off+int64(len(line)) > l.opts.MaxBytes {
		if err := l.compact(); err != nil {
			l.err = err
		}
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
// (nil if none). The ledger keeps working in memory after an error.
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
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("ledger: close %s: %w", l.path, err)
	}
	return nil
}
