package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/oauthproxy/oauthproxy/flow"
)

// JournalSuffix is appended to a capture's path to name its journal.
const JournalSuffix = ".journal"

// journalHeader is the first line of a journal.
type journalHeader struct {
	Journal int     `json:"oauthproxy_journal"`
	Creator Creator `json:"creator"`
	Comment string  `json:"comment,omitempty"`
}

// Writer records exchanges into a HAR file. It is a flow.Sink.
//
// Each exchange is converted (and redacted) in the caller's goroutine,
// then appended to PATH.journal as one line with a single write(2) under a
// mutex, so that once Handle returns the entry survives a crash of the
// process; a background goroutine fsyncs the journal after writes, so it
// survives a crash of the machine shortly after. Close folds the journal
// into PATH.
type Writer struct {
	path, journal string
	opts          WriterOptions
	header        journalHeader

	mu       sync.Mutex
	f        journalFile
	n        int
	failed   int
	firstErr error
	closed   bool

	syncReq  chan struct{}
	syncDone chan struct{}
	syncErr  error // written by the syncer, read after syncDone
}

// journalFile is what the Writer writes entries to: the journal's
// *os.File (tests put a failing one in its place to play a full disk).
type journalFile interface {
	io.Writer
	Sync() error
	Close() error
}

// NewWriter creates the journal for a capture at path. It refuses to start
// when a journal from an interrupted run is still there, and when path
// exists unless opts.Existing says to overwrite or append to it; to append,
// the existing entries are copied into the journal first (so that a crash
// loses none of them either).
func NewWriter(path string, opts WriterOptions) (*Writer, error) {
	journal := path + JournalSuffix
	if _, err := os.Lstat(journal); err == nil {
		return nil, leftoverJournal(journal, path)
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("capture: %s is a directory", path)
	case err == nil && opts.Existing == Refuse:
		return nil, &ExistsError{Path: path, Size: fi.Size()}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("capture: %w", err)
	}
	appendTo := err == nil && opts.Existing == Append
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, leftoverJournal(journal, path)
	}
	if err != nil {
		return nil, fmt.Errorf("capture: create journal: %w", err)
	}
	w := &Writer{
		path:     path,
		journal:  journal,
		opts:     opts,
		f:        f,
		syncReq:  make(chan struct{}, 1),
		syncDone: make(chan struct{}),
	}
	w.header = journalHeader{Journal: 1, Creator: Creator{Name: "oauthproxy", Version: orDefault(opts.Creator, "dev")}}
	if opts.Unredacted {
		w.header.Creator.Comment = UnredactedWarning
		w.header.Comment = UnredactedWarning
	}
	if appendTo {
		// A first pass checks the file and whether it holds raw secrets
		// (then the appended file must keep saying so).
		unredacted, err := existingEntries(path, io.Discard)
		if err != nil {
			f.Close()
			os.Remove(journal)
			return nil, err
		}
		if unredacted {
			w.header.Creator.Comment = UnredactedWarning
			w.header.Comment = UnredactedWarning
		}
	}
	line, _ := json.Marshal(w.header)
	_, err = f.Write(append(line, '\n'))
	if err == nil && appendTo {
		// The entries already in path go first in the journal.
		bw := bufio.NewWriterSize(f, 256<<10)
		if _, err = existingEntries(path, bw); err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		f.Close()
		os.Remove(journal)
		return nil, fmt.Errorf("capture: write journal %s: %w", journal, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(journal)
		return nil, fmt.Errorf("capture: sync journal %s: %w", journal, err)
	}
	go w.syncer()
	return w, nil
}

// ExistsError is NewWriter's refusal to touch an existing capture file.
type ExistsError struct {
	Path string
	Size int64
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("capture: %s exists (%d bytes): pass --har-append to add to it or --har-overwrite to replace it", e.Path, e.Size)
}

func leftoverJournal(journal, path string) error {
	return fmt.Errorf("capture: %s exists: an earlier capture to %s was interrupted; run `oauthproxy har recover %s` to save its entries (or delete the journal to discard them)", journal, path, path)
}

func (w *Writer) syncer() {
	defer close(w.syncDone)
	for range w.syncReq {
		if err := w.f.Sync(); err != nil && w.syncErr == nil {
			w.syncErr = err
		}
	}
}

