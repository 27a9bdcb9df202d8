package browser

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/browser/browsertest"
)

// lockedBuffer collects the fake browser's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fake is this test binary, run as the fake browser in mode.
func fake(t *testing.T, mode string, kind Kind) Browser {
	t.Setenv(browsertest.EnvMode, mode)
	return Browser{Name: "fake", Path: os.Args[0], Kind: kind}
}

// assertNoProfiles fails if dir still holds a profile.
func assertNoProfiles(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, "oauthproxy-browser-*"))
	if len(left) > 0 {
		t.Errorf("profiles left behind: %v", left)
	}
}

func TestLaunch(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		cancel  bool // end the context instead of letting the browser exit
		wantErr string
		wantOut []string
	}{
		{name: "browser exits by itself", mode: "exit", wantOut: []string{"fake browser profile exists", "--proxy-bypass-list=<-loopback>", `"password_manager_leak_detection": false`}},
		{name: "browser fails: its last output is in the error", mode: "fail", wantErr: "browser: fake exited: exit status 3; its last output:\n  fake browser args:"},
		{name: "Ctrl-C: the browser is terminated", mode: "serve", cancel: true, wantOut: []string{"fake browser: terminated"}},
		{name: "a browser that ignores SIGTERM is killed", mode: "stubborn", cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			var out lockedBuffer
			cfg := testCA(t)
			s, err := Launch(fake(t, tt.mode, Chromium), *cfg, Options{Output: &out, TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.Profile, filepath.Join(tmp, "oauthproxy-browser-")) {
				t.Errorf("profile %s, want a new directory in %s", s.Profile, tmp)
			}
			ctx := context.Background()
			if tt.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				// Cancel once the fake is up (it printed its arguments).
				go func() {
					for !strings.Contains(out.String(), "fake browser args") {
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
			}
			err = s.Wait(ctx, 500*time.Millisecond)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Wait: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Wait: %v, want an error with %q", err, tt.wantErr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("browser output lacks %q:\n%s", w, out.String())
				}
			}
			select {
			case <-s.Done():
			default:
				t.Errorf("Wait returned before the browser process ended")
			}
			if _, err := os.Stat(s.Profile); !os.IsNotExist(err) {
				t.Errorf("profile %s still exists after Wait (stat: %v)", s.Profile, err)
			}
			assertNoProfiles(t, tmp)
		})
	}
}

func TestLaunchMissingExecutable(t *testing.T) {
	tmp := t.TempDir()
	_, err := Launch(Browser{Name: "gone", Path: filepath.Join(tmp, "gone"), Kind: Chromium}, *testCA(t), Options{TempDir: tmp})
	if err == nil || !strings.Contains(err.Error(), "browser: start") {
		t.Fatalf("Launch of a missing executable: %v, want a start error", err)
	}
	assertNoProfiles(t, tmp)
}

func TestDevToolsURL(t *testing.T) {
	t.Run("from DevToolsActivePort", func(t *testing.T) {
		cfg := testCA(t)
		cfg.DebugPort = 0
		s, err := Launch(fake(t, "serve", Chromium), *cfg, Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := s.DevToolsURL(ctx)
		if want := "ws://127.0.0.1:45678" + browsertest.DevToolsPath; got != want || err != nil {
			t.Errorf("DevToolsURL = %q, %v; want %q", got, err, want)
		}
		if err := s.Wait(cancelledCtx(), time.Second); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	t.Run("browser exits first", func(t *testing.T) {
		cfg := testCA(t)
		cfg.DebugPort = 0
		s, err := Launch(fake(t, "fail", Chromium), *cfg, Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.DevToolsURL(context.Background())
		if err == nil || !strings.Contains(err.Error(), "exited before opening DevTools") || !strings.Contains(err.Error(), "boom") {
			t.Errorf("DevToolsURL error = %v, want the exit with its output", err)
		}
		s.Wait(context.Background(), time.Second)
	})
}

func cancelledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestFirefoxProfile sets up a real Firefox profile with NSS certutil and
// reads its certificate database back.
func TestFirefoxProfile(t *testing.T) {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Skip("certutil (libnss3-tools) not installed")
	}
	tmp := t.TempDir()
	var out lockedBuffer
	cfg := testCA(t)
	cfg.URL = "https://app.test/"
	s, err := Launch(fake(t, "serve", Firefox), *cfg, Options{Output: &out, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "fake browser args") {
		time.Sleep(10 * time.Millisecond)
	}
	list, err := exec.Command(certutil, "-L", "-d", "sql:"+s.Profile).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v\n%s", err, list)
	}
	if !strings.Contains(string(list), "oauthproxy") || !strings.Contains(string(list), "C,,") {
		t.Errorf("profile cert db does not trust the CA (want nickname oauthproxy, trust C,,):\n%s", list)
	}
	userJS, err := os.ReadFile(filepath.Join(s.Profile, "user.js"))
	if err != nil || !strings.Contains(string(userJS), `"network.proxy.allow_hijacking_localhost", true`) {
		t.Errorf("user.js: %v\n%s", err, userJS)
	}
	if !strings.Contains(out.String(), "fake browser env MOZ_REMOTE_SETTINGS_DEVTOOLS=1") {
		t.Errorf("Firefox started without MOZ_REMOTE_SETTINGS_DEVTOOLS=1 (services.settings.server is then ignored):\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"-profile" "`+s.Profile+`"`) {
		t.Errorf("Firefox not started with -profile %s:\n%s", s.Profile, out.String())
	}
	if err := s.Wait(cancelledCtx(), time.Second); err != nil {
		t.Errorf("Wait: %v", err)
	}
	assertNoProfiles(t, tmp)
}

func TestFirefoxWithoutCertutil(t *testing.T) {
	tmp := t.TempDir()
	_, err := Launch(fake(t, "exit", Firefox), *testCA(t), Options{TempDir: tmp, Certutil: filepath.Join(tmp, "no-certutil")})
	if err == nil || !strings.Contains(err.Error(), "certutil") {
		t.Fatalf("Launch: %v, want a certutil error", err)
	}
	assertNoProfiles(t, tmp)
}
