package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/ledger"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/otlpexport"
	"github.com/oauthproxy/oauthproxy/proxy"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/trustenv"
	"github.com/oauthproxy/oauthproxy/webui"
)

func init() {
	register(&command{
		name:    "run",
		summary: "start the intercepting proxy (default)",
		usage:   "[flags]",
		help: `Start the proxy. Point an app's HTTPS_PROXY at it, trust its CA, and watch
every exchange in the live log, with OAuth traffic recognised, checked and
diagnosed. A CA is created in the data directory on first start.

Examples:
  oauthproxy                                   # 127.0.0.1:8080, console log
  oauthproxy --log-format json --only-oauth    # one JSON object per OAuth exchange
  oauthproxy --har session.har                 # also record a redacted HAR
  # then open http://127.0.0.1:8080/ for the live view (logins as diagrams)
  oauthproxy --upstream-ca ./staging-ca.pem    # trust a private IdP's CA upstream
  oauthproxy --otlp http://otel-collector:4318 # also send each exchange to an OpenTelemetry collector
  oauthproxy --listen 0.0.0.0:8080 --allow-remote --proxy-auth user:pass   # in a container

Environment:
  OAUTHPROXY_HOME          data directory when --data-dir is not given
  OAUTHPROXY_PROXY_AUTH    USER:PASS when --proxy-auth is not given (keeps it out of ps)
  OTEL_EXPORTER_OTLP_HEADERS  K=V,K2=V2 headers for --otlp when no --otlp-header is given (keeps them out of ps)
  SSL_CERT_FILE            CA bundle trusted upstream, as for any Go program
  GOGC                     garbage collector target; the proxy uses 200 when unset
  OAUTHPROXY_CPUPROFILE    write a CPU profile of the run to this file (for performance work)
  OAUTHPROXY_IDLE_RELEASE_AFTER  idle time after traffic before memory is returned to the system (30s; for tests)`,
		run: runProxy,
	})
}

// commonFlags are the data-dir / CA flags shared by run, ca and env.
type commonFlags struct {
	dataDir string
	caCert  string
	caKey   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "", "directory for the CA, the code ledger and the trust bundle (default $OAUTHPROXY_HOME, else the user config dir + /oauthproxy)")
	fs.StringVar(&c.caCert, "ca-cert", "", "use this CA certificate (PEM) instead of the generated one; needs --ca-key")
	fs.StringVar(&c.caKey, "ca-key", "", "private key (PEM: PKCS#8, PKCS#1 or SEC1; ECDSA or RSA) of --ca-cert")
}

// dir returns the data directory.
func (c *commonFlags) dir(e *env) (string, error) {
	if c.dataDir != "" {
		return c.dataDir, nil
	}
	if h := e.getenv("OAUTHPROXY_HOME"); h != "" {
		return h, nil
	}
	d, err := certs.DefaultDir()
	if err != nil {
		return "", usagef("no data directory: %v; pass --data-dir", err)
	}
	return d, nil
}

// ca loads or creates the CA. Configuration problems (bad PEM, key
// permissions) are usage errors: exit 2 with one clear line.
func (c *commonFlags) ca(e *env) (*certs.CA, string, error) {
	dir, err := c.dir(e)
	if err != nil {
		return nil, "", err
	}
	if (c.caCert == "") != (c.caKey == "") {
		return nil, "", usagef("--ca-cert and --ca-key go together")
	}
	var ca *certs.CA
	if c.caCert != "" {
		ca, err = certs.Load(c.caCert, c.caKey)
	} else {
		ca, err = certs.LoadOrCreate(dir)
	}
	if err != nil {
		return nil, "", exitError{exitUsage, err}
	}
	return ca, dir, nil
}