// Path returns the capture's path.
func (w *Writer) Path() string { return w.path }

// Handle records x (if it is in scope). It is safe for concurrent use and
// does not wait for the disk to sync. Failures are counted and reported by
// Close.
func (w *Writer) Handle(x *flow.Exchange) {
	if x == nil || (w.opts.Scope == ScopeOAuth && x.OAuth.Label == "") {
		return
	}
	line, err := marshalEntry(EntryFromExchange(x, w.opts))
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil && w.closed {
		err = errors.New("capture: Handle after Close")
	}
	if err == nil {
		_, err = w.f.Write(line)
	}
	if err != nil {
		w.failed++
		if w.firstErr == nil {
			w.firstErr = err
		}
		if w.opts.OnWriteError != nil && w.failed&(w.failed-1) == 0 { // 1, 2, 4, 8...
			w.opts.OnWriteError(err, w.failed, w.n)
		}
		return
	}
	w.n++
	select {
	case w.syncReq <- struct{}{}:
	default:
	}
}

func marshalEntry(e Entry) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("capture: encode entry: %w", err)
	}
	return buf.Bytes(), nil // Encode ends the line with '\n'
}

// Count returns the number of entries recorded so far.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Close folds the journal into the capture file (written to a temporary
// file and renamed) and removes the journal. It returns an error if any
// entry could not be recorded; the others are in the file all the same.
// Calling Close again returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.syncReq)
	w.mu.Unlock()
	<-w.syncDone

	var errs []error
	if w.syncErr != nil {
		errs = append(errs, fmt.Errorf("capture: sync journal: %w", w.syncErr))
	}
	if err := w.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("capture: sync journal: %w", err))
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("capture: close journal: %w", err))
	}
	if _, err := RecoverFile(w.path); err != nil {
		// The journal is still there, with every entry that was written.
		errs = append(errs, fmt.Errorf("%w; the %d exchanges recorded are kept in %s: once the problem is fixed, run `oauthproxy har recover %s`", err, w.n, w.journal, w.path))
	}
	if w.failed > 0 {
		errs = append(errs, fmt.Errorf("capture: %d of %d exchanges could not be recorded in %s: %w", w.failed, w.failed+w.n, w.path, w.firstErr))
	}
	return errors.Join(errs...)
}

// Recovered reports what RecoverFile did.
type Recovered struct {
	// Entries is the number of entries in the capture.
	Entries int
	// Dropped is the number of torn or corrupt journal lines left out
	// (normally at most one: the line being written when the process died).
	Dropped int
}

// Recover folds harPath's journal (harPath + ".journal") left by an
// interrupted capture into harPath and removes the journal. It returns the
// number of entries saved; see RecoverFile for the number of torn lines.
func Recover(harPath string) (n int, err error) {
	r, err := RecoverFile(harPath)
	return r.Entries, err
}

