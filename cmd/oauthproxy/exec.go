package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/proxy"
	"github.com/oauthproxy/oauthproxy/trustenv"
)

func init() {
	register(&command{
		name:    "exec",
		summary: "run a command with the proxy and its CA set up for it alone",
		usage:   "[run flags] [--log FILE] [--] CMD [ARGS...]",
		help: `Run CMD through a proxy of its own, with the proxy and the CA trusted for CMD
and its children only: nothing system-wide changes. exec starts the proxy in
this process on a free loopback port (--listen to choose), so every exchange
in its log came from CMD. It sets HTTPS_PROXY/HTTP_PROXY (both cases),
empties NO_PROXY, points SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
GIT_SSL_CAINFO and AWS_CA_BUNDLE at a bundle of the system roots + the CA,
NODE_EXTRA_CA_CERTS at the CA; for Node, NODE_USE_ENV_PROXY=1 and a preload
(NODE_OPTIONS=--require, for Node before 22.21/24.5); for Java,
JAVA_TOOL_OPTIONS with the proxy and a PKCS#12 trust store written to the
data directory; for PHP, PHP_INI_SCAN_DIR with an ini file setting
curl.cainfo. The live log goes to stderr (or --log FILE); CMD keeps
stdin, stdout and stderr. When CMD sent nothing through the proxy, exec says
so, with the likely reasons for its runtime. The exit code is CMD's.

Every flag of 'oauthproxy run' works here (--har, --upstream-ca, --log-format...).

Examples:
  oauthproxy exec -- curl https://login.example.com/.well-known/openid-configuration
  oauthproxy exec --har node.har -- node app.js
  oauthproxy exec --log-format json --log proxy.jsonl -- java -jar app.jar
  oauthproxy exec -- python3 -m pytest tests/test_login.py`,
		run: runExec,
	})
}

// counter counts the exchanges that reached the sink chain.
type counter struct{ n atomic.Int64 }

// Handle counts x.
func (c *counter) Handle(*flow.Exchange) { c.n.Add(1) }

func runExec(e *env, args []string) error {
	c := lookup("exec")
	fs := newFlags(e, c)
	var f runFlags
	f.register(fs, "127.0.0.1:0")
	logFile := fs.String("log", "", "write the live log to this file instead of stderr")
	if err := parseExec(fs, args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usagef("no command to run: oauthproxy exec [flags] -- CMD [ARGS...]")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return exitError{127, fmt.Errorf("%s: %v", argv[0], err)}
	}

	logOut := e.stderr
	if *logFile != "" {
		lf, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer lf.Close()
		logOut = lf
	}

	// The proxy outlives the command: it stops when the command has exited,
	// not when exec is signalled (the command gets the signal and decides).
	pctx, stopProxy := context.WithCancel(context.WithoutCancel(e.ctx))
	defer stopProxy()
	pe := *e
	pe.ctx = pctx
	type readyInfo struct {
		srv *proxy.Server
		ca  *certs.CA
		dir string
	}
	ready := make(chan readyInfo, 1)
	var count counter
	errc := make(chan error, 1)
	go func() {
		errc <- serveProxy(&pe, f, serveHooks{
			sink:   &count,
			logOut: logOut,
			ready:  func(srv *proxy.Server, ca *certs.CA, dir string) { ready <- readyInfo{srv, ca, dir} },
		})
	}()
	var ri readyInfo
	select {
	case err := <-errc:
		if err == nil {
			err = errors.New("the proxy stopped before it listened")
		}
		return err
	case ri = <-ready:
	}
	addr := clientAddr(ri.srv.Addr())

	auth := f.proxyAuth
	if auth == "" {
		auth = e.getenv("OAUTHPROXY_PROXY_AUTH") // as serveProxy does
	}
	setup, err := trustenv.Prepare(ri.dir, ri.ca, proxyURLFor(addr, auth))
	if err != nil {
		stopProxy()
		<-errc
		return err
	}
	rt := trustenv.DetectCommand(append([]string{path}, argv[1:]...))
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = trustenv.Environ(e.environment(), setup.Vars(trustenv.All))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	fmt.Fprintf(e.stderr, "oauthproxy exec: proxy on http://%s for %s%s\n", addr, argv[0], runtimeNote(rt))
	if err := cmd.Start(); err != nil {
		stopProxy()
		<-errc
		return exitError{127, fmt.Errorf("start %s: %w", argv[0], err)}
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waitc:
	case <-e.ctx.Done():
		// SIGTERM/SIGINT to exec: pass it on (a terminal's Ctrl-C reached
		// the command already) and wait for the command to finish.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		werr = <-waitc
	}
	stopProxy()
	perr := <-errc
	code := exitCode(werr)

	n := count.n.Load()
	switch {
	case n == 0 && ri.srv.Accepted() == 0:
		fmt.Fprintf(e.stderr, "oauthproxy exec: WARNING %s sent nothing through the proxy (exit code %d): it never connected to it. Likely reasons%s:\n", argv[0], code, runtimeNote(rt))
		for _, r := range trustenv.BypassReasons(rt) {
			fmt.Fprintf(e.stderr, "  - %s\n", r)
		}
	case n == 0:
		fmt.Fprintf(e.stderr, "oauthproxy exec: WARNING %s connected to the proxy but sent no complete exchange through it (exit code %d). Likely reasons%s:\n", argv[0], code, runtimeNote(rt))
		for _, r := range trustenv.TrustReasons(rt) {
			fmt.Fprintf(e.stderr, "  - %s\n", r)
		}
	default:
		fmt.Fprintf(e.stderr, "oauthproxy exec: %s sent %d %s through the proxy (exit code %d)\n", argv[0], n, plural(n, "exchange", "exchanges"), code)
	}
	if perr != nil {
		fmt.Fprintf(e.stderr, "oauthproxy exec: proxy: %v\n", perr)
	}
	if werr != nil && code < 0 {
		return exitError{exitFailure, werr}
	}
	if code != 0 {
		return exitError{code, errSilent}
	}
	return nil
}

// errSilent is an exitError cause that Main does not print: the command
// already said what went wrong.
var errSilent = errors.New("")

// parseExec parses flags up to the first argument that is not a flag (or
// "--"): the rest is the command and its arguments, flags included.
func parseExec(fs *flag.FlagSet, args []string) error {
	// As in parse: the flag package's own Usage call is silenced, so that
	// --help prints the help once and a bad flag prints one line.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return err
	}
	if err != nil {
		return usageError{err.Error()}
	}
	return nil
}

// clientAddr is addr as a client dials it: an unspecified IP becomes loopback.
func clientAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func runtimeNote(rt trustenv.Runtime) string {
	if rt == "" {
		return ""
	}
	return " (runtime: " + string(rt) + ")"
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// exitCode is the command's exit code: 128+N when signal N killed it, -1
// when it could not be waited for.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
