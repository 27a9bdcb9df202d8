// Package proxy is oauthproxy's forward proxy: plain HTTP proxying and
// CONNECT with interception (MITM) of HTTPS, on top of
// github.com/elazarl/goproxy (the only package that imports it).
//
// Every request that goes through it becomes one flow.Exchange handed to
// Options.Sink exactly once, after the response body has been relayed (or
// when the upstream failed). Bodies are streamed both ways and teed into a
// bounded capture; encodings are removed only in the captured copy, never
// in what the client receives. A body of at most 16 KiB with a
// Content-Length (token requests and responses, error pages) is read whole
// before it is relayed, so that it leaves with its header in one write.
// Upstream failures become a short "502 Bad Gateway" that names the host
// and the reason.
//
// Hosts matched by Options.Passthrough (or not matched by a non-empty
// Options.Intercept) are tunnelled untouched; such a tunnel becomes one
// CONNECT exchange when it closes. A request addressed to the proxy itself
// goes to Options.Site (the web UI) when set; the page from which the CA
// certificate can be downloaded stays at /ca (the whole of it without Site).
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/rs/zerolog"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultBodyCap         = 1 << 20
	DefaultIdleTimeout     = 120 * time.Second
	DefaultHeaderTimeout   = 30 * time.Second
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultDialTimeout     = 30 * time.Second
)

// Options configures a Server. Only CA is required.
type Options struct {
	// Listen is the address to listen on; DefaultListen when empty.
	Listen string
	// Vars, when set, adds counters of the parts around the proxy (queue
	// depth, HAR exchanges written...) to the /debug/vars page.
	Vars func() map[string]int64
	// CA signs the leaf certificates of intercepted hosts.
	CA *certs.CA
	// Minter mints the leaves; nil means certs.NewMinter(CA, 0).
	Minter *certs.Minter
	// RootCAs are the roots trusted for upstream TLS; nil means the system pool.
	RootCAs *x509.CertPool
	// UpstreamProxy, when set, is the proxy every upstream connection goes
	// through (http or https scheme, optional user:pass). It is never taken
	// from the environment (HTTPS_PROXY and friends are ignored).
	UpstreamProxy *url.URL
	// EgressAddr is a local IP address upstream connections are bound to.
	EgressAddr string
	// Passthrough lists host globs (path.Match syntax, "*.example.com")
	// whose CONNECT tunnels are relayed untouched.
	Passthrough []string
	// Intercept, if non-empty, lists the only host globs that are
	// intercepted; CONNECTs to any other host are tunnelled.
	Intercept []string
	// ProxyAuth is "user:pass"; when set, every plain request and every
	// CONNECT must carry matching Basic Proxy-Authorization (else 407).
	ProxyAuth string
	// AllowRemote allows a non-loopback Listen address; it also requires ProxyAuth.
	AllowRemote bool
	// BodyCap is how many bytes of each body are kept for inspection;
	// DefaultBodyCap when 0, nothing when negative.
	BodyCap int64
	// IdleTimeout closes client connections idle between requests (also
	// inside intercepted tunnels) and bounds a stalled body transfer;
	// DefaultIdleTimeout when 0, none when negative.
	IdleTimeout time.Duration
	// HeaderTimeout bounds reading a request's header once its first byte
	// arrived (for an intercepted tunnel, also the TLS handshake);
	// DefaultHeaderTimeout when 0, none when negative.
	HeaderTimeout time.Duration
	// UpstreamTimeout bounds the wait for upstream response headers after
	// the request was written, and then for the rest of a small body (one
	// that is read whole before it is relayed); DefaultUpstreamTimeout when
	// 0, none when negative.
	UpstreamTimeout time.Duration
	// UpstreamIdleTimeout, when positive, cuts a streamed response body
	// (one not read whole first) that brings no new bytes for that long;
	// zero (the default) waits for as long as the upstream keeps the
	// connection open, as long-polls and event streams need.
	UpstreamIdleTimeout time.Duration
	// DialTimeout bounds DNS plus TCP connect (plus TLS handshake for the
	// upstream proxy) of an upstream connection; DefaultDialTimeout when 0.
	DialTimeout time.Duration
	// Sink receives every finished exchange exactly once; may be nil. It is
	// called from the goroutine relaying the exchange, so it must be safe
	// for concurrent use (see flow.Serial) and should be quick.
	Sink flow.Sink
	// Site, when set, serves requests addressed to the proxy itself (the
	// web UI), except the CA paths /ca (trust page), /ca.pem and /ca.der,
	// which stay the proxy's own. Site must do its own access control
	// (webui.Guard): origin-form requests reach it without proxy auth. A
	// request body (at most 64 KiB) is read before Site sees the request,
	// under IdleTimeout like a proxied request's body: a client that stops
	// sending it gets 408 and its connection closed.
	Site http.Handler
	// Logger receives proxy-internal events (listener errors, client TLS
	// handshake failures); the zero Logger discards them.
	Logger zerolog.Logger
	// IdleRelease, when positive, returns the memory a burst of traffic
	// left behind to the operating system once no exchange has started
	// for between one and two IdleRelease (runtime/debug.FreeOSMemory,
	// once per idle period); zero leaves it to the Go runtime (minutes).
	IdleRelease time.Duration
}