type runFlags struct {
	common        commonFlags
	listen        string
	upstreamCA    listFlag
	upstreamProxy string
	egress        string
	passthrough   listFlag
	intercept     listFlag
	tokenEP       listFlag
	logFormat     string
	onlyOAuth     bool
	verbose       bool
	har           string
	harScope      string
	harUnredacted bool
	harOverwrite  bool
	harAppend     bool
	bodyCap       int64
	allowRemote   bool
	proxyAuth     string
	codeLifetime  time.Duration
	noLedger      bool
	idleTimeout   time.Duration
	headerTimeout time.Duration
	upTimeout     time.Duration
	upIdle        time.Duration
	otlp          string
	otlpHeaders   listFlag
	otlpQueue     int
	otlpTimeout   time.Duration
	noUI          bool
	uiBytes       int64
	key           keyFlag
	keyFrom       string // where the fingerprint key came from, if any
}

func runProxy(e *env, args []string) error {
	c := lookup("run")
	fs := newFlags(e, c)
	var f runFlags
	f.register(fs, "127.0.0.1:8080")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return serveProxy(e, f, serveHooks{})
}

// register defines the flags of `run` (also taken by `exec`) on fs.
func (f *runFlags) register(fs *flag.FlagSet, listen string) {
	f.common.register(fs)
	f.key.register(fs)
	fs.StringVar(&f.listen, "listen", listen, "address to listen on; non-loopback needs --allow-remote and --proxy-auth")
	fs.Var(&f.upstreamCA, "upstream-ca", "extra CA (PEM) to trust for upstream servers, besides the system roots and $SSL_CERT_FILE (repeatable)")
	fs.StringVar(&f.upstreamProxy, "upstream-proxy", "", "send upstream traffic through this proxy (http://host:port); HTTPS_PROXY from the environment is never used")
	fs.StringVar(&f.egress, "egress-addr", "", "bind upstream connections to this local IP (multi-homed hosts, allowlist tests)")
	fs.Var(&f.passthrough, "passthrough", "tunnel hosts matching this glob untouched, e.g. '*.apple.com' for certificate-pinned apps (repeatable)")
	fs.Var(&f.intercept, "intercept", "intercept only hosts matching this glob; tunnel all others (repeatable)")
	fs.Var(&f.tokenEP, "token-endpoint", "treat this URL as a token endpoint, in addition to those learned from discovery (repeatable)")
	fs.StringVar(&f.logFormat, "log-format", "console", "live log format: console or json (one object per exchange)")
	fs.BoolVar(&f.onlyOAuth, "only-oauth", false, "log only OAuth exchanges")
	fs.BoolVar(&f.verbose, "verbose", false, "also print fixes of info findings and rule sources")
	fs.StringVar(&f.har, "har", "", "record exchanges to this HAR 1.2 file (secrets redacted); a journal beside it survives crashes")
	fs.StringVar(&f.harScope, "har-scope", "all", "what --har records: all or oauth")
	fs.BoolVar(&f.harUnredacted, "har-unredacted", false, "DANGER: write raw secrets (client secrets, codes, tokens, cookies) into the HAR")
	fs.BoolVar(&f.harOverwrite, "har-overwrite", false, "replace the --har file if it exists (by default an existing capture is never touched)")
	fs.BoolVar(&f.harAppend, "har-append", false, "add to the --har file if it exists, keeping its entries")
	fs.Int64Var(&f.bodyCap, "body-cap", 1<<20, "bytes of each body kept for inspection and capture")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow listening on a non-loopback address (requires --proxy-auth)")
	fs.StringVar(&f.proxyAuth, "proxy-auth", "", "require Proxy-Authorization Basic USER:PASS from clients (default $OAUTHPROXY_PROXY_AUTH)")
	fs.DurationVar(&f.codeLifetime, "code-lifetime", 5*time.Minute, "report authorization codes older than this when exchanged (code-stale)")
	fs.BoolVar(&f.noLedger, "no-ledger", false, "keep the code ledger in memory only (reuse is then not caught across restarts)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 120*time.Second, "close idle client connections, answer 408 to a request body that stops arriving, and cut a client that stops reading its answer, after this long")
	fs.DurationVar(&f.headerTimeout, "header-timeout", 30*time.Second, "time a client has to send request headers")
	fs.DurationVar(&f.upTimeout, "upstream-timeout", 60*time.Second, "time to wait for upstream response headers (and for the rest of a body of at most 16 KiB)")
	fs.DurationVar(&f.upIdle, "upstream-idle-timeout", 0, "cut a streamed response body that brings no bytes for this long (0: never, as long-polls and event streams need)")
	fs.StringVar(&f.otlp, "otlp", "", "also send each exchange, redacted, as an OpenTelemetry log record to this OTLP/HTTP collector URL (http://host:4318; /v1/logs is added when there is no path)")
	fs.Var(&f.otlpHeaders, "otlp-header", "header K=V sent with every --otlp export, e.g. an Authorization for the collector (repeatable)")
	fs.IntVar(&f.otlpQueue, "otlp-queue", 2048, "records --otlp keeps while the collector is slow or down; beyond that they are dropped and counted")
	fs.DurationVar(&f.otlpTimeout, "otlp-timeout", 5*time.Second, "longest wait for the --otlp collector: one request, and the last export at shutdown")
	fs.BoolVar(&f.noUI, "no-ui", false, "do not serve the web UI at the proxy's address (the CA page stays at /ca)")
	fs.Int64Var(&f.uiBytes, "ui-bytes", webui.DefaultMaxBytes, "bytes of recent exchanges the web UI keeps in memory")
}

// serveHooks let `exec` reuse the proxy of `run`: zero hooks is `run`.
type serveHooks struct {
	// sink, when set, also receives every exchange, after the log.
	sink flow.Sink
	// logOut, when set, receives the live log instead of stdout.
	logOut io.Writer
	// ready, when set, is called once the proxy listens, instead of
	// printing the banner.
	ready func(srv *proxy.Server, ca *certs.CA, dir string)
}

// serveProxy runs the proxy configured by f until e.ctx is done.
func serveProxy(e *env, f runFlags, hooks serveHooks) error {
	otlpOpts, err := otlpOptions(f)
	if err != nil {
		return err
	}
	if f.uiBytes <= 0 {
		return usagef("--ui-bytes %d: want a positive number of bytes", f.uiBytes)
	}
	if f.proxyAuth == "" {
		// From the environment so it does not show in ps (the Docker image uses this).
		f.proxyAuth = e.getenv("OAUTHPROXY_PROXY_AUTH")
	}
	if f.proxyAuth != "" && !strings.Contains(f.proxyAuth, ":") {
		return usagef("--proxy-auth: want USER:PASS")
	}
	format, err := livelog.ParseFormat(f.logFormat)
	if err != nil {
		return usagef("--log-format %q: want console or json", f.logFormat)
	}
	idleRelease, err := idleReleaseAfter(e.getenv(idleReleaseEnv))
	if err != nil {
		return err
	}
	var scope capture.Scope
	switch f.harScope {
	case "all":
		scope = capture.ScopeAll
	case "oauth":
		scope = capture.ScopeOAuth
	default:
		return usagef("--har-scope %q: want all or oauth", f.harScope)
	}
	if f.harUnredacted && f.har == "" {
		return usagef("--har-unredacted needs --har FILE")
	}
	existing := capture.Refuse
	switch {
	case f.harOverwrite && f.harAppend:
		return usagef("--har-overwrite and --har-append exclude each other")
	case (f.harOverwrite || f.harAppend) && f.har == "":
		return usagef("--har-overwrite and --har-append need --har FILE")
	case f.harOverwrite:
		existing = capture.Overwrite
	case f.harAppend:
		existing = capture.Append
	}
	var upProxy *url.URL
	if f.upstreamProxy != "" {
		upProxy, err = url.Parse(f.upstreamProxy)
		if err != nil || upProxy.Host == "" {
			return usagef("--upstream-proxy %q: want a URL like http://host:port", f.upstreamProxy)
		}
	}
	if f.egress != "" && net.ParseIP(f.egress) == nil {
		return usagef("--egress-addr %q: want an IP address", f.egress)
	}
	for _, ep := range f.tokenEP {
		if u, err := url.Parse(ep); err != nil || u.Host == "" {
			return usagef("--token-endpoint %q: want an absolute URL", ep)
		}
	}

	ca, dir, err := f.common.ca(e)
	if err != nil {
		return err
	}
	if f.keyFrom, err = f.key.apply(e, dir); err != nil {
		return err
	}
	roots, err := certs.LoadPool(f.upstreamCA...)
	if err != nil {
		return exitError{exitUsage, err}
	}

	// Internal events (listener errors, client TLS failures) go to stderr.
	isTTY := isTerminal(e.stderr)
	var internal zerolog.Logger
	if format == livelog.FormatJSON {
		internal = zerolog.New(e.stderr).With().Timestamp().Logger()
	} else {
		internal = zerolog.New(zerolog.ConsoleWriter{Out: e.stderr, NoColor: !isTTY, TimeFormat: "15:04:05"}).With().Timestamp().Logger()
	}

	var led inspect.Ledger
	if !f.noLedger {
		l, err := ledger.Open(filepath.Join(dir, "ledger.jsonl"), ledger.Options{Logf: func(format string, args ...any) { internal.Warn().Msgf(format, args...) }})
		if err != nil {
			// A read-only data directory (a container, a shared config)
			// need not stop the proxy.
			return fmt.Errorf("%w; pass --no-ledger to keep the code ledger in memory only (reuse is then not caught across restarts), or make %s writable", err, dir)
		}
		defer l.Close()
		led = l
	}
	insp := inspect.New(inspect.Options{TokenEndpoints: f.tokenEP, Ledger: led, CodeLifetime: f.codeLifetime})
	// The log is written by its own goroutine: under load many lines share
	// one write, and no exchange waits on a slow terminal.
	out := io.Writer(e.stdout)
	if hooks.logOut != nil {
		out = hooks.logOut
	}
	logOut := livelog.NewAsyncWriter(out)
	defer logOut.Close()
	live := livelog.New(livelog.Options{Out: logOut, Format: format, Color: isTerminal(out), OnlyOAuth: f.onlyOAuth, Verbose: f.verbose})

	chain := flow.Chain{insp, live}
	var ui *webui.Server
	if !f.noUI {
		ui = webui.New(webui.Options{
			MaxBytes:  f.uiBytes,
			Title:     f.listen,
			ProxyAddr: f.listen,
			Version:   version,
			// Re-sent requests go straight upstream, trusting what the proxy trusts.
			ReplayClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}},
		})
		defer ui.Close()
		chain = append(chain, ui)
	}
	var har *capture.Writer
	if f.har != "" {
		harPath := f.har
		har, err = capture.NewWriter(harPath, capture.WriterOptions{Unredacted: f.harUnredacted, BodyCap: f.bodyCap, Scope: scope, Creator: version, Existing: existing,
			OnWriteError: func(err error, failed, recorded int) {
				// Said at once (a full disk must not be a surprise at
				// shutdown), then at the 2nd, 4th, 8th... failure.
				internal.Error().Err(err).Int("not_recorded", failed).Int("recorded", recorded).
					Msgf("oauthproxy: cannot write to the HAR capture %s: %d exchange(s) not recorded so far", harPath, failed)
			}})
		if err != nil {
			var ee *capture.ExistsError
			if errors.As(err, &ee) {
				return usageError{err.Error()} // a flag away from working
			}
			return err
		}
		chain = append(chain, har)
	}
	var otlp *otlpexport.Sink
	if otlpOpts != nil {
		otlpOpts.Logf = func(format string, args ...any) { internal.Warn().Msgf(format, args...) }
		otlp, err = otlpexport.New(*otlpOpts)
		if err != nil {
			return exitError{exitUsage, err}
		}
		// Closed after the queue, so that every exchange reached it.
		defer closeOTLP(e, otlp, f.otlpTimeout)
		chain = append(chain, otlp)
	}
	if hooks.sink != nil {
		chain = append(chain, hooks.sink)
	}

	// Inspection correlates exchanges, so they reach it one at a time and in
	// order, from one goroutine: connections never wait on each other.
	// A panic in a sink costs that exchange (for that sink), is logged, and
	// the proxy keeps serving.
	queue := flow.NewQueueOptions(chain, flow.QueueOptions{OnPanic: func(x *flow.Exchange, p *flow.SinkPanic) {
		internal.Error().Str("exchange", x.ID).Str("sink", p.Sink).Str("panic", redact.Text(fmt.Sprint(p.Value))).
			Msg("oauthproxy: a sink panicked; the exchange was dropped for it (please report this bug)")
	}})
	defer queue.Close()
	var site http.Handler
	if ui != nil {
		// A re-sent exchange goes through the whole pipeline, like any other.
		ui.SetReplayed(queue)
		site = webui.Guard(ui, f.proxyAuth)
	}

	srv, err := proxy.New(proxy.Options{
		Listen:              f.listen,
		CA:                  ca,
		RootCAs:             roots,
		UpstreamProxy:       upProxy,
		EgressAddr:          f.egress,
		Passthrough:         f.passthrough,
		Intercept:           f.intercept,
		ProxyAuth:           f.proxyAuth,
		AllowRemote:         f.allowRemote,
		BodyCap:             f.bodyCap,
		IdleTimeout:         f.idleTimeout,
		HeaderTimeout:       f.headerTimeout,
		UpstreamTimeout:     f.upTimeout,
		UpstreamIdleTimeout: f.upIdle,
		Sink:                queue,
		Site:                site,
		Logger:              internal,
		IdleRelease:         idleRelease,
		// The counters page (/debug/vars) shows these next to the proxy's own.
		Vars: func() map[string]int64 {
			v := map[string]int64{"queue_depth": int64(queue.Len()), "queue_bytes": queue.Bytes()}
			if har != nil {
				v["har_exchanges_written"] = int64(har.Count())
			}
			if otlp != nil {
				st := otlp.Stats()
				v["otlp_exported"], v["otlp_dropped"], v["otlp_failed"] = int64(st.Exported), int64(st.Dropped), int64(st.Failed)
			}
			return v
		},
	})
	if err != nil {
		return exitError{exitUsage, err}
	}

	if e.getenv("GOGC") == "" {
		// The proxy's live heap is small (2-3 MB): at the runtime's default
		// (GOGC=100) it collected every ~50 ms under load and that was 8% of
		// its CPU per exchange; at 200 it collects half as often for a few
		// MB more (docs/benchmarks.md). GOGC in the environment overrides.
		defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	}

	if path := e.getenv("OAUTHPROXY_CPUPROFILE"); path != "" {
		// For performance work: a CPU profile of the whole run.
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}

	ctx, stop := context.WithCancel(e.ctx)
	defer stop()
	if ui != nil {
		// Open pages must not hold up the shutdown.
		go func() { <-ctx.Done(); ui.Close() }()
	}
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	go func() {
		for i := 0; i < 200; i++ {
			if a := srv.Addr(); a != nil {
				ready <- a
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	select {
	case err := <-errc:
		queue.Close()
		closeHAR(e, har)
		if err != nil {
			// Not a usage error: the flags were fine, the listen failed.
			if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("%w (another program, or another oauthproxy, listens there: pick a free port with --listen 127.0.0.1:PORT)", err)
			}
			return exitError{exitFailure, err}
		}
		return nil
	case addr := <-ready:
		if ui != nil {
			ui.SetTitle(addr.String())
		}
		if hooks.ready != nil {
			hooks.ready(srv, ca, dir)
		} else {
			banner(e, addr, ca, dir, f, format)
		}
	}
	err = <-errc
	stop()
	queue.Close()
	logOut.Close()
	if hooks.ready == nil {
		fmt.Fprintln(e.stderr, "oauthproxy: shutting down")
	}
	if herr := closeHAR(e, har); err == nil {
		err = herr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// otlpOptions checks the --otlp flags; nil without --otlp.
func otlpOptions(f runFlags) (*otlpexport.Options, error) {
	if f.otlp == "" {
		if len(f.otlpHeaders) > 0 {
			return nil, usagef("--otlp-header needs --otlp URL")
		}
		return nil, nil
	}
	if _, err := otlpexport.ParseEndpoint(f.otlp); err != nil {
		return nil, usagef("--otlp %q: want an http:// or https:// collector URL such as http://127.0.0.1:4318", f.otlp)
	}
	if f.otlpQueue < 1 {
		return nil, usagef("--otlp-queue %d: want at least 1", f.otlpQueue)
	}
	if f.otlpTimeout <= 0 {
		return nil, usagef("--otlp-timeout %s: want a positive duration", f.otlpTimeout)
	}
	o := &otlpexport.Options{Endpoint: f.otlp, ServiceVersion: version, QueueSize: f.otlpQueue, RequestTimeout: f.otlpTimeout}
	for _, h := range f.otlpHeaders {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--otlp-header: want K=V, e.g. 'Authorization=Bearer ...'")
		}
		if o.Headers == nil {
			o.Headers = map[string]string{}
		}
		o.Headers[strings.TrimSpace(k)] = v
	}
	return o, nil
}

// closeOTLP sends what the OTLP sink still holds, waiting at most timeout,
// and says what was exported and lost.
func closeOTLP(e *env, s *otlpexport.Sink, timeout time.Duration) {
	err := s.Close(timeout)
	if st := s.Stats(); st.Handled > 0 || err != nil {
		fmt.Fprintf(e.stderr, "oauthproxy: otlp: %s\n", st)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "oauthproxy: %v\n", err)
	}
}

func closeHAR(e *env, har *capture.Writer) error {
	if har == nil {
		return nil
	}
	if err := har.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "oauthproxy: wrote %d exchanges to the HAR file\n", har.Count())
	return nil
}

