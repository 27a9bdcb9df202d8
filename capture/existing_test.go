package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriterExisting: --har on an existing capture refuses unless told to
// overwrite or append (before, 6 recorded entries silently became 1);
// appending keeps the old entries first, and keeps an unredacted file
// marked unredacted.
func TestWriterExisting(t *testing.T) {
	xs := sampleFlow(t)
	tests := []struct {
		name     string
		existing Existing
		old      string // content of the existing file; "" = a capture of xs[:3]
		wantErr  string
		want     int // entries after writing xs[:2]
	}{
		{"refuse", Refuse, "", "pass --har-append to add to it or --har-overwrite to replace it", 3},
		{"overwrite", Overwrite, "", "", 2},
		{"append", Append, "", "", 5},
		{"append to empty HAR", Append, `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[]}}`, "", 2},
		{"append to non-HAR", Append, "hello", "cannot append to", -1},
		{"append to HAR without entries", Append, `{"log":{"version":"1.2"}}`, `no "log.entries"`, -1},
		{"overwrite non-HAR", Overwrite, "hello", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.har")
			if tt.old == "" {
				if err := os.Rename(writeHAR(t, xs[:3], WriterOptions{}), path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(tt.old), 0o600); err != nil {
				t.Fatal(err)
			}
			before := readFile(t, path)
			w, err := NewWriter(path, WriterOptions{Existing: tt.existing})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewWriter: got %v; want an error saying %q", err, tt.wantErr)
				}
				if string(readFile(t, path)) != string(before) {
					t.Errorf("the refused capture file changed")
				}
				if _, err := os.Stat(path + JournalSuffix); !os.IsNotExist(err) {
					t.Errorf("a refused NewWriter left a journal: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range xs[:2] {
				w.Handle(x)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(path)
			if err != nil || len(got) != tt.want {
				t.Fatalf("after writing 2: %d entries (%v); want %d", len(got), err, tt.want)
			}
			if tt.existing == Append && tt.old == "" {
				n := map[string]int{}
				for _, x := range got {
					n[x.ID]++
				}
				if n[xs[0].ID] != 2 || n[xs[1].ID] != 2 || n[xs[2].ID] != 1 {
					t.Errorf("entries by id %v; want the 3 old ones and the 2 new ones", n)
				}
			}
		})
	}
	t.Run("append keeps the unredacted warning", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.har")
		if err := os.Rename(writeHAR(t, xs[:1], WriterOptions{Unredacted: true}), path); err != nil {
			t.Fatal(err)
		}
		w, err := NewWriter(path, WriterOptions{Existing: Append})
		if err != nil {
			t.Fatal(err)
		}
		w.Handle(xs[1])
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readFile(t, path)), UnredactedWarning) {
			t.Errorf("appending redacted entries to an unredacted capture dropped its warning")
		}
	})
}

// fullDisk is a journal whose writes fail with ENOSPC after the first ok.
type fullDisk struct {
	journalFile
	ok int
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if f.ok <= 0 {
		return 0, &os.PathError{Op: "write", Path: "c.har.journal", Err: syscall.ENOSPC}
	}
	f.ok--
	return f.journalFile.Write(p)
}

// TestWriterDiskFull: when entries cannot be written (the disk is full),
// the writer says so at once (the 1st failure) and with a running count
// (2nd, 4th, 8th...), not only at shutdown; at Close the entries that were
// written are in the capture and the error gives the totals.
func TestWriterDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.har")
	var reports []string
	w, err := NewWriter(path, WriterOptions{OnWriteError: func(err error, failed, recorded int) {
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("OnWriteError got %v; want ENOSPC", err)
		}
		reports = append(reports, fmt.Sprintf("%d/%d", failed, recorded))
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.f = &fullDisk{journalFile: w.f, ok: 2}
	xs := sampleFlow(t)
	for i := 0; i < 10; i++ {
		w.Handle(xs[i%len(xs)])
	}
	if got, want := strings.Join(reports, " "), "1/2 2/2 4/2 8/2"; got != want {
		t.Errorf("write failures reported as %q (failed/recorded); want %q", got, want)
	}
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "8 of 10 exchanges could not be recorded") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close: %v; want 8 of 10 not recorded, no space left", err)
	}
	got, rerr := ReadAll(path)
	if rerr != nil || len(got) != 2 {
		t.Errorf("capture after a full disk: %d entries (%v); want the 2 written", len(got), rerr)
	}
}

// TestReaderBoundedInBytes: the reorder window holds at most the byte
// bound of bodies, not 1024 entries whatever their size (1 MiB bodies
// made that 1 GiB). Entries still all come out, sorted where the bound
// allowed.
func TestReaderBoundedInBytes(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	xs := sampleFlow(t)
	path := filepath.Join(t.TempDir(), "big.har")
	w, err := NewWriter(path, WriterOptions{BodyCap: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 0; i < n; i++ {
		x := *xs[4] // a JSON response
		r := *x.Response
		r.Body.Data = []byte(`{"pad":"` + big + `"}`)
		x.Response = &r
		w.Handle(&x)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const bound = 1 << 20
	r.SetReorderBytes(bound)
	got, worst := 0, int64(0)
	for {
		_, err := r.Next()
		if err != nil {
			break
		}
		got++
		worst = max(worst, r.pendB)
	}
	if got != n {
		t.Errorf("read %d entries; want %d", got, n)
	}
	if worst > bound+(300<<10) { // the bound, plus the one entry that crossed it
		t.Errorf("reader buffered %d bytes; want about %d at most", worst, bound)
	}
}
