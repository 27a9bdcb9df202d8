package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHARRecoverAfterKill: a capture interrupted by SIGKILL loses nothing
// that completed before the kill. The proxy records N exchanges with --har
// and is killed with SIGKILL (no graceful Close): the capture is not
// written, the journal is there. Starting a proxy on the same --har refuses
// and names `oauthproxy har recover`; `har recover` then folds the journal
// into a valid HAR 1.2 file with all N exchanges, which `analyze` reads.
func TestHARRecoverAfterKill(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "har")
	needSubcommand(t, "analyze")
	const n = 12

	ca := newTestCA(t)
	upstream := newTLSServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`+"\n", r.URL.Path)
	}))
	dir := t.TempDir()
	har := filepath.Join(dir, "cap.har")
	journal := har + ".journal"
	px := startProxy(t, ca, proxyOpts{HAR: har})

	// N exchanges, one after the other, each read to the end.
	c := px.client(nil)
	want := make([]string, n)
	for i := range n {
		u := fmt.Sprintf("%s/items/%02d?page=%d", upstream.URL, i, i)
		want[i] = u
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s through proxy: %v", u, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s through proxy: status %d, read error %v, want 200 and a body; body: %.200s", u, resp.StatusCode, err, b)
		}
	}
	c.CloseIdleConnections()
	isUpstream := func(e logEntry) bool { return strings.HasPrefix(e.URL, upstream.URL+"/items/") }
	px.waitForNth(t, "exchange with the upstream", n, isUpstream)
	// The log and the HAR writer are fed in order by one goroutine, the HAR
	// after the log: wait for the N-th journal line before killing.
	waitJournalEntries(t, px, journal, n)

	kill9(t, px)

	if b, err := os.ReadFile(har); err == nil {
		var h recoveredHAR
		if json.Unmarshal(b, &h) == nil && len(h.Log.Entries) == n {
			t.Fatalf("%s is a complete capture with %d entries after SIGKILL, want no capture or an incomplete one (nothing folded the journal)", har, n)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read %s: %v", har, err)
	}
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatalf("journal after SIGKILL: %v, want it to exist", err)
	}
	if got := journalEntries(before); got != n {
		t.Fatalf("journal after SIGKILL: got %d complete entry lines, want %d", got, n)
	}

	// A new proxy on the same capture must refuse before recovery, and
	// leave the journal alone.
	refused := startRefused(t, ca, px.DataDir, har)
	if refused.Code == 0 {
		t.Fatalf("oauthproxy run --har %s with a journal left over: exit 0, want a failure\nstderr:\n%s", har, refused.Stderr)
	}
	if !strings.Contains(refused.Stderr, "oauthproxy har recover") {
		t.Errorf("oauthproxy run --har %s with a journal left over: stderr does not mention `oauthproxy har recover`:\n%s", har, refused.Stderr)
	}
	if after, err := os.ReadFile(journal); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("journal after the refused start: changed or gone (%v), want it untouched", err)
	}

	rec := runCLI(t, nil, "har", "recover", har)
	if rec.Code != 0 {
		t.Fatalf("oauthproxy har recover %s: exit %d, want 0\nstderr:\n%s", har, rec.Code, rec.Stderr)
	}
	if wantMsg := strconv.Itoa(n) + " exchanges"; !strings.Contains(rec.Stderr, wantMsg) {
		t.Errorf("oauthproxy har recover: stderr %q does not say %q", rec.Stderr, wantMsg)
	}
	if strings.Contains(rec.Stderr, "torn") {
		t.Errorf("oauthproxy har recover: stderr reports torn lines, want none (every line was complete before the kill):\n%s", rec.Stderr)
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after recover: stat error %v, want it removed", err)
	}

	b, err := os.ReadFile(har)
	if err != nil {
		t.Fatalf("capture after recover: %v", err)
	}
	var h recoveredHAR
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("capture after recover is not JSON: %v\n%.500s", err, b)
	}
	if h.Log.Version != "1.2" {
		t.Errorf("log.version: got %q, want 1.2", h.Log.Version)
	}
	if h.Log.Creator.Name != "oauthproxy" || h.Log.Creator.Version == "" {
		t.Errorf("log.creator: got %+v, want name oauthproxy and a version", h.Log.Creator)
	}
	if len(h.Log.Entries) != n {
		t.Errorf("recovered capture: got %d entries, want %d", len(h.Log.Entries), n)
	}
	seen := map[string]int{}
	for i, e := range h.Log.Entries {
		seen[e.Request.URL]++
		if _, err := time.Parse(time.RFC3339Nano, e.StartedDateTime); err != nil {
			t.Errorf("entries[%d].startedDateTime %q: %v, want an ISO 8601 date", i, e.StartedDateTime, err)
		}
		if e.Request.Method != http.MethodGet || e.Response.Status != http.StatusOK {
			t.Errorf("entries[%d] %s: got %s -> %d, want GET -> 200", i, e.Request.URL, e.Request.Method, e.Response.Status)
		}
	}
	for _, u := range want {
		if seen[u] != 1 {
			t.Errorf("recovered capture: %s appears %d times, want once", u, seen[u])
		}
	}

	res := runCLI(t, nil, "analyze", "--format", "json", har)
	if res.Code != 0 {
		t.Fatalf("oauthproxy analyze --format json %s: exit %d, want 0\nstderr:\n%s", har, res.Code, res.Stderr)
	}
	got := parseEntries(t, res.Stdout)
	if len(got) != n {
		t.Errorf("analyze of the recovered capture: got %d records, want %d:\n%s", len(got), n, findingsOf(got))
	}
	analyzed := map[string]bool{}
	for _, e := range got {
		analyzed[e.URL] = true
	}
	for _, u := range want {
		if !analyzed[u] {
			t.Errorf("analyze of the recovered capture: no record for %s:\n%s", u, findingsOf(got))
		}
	}
}

// recoveredHAR is the part of a HAR 1.2 document TestHARRecoverAfterKill checks.
type recoveredHAR struct {
	Log struct {
		Version string `json:"version"`
		Creator struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"creator"`
		Entries []struct {
			StartedDateTime string `json:"startedDateTime"`
			Request         struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
			Response struct {
				Status int `json:"status"`
			} `json:"response"`
		} `json:"entries"`
	} `json:"log"`
}