// Server is a running (or ready to run) proxy. Create it with New.
type Server struct {
	opts    Options
	minter  *certs.Minter
	sink    flow.Sink
	log     zerolog.Logger
	dialer  *net.Dialer
	tr      *http.Transport
	gp      *goproxy.ProxyHttpServer
	mitm    *goproxy.ConnectAction
	rt      goproxy.RoundTripper
	srv     *http.Server
	bodyCap int64
	idle    time.Duration
	header  time.Duration

	auth        []byte // "user:pass", nil when not required
	passthrough []string
	intercept   []string
	upProxyAuth string // Proxy-Authorization value for UpstreamProxy, "" if none
	page        *caPage

	self     atomic.Pointer[selfAddrs]
	addr     atomic.Pointer[net.Addr]
	shutting atomic.Bool
	inflight atomic.Int64 // recorded exchanges not yet handed to the sink
	tunnels  atomic.Int64 // passthrough tunnels not yet handed to the sink
	seq      atomic.Int64
	connSeq  atomic.Uint64

	upstreamConns atomic.Int64 // open upstream connections (for /debug/vars)
	serveOnce     sync.Once
	idleStop      chan struct{} // closed by Shutdown: ends releaseWhenIdle
	idleReleases  atomic.Int64  // memory releases after a burst (for /debug/vars)
	idleStopOnce  sync.Once

	mu    sync.Mutex
	conns map[*clientConn]struct{}
}

