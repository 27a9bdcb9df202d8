package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/browser"
)

func TestBrowserUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"URL without scheme", []string{"localhost:3000/login"}, exitUsage, `URL "localhost:3000/login": want an absolute URL`},
		{"two URLs", []string{"https://a.test/", "https://b.test/"}, exitUsage, "want at most one URL"},
		{"host glob with a quote", []string{"--hosts", `a"b`}, exitUsage, `--hosts: host glob "a\"b": '"' is not allowed`},
		{"proxy without port", []string{"--proxy", "127.0.0.1"}, exitUsage, `--proxy: proxy address "127.0.0.1": want HOST:PORT`},
		{"debug port out of range", []string{"--debug-port", "70000"}, exitUsage, "--debug-port 70000"},
		{"unknown browser", []string{"--browser", "netscape"}, exitUsage, `--browser: unknown browser "netscape"`},
		{"no such browser path", []string{"--browser", "/nonexistent/chrome"}, exitFailure, "/nonexistent/chrome: no such executable"},
		{"proxy not running", []string{"--browser", os.Args[0], "--proxy", freeAddr(t)}, exitFailure, "(connection refused): start it first with 'oauthproxy'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"browser"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestBrowserHelp(t *testing.T) {
	code, stdout, _ := run(t, "", "browser", "--help")
	for _, w := range []string{"Usage: oauthproxy browser", "Examples:", "oauthproxy browser http://localhost:3000/login", "--headless", "--hosts"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("browser --help lacks %q:\n%s", w, stdout)
		}
	}
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
}

// fakeBrowserScript writes a shell script that acts as a browser: it prints
// its arguments and whether its profile exists, then runs until SIGTERM.
func fakeBrowserScript(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake browser is a shell script")
	}
	path := filepath.Join(t.TempDir(), "fake-chrome")
	script := `#!/bin/sh
for a in "$@"; do
  echo "arg: $a"
  case "$a" in --user-data-dir=*) [ -d "${a#--user-data-dir=}" ] && echo "profile exists";; esac
done
trap 'echo terminated; exit 0' TERM
echo ready
while :; do sleep 0.05; done
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrowserLaunch runs `oauthproxy browser` against a running proxy with a
// fake browser: the CA comes from the proxy, the flags route everything
// (loopback included) to it, and Ctrl-C removes the profile.
func TestBrowserLaunch(t *testing.T) {
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--log-format", "json", "--no-ledger")
	ca, err := browser.ReadCAFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	fakePath := fakeBrowserScript(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- mainEnv(e, []string{"browser", "--proxy", p.addr, "--browser", fakePath, "--verbose", "http://localhost:3000/login", "--", "--window-size=800,600"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "ready") {
		select {
		case code := <-done:
			t.Fatalf("browser exited %d early\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake browser did not start\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after Ctrl-C, want 0\nstderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("browser did not end after Ctrl-C")
	}

	out, got := stdout.String(), stderr.String()
	for _, w := range []string{
		"browser: fake-chrome " + fakePath,
		"proxy:   http://" + p.addr + " for everything, localhost included",
		"SPKI sha256/" + browser.SPKIHash(ca),
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	for _, w := range []string{
		"arg: --proxy-server=http://" + p.addr,
		"arg: --proxy-bypass-list=<-loopback>",
		"arg: --ignore-certificate-errors-spki-list=" + browser.SPKIHash(ca),
		"arg: --window-size=800,600",
		"arg: http://localhost:3000/login",
		"profile exists",
		"terminated",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("the browser's output lacks %q:\n%s", w, got)
		}
	}
	var profile string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "profile: "); ok {
			profile, _, _ = strings.Cut(rest, " ")
		}
	}
	if profile == "" {
		t.Fatalf("stdout names no profile:\n%s", out)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("profile %s still exists after Ctrl-C (stat: %v)", profile, err)
	}
}
