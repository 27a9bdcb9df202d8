// Package browsertest is a fake browser for tests of browser launching: a
// test binary that calls RunIfFake from its TestMain acts as a browser when
// started with the environment variable EnvMode set, so a test can launch
// os.Args[0] as the browser executable.
package browsertest

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// EnvMode is the environment variable that turns a test binary into the
// fake browser; its value is one of the modes:
//
//	exit      print the arguments and exit 0
//	fail      print "fake browser: boom" to stderr and exit 3
//	serve     write DevToolsActivePort if asked, then run until SIGTERM
//	stubborn  like serve, but ignore SIGTERM (it must be killed)
const EnvMode = "OAUTHPROXY_FAKE_BROWSER"

// DevToolsPath is the browser websocket path the fake writes.
const DevToolsPath = "/devtools/browser/fake"

// RunIfFake acts as the fake browser and exits when EnvMode is set; it
// returns at once otherwise. Call it first thing in TestMain.
func RunIfFake() {
	mode := os.Getenv(EnvMode)
	if mode == "" {
		return
	}
	// Catch the signals before saying we are up: a test cancels as soon as
	// it reads the arguments line.
	sig := make(chan os.Signal, 1)
	if mode == "serve" || mode == "stubborn" {
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	}
	args := os.Args[1:]
	profile, port := "", ""
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--user-data-dir="):
			profile = strings.TrimPrefix(a, "--user-data-dir=")
		case a == "-profile" && i+1 < len(args):
			profile = args[i+1]
		case strings.HasPrefix(a, "--remote-debugging-port="):
			port = strings.TrimPrefix(a, "--remote-debugging-port=")
		}
	}
	fmt.Printf("fake browser args: %q\n", args)
	if st, err := os.Stat(profile); err == nil && st.IsDir() {
		fmt.Printf("fake browser profile exists: %s\n", profile)
	}
	if v := os.Getenv("MOZ_REMOTE_SETTINGS_DEVTOOLS"); v != "" {
		fmt.Printf("fake browser env MOZ_REMOTE_SETTINGS_DEVTOOLS=%s\n", v)
	}
	if b, err := os.ReadFile(filepath.Join(profile, "Default", "Preferences")); err == nil {
		fmt.Printf("fake browser preferences: %s\n", b)
	}
	switch mode {
	case "exit":
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "fake browser: boom")
		os.Exit(3)
	case "serve", "stubborn":
		if port != "" && profile != "" {
			if port == "0" {
				port = "45678" // what a browser picking a free port might report
			}
			// Write then rename, as a reader must never see half a file.
			tmp := filepath.Join(profile, "DevToolsActivePort.tmp")
			if err := os.WriteFile(tmp, []byte(port+"\n"+DevToolsPath), 0o600); err == nil {
				os.Rename(tmp, filepath.Join(profile, "DevToolsActivePort"))
			}
		}
		for {
			<-sig
			if mode == "serve" {
				fmt.Println("fake browser: terminated")
				os.Exit(0)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "fake browser: unknown mode %q\n", mode)
	os.Exit(2)
}
