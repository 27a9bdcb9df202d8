package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/inspect/diagnose"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/redact"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "diagnose a pasted error response, without the proxy",
		usage:   "[--status N] [--header 'Name: value']... [--endpoint token|authorize|resource] [--url URL] [FILE|-]",
		help: `Diagnose an error response you only have as text: its status, headers and
body (from FILE, or standard input when FILE is - or absent). Prints the same
diagnosis the proxy would print for that response.

Examples:
  oauthproxy explain --status 403 --header 'Server: cloudflare' page.html
  echo '{"error":"invalid_grant","error_description":"Code not valid"}' | oauthproxy explain --status 400
  pbpaste | oauthproxy explain --status 200 --header 'Content-Type: application/json' --url https://api.weixin.qq.com/sns/oauth2/access_token`,
		run: runExplain,
	})
	register(&command{
		name:    "analyze",
		summary: "inspect and diagnose a HAR capture offline",
		usage:   "[--format console|json] [--only-oauth] FILE.har",
		help: `Run the same inspection and diagnosis as the live proxy over a HAR file:
one from 'oauthproxy --har', or exported by Chrome/Edge/Firefox DevTools,
Fiddler, Charles, mitmproxy or HTTP Toolkit. Prints each exchange like the
live log, then a summary. Redacted captures work: reuse detection compares
fingerprints.

Examples:
  oauthproxy analyze login.har
  oauthproxy analyze --only-oauth --format json server.har | jq .diagnosis`,
		run: runAnalyze,
	})
}

func runExplain(e *env, args []string) error {
	fs := newFlags(e, lookup("explain"))
	status := fs.Int("status", 400, "HTTP status code of the response")
	var headers listFlag
	fs.Var(&headers, "header", "a response header, 'Name: value' (repeatable)")
	endpoint := fs.String("endpoint", "token", "what answered: token, authorize, resource, device, userinfo, introspect, revoke, par")
	rawURL := fs.String("url", "", "the URL that answered (helps recognise the provider)")
	format := fs.String("format", "console", "output: console or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *status < 100 || *status > 999 {
		return usagef("--status %d: want an HTTP status code", *status)
	}
	h := http.Header{}
	for _, l := range headers {
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("--header %q: want 'Name: value'", l)
		}
		h.Add(textproto.TrimString(k), textproto.TrimString(v))
	}
	fmtOut, err := livelog.ParseFormat(*format)
	if err != nil {
		return usagef("--format %q: want console or json", *format)
	}
	var label flow.Label
	switch *endpoint {
	case "token", "authorize", "device", "userinfo", "introspect", "revoke", "par", "jwks", "discovery":
		label = flow.Label(*endpoint)
	case "resource", "api":
		label = flow.LabelNone
	default:
		return usagef("--endpoint %q: want token, authorize, resource, device, userinfo, introspect, revoke or par", *endpoint)
	}
	var in io.Reader = e.stdin
	if fs.NArg() > 1 {
		return usagef("one body file at most")
	}
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	body, err := io.ReadAll(io.LimitReader(in, 16<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	x := explainExchange(label, *rawURL, *status, h, body)
	live := livelog.New(livelog.Options{Out: e.stdout, Format: fmtOut, Verbose: true})
	live.Handle(x)
	if x.OAuth.Diagnosis == nil && fmtOut == livelog.FormatConsole {
		fmt.Fprintln(e.stdout, "  no OAuth diagnosis: the response does not look like a failed OAuth exchange (try --endpoint or --status)")
	}
	return nil
}

// explainExchange builds the exchange `explain` diagnoses. It goes through
// the same diagnosis rules as live traffic, so both answer the same.
func explainExchange(label flow.Label, rawURL string, status int, h http.Header, body []byte) *flow.Exchange {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || u.Host == "" {
		path := map[flow.Label]string{
			flow.LabelToken: "/oauth2/token", flow.LabelAuthorize: "/oauth2/authorize", flow.LabelDevice: "/oauth2/device_authorization",
			flow.LabelUserinfo: "/userinfo", flow.LabelIntrospect: "/oauth2/introspect", flow.LabelRevoke: "/oauth2/revoke", flow.LabelPAR: "/oauth2/par",
			flow.LabelJWKS: "/.well-known/jwks.json", flow.LabelDiscovery: "/.well-known/openid-configuration",
		}[label]
		if path == "" {
			path = "/api/resource"
		}
		u = &url.URL{Scheme: "https", Host: "authorization-server.invalid", Path: path}
	}
	method := http.MethodPost
	if label == flow.LabelAuthorize || label == flow.LabelNone || label == flow.LabelDiscovery || label == flow.LabelJWKS || label == flow.LabelUserinfo {
		method = http.MethodGet
	}
	x := &flow.Exchange{
		ID:      uuid.NewString(),
		Start:   time.Now(),
		Request: flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Status: status, Proto: "HTTP/1.1", Header: h,
			Body: flow.Body{Data: body, Size: int64(len(body))}},
	}
	if enc := h.Get("Content-Encoding"); enc != "" {
		// A pasted body may still be compressed: decode it like the proxy does.
		x.Response.Body.Encoding = enc
		data, err := content.Decode(enc, body, 0)
		if err != nil {
			x.Response.Body.DecodeError = err.Error()
		} else {
			x.Response.Body.Data = data
		}
	}
	// There is no request to check: only the response is diagnosed, by the
	// same rules the live proxy applies after its request checks.
	x.OAuth.Label = label
	x.OAuth.Diagnosis = diagnose.Diagnose(x)
	return x
}