// New validates opts and returns a Server; it does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.CA == nil || opts.CA.Cert == nil || opts.CA.Key == nil {
		return nil, errors.New("proxy: no CA (Options.CA is required)")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if err := checkListen(opts.Listen, opts.AllowRemote, opts.ProxyAuth); err != nil {
		return nil, err
	}
	if opts.ProxyAuth != "" && !strings.Contains(opts.ProxyAuth, ":") {
		return nil, errors.New("proxy: proxy auth must be user:pass")
	}
	for _, list := range [][]string{opts.Passthrough, opts.Intercept} {
		for _, g := range list {
			if _, err := path.Match(strings.ToLower(g), ""); err != nil || g == "" {
				return nil, fmt.Errorf("proxy: bad host pattern %q (use path.Match syntax such as *.example.com)", g)
			}
		}
	}
	var egress net.IP
	if opts.EgressAddr != "" {
		egress = net.ParseIP(opts.EgressAddr)
		if egress == nil {
			return nil, fmt.Errorf("proxy: egress address %q is not an IP address", opts.EgressAddr)
		}
	}
	if u := opts.UpstreamProxy; u != nil {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("proxy: upstream proxy %q must be http://host:port or https://host:port", u.Redacted())
		}
	}
	if opts.BodyCap == 0 {
		opts.BodyCap = DefaultBodyCap
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.HeaderTimeout == 0 {
		opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if opts.UpstreamTimeout == 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}

	s := &Server{
		opts:     opts,
		minter:   opts.Minter,
		sink:     opts.Sink,
		log:      opts.Logger,
		bodyCap:  max(opts.BodyCap, 0),
		idle:     max(opts.IdleTimeout, 0),
		header:   max(opts.HeaderTimeout, 0),
		conns:    make(map[*clientConn]struct{}),
		idleStop: make(chan struct{}),
	}
	if s.minter == nil {
		s.minter = certs.NewMinter(opts.CA, 0)
	}
	if opts.ProxyAuth != "" {
		s.auth = []byte(opts.ProxyAuth)
	}
	for _, g := range opts.Passthrough {
		s.passthrough = append(s.passthrough, strings.ToLower(g))
	}
	for _, g := range opts.Intercept {
		s.intercept = append(s.intercept, strings.ToLower(g))
	}
	s.page = newCAPage(opts.CA)
	s.page.site = opts.Site != nil

	s.dialer = &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	if egress != nil {
		s.dialer.LocalAddr = &net.TCPAddr{IP: egress}
	}
	s.tr = &http.Transport{
		Proxy:                 nil, // never from the environment
		DialContext:           s.dial,
		TLSClientConfig:       &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   opts.DialTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: max(opts.UpstreamTimeout, 0),
	}
	if u := opts.UpstreamProxy; u != nil {
		s.tr.Proxy = http.ProxyURL(u)
		if u.User != nil {
			pw, _ := u.User.Password()
			s.upProxyAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
		}
	}

	gp := goproxy.NewProxyHttpServer()
	gp.Logger = goproxyLogger{s.log}
	gp.Verbose = false
	gp.Tr = s.tr
	gp.ConnectDial = nil // NewProxyHttpServer reads HTTPS_PROXY; we never tunnel through goproxy anyway
	gp.ConnectDialWithReq = nil
	gp.KeepAcceptEncoding = true
	// KeepHeader makes goproxy skip RemoveProxyHeaders: the recorder keeps
	// the headers as the client sent them and strips hop-by-hop headers itself.
	gp.KeepHeader = true
	gp.AllowHTTP2 = false
	gp.NonproxyHandler = http.HandlerFunc(s.servePage)
	s.rt = recorder{s}
	s.mitm = &goproxy.ConnectAction{
		Action: goproxy.ConnectMitm,
		TLSConfig: func(host string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
			return s.minter.TLSConfig(host), nil
		},
	}
	gp.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		ctx.UserData = &tunnelInfo{conn: connFrom(ctx.Req.Context())}
		ctx.RoundTripper = s.rt
		return s.mitm, host
	})
	gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		ctx.RoundTripper = s.rt
		return r, nil
	})
	s.gp = gp

	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: s.header,
		IdleTimeout:       s.idle,
		ErrorLog:          log.New(httpLogWriter{s.log}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*clientConn); ok {
				return context.WithValue(ctx, connKey{}, cc)
			}
			return ctx
		},
	}
	return s, nil
}

// checkListen refuses a non-loopback listen address unless remote use was
// asked for and proxy authentication is set.
func checkListen(addr string, allowRemote bool, auth string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("proxy: listen address %q: %w", addr, err)
	}
	if isLoopbackHost(host) {
		return nil
	}
	switch {
	case !allowRemote:
		return fmt.Errorf("proxy: refusing to listen on %s: it is not a loopback address, so anyone who can reach it could use the proxy and see its traffic; listen on 127.0.0.1, or set both --allow-remote and --proxy-auth user:pass", addr)
	case auth == "":
		return fmt.Errorf("proxy: refusing to listen on %s without proxy authentication: set --proxy-auth user:pass together with --allow-remote", addr)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ListenAndServe listens on Options.Listen and serves until ctx is done,
// then shuts down gracefully (waiting up to 10 s for in-flight exchanges).
// It returns nil after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return listenError(s.opts.Listen, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.Shutdown(sctx)
	if serr := <-errc; serr != nil && err == nil {
		err = serr
	}
	return err
}

// addrError is a listen error with a short message; Unwrap gives the cause.
type addrError struct {
	msg string
	err error
}

func (e *addrError) Error() string { return e.msg }
func (e *addrError) Unwrap() error { return e.err }

