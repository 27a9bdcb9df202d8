package browser

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Session is one running browser with its temporary profile.
type Session struct {
	// Browser is what was launched.
	Browser Browser
	// Profile is the temporary profile directory, removed by Wait.
	Profile string
	// Args is the browser's command line (without the executable).
	Args []string

	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit error, set before done closes
}

// Options are the process-level settings of Launch.
type Options struct {
	// Output, when set, receives the browser's stdout and stderr; otherwise
	// only its last lines are kept, for the error when it fails.
	Output io.Writer
	// TempDir is where the profile is created ("" for os.TempDir()).
	TempDir string
	// Certutil is the NSS certutil command for Firefox ("" to look up
	// "certutil" on PATH).
	Certutil string
}

// Launch creates a fresh profile set up by cfg and starts b with it. The
// caller must call Wait, which removes the profile.
func Launch(b Browser, cfg Config, o Options) (*Session, error) {
	profile, err := os.MkdirTemp(o.TempDir, "oauthproxy-browser-")
	if err != nil {
		return nil, fmt.Errorf("browser: create profile: %w", err)
	}
	s := &Session{Browser: b, Profile: profile, tail: &tailBuffer{max: 4096}, done: make(chan struct{})}
	switch b.Kind {
	case Firefox:
		if err := setupFirefox(profile, cfg, o.Certutil); err != nil {
			removeProfile(profile)
			return nil, err
		}
		s.Args = FirefoxArgs(cfg, profile)
	default:
		if err := setupChromium(profile); err != nil {
			removeProfile(profile)
			return nil, err
		}
		s.Args = ChromiumArgs(cfg, profile)
	}
	s.cmd = exec.Command(b.Path, s.Args...)
	if b.Kind == Firefox {
		// Lets the profile's services.settings.server take effect.
		s.cmd.Env = append(os.Environ(), "MOZ_REMOTE_SETTINGS_DEVTOOLS=1")
	}
	var out io.Writer = s.tail
	if o.Output != nil {
		out = io.MultiWriter(s.tail, o.Output)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		removeProfile(profile)
		return nil, fmt.Errorf("browser: start %s: %w", b.Path, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// setupChromium writes the profile's preferences.
func setupChromium(profile string) error {
	dir := filepath.Join(profile, "Default")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("browser: create profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Preferences"), ChromiumPreferences(), 0o600); err != nil {
		return fmt.Errorf("browser: write preferences: %w", err)
	}
	return nil
}

// setupFirefox writes user.js and a certificate database trusting the CA.
func setupFirefox(profile string, cfg Config, certutil string) error {
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(FirefoxPrefs(cfg)), 0o600); err != nil {
		return fmt.Errorf("browser: write user.js: %w", err)
	}
	if cfg.CA == nil {
		return nil
	}
	if certutil == "" {
		p, err := exec.LookPath("certutil")
		if err != nil {
			return fmt.Errorf("browser: Firefox needs NSS certutil to trust the proxy's CA in its profile, and it is not installed (Debian: apt-get install libnss3-tools; macOS: brew install nss); or use a Chromium-family browser")
		}
		certutil = p
	}
	caFile := filepath.Join(profile, "oauthproxy-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.CA.Raw}), 0o600); err != nil {
		return fmt.Errorf("browser: write CA: %w", err)
	}
	db := "sql:" + profile
	for _, args := range [][]string{
		{"-N", "-d", db, "--empty-password"},
		{"-A", "-d", db, "-t", "C,,", "-n", "oauthproxy", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("browser: certutil %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// Done is closed when the browser process has exited.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait waits until the browser exits or ctx ends; then it stops the
// browser (SIGTERM or its platform equivalent, then a kill after grace)
// and removes the profile. The error says how the browser ended, with its
// last output when it failed on its own; it is nil after ctx ended.
func (s *Session) Wait(ctx context.Context, grace time.Duration) error {
	var err error
	select {
	case <-s.done:
		if s.err != nil {
			err = fmt.Errorf("browser: %s exited: %v%s", s.Browser.Name, s.err, s.tail.lastLines())
		}
	case <-ctx.Done():
		s.stop(grace)
	}
	if rerr := removeProfile(s.Profile); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// stop ends the browser: terminate, then kill after grace.
func (s *Session) stop(grace time.Duration) {
	if terminate(s.cmd.Process) != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// removeProfile deletes the profile directory. Browser helper processes
// may still write into it for a moment after the main process exited, so
// it retries briefly.
func removeProfile(dir string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("browser: remove profile %s: %w", dir, err)
}

// DevToolsURL waits for the DevTools endpoint of a browser launched with
// Config.DebugPort >= 0 and returns its browser websocket URL,
// ws://127.0.0.1:PORT/devtools/browser/ID (Chromium writes it to the
// profile's DevToolsActivePort file once listening).
func (s *Session) DevToolsURL(ctx context.Context) (string, error) {
	file := filepath.Join(s.Profile, "DevToolsActivePort")
	for {
		if b, err := os.ReadFile(file); err == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) == 2 {
				if port, err := strconv.Atoi(strings.TrimSpace(lines[0])); err == nil && port > 0 {
					return "ws://127.0.0.1:" + strconv.Itoa(port) + strings.TrimSpace(lines[1]), nil
				}
			}
		}
		select {
		case <-s.done:
			return "", fmt.Errorf("browser: %s exited before opening DevTools: %v%s", s.Browser.Name, s.err, s.tail.lastLines())
		case <-ctx.Done():
			return "", fmt.Errorf("browser: DevTools port not open: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write keeps the tail of p.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLines returns the kept output as an indented suffix for an error.
func (t *tailBuffer) lastLines() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return "; its last output:\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// terminate asks p to exit: SIGTERM, which Chromium and Firefox handle by
// closing cleanly. On Windows, where it is not supported, it fails and the
// caller kills.
func terminate(p *os.Process) error {
	if p == nil {
		return errors.New("browser: no process")
	}
	return p.Signal(syscall.SIGTERM)
}
