// Package browser finds an installed browser (Chromium, Chrome, Edge or
// Firefox) and launches it set up for the proxy: a fresh temporary profile,
// the proxy as its only proxy (loopback included, so a localhost callback
// is seen), the proxy's CA trusted for that profile only, and the browser's
// own background traffic switched off. Nothing in the system certificate
// store or the user's own profiles is changed, and the profile is removed
// when the browser exits.
package browser

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kind is the family of a browser, which decides how it is set up.
type Kind string

// The browser families.
const (
	// Chromium covers Chromium, Google Chrome and Microsoft Edge: command
	// line flags, CA trusted by SPKI pin.
	Chromium Kind = "chromium"
	// Firefox is set up with a user.js and a certificate database written
	// by NSS certutil.
	Firefox Kind = "firefox"
)

// Browser is one installed browser.
type Browser struct {
	// Name is what it is called: "chromium", "chrome", "edge", "firefox",
	// or the file name of a browser given by path.
	Name string
	// Path is the executable.
	Path string
	// Kind decides how the browser is set up.
	Kind Kind
}

// System is what discovery may look at; tests replace it with fakes.
type System struct {
	// GOOS is the operating system ("linux", "darwin", "windows").
	GOOS string
	// Getenv reads an environment variable (Windows program folders).
	Getenv func(string) string
	// LookPath finds a command on PATH.
	LookPath func(string) (string, error)
	// IsFile reports whether an executable file exists at path.
	IsFile func(path string) bool
}

// OS is the real system.
func OS(goos string) System {
	return System{
		GOOS:     goos,
		Getenv:   os.Getenv,
		LookPath: exec.LookPath,
		IsFile: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && !st.IsDir()
		},
	}
}

// candidate is one place a browser may be installed.
type candidate struct {
	name string
	kind Kind
	// command is looked up on PATH; path is an absolute file. One is set.
	command, path string
}

// Names lists the browser names --browser accepts, in the order tried
// when none is given (Chromium family first: it needs no certutil).
var Names = []string{"chromium", "chrome", "edge", "firefox"}

// candidates lists where each browser is usually installed on goos.
func candidates(goos string, getenv func(string) string) []candidate {
	var cs []candidate
	add := func(name string, kind Kind, commands []string, paths []string) {
		for _, c := range commands {
			cs = append(cs, candidate{name: name, kind: kind, command: c})
		}
		for _, p := range paths {
			cs = append(cs, candidate{name: name, kind: kind, path: p})
		}
	}
	switch goos {
	case "darwin":
		app := func(bundle, exe string) []string {
			ps := []string{filepath.Join("/Applications", bundle, "Contents/MacOS", exe)}
			if home := getenv("HOME"); home != "" {
				ps = append(ps, filepath.Join(home, "Applications", bundle, "Contents/MacOS", exe))
			}
			return ps
		}
		add("chromium", Chromium, nil, app("Chromium.app", "Chromium"))
		add("chrome", Chromium, nil, app("Google Chrome.app", "Google Chrome"))
		add("edge", Chromium, nil, app("Microsoft Edge.app", "Microsoft Edge"))
		add("firefox", Firefox, nil, app("Firefox.app", "firefox"))
	case "windows":
		var roots []string
		for _, v := range []string{"ProgramFiles", "ProgramFiles(x86)", "LocalAppData"} {
			if r := getenv(v); r != "" {
				roots = append(roots, r)
			}
		}
		in := func(rel string) []string {
			var ps []string
			for _, r := range roots {
				ps = append(ps, r+`\`+rel)
			}
			return ps
		}
		add("chromium", Chromium, nil, in(`Chromium\Application\chrome.exe`))
		add("chrome", Chromium, nil, in(`Google\Chrome\Application\chrome.exe`))
		add("edge", Chromium, nil, in(`Microsoft\Edge\Application\msedge.exe`))
		add("firefox", Firefox, nil, in(`Mozilla Firefox\firefox.exe`))
	default: // linux and the BSDs
		add("chromium", Chromium, []string{"chromium", "chromium-browser"}, []string{"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"})
		add("chrome", Chromium, []string{"google-chrome", "google-chrome-stable", "google-chrome-beta"}, []string{"/opt/google/chrome/chrome"})
		add("edge", Chromium, []string{"microsoft-edge", "microsoft-edge-stable"}, []string{"/opt/microsoft/msedge/msedge"})
		add("firefox", Firefox, []string{"firefox", "firefox-esr"}, []string{"/usr/lib/firefox/firefox", "/usr/lib/firefox-esr/firefox-esr"})
	}
	return cs
}

// ErrNotFound is returned (wrapped) when no browser could be found.
var ErrNotFound = errors.New("browser: no browser found")

// ErrUnknown is returned (wrapped) for a browser name Find does not know.
var ErrUnknown = errors.New("browser: unknown browser")

// Find returns the browser to launch. want is "" (the first one installed,
// in the order of Names), one of Names, or the path of an executable (any
// name containing a path separator); a path whose file name contains
// "firefox" is set up as Firefox, any other as the Chromium family.
func Find(sys System, want string) (Browser, error) {
	if strings.ContainsAny(want, `/\`) {
		if !sys.IsFile(want) {
			return Browser{}, fmt.Errorf("browser: %s: no such executable", want)
		}
		base := strings.ToLower(filepath.Base(strings.ReplaceAll(want, `\`, "/")))
		kind := Chromium
		if strings.Contains(base, "firefox") {
			kind = Firefox
		}
		return Browser{Name: strings.TrimSuffix(base, ".exe"), Path: want, Kind: kind}, nil
	}
	known := false
	for _, n := range Names {
		known = known || n == want
	}
	if want != "" && !known {
		return Browser{}, fmt.Errorf("%w %q: want one of %s, or a path", ErrUnknown, want, strings.Join(Names, ", "))
	}
	cs := candidates(sys.GOOS, sys.Getenv)
	var tried []string
	for _, name := range Names {
		if want != "" && name != want {
			continue
		}
		for _, c := range cs {
			if c.name != name {
				continue
			}
			if c.command != "" {
				tried = append(tried, c.command)
				if p, err := sys.LookPath(c.command); err == nil {
					return Browser{Name: c.name, Path: p, Kind: c.kind}, nil
				}
				continue
			}
			tried = append(tried, c.path)
			if sys.IsFile(c.path) {
				return Browser{Name: c.name, Path: c.path, Kind: c.kind}, nil
			}
		}
	}
	what := "Chromium, Chrome, Edge or Firefox"
	if want != "" {
		what = want
	}
	return Browser{}, fmt.Errorf("%w: looked for %s as %s; install one (Debian: apt-get install chromium) or pass --browser PATH", ErrNotFound, what, strings.Join(tried, ", "))
}