func listenError(addr string, err error) error {
	reason := err.Error()
	var se *net.OpError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		reason = "address already in use (another oauthproxy? pick another port with --listen)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		reason = "address not available on this machine"
	case errors.Is(err, syscall.EACCES):
		reason = "permission denied (ports below 1024 need privileges)"
	case errors.As(err, &se) && se.Err != nil:
		reason = se.Err.Error()
	}
	return &addrError{msg: "proxy: listen " + addr + ": " + reason, err: err}
}

// Serve serves proxy connections accepted on l until Shutdown. It returns
// nil after Shutdown. A Server serves at most one listener.
func (s *Server) Serve(l net.Listener) error {
	first := false
	s.serveOnce.Do(func() { first = true })
	if !first {
		return errors.New("proxy: Serve called twice")
	}
	if s.opts.IdleRelease > 0 {
		go s.releaseWhenIdle(s.opts.IdleRelease, s.idleStop)
	}
	a := l.Addr()
	s.self.Store(newSelfAddrs(a))
	s.addr.Store(&a)
	err := s.srv.Serve(&listener{Listener: l, s: s})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("proxy: serve %s: %w", a, err)
	}
	return nil
}

// Addr is the address being served, nil before Serve.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Accepted is how many client connections the proxy has accepted so far;
// with Exchanges seen by the sink it tells "never came" from "came but
// finished nothing" (a client that does not trust the CA).
func (s *Server) Accepted() uint64 { return s.connSeq.Load() }

// Minter is the leaf minter in use.
func (s *Server) Minter() *certs.Minter { return s.minter }

// Shutdown stops accepting connections, lets in-flight exchanges finish
// (bounded by ctx), then closes every client connection, including
// intercepted and passthrough tunnels, and gives the exchanges this cuts
// short up to a second to reach the sink. It returns an error wrapping
// ctx.Err() when ctx ended first; an exchange then still waiting for
// upstream response headers may reach the sink after Shutdown returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.idleStopOnce.Do(func() { close(s.idleStop) })
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	waitUntil(ctx, func() bool { return s.inflight.Load() == 0 })
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	s.mu.Lock()
	conns := make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	s.tr.CloseIdleConnections()
	// Closing the connections ends tunnels and interrupted relays; give
	// them a moment to hand their exchanges to the sink. An exchange still
	// waiting for upstream headers may reach the sink later.
	grace, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	waitUntil(grace, func() bool { return s.inflight.Load() == 0 && s.tunnels.Load() == 0 })
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// waitUntil polls cond until it holds or ctx is done.
func waitUntil(ctx context.Context, cond func() bool) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// goproxyLogger routes goproxy's warnings (client TLS handshake failures,
// unreadable requests inside tunnels) to the internal logger.
type goproxyLogger struct{ l zerolog.Logger }

func (g goproxyLogger) Printf(format string, v ...any) {
	e := g.l.Warn()
	if e == nil {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	// goproxy prefixes "[123] WARN: ".
	if i := strings.Index(msg, "WARN: "); i >= 0 && i < 12 {
		msg = msg[i+len("WARN: "):]
	}
	if strings.Contains(msg, "use of closed network connection") {
		return // a tunnel closed by shutdown or by the idle timeout: not news
	}
	// goproxy may quote a request or URL: never log a secret from it.
	msg = redact.Text(msg)
	if strings.HasPrefix(msg, "Cannot handshake client") {
		e = e.Str("hint", "the client rejected the intercepted TLS connection, most likely because it does not trust the oauthproxy CA; open the proxy's address in a browser for how to trust it, or list the host in --passthrough")
	}
	e.Str("component", "proxy").Msg("proxy: " + msg)
}

// httpLogWriter routes net/http server errors (accept errors, malformed
// requests) to the internal logger.
type httpLogWriter struct{ l zerolog.Logger }

func (h httpLogWriter) Write(p []byte) (int, error) {
	if e := h.l.Warn(); e != nil {
		e.Str("component", "proxy").Msg(redact.Text(strings.TrimSpace(string(p))))
	}
	return len(p), nil
}