// RecoverFile is Recover with the count of dropped (torn) journal lines,
// which a command should print as a warning.
func RecoverFile(harPath string) (Recovered, error) {
	var res Recovered
	journal := harPath + JournalSuffix
	jf, err := os.Open(journal)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("capture: nothing to recover: no journal %s", journal)
		}
		return res, fmt.Errorf("capture: open journal: %w", err)
	}
	defer jf.Close()

	dir, base := filepath.Split(harPath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return res, fmt.Errorf("capture: create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	fail := func(err error) (Recovered, error) {
		tmp.Close()
		os.Remove(tmpName)
		return res, err
	}

	br := bufio.NewReaderSize(jf, 1<<20)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	header := journalHeader{Creator: Creator{Name: "oauthproxy", Version: "unknown"}}
	first := true
	wroteHeader := false
	writeHeader := func() {
		c, _ := json.Marshal(header.Creator)
		bw.WriteString(`{"log":{"version":"1.2","creator":`)
		bw.Write(c)
		if header.Comment != "" {
			cm, _ := json.Marshal(header.Comment)
			bw.WriteString(`,"comment":`)
			bw.Write(cm)
		}
		bw.WriteString(`,"entries":[`)
		wroteHeader = true
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			complete := line[len(line)-1] == '\n'
			body := bytes.TrimSpace(line)
			switch {
			case !complete || !json.Valid(body):
				if len(body) > 0 {
					res.Dropped++
				}
			case first && bytes.Contains(body, []byte(`"oauthproxy_journal"`)):
				json.Unmarshal(body, &header)
			case len(body) > 0 && body[0] == '{':
				if !wroteHeader {
					writeHeader()
				}
				if res.Entries > 0 {
					bw.WriteByte(',')
				}
				bw.WriteByte('\n')
				bw.Write(body)
				res.Entries++
			default:
				res.Dropped++
			}
			first = false
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("capture: read journal: %w", err))
		}
	}
	if !wroteHeader {
		writeHeader()
	}
	bw.WriteString("\n]}}\n")
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("capture: write %s: %w", tmpName, err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("capture: sync %s: %w", tmpName, err))
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmpName)
		return res, fmt.Errorf("capture: close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, harPath); err != nil {
		os.Remove(tmpName)
		return res, fmt.Errorf("capture: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	jf.Close()
	if err := os.Remove(journal); err != nil {
		return res, fmt.Errorf("capture: remove journal: %w", err)
	}
	return res, nil
}

// Redact rewrites the HAR read from in with every secret fingerprinted,
// streaming. The output is re-emitted through oauthproxy's model: the
// fields it knows (all of HAR 1.2 that matters for OAuth, plus
// "_oauthproxy") are kept; pages, browser-private "_" fields, header order
// and comments are not. The creator of the input is kept with a comment
// saying the file was redacted. Entries come out in startedDateTime order.
func Redact(in io.Reader, out io.Writer) error {
	r, err := NewReader(in)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	creator := r.CreatorInfo()
	if creator.Name == "" {
		creator.Name = "unknown"
	}
	if creator.Version == "" {
		creator.Version = "unknown"
	}
	creator.Comment = "redacted by oauthproxy har redact"
	c, _ := json.Marshal(creator)
	bw.WriteString(`{"log":{"version":"1.2","creator":`)
	bw.Write(c)
	bw.WriteString(`,"entries":[`)
	opts := WriterOptions{BodyCap: -1}
	for n := 0; ; n++ {
		x, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e := EntryFromExchange(x, opts)
		line, err := marshalEntry(e)
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(bytes.TrimRight(line, "\n"))
	}
	bw.WriteString("\n]}}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("capture: write: %w", err)
	}
	return nil
}

// existingEntries copies the entries of the HAR file at path to out, one
// compact JSON line each, for an append; unredacted reports whether the
// file says it holds raw secrets. The file is read as a stream: one entry
// at a time is held.
func existingEntries(path string, out io.Writer) (unredacted bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("capture: append: %w", err)
	}
	defer f.Close()
	bad := func(what string) (bool, error) {
		return false, fmt.Errorf("capture: cannot append to %s: %s; pass --har-overwrite to replace it, or record to another file", path, what)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 256<<10))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("it is not a HAR file (no JSON object)")
	}
	var buf bytes.Buffer
	found := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return bad("it is not valid JSON")
		}
		if k != "log" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return bad("it is not valid JSON")
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return bad(`its "log" is not an object`)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return bad("it is not valid JSON")
			}
			switch k {
			case "entries":
				if t, err := dec.Token(); err != nil || t != json.Delim('[') {
					return bad(`its "entries" is not an array`)
				}
				for dec.More() {
					var e json.RawMessage
					if err := dec.Decode(&e); err != nil {
						return bad("an entry is not valid JSON")
					}
					buf.Reset()
					if err := json.Compact(&buf, e); err != nil {
						return bad("an entry is not valid JSON")
					}
					buf.WriteByte('\n')
					if _, err := out.Write(buf.Bytes()); err != nil {
						return false, err
					}
				}
				if _, err := dec.Token(); err != nil {
					return bad("it is not valid JSON")
				}
				found = true
			case "creator", "comment":
				var v json.RawMessage
				if dec.Decode(&v) != nil {
					return bad("it is not valid JSON")
				}
				if bytes.Contains(v, []byte(UnredactedWarning[:min(len(UnredactedWarning), 40)])) {
					unredacted = true
				}
			default:
				var skip json.RawMessage
				if dec.Decode(&skip) != nil {
					return bad("it is not valid JSON")
				}
			}
		}
		if _, err := dec.Token(); err != nil {
			return bad("it is not valid JSON")
		}
	}
	if !found {
		return bad(`it has no "log.entries"`)
	}
	return unredacted, nil
}
