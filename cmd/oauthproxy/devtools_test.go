package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/webui"
)

// TestAnalyzeDevToolsAborts runs `analyze` on the DevTools exports whose
// requests got no answer (capture/testdata/devtools) and checks what a
// user reads: the exit status, the login's trace line (or that there is
// none: the login did not end in the capture), the failed count of the
// summary, that no cancellation is diagnosed, and that the browser's own
// error is quoted as the browser's (no "upstream error"). Then `view` of
// the same file must show the same exchanges, logins, findings, diagnoses
// and errors, and mark as many rows failed as the summary counts, in the
// rows, the "failed" filter and the logins' counts (the UI has no trace
// line to compare).
func TestAnalyzeDevToolsAborts(t *testing.T) {
	tests := []struct {
		file    string
		trace   string // the one trace line, "" for none
		summary string // the summary's first line
		has     []string
		hasNot  []string
	}{
		{"callback-custom-scheme.har", "", "summary: 5 exchanges, 5 OAuth, 0 token exchanges, 0 failed",
			[]string{"client aborted: the browser canceled loading a com.example.app: URL (net::ERR_UNKNOWN_URL_SCHEME)"},
			[]string{"DIAGNOSIS", "upstream error", "capture: entry"}},
		{"callback-refused.har", "", "summary: 5 exchanges, 5 OAuth, 0 token exchanges, 0 failed",
			[]string{"INFO  callback-unanswered [client-config] the request to the redirect URI http://localhost:8400/callback got no answer (net::ERR_CONNECTION_REFUSED)", "is the app listening on localhost:8400?"},
			[]string{"DIAGNOSIS", "CANARY"}},
		{"canceled-navigation.har", "login id.example.com: authorize → 6 hops → callback → token 200 ok", "summary: 9 exchanges, 9 OAuth, 1 token exchanges, 0 failed",
			[]string{"client aborted: the browser canceled the request before any answer (net::ERR_ABORTED)"},
			[]string{"DIAGNOSIS", "upstream error"}},
		{"authorize-blocked.har", "login id.example.com: authorize net::ERR_BLOCKED_BY_CLIENT", "summary: 2 exchanges, 1 OAuth, 0 token exchanges, 1 failed",
			[]string{"\n  the browser reported net::ERR_BLOCKED_BY_CLIENT (no answer)\n", "evidence: the browser reported net::ERR_BLOCKED_BY_CLIENT (no answer)\n"},
			[]string{"upstream error"}},
		{"firefox-authorize-tls.har", "login id.example.com: authorize no answer", "summary: 2 exchanges, 1 OAuth, 0 token exchanges, 1 failed",
			[]string{"DIAGNOSIS network/upstream-tls", `evidence: the browser reported a failed TLS connection (Firefox's _securityState "broken"`},
			[]string{"upstream error", "CANARY"}},
		{"firefox-callback-refused.har", "", "summary: 2 exchanges, 2 OAuth, 0 token exchanges, 0 failed",
			[]string{"INFO  callback-unanswered [client-config] the request to the redirect URI http://localhost:8400/callback got no answer: the code sha256:"},
			[]string{"DIAGNOSIS", "CANARY", "(no answer)"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "capture", "testdata", "devtools", tt.file)
			code, out, stderr := run(t, "", "analyze", path)
			if code != 0 {
				t.Fatalf("analyze: exit %d, want 0: %s", code, stderr)
			}
			var traces []string
			for _, l := range strings.Split(out, "\n") {
				if s := strings.TrimSpace(l); strings.HasPrefix(s, "login ") {
					traces = append(traces, s)
				}
			}
			switch {
			case tt.trace == "" && len(traces) != 0:
				t.Errorf("trace lines: got %q, want none", traces)
			case tt.trace != "" && (len(traces) != 1 || traces[0] != tt.trace):
				t.Errorf("trace lines: got %q, want [%q]", traces, tt.trace)
			}
			if !strings.Contains(stderr, tt.summary+"\n") {
				t.Errorf("summary: got %q, want %q", stderr, tt.summary)
			}
			for _, s := range tt.has {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(out+stderr, s) {
					t.Errorf("output has %q:\n%s%s", s, out, stderr)
				}
			}

			// view: the same code path, the same verdicts.
			code, jsonOut, stderr := run(t, "", "analyze", "--format", "json", "--quiet", path)
			if code != 0 {
				t.Fatalf("analyze --format json: exit %d: %s", code, stderr)
			}
			var want []string
			recLogins, rowLogins := canonical{}, canonical{}
			for _, line := range strings.Split(strings.TrimSpace(jsonOut), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("analyze line %q: %v", line, err)
				}
				errText, _ := rec["error"].(string)
				want = append(want, recordVerdict(rec, recLogins)+" error="+errText)
			}
			v := startView(t, path)
			rows := v.rows(t)
			if len(rows) != len(want) {
				t.Fatalf("view shows %d exchanges, analyze printed %d", len(rows), len(want))
			}
			failed := 0
			for i, r := range rows {
				if got := rowVerdict(r, rowLogins) + " error=" + r.Error; got != want[i] {
					t.Errorf("exchange %d:\n view    %s\n analyze %s", i+1, got, want[i])
				}
				if r.Failed {
					failed++
				}
			}
			if got := fmt.Sprintf("%d failed", failed); !strings.HasSuffix(tt.summary, got) {
				t.Errorf("view marks %s, analyze's summary says %q", got, tt.summary)
			}
			// The "failed" filter and the logins' counts say the same.
			var p webui.Page
			v.get(t, fmt.Sprintf("/api/exchanges?failed=1&limit=%d", webui.MaxPageSize), &p)
			if got := fmt.Sprintf("%d failed", p.Total); !strings.HasSuffix(tt.summary, got) {
				t.Errorf("view's failed filter: %s, analyze's summary says %q", got, tt.summary)
			}
			var lp webui.LoginPage
			v.get(t, "/api/logins?limit=100", &lp)
			loginFailed := 0
			for _, l := range lp.Logins {
				loginFailed += l.Failed
			}
			if got := fmt.Sprintf("%d failed", loginFailed); !strings.HasSuffix(tt.summary, got) {
				t.Errorf("view's logins count %s, analyze's summary says %q", got, tt.summary)
			}
		})
	}
}