func banner(e *env, addr net.Addr, ca *certs.CA, dir string, f runFlags, format livelog.Format) {
	w := e.stderr
	fmt.Fprintf(w, "oauthproxy %s listening on http://%s\n", version, addr)
	caPath := ca.CertFile
	if caPath == "" {
		caPath = "(in memory)"
	}
	fmt.Fprintf(w, "  CA certificate: %s\n", caPath)
	fmt.Fprintf(w, "  route a shell through it:  eval \"$(oauthproxy env --listen %s%s)\"\n", addr, dataDirArg(f.common))
	if !f.noUI {
		fmt.Fprintf(w, "  live view in a browser: http://%s/\n", addr)
	}
	fmt.Fprintf(w, "  CA download and trust help: http://%s/ca\n", addr)
	if f.har != "" {
		fmt.Fprintf(w, "  recording to %s (journal %s.journal)\n", f.har, f.har)
	}
	if f.keyFrom != "" {
		fmt.Fprintf(w, "  fingerprints keyed with %s: compare only with captures made with the same key\n", f.keyFrom)
	}
	if f.otlp != "" {
		u, _ := otlpexport.ParseEndpoint(f.otlp)
		fmt.Fprintf(w, "  exporting to the OpenTelemetry collector %s\n", u.Redacted())
	}
	if f.harUnredacted {
		fmt.Fprintf(w, "\n  !!! --har-unredacted: %s WILL CONTAIN RAW SECRETS (client secrets, codes, tokens, cookies).\n  !!! Do not attach it to a bug report or share it.\n\n", f.har)
	}
	if format == livelog.FormatConsole {
		fmt.Fprintln(w, "  press Ctrl-C to stop")
	}
}

func dataDirArg(c commonFlags) string {
	if c.dataDir == "" {
		return ""
	}
	return " --data-dir " + shellQuote(c.dataDir)
}

// shellQuote quotes s for a POSIX shell (see trustenv.ShellQuote).
func shellQuote(s string) string { return trustenv.ShellQuote(s) }

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// gcPercent is the garbage collector target of `run` when GOGC is not set.
const gcPercent = 200
