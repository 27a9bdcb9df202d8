package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/webui"
)

// viewReadTimeout bounds reading a whole request (header and body) to the
// view's server: the UI takes no request body, and without it net/http
// would wait for ever to drain the body a stalled client announced. It
// does not bound responses (event streams): net/http clears it once the
// request is read.
var viewReadTimeout = 30 * time.Second

func init() {
	register(&command{
		name:    "view",
		summary: "open a HAR capture in the web UI, offline",
		usage:   "[--listen 127.0.0.1:0] FILE.har",
		help: `Serve a HAR capture in the same web UI as the live proxy: logins as
sequence diagrams, findings and diagnoses, the authorize-vs-token comparison.
The capture is inspected and diagnosed exactly as 'oauthproxy analyze' does
(ours, or exported by DevTools, Fiddler, Charles, mitmproxy, HTTP Toolkit).
It listens on a loopback port and prints the URL to open; Ctrl-C stops it.
Re-sending requests is only offered by the live proxy.

Examples:
  oauthproxy view login.har
  oauthproxy view --listen 127.0.0.1:9000 server.har`,
		run: runView,
	})
}

func runView(e *env, args []string) error {
	fs := newFlags(e, lookup("view"))
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve the UI on (port 0: any free port)")
	var tokenEP listFlag
	fs.Var(&tokenEP, "token-endpoint", "treat this URL as a token endpoint (repeatable)")
	codeLifetime := fs.Duration("code-lifetime", 5*time.Minute, "report authorization codes older than this when exchanged")
	maxBytes := fs.Int64("max-bytes", 1<<30, "bytes of the capture kept for viewing; the oldest exchanges beyond it are dropped")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one HAR file")
	}
	if *maxBytes <= 0 {
		return usagef("--max-bytes %d: want a positive number of bytes", *maxBytes)
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return usagef("--listen %q: want a loopback address such as 127.0.0.1:0 (the UI shows the whole capture)", *listen)
	}
	path := fs.Arg(0)
	ui := webui.New(webui.Options{MaxBytes: *maxBytes, Mode: "file", Title: filepath.Base(path), Version: version})
	insp := inspect.New(inspect.Options{TokenEndpoints: tokenEP, CodeLifetime: *codeLifetime})
	if _, err := inspectFile(e, path, insp, false, ui); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return exitError{exitUsage, fmt.Errorf("listen %s: %w", *listen, err)}
	}
	srv := &http.Server{Handler: webui.Guard(ui, ""), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: viewReadTimeout, IdleTimeout: 2 * time.Minute}
	st := ui.Store().Stats()
	fmt.Fprintf(e.stderr, "oauthproxy view: %s: %d exchanges\n", path, st.Exchanges)
	fmt.Fprintf(e.stdout, "http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-e.ctx.Done():
	}
	ui.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
