package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/browser"
)

func init() {
	register(&command{
		name:    "browser",
		summary: "open a browser that goes through the proxy (the login's browser leg)",
		usage:   "[--proxy ADDR] [--browser NAME|PATH] [--headless] [--debug-port N] [--hosts GLOB]... [URL] [-- BROWSER-ARGS...]",
		help: `Launch an installed Chromium, Chrome, Edge or Firefox set up for the running
proxy, so that the browser leg of a login (authorize, login pages, the
callback, even on http://localhost) passes through it and redirect_uri, PKCE
and state can be checked. The browser gets a fresh temporary profile (removed
when it exits, also on Ctrl-C), the proxy as its proxy with loopback included,
and the proxy's CA trusted for that profile only (Chromium: SPKI pin;
Firefox: the profile's certificate database, written with NSS certutil).
Nothing in the system certificate store or your own profiles changes. The
browser's own traffic (updates, sync, Google sign-in, safe browsing, password
leak checks, metrics) is off, so the log shows your login and nothing else.

The proxy must be running: its CA is read from it (GET http://ADDR/ca.pem).

Examples:
  oauthproxy &                                   # the proxy, 127.0.0.1:8080
  oauthproxy browser http://localhost:3000/login
  oauthproxy browser --browser firefox https://app.example.com/
  oauthproxy browser --hosts '*.example.com' --hosts '*.okta.com' https://app.example.com/
  oauthproxy browser --headless --debug-port 0 about:blank   # prints the DevTools URL for a script
  oauthproxy browser https://app.example.com/ -- --window-size=800,600   # extra browser flags

--hosts sends only matching hosts through the proxy (a generated PAC) and the
rest directly. Chromium never sends localhost or 127.0.0.0/8 through a PAC
proxy, so a localhost callback is not seen with --hosts (Firefox does send
it); omit --hosts for that.`,
		run: runBrowser,
	})
}

func runBrowser(e *env, args []string) error {
	c := lookup("browser")
	fs := newFlags(e, c)
	proxyAddr := fs.String("proxy", "127.0.0.1:8080", "the running proxy's address (its --listen)")
	which := fs.String("browser", "", "browser to launch: "+strings.Join(browser.Names, ", ")+", or a path to its executable (default: the first one found, in that order)")
	headless := fs.Bool("headless", false, "run without a window (scripts and tests)")
	var hosts listFlag
	fs.Var(&hosts, "hosts", "send only hosts matching this glob through the proxy, everything else directly (repeatable; Chromium never proxies loopback this way)")
	debugPort := fs.Int("debug-port", -1, "Chromium: open the DevTools protocol on 127.0.0.1 at this port (0: any free port) and print its URL")
	caCert := fs.String("ca-cert", "", "trust this CA certificate (PEM) instead of the one the proxy serves")
	verbose := fs.Bool("verbose", false, "pass the browser's own output through to stderr")
	// Everything after "--" goes to the browser.
	var extra []string
	for i, a := range args {
		if a == "--" {
			args, extra = args[:i], args[i+1:]
			break
		}
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("want at most one URL, got %q; browser flags go after --", fs.Args())
	}
	cfg := browser.Config{Headless: *headless, DebugPort: *debugPort, Extra: extra, Hosts: hosts}
	if fs.NArg() == 1 {
		cfg.URL = fs.Arg(0)
		if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "about" && u.Host == "") {
			return usagef("URL %q: want an absolute URL like https://app.example.com/login", cfg.URL)
		}
	}
	for _, h := range hosts {
		if err := browser.CheckHostGlob(h); err != nil {
			return usagef("--hosts: %v", strings.TrimPrefix(err.Error(), "browser: "))
		}
	}
	if *debugPort < -1 || *debugPort > 65535 {
		return usagef("--debug-port %d: want a port, or 0 for any free port", *debugPort)
	}
	addr, err := browser.NormalizeAddr(*proxyAddr)
	if err != nil {
		return usagef("--proxy: %v", strings.TrimPrefix(err.Error(), "browser: "))
	}
	cfg.Proxy = addr

	b, err := browser.Find(browser.OS(runtime.GOOS), *which)
	if errors.Is(err, browser.ErrUnknown) {
		return usagef("--browser: %v", strings.TrimPrefix(err.Error(), "browser: "))
	}
	if err != nil {
		return err
	}
	if b.Kind == browser.Firefox && *debugPort >= 0 {
		return usagef("--debug-port is for Chromium-family browsers")
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	if *caCert != "" {
		cfg.CA, err = browser.ReadCAFile(*caCert)
		if err == nil {
			err = browser.CheckListening(ctx, addr)
		}
	} else {
		cfg.CA, err = browser.FetchCA(ctx, addr)
	}
	cancel()
	if err != nil {
		return err
	}
	// Chromium's sandbox refuses to run as root (containers, CI).
	cfg.NoSandbox = b.Kind == browser.Chromium && runtime.GOOS == "linux" && os.Geteuid() == 0

	var o browser.Options
	if *verbose {
		o.Output = e.stderr
	}
	s, err := browser.Launch(b, cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "browser: %s %s\n", b.Name, b.Path)
	fmt.Fprintf(e.stdout, "profile: %s (temporary, removed when the browser exits)\n", s.Profile)
	route := "everything, localhost included"
	if len(hosts) > 0 {
		route = "only " + strings.Join(hosts, ", ") + " (the rest directly)"
	}
	fmt.Fprintf(e.stdout, "proxy:   http://%s for %s\n", addr, route)
	if b.Kind == browser.Firefox {
		fmt.Fprintf(e.stdout, "CA:      %s, trusted in this profile only\n", cfg.CA.Subject.CommonName)
	} else {
		fmt.Fprintf(e.stdout, "CA:      %s, trusted in this profile only (SPKI sha256/%s)\n", cfg.CA.Subject.CommonName, browser.SPKIHash(cfg.CA))
	}
	if cfg.NoSandbox {
		fmt.Fprintf(e.stdout, "note:    running as root, so Chromium runs with --no-sandbox\n")
	}
	if len(hosts) > 0 && b.Kind == browser.Chromium {
		fmt.Fprintf(e.stdout, "note:    with --hosts Chromium sends localhost and 127.0.0.0/8 directly; a localhost callback is not seen\n")
	}
	if *debugPort >= 0 {
		dctx, dcancel := context.WithTimeout(e.ctx, 30*time.Second)
		ws, err := s.DevToolsURL(dctx)
		dcancel()
		if err != nil {
			s.Wait(cancelled(), time.Second)
			if e.ctx.Err() != nil {
				return nil // Ctrl-C while the browser started
			}
			return err
		}
		fmt.Fprintf(e.stdout, "devtools: %s\n", ws)
	}
	fmt.Fprintf(e.stdout, "close the browser or press Ctrl-C to end\n")
	return s.Wait(e.ctx, 5*time.Second)
}

// cancelled returns a context that is already done.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