// journalEntries counts the complete exchange lines of a journal (the
// header line, which names oauthproxy_journal, and a torn last line are not
// exchanges).
func journalEntries(b []byte) int {
	n := 0
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) || !json.Valid(line) || bytes.Contains(line, []byte(`"oauthproxy_journal"`)) {
			continue
		}
		n++
	}
	return n
}

// waitJournalEntries polls the journal until it holds at least n complete
// exchange lines (the HAR writer runs after the log line is queued).
func waitJournalEntries(t *testing.T, px *proxyProc, journal string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile(journal)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("read journal: %v", err)
		}
		got := journalEntries(b)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal %s holds %d exchanges after %s, want %d\nstderr:\n%s", journal, got, waitTimeout, n, px.Stderr())
		}
		select {
		case <-px.done:
			t.Fatalf("oauthproxy exited while the journal held %d of %d exchanges: %v\nstderr:\n%s", got, n, px.exitErr, px.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill9 kills the proxy with SIGKILL (no shutdown code runs) and waits for
// it; the harness's SIGTERM Stop is then a no-op.
func kill9(t *testing.T, px *proxyProc) {
	t.Helper()
	if s := px.Stderr(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
		t.Errorf("oauthproxy stderr shows a data race or panic before the kill:\n%s", s)
	}
	px.mu.Lock()
	px.stopped = true
	px.mu.Unlock()
	if err := px.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL oauthproxy: %v", err)
	}
	select {
	case <-px.done:
	case <-time.After(waitTimeout):
		t.Fatalf("oauthproxy did not exit within %s of SIGKILL", waitTimeout)
	}
	var ee *exec.ExitError
	if !errors.As(px.exitErr, &ee) {
		t.Fatalf("oauthproxy after SIGKILL: exit %v, want killed by a signal", px.exitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("oauthproxy after SIGKILL: exit %v, want killed by SIGKILL", px.exitErr)
	}
}

// startRefused runs `oauthproxy run` on the capture har and expects it to
// exit without serving; if it starts listening instead, it is killed and
// the test fails.
func startRefused(t *testing.T, ca *testCA, dataDir, har string) cliResult {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := []string{"run", "--listen", addr, "--data-dir", dataDir, "--upstream-ca", ca.PEMFile, "--log-format", "json", "--har", har}
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oauthproxy %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(waitTimeout)
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		if c, derr := net.Dial("tcp", addr); derr == nil {
			c.Close()
			cmd.Process.Kill()
			<-done
			t.Fatalf("oauthproxy %s started listening on %s despite the journal of an interrupted capture, want a refusal\nstderr:\n%s", strings.Join(args, " "), addr, stderr.String())
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("oauthproxy %s neither exited nor listened within %s\nstderr:\n%s", strings.Join(args, " "), waitTimeout, stderr.String())
		}
	}
	r := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("run oauthproxy %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "WARNING: DATA RACE") {
		t.Errorf("oauthproxy %s: panic or data race:\n%s", strings.Join(args, " "), r.Stderr)
	}
	return r
}
