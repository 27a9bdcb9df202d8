//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/capture"
)

// proxyChildEnv, when set in the environment of this test binary, makes it an
// `oauthproxy` process instead of running tests (see TestMain): its value is
// a childSpec in JSON.
const proxyChildEnv = "OAUTHPROXY_TEST_CHILD"

// childSpec is what a child process runs.
type childSpec struct {
	// FileSizeLimit, when > 0, is set as RLIMIT_FSIZE before the proxy
	// starts: writing a file beyond it fails with EFBIG, a write failure
	// made by the kernel, the same for every run (no root needed).
	FileSizeLimit uint64   `json:"fsize"`
	Args          []string `json:"args"`
}

// TestMain lets the test binary run as a real oauthproxy process (with its
// own resource limits) when proxyChildEnv is set; otherwise it runs the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(proxyChildEnv); spec != "" {
		os.Exit(childMain(spec))
	}
	code := m.Run()
	removePlainBinary()
	os.Exit(code)
}

func childMain(spec string) int {
	var c childSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintf(os.Stderr, "child: bad %s: %v\n", proxyChildEnv, err)
		return 3
	}
	if c.FileSizeLimit > 0 {
		// Go ignores SIGXFSZ: a write beyond the limit returns EFBIG.
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: c.FileSizeLimit, Max: c.FileSizeLimit}); err != nil {
			fmt.Fprintf(os.Stderr, "child: setrlimit: %v\n", err)
			return 3
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Main(ctx, c.Args, os.Stdin, os.Stdout, os.Stderr)
}

// runningProxy is an `oauthproxy run`, in this process or a child.
type runningProxy struct {
	addr   string
	stderr *syncBuffer
	stop   func(t *testing.T) int
}