func runAnalyze(e *env, args []string) error {
	fs := newFlags(e, lookup("analyze"))
	var key keyFlag
	key.register(fs)
	format := fs.String("format", "console", "output: console or json (one object per exchange, like the live JSON log)")
	onlyOAuth := fs.Bool("only-oauth", false, "print only OAuth exchanges")
	var tokenEP listFlag
	fs.Var(&tokenEP, "token-endpoint", "treat this URL as a token endpoint (repeatable)")
	codeLifetime := fs.Duration("code-lifetime", 5*time.Minute, "report authorization codes older than this when exchanged")
	quiet := fs.Bool("quiet", false, "no progress or summary on stderr")
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
	insp := inspect.New(inspect.Options{TokenEndpoints: tokenEP, CodeLifetime: *codeLifetime})
	live := livelog.New(livelog.Options{Out: e.stdout, Format: fmtOut, OnlyOAuth: *onlyOAuth, Color: isTerminal(e.stdout)})
	sum := &livelog.Summary{}
	path := fs.Arg(0)
	creator, err := inspectFile(e, path, insp, *quiet, flow.Chain{sum, live})
	if err != nil {
		return err
	}
	if !*quiet {
		if creator != "" {
			fmt.Fprintf(e.stderr, "capture: %s, written by %s\n", path, creator)
		}
		sum.WriteTo(e.stderr)
	}
	return nil
}

// inspectFile reads the HAR at path, runs every exchange through insp and
// then hands it to next: the one code path of analyze and view. It shows
// progress on stderr for big files unless quiet, and returns the
// capture's creator.
func inspectFile(e *env, path string, insp *inspect.Inspector, quiet bool, next flow.Sink) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", exitError{exitFailure, err}
	}
	defer f.Close()
	st, _ := f.Stat()
	counter := &countingReader{r: bufio.NewReaderSize(f, 256<<10)}
	r, err := capture.NewReader(counter)
	if err != nil {
		return "", exitError{exitFailure, fmt.Errorf("%s: %w", path, err)}
	}
	chain := flow.Chain{insp, next}
	progress := newProgress(e, st, quiet)
	for {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			progress.done()
			return "", exitError{exitFailure, fmt.Errorf("%s: %w", path, err)}
		}
		if p := flow.HandleSafe(chain, x); p != nil {
			// A bug in one check costs that entry, not the whole analysis.
			fmt.Fprintf(e.stderr, "oauthproxy analyze: entry %d skipped by %s\n", x.Seq, redact.Text(p.Error()))
		}
		progress.update(counter.n)
	}
	progress.done()
	return r.Creator(), nil
}

// countingReader counts bytes read, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress prints "analyzing: 42% (120 MiB of 284 MiB)" on stderr for big
// files, at most a few times a second.
type progress struct {
	e     *env
	total int64
	last  time.Time
	shown bool
}

func newProgress(e *env, st os.FileInfo, quiet bool) *progress {
	p := &progress{e: e}
	// "\r" redraws a line on a terminal only: into a file or a CI log it
	// would pile up as one long line.
	if st != nil && !quiet && st.Size() > 32<<20 && isTerminal(e.stderr) {
		p.total = st.Size()
	}
	return p
}

func (p *progress) update(n int64) {
	if p.total == 0 || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.e.stderr, "\ranalyzing: %3d%% (%d MiB of %d MiB)", n*100/p.total, n>>20, p.total>>20)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintf(p.e.stderr, "\ranalyzing: 100%% (%d MiB)            \n", p.total>>20)
		p.shown = false
	}
}
