package browser

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// fakeSystem is a System whose PATH holds commands and whose file system
// holds files.
func fakeSystem(goos string, commands map[string]string, files []string, env map[string]string) System {
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	return System{
		GOOS:   goos,
		Getenv: func(k string) string { return env[k] },
		LookPath: func(c string) (string, error) {
			if p, ok := commands[c]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		},
		IsFile: func(p string) bool { return have[p] },
	}
}

func TestFind(t *testing.T) {
	winEnv := map[string]string{
		"ProgramFiles":      `C:\Program Files`,
		"ProgramFiles(x86)": `C:\Program Files (x86)`,
		"LocalAppData":      `C:\Users\a\AppData\Local`,
	}
	tests := []struct {
		name     string
		sys      System
		want     string
		wantName string
		wantPath string
		wantKind Kind
		wantErr  string
	}{
		{
			name:     "linux chromium on PATH",
			sys:      fakeSystem("linux", map[string]string{"chromium": "/usr/bin/chromium", "firefox": "/usr/bin/firefox"}, nil, nil),
			wantName: "chromium", wantPath: "/usr/bin/chromium", wantKind: Chromium,
		},
		{
			name:     "linux chrome only, by its install path",
			sys:      fakeSystem("linux", nil, []string{"/opt/google/chrome/chrome"}, nil),
			wantName: "chrome", wantPath: "/opt/google/chrome/chrome", wantKind: Chromium,
		},
		{
			name:     "linux chromium-browser (Ubuntu name) before chrome",
			sys:      fakeSystem("linux", map[string]string{"chromium-browser": "/usr/bin/chromium-browser", "google-chrome": "/usr/bin/google-chrome"}, nil, nil),
			wantName: "chromium", wantPath: "/usr/bin/chromium-browser", wantKind: Chromium,
		},
		{
			name:     "linux only firefox",
			sys:      fakeSystem("linux", map[string]string{"firefox": "/usr/bin/firefox"}, nil, nil),
			wantName: "firefox", wantPath: "/usr/bin/firefox", wantKind: Firefox,
		},
		{
			name:     "linux firefox asked for although chromium is installed",
			sys:      fakeSystem("linux", map[string]string{"chromium": "/usr/bin/chromium", "firefox-esr": "/usr/bin/firefox-esr"}, nil, nil),
			want:     "firefox",
			wantName: "firefox", wantPath: "/usr/bin/firefox-esr", wantKind: Firefox,
		},
		{
			name:     "linux edge asked for",
			sys:      fakeSystem("linux", map[string]string{"chromium": "/usr/bin/chromium"}, []string{"/opt/microsoft/msedge/msedge"}, nil),
			want:     "edge",
			wantName: "edge", wantPath: "/opt/microsoft/msedge/msedge", wantKind: Chromium,
		},
		{
			name:     "macOS Chrome in /Applications",
			sys:      fakeSystem("darwin", map[string]string{"chromium": "/usr/local/bin/chromium"}, []string{"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"}, map[string]string{"HOME": "/Users/a"}),
			wantName: "chrome", wantPath: "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", wantKind: Chromium,
		},
		{
			name:     "macOS Edge in ~/Applications",
			sys:      fakeSystem("darwin", nil, []string{"/Users/a/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge"}, map[string]string{"HOME": "/Users/a"}),
			wantName: "edge", wantPath: "/Users/a/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge", wantKind: Chromium,
		},
		{
			name:     "macOS Firefox",
			sys:      fakeSystem("darwin", nil, []string{"/Applications/Firefox.app/Contents/MacOS/firefox"}, nil),
			wantName: "firefox", wantPath: "/Applications/Firefox.app/Contents/MacOS/firefox", wantKind: Firefox,
		},
		{
			name:     "windows Edge in Program Files (x86)",
			sys:      fakeSystem("windows", nil, []string{`C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`}, winEnv),
			wantName: "edge", wantPath: `C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`, wantKind: Chromium,
		},
		{
			name:     "windows per-user Chrome",
			sys:      fakeSystem("windows", nil, []string{`C:\Users\a\AppData\Local\Google\Chrome\Application\chrome.exe`, `C:\Program Files\Mozilla Firefox\firefox.exe`}, winEnv),
			wantName: "chrome", wantPath: `C:\Users\a\AppData\Local\Google\Chrome\Application\chrome.exe`, wantKind: Chromium,
		},
		{
			name:     "windows Firefox asked for",
			sys:      fakeSystem("windows", nil, []string{`C:\Program Files\Google\Chrome\Application\chrome.exe`, `C:\Program Files\Mozilla Firefox\firefox.exe`}, winEnv),
			want:     "firefox",
			wantName: "firefox", wantPath: `C:\Program Files\Mozilla Firefox\firefox.exe`, wantKind: Firefox,
		},
		{
			name:     "a path to a Chromium build",
			sys:      fakeSystem("linux", nil, []string{"/home/a/chrome-linux/chrome"}, nil),
			want:     "/home/a/chrome-linux/chrome",
			wantName: "chrome", wantPath: "/home/a/chrome-linux/chrome", wantKind: Chromium,
		},
		{
			name:     "a Windows path to Firefox Developer Edition",
			sys:      fakeSystem("windows", nil, []string{`D:\ff\firefox.exe`}, winEnv),
			want:     `D:\ff\firefox.exe`,
			wantName: "firefox", wantPath: `D:\ff\firefox.exe`, wantKind: Firefox,
		},
		{
			name:    "a path that does not exist",
			sys:     fakeSystem("linux", nil, nil, nil),
			want:    "/nope/chrome",
			wantErr: "/nope/chrome: no such executable",
		},
		{
			name:    "an unknown name",
			sys:     fakeSystem("linux", map[string]string{"chromium": "/usr/bin/chromium"}, nil, nil),
			want:    "opera",
			wantErr: `unknown browser "opera": want one of chromium, chrome, edge, firefox, or a path`,
		},
		{
			name:    "nothing installed",
			sys:     fakeSystem("linux", nil, nil, nil),
			wantErr: "no browser found: looked for Chromium, Chrome, Edge or Firefox as chromium, chromium-browser, /usr/bin/chromium",
		},
		{
			name:    "the asked one not installed",
			sys:     fakeSystem("windows", nil, []string{`C:\Program Files\Google\Chrome\Application\chrome.exe`}, winEnv),
			want:    "edge",
			wantErr: `no browser found: looked for edge as C:\Program Files\Microsoft\Edge\Application\msedge.exe, C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.sys, tt.want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find(%q) error = %v, want it to contain %q", tt.want, err, tt.wantErr)
				}
				if strings.HasPrefix(tt.wantErr, "no browser found") && !errors.Is(err, ErrNotFound) {
					t.Errorf("error %v is not ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.want, err)
			}
			want := Browser{Name: tt.wantName, Path: tt.wantPath, Kind: tt.wantKind}
			if got != want {
				t.Errorf("Find(%q) = %+v, want %+v", tt.want, got, want)
			}
		})
	}
}
