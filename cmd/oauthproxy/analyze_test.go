package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestAnalyzeFixtures runs `analyze --format json` over the hand-written
// exports of each tool (capture/testdata) and compares the result, minus the
// per-run flow ids, with a golden file. Each fixture is written to show
// exactly one problem, so the test also names the error and warn findings it
// must produce (no more, no fewer: info findings are not counted) and the
// cause and category of its one diagnosis; a golden file cannot silently
// gain or lose them.
func TestAnalyzeFixtures(t *testing.T) {
	type diag struct{ category, cause string }
	want := map[string]struct {
		findings []string // error and warn finding ids, exactly
		diag     diag     // the only diagnosis in the analysis
	}{
		"chrome":      {[]string{"code-reused"}, diag{"grant", "code-reused"}},
		"firefox":     {[]string{"redirect-uri-mismatch"}, diag{"client-config", "redirect-uri-mismatch"}},
		"fiddler":     {[]string{"code-reused"}, diag{"grant", "code-reused"}},
		"charles":     {nil, diag{"client-config", "invalid-client"}},
		"mitmproxy":   {[]string{"code-reused"}, diag{"grant", "code-reused"}},
		"httptoolkit": {nil, diag{"network", "waf-cloudflare"}},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := run(t, "", "analyze", "--format", "json", filepath.Join("..", "..", "capture", "testdata", name+".har"))
			if code != 0 {
				t.Fatalf("analyze exit %d: %s", code, stderr)
			}
			if !strings.Contains(stderr, "summary:") {
				t.Errorf("no summary on stderr: %q", stderr)
			}
			var lines []string
			seen := map[string]bool{} // error and warn finding ids
			var diags []diag
			// Imported exchanges without ids get random ones: a login id
			// (the id of the exchange that started it) is shown as the
			// line number of that exchange.
			lineOf := map[string]string{}
			for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m struct{ Flow string }
				json.Unmarshal([]byte(l), &m)
				lineOf[m.Flow] = "line " + strconv.Itoa(i+1)
			}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				delete(m, "flow")
				if login, ok := m["login"].(string); ok {
					if n, ok := lineOf[login]; ok {
						m["login"] = n
					} else {
						t.Errorf("login %q of %s.har is not the id of an exchange", login, name)
					}
				}
				if fs, ok := m["findings"].([]any); ok {
					for _, f := range fs {
						f := f.(map[string]any)
						if sev := f["severity"]; sev == "error" || sev == "warn" {
							seen[f["id"].(string)] = true
						}
						// messages name other flows by id: not stable across runs
						delete(f, "message")
					}
				}
				if d, ok := m["diagnosis"].(map[string]any); ok {
					diags = append(diags, diag{fmt.Sprint(d["category"]), fmt.Sprint(d["cause"])})
					delete(d, "evidence")
				}
				b, _ := json.Marshal(m)
				lines = append(lines, string(b))
			}
			var gotIDs []string
			for id := range seen {
				gotIDs = append(gotIDs, id)
			}
			sort.Strings(gotIDs)
			wantIDs := append([]string(nil), w.findings...)
			sort.Strings(wantIDs)
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("error/warn findings of %s.har: got %v, want %v", name, gotIDs, wantIDs)
			}
			if len(diags) != 1 || diags[0] != w.diag {
				t.Errorf("diagnoses of %s.har: got %v, want exactly [%v]", name, diags, w.diag)
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := filepath.Join("testdata", "analyze", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantOut, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestAnalyzeFixtures -update)", err)
			}
			if got != string(wantOut) {
				t.Errorf("analyze %s.har differs from %s (rerun with -update if intended)\ngot:\n%s\nwant:\n%s", name, golden, got, wantOut)
			}
		})
	}
}

// bigFile is the FileInfo of a large capture.
type bigFile struct{ os.FileInfo }

func (bigFile) Size() int64 { return 1 << 30 }

// TestProgressOnlyOnTerminal: analyze's "\r" progress line is drawn only
// when stderr is a terminal (before, it went into files and CI logs).
func TestProgressOnlyOnTerminal(t *testing.T) {
	var errb syncBuffer
	p := newProgress(&env{stderr: &errb}, bigFile{}, false)
	p.update(1 << 29)
	p.done()
	if errb.String() != "" {
		t.Errorf("progress written to a non-terminal stderr: %q", errb.String())
	}
}
