package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/capture"
)

// TestHARExisting: `run --har FILE` on an existing capture refuses with one
// line naming --har-append/--har-overwrite and leaves it untouched;
// --har-append keeps its entries, --har-overwrite replaces it.
func TestHARExisting(t *testing.T) {
	src := filepath.Join("..", "..", "capture", "testdata", "chrome.har")
	old, err := capture.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	seed := func(t *testing.T) string {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "s.har")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("refused", func(t *testing.T) {
		path := seed(t)
		before, _ := os.ReadFile(path)
		code, _, stderr := run(t, "", "run", "--data-dir", t.TempDir(), "--no-ledger", "--listen", "127.0.0.1:0", "--har", path)
		if code != exitUsage || !strings.Contains(stderr, "--har-append") || !strings.Contains(stderr, "--har-overwrite") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want 2 and one line naming --har-append and --har-overwrite", code, stderr)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("the existing capture changed")
		}
	})
	for _, tt := range []struct {
		flag string
		want int
	}{{"--har-append", len(old)}, {"--har-overwrite", 0}} {
		t.Run(tt.flag, func(t *testing.T) {
			path := seed(t)
			p := startProxy(t, "--data-dir", t.TempDir(), "--no-ledger", "--har", path, tt.flag)
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit %d: %s", code, p.stderr.String())
			}
			got, err := capture.ReadAll(path)
			if err != nil || len(got) != tt.want {
				t.Errorf("%s: %d entries after the run (%v); want %d", tt.flag, len(got), err, tt.want)
			}
		})
	}
	code, _, stderr := run(t, "", "run", "--har-append", "--har-overwrite", "--har", "x.har")
	if code != exitUsage || !strings.Contains(stderr, "exclude each other") {
		t.Errorf("both flags: exit %d, stderr %q; want 2", code, stderr)
	}
}
