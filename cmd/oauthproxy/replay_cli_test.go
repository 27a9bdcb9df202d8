package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// replayWait bounds the waits of the replay tests so that a bug fails
// instead of hanging; a safety net, not a performance assertion.
const replayWait = 30 * time.Second

// replayHAR writes a capture of one client-credentials token request to
// url and returns its path.
func replayHAR(t *testing.T, url string) string {
	t.Helper()
	har := `{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[{"startedDateTime":"2026-12-03T10:00:00Z","time":1,` +
		`"request":{"method":"POST","url":"` + url + `/token","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/x-www-form-urlencoded"}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":29,` +
		`"postData":{"mimeType":"application/x-www-form-urlencoded","text":"grant_type=client_credentials"}},` +
		`"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"cookies":[],"content":{"size":2,"mimeType":"application/json","text":"{}"},"redirectURL":"","headersSize":-1,"bodySize":2},` +
		`"cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}`
	p := filepath.Join(t.TempDir(), "one.har")
	if err := os.WriteFile(p, []byte(har), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReplaySetInvalidHeader: `replay --set header:NAME=VALUE` with a name
// or value no HTTP request can carry is a usage error (exit 2) naming the
// header, never its value, and nothing is sent. Before, it went out as a
// network failure of the request ("1 of 1 replays not sent", exit 1).
func TestReplaySetInvalidHeader(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer"}`)
	}))
	defer up.Close()
	har := replayHAR(t, up.URL)
	for _, tc := range []struct {
		name, set, want string
	}{
		{"space in the name", "header:X Bad=v", `header name "X Bad"`},
		{"colon in the name", "header:X-Bad:=v", `header name "X-Bad:"`},
		{"empty name", "header:=v", `header name ""`},
		{"newline in the value", "header:X-Api-Key=canary-value\r\nInjected: yes", `header "X-Api-Key"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, "", "replay", "--only", "token", "--set", tc.set, har)
			if code != exitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "--set") {
				t.Errorf("exit %d, stderr %q; want 2 and a usage error naming the %s", code, stderr, tc.want)
			}
			if strings.Contains(stderr+out, "canary-value") {
				t.Errorf("the header's value was echoed: %q", stderr+out)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
	// A valid header still goes out.
	if code, _, stderr := run(t, "", "replay", "--only", "token", "--set", "header:X-Ok=1", har); code != exitOK || hits.Load() != 1 {
		t.Errorf("valid --set header: exit %d (%s), %d requests; want 0 and 1", code, stderr, hits.Load())
	}
}

// TestReplayInterrupted: Ctrl-C (the command's context canceled, as main
// does on SIGINT) ends a replay waiting for its response at once: the
// request is canceled, the command exits 1 saying it was interrupted.
// Before, replay sent with context.Background(): main's signal handler
// swallowed the Ctrl-C and the replay waited for the response (or its
// timeout), then went on to the next request.
func TestReplayInterrupted(t *testing.T) {
	arrived := make(chan struct{}, 1)
	canceled := make(chan struct{}, 1)
	stop := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then net/http notices the client leaving
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			canceled <- struct{}{}
		case <-stop:
		}
	}))
	defer up.Close()
	defer close(stop) // runs before up.Close
	har := replayHAR(t, up.URL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- mainEnv(e, []string{"replay", "--only", "token", "--timeout", "1h", har}) }()
	select {
	case <-arrived:
	case <-time.After(replayWait):
		t.Fatal("the replayed request never arrived")
	}
	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != exitFailure || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q; want 1 and \"interrupted\"", code, errb.String())
		}
	case <-time.After(replayWait):
		t.Fatal("replay still waiting for its response after Ctrl-C")
	}
	select {
	case <-canceled:
	case <-time.After(replayWait):
		t.Error("the replayed request was not canceled")
	}
}

// TestHelpListsFlags: `oauthproxy help X` shows X's flags, as `X --help`
// does (an earlier version printed only the synopsis), e.g. replay's
// --set and --timeout.
func TestHelpListsFlags(t *testing.T) {
	noFlags := map[string]bool{"version": true}
	want := map[string][]string{"replay": {"-set value", "-timeout duration"}, "run": {"-idle-timeout duration", "-no-ledger"}}
	for _, c := range commands {
		if noFlags[c.name] {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := run(t, "", "help", c.name)
			if code != exitOK || !strings.Contains(out, "\nFlags:\n  -") {
				t.Errorf("help %s: exit %d, no flag list:\n%s", c.name, code, out)
			}
			for _, f := range want[c.name] {
				if !strings.Contains(out, "\n  "+f+"\n") {
					t.Errorf("help %s: %q not listed:\n%s", c.name, f, out)
				}
			}
		})
	}
}
