package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/diff"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/replay"
)

func init() {
	register(&command{
		name:    "diff",
		summary: "compare two captures (laptop vs server) and rank what explains the failure",
		usage:   "[--format text|json] A.har B.har",
		help: `Compare two captures of the same OAuth flow, typically one from a machine
where it works and one where it fails. Flows are aligned by endpoint, grant
type and issuer, not by entry order. The verdict at the top ranks the
differences by how likely they explain the failure (egress IP, a header a
proxy dropped, Content-Type, endpoint URL, client auth, clock skew, TLS...),
then the details. Redacted captures compare the same as raw ones.

Examples:
  oauthproxy diff laptop.har server.har
  oauthproxy diff --format json laptop.har server.har | jq '.verdict[0]'`,
		run: runDiff,
	})
	register(&command{
		name:    "replay",
		summary: "re-send captured requests and show how the answer changed",
		usage:   "[--only LABEL] [--entry N]... [--flow ID] [--set NAME=VALUE]... [--target URL] [--force] FILE.har",
		help: `Re-send requests from a capture through the same inspection as the live proxy
and show how each new response differs from the captured one.

Authorization codes and rotated refresh tokens are single-use: replaying them
can make the server revoke the tokens issued from them (RFC 6749 §4.1.2), so
replay refuses them unless --force. Redacted values (redacted:sha256:...)
cannot be sent: supply them with --set NAME=VALUE (a body or query parameter),
--set header:Authorization=VALUE, or OAUTHPROXY_SET_<NAME> in the environment.

Examples:
  oauthproxy replay --only token server.har
  oauthproxy replay --entry 12 --set client_secret="$SECRET" server.har
  oauthproxy replay --only token --target https://staging-idp.example.com server.har`,
		run: runReplay,
	})
}

func runDiff(e *env, args []string) error {
	fs := newFlags(e, lookup("diff"))
	var key keyFlag
	key.register(fs)
	format := fs.String("format", "text", "output: text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := key.apply(e, ""); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("want two HAR files: A.har B.har")
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	diffMemoryLimit()
	a, err := loadCapture(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := loadCapture(fs.Arg(1))
	if err != nil {
		return err
	}
	rep := diff.CompareCaptures(a, b)
	if *format == "json" {
		return rep.WriteJSON(e.stdout)
	}
	return rep.WriteText(e.stdout)
}

// diffMemLimit is the soft memory limit of `diff` (docs/benchmarks.md
// section 5): its live heap is ~70 MiB for two 100k-entry captures with 30%
// OAuth, and the limit keeps the garbage collector's headroom from taking
// the process past 200 MiB. It is soft: a larger comparison still runs,
// with more collections.
const diffMemLimit = 150 << 20

// diffMemoryLimit sets diffMemLimit unless GOMEMLIMIT chose one.
func diffMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(diffMemLimit)
	}
}

// loadCapture streams a capture through the inspector, in order, so
// labels, findings and diagnoses are current (not whatever the capturing
// tool wrote), into a diff.Capture, which keeps only what the comparison
// uses: memory does not grow with the capture's size.
func loadCapture(path string) (*diff.Capture, error) {
	r, err := capture.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	in := inspect.New(inspect.Options{})
	c := diff.NewCapture(path)
	for {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		in.Inspect(x)
		c.Add(x)
	}
}

type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }

// Set appends an entry index.
func (l *intList) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("want an entry index (0, 1, ...)")
	}
	*l = append(*l, n)
	return nil
}

func runReplay(e *env, args []string) error {
	fs := newFlags(e, lookup("replay"))
	var key keyFlag
	key.register(fs)
	only := fs.String("only", "", "replay only exchanges with this OAuth label (token, userinfo, introspect, ...)")
	var entries intList
	fs.Var(&entries, "entry", "replay the HAR entry with this index (repeatable)")
	flowID := fs.String("flow", "", "replay the exchange with this flow id (a prefix is enough)")
	var sets listFlag
	fs.Var(&sets, "set", "NAME=VALUE for a body/query parameter, header:NAME=VALUE for a header (repeatable)")
	target := fs.String("target", "", "send to this base URL instead (scheme and host; a path replaces the captured path)")
	force := fs.Bool("force", false, "also replay single-use credentials (authorization codes, rotated refresh tokens)")
	format := fs.String("format", "console", "output: console or json")
	upstreamCA := listFlag{}
	fs.Var(&upstreamCA, "upstream-ca", "extra CA (PEM) to trust for the target server (repeatable)")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout per request")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := key.apply(e, ""); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one HAR file")
	}
	fmtOut, err := livelog.ParseFormat(*format)
	if err != nil {
		return usagef("--format %q: want console or json", *format)
	}
	opts := replay.Options{Only: flow.Label(*only), Entries: entries, Flow: *flowID, Force: *force, Set: map[string]string{}, Env: e.getenv}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return usagef("--set %q: want NAME=VALUE", s)
		}
		if err := checkSetHeader(k, v); err != nil {
			return err
		}
		opts.Set[k] = v
	}
	if *target != "" {
		u, err := url.Parse(*target)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return usagef("--target %q: want an http(s) URL", *target)
		}
		opts.Target = u
	}
	client, err := replayClient(upstreamCA, *timeout)
	if err != nil {
		return exitError{exitUsage, err}
	}
	opts.Client = client
	xs, err := capture.ReadAll(fs.Arg(0))
	if err != nil {
		return err
	}
	// Inspect the capture first, in order, so labels are known for --only
	// and correlation (authorize -> token, the code ledger) knows what the
	// captured session did: a forced replay of a code is then reported as
	// code-reused, which is what the server will say.
	insp := inspect.New(inspect.Options{})
	for _, x := range xs {
		insp.Inspect(x)
	}
	sel, err := replay.Select(xs, opts)
	if err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), "replay: "))
	}
	live := livelog.New(livelog.Options{Out: e.stdout, Format: fmtOut, Color: isTerminal(e.stdout)})
	failed := 0
	for i, x := range sel {
		nx, err := replay.Send(e.ctx, x, opts)
		if e.ctx.Err() != nil {
			// Ctrl-C: the request in flight was canceled.
			return exitError{exitFailure, fmt.Errorf("interrupted: %d of %d replays not completed", len(sel)-i, len(sel))}
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.stderr, "oauthproxy %v\n", err) // err starts with "replay: "
			continue
		}
		insp.Inspect(nx)
		live.Handle(nx)
		if fmtOut == livelog.FormatConsole {
			replay.WriteChanges(e.stdout, replay.Compare(x, nx))
		}
	}
	if failed > 0 {
		return exitError{exitFailure, fmt.Errorf("%d of %d replays not sent", failed, len(sel))}
	}
	return nil
}

// checkSetHeader refuses a --set header:NAME=VALUE that no HTTP request
// can carry (it would fail as if the network had), naming the header but
// never quoting the value, which may be a secret.
func checkSetHeader(k, v string) error {
	const prefix = "header:"
	if len(k) < len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
		return nil
	}
	name := strings.TrimSpace(k[len(prefix):])
	if !httpguts.ValidHeaderFieldName(name) {
		return usagef("--set: header name %q is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", name)
	}
	if !httpguts.ValidHeaderFieldValue(v) {
		return usagef("--set: the value given for header %q holds a line break or another control character, which an HTTP header cannot carry", name)
	}
	return nil
}

// replayClient trusts the system roots plus extraCAs and does not follow
// redirects (a replayed authorize request must show its redirect).
func replayClient(extraCAs []string, timeout time.Duration) (*http.Client, error) {
	pool, err := certs.LoadPool(extraCAs...)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