// startChildProxy starts `oauthproxy run --listen ADDR args...` as a child
// process with its file size limited to fsize bytes.
func startChildProxy(t *testing.T, fsize uint64, args ...string) *runningProxy {
	t.Helper()
	addr := freeAddr(t)
	spec, _ := json.Marshal(childSpec{FileSizeLimit: fsize, Args: append([]string{"run", "--listen", addr}, args...)})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), proxyChildEnv+"="+string(spec))
	p := &runningProxy{addr: addr, stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { cmd.Wait(); done <- cmd.ProcessState.ExitCode() }()
	stopped := false
	p.stop = func(t *testing.T) int {
		t.Helper()
		if stopped {
			return 0
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case code := <-done:
			return code
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("proxy did not shut down; stderr:\n%s", p.stderr.String())
		}
		return -1
	}
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("proxy exited with %d before listening: %s", code, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not listen on %s: %s", addr, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// harFailure is one "cannot write to the HAR capture" line of the JSON log.
type harFailure struct {
	Message     string `json:"message"`
	Error       string `json:"error"`
	NotRecorded int    `json:"not_recorded"`
	Recorded    int    `json:"recorded"`
}

func harFailures(stderr string) []harFailure {
	var out []harFailure
	for _, line := range strings.Split(stderr, "\n") {
		var f harFailure
		if json.Unmarshal([]byte(line), &f) == nil && strings.Contains(f.Message, "cannot write to the HAR capture") {
			out = append(out, f)
		}
	}
	return out
}

// TestHARDiskFull: `run --har` whose capture cannot be written any more
// (a full file system, or a file size limit) says so on stderr at once,
// while it runs, with a running count (1st, 2nd, 4th failure); the proxy
// keeps answering every request; at shutdown it gives the totals and keeps
// the journal, and once there is room again `har recover` gives back
// exactly the exchanges recorded before the failure, in order.
func TestHARDiskFull(t *testing.T) {
	t.Run("file size limit", func(t *testing.T) {
		// Deterministic and unprivileged: the kernel refuses writes beyond
		// 40 KiB to any file of the child process (EFBIG).
		dir := t.TempDir()
		har := filepath.Join(dir, "c.har")
		p := startChildProxy(t, 40<<10, "--data-dir", filepath.Join(dir, "data"), "--no-ledger", "--log-format", "json", "--har", har)
		recorded := harDiskFull(t, p, har, "file too large")
		keptHAR(t, har, recorded, nil) // this process has no limit
	})
	t.Run("full tmpfs", func(t *testing.T) {
		// A real full file system: a 64 KiB tmpfs holds the capture.
		if os.Getuid() != 0 {
			t.Skip("mounting a tmpfs needs root; the file size limit variant covers the same path")
		}
		mnt := filepath.Join(t.TempDir(), "small")
		if err := os.Mkdir(mnt, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs here (%v: %s); the file size limit variant covers the same path", err, strings.TrimSpace(string(out)))
		}
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		har := filepath.Join(mnt, "c.har")
		pp := startProxy(t, "--data-dir", t.TempDir(), "--no-ledger", "--log-format", "json", "--har", har)
		p := &runningProxy{addr: pp.addr, stderr: pp.stderr, stop: pp.stop}
		recorded := harDiskFull(t, p, har, "no space left on device")
		keptHAR(t, har, recorded, func() {
			// The user makes room.
			if out, err := exec.Command("mount", "-o", "remount,size=4m", mnt).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
		})
	})
}

// harDiskFull sends requests through p until its capture at har fails
// (the error says wantErr), checks the live lines, the proxy's answers and
// its shutdown (the totals, and how to recover when the capture could not
// be written either), and returns the number of exchanges recorded before.
func harDiskFull(t *testing.T, p *runningProxy, har, wantErr string) (recorded int) {
	t.Helper()
	body := strings.Repeat("0123456789abcdef", 256) // 4 KiB per exchange
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(up.Close)
	pu, _ := url.Parse("http://" + p.addr)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 60 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	sent := 0
	fetch := func() {
		t.Helper()
		sent++
		resp, err := c.Get(fmt.Sprintf("%s/item/%d", up.URL, sent))
		if err != nil {
			t.Fatalf("request %d: %v; stderr:\n%s", sent, err, p.stderr.String())
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != body || err != nil {
			t.Fatalf("request %d: got %d, %d bytes (%v); want 200 and the body: the proxy must keep serving", sent, resp.StatusCode, len(b), err)
		}
	}
	// waitFailures waits (bounded) for a line with at least n not recorded.
	waitFailures := func(n int) []harFailure {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			fs := harFailures(p.stderr.String())
			if len(fs) > 0 && fs[len(fs)-1].NotRecorded >= n {
				return fs
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d requests, no live line saying %d exchange(s) were not recorded; stderr:\n%s", sent, n, p.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for len(harFailures(p.stderr.String())) == 0 && sent < 200 {
		fetch()
	}
	first := waitFailures(1)[0]
	recorded = first.Recorded
	if first.NotRecorded != 1 || !strings.Contains(first.Error, wantErr) || !strings.Contains(first.Message, har) || recorded < 1 {
		t.Fatalf("first failure line %+v; want 1 not recorded, %q, the capture's path, and the exchanges recorded before (> 0)", first, wantErr)
	}
	// Every later exchange fails too: the count runs (2nd, 4th) while
	// the proxy keeps answering.
	for sent-recorded < 5 {
		fetch()
	}
	fs := waitFailures(4)
	var counts []string
	for _, f := range fs {
		counts = append(counts, fmt.Sprint(f.NotRecorded))
		if f.Recorded != recorded {
			t.Errorf("failure line %+v: recorded %d; want %d (nothing is recorded after the first failure)", f, f.Recorded, recorded)
		}
	}
	if got := strings.Join(counts, " "); got != "1 2 4" {
		t.Errorf("failure lines at counts %q; want %q (one line at the 1st, 2nd, 4th... failure, not one per exchange)", got, "1 2 4")
	}
	code := p.stop(t)
	stderr := p.stderr.String()
	totals := fmt.Sprintf("%d of %d exchanges could not be recorded", sent-recorded, sent)
	if code != exitFailure || !strings.Contains(stderr, totals) {
		t.Errorf("shutdown: exit %d; want %d and stderr saying %q; stderr:\n%s", code, exitFailure, totals, stderr)
	}
	_, err := os.Stat(har + capture.JournalSuffix)
	kept := err == nil
	if kept != strings.Contains(stderr, "oauthproxy har recover "+har) {
		t.Errorf("journal kept: %v, but stderr says to recover it: %v; stderr:\n%s", kept, !kept, stderr)
	}
	t.Logf("%d requests, all answered 200; %d recorded before the first failure (%s); live lines at failures %s; exit %d; journal kept for `har recover`: %v",
		sent, recorded, first.Error[strings.LastIndex(first.Error, ": ")+2:], strings.Join(counts, ", "), code, kept)
	return recorded
}

// keptHAR checks that the capture har holds exactly the first n
// exchanges, in order. When the capture could not be written at shutdown
// (the journal is still there), it calls makeRoom (if set) and runs
// `oauthproxy har recover` first, as the proxy's message says.
func keptHAR(t *testing.T, har string, n int, makeRoom func()) {
	t.Helper()
	if _, err := os.Stat(har + capture.JournalSuffix); err == nil {
		t.Logf("the capture could not be written at shutdown either: recovering the journal")
		if makeRoom != nil {
			makeRoom()
		}
		if code, _, stderr := run(t, "", "har", "recover", har); code != exitOK {
			t.Fatalf("har recover: exit %d: %s", code, stderr)
		}
	}
	xs, err := capture.ReadAll(har)
	if err != nil || len(xs) != n {
		t.Fatalf("recovered capture: %d exchanges (%v); want the %d recorded before the failure", len(xs), err, n)
	}
	for i, x := range xs {
		if want := fmt.Sprintf("/item/%d", i+1); x.Request.URL.Path != want || x.Response == nil || x.Response.Status != http.StatusOK {
			t.Errorf("recovered exchange %d: %s; want %s, 200", i, x.Request.URL.Path, want)
		}
	}
}
