package e2e

// Acceptance 2 of issue 10: a real headless Chromium started with
// `oauthproxy browser --headless`, driven over the DevTools protocol
// (chromedp), logs in at a zitadel OP over TLS; the app's callback is on
// http://localhost:PORT and the app exchanges the code through the proxy.
// Everything stays on loopback: the proxy's upstream is a guard proxy that
// refuses (and records) any destination that is not loopback, so a browser
// background request can neither leave the machine nor pass unnoticed.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"golang.org/x/oauth2"
)

// browserScenario is one login through the browser and what the app does
// wrong at the token endpoint.
type browserScenario struct {
	name string
	// mistake changes the token request: "" (none), "redirect-slash"
	// (redirect_uri + "/"), "wrong-verifier".
	mistake string
	// wantFinding is the finding the token exchange must carry ("" for the
	// happy path: no finding above info anywhere in the login).
	wantFinding string
}

func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "browser")
	chromium := findChromium(t)

	guard := newLoopbackGuard(t)
	ca := newTestCA(t)
	app := newBrowserApp(t)
	op := newIDPWithRedirect(t, ca, app.base+"/callback")
	px := startProxy(t, ca, proxyOpts{UpstreamProxy: guard.URL})
	app.configure(op, px)
	app.discover(t) // as an OIDC app does at start: the proxy learns the token endpoint

	br := startBrowser(t, px, chromium, "--debug-port", "0", "about:blank")
	allocCtx, cancelAlloc := remote.NewAllocator(context.Background(), br.devtools)
	defer cancelAlloc()

	scenarios := []browserScenario{
		{name: "happy path", mistake: ""},
		{name: "redirect_uri with a trailing slash", mistake: "redirect-slash", wantFinding: "redirect-uri-mismatch"},
		{name: "wrong code_verifier", mistake: "wrong-verifier", wantFinding: "pkce-mismatch"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			mark := len(px.all())
			result := app.expect()
			tabCtx, cancelTab := chromedp.NewContext(allocCtx)
			defer cancelTab()
			ctx, cancel := context.WithTimeout(tabCtx, waitTimeout)
			defer cancel()
			// The browser opens the app, is sent to the OP, and a person
			// (chromedp) fills in and submits the OP's login form.
			err := chromedp.Do(ctx,
				chromedp.Navigate(app.base+"/login?mistake="+url.QueryEscape(sc.mistake)),
				chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
				chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), op.Username),
				chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), op.Password),
				chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
				chromedp.WaitVisible(chromedp.CSS("#result")),
			)
			if err != nil {
				t.Fatalf("browser login: %v\nproxy log:\n%s", err, findingsOf(px.all()[mark:]))
			}
			var res exchangeResult
			select {
			case res = <-result:
			case <-time.After(waitTimeout):
				t.Fatal("the app's callback did not finish its token exchange")
			}
			if res.err != nil && sc.mistake == "" {
				t.Fatalf("the app's token exchange failed on the happy path: %v", res.err)
			}
			if res.err == nil && sc.mistake != "" {
				t.Fatalf("the OP accepted the token request with mistake %s; the scenario tests nothing", sc.mistake)
			}

			tokensBefore := 0
			for _, e := range px.all()[:mark] {
				if isToken(e) {
					tokensBefore++
				}
			}
			tok := px.waitForNth(t, "the app's token exchange", tokensBefore+1, isToken)
			// The app answers its callback only after its token exchange,
			// so the callback's line comes after the token's: wait for it.
			isCallback := func(e logEntry) bool { return strings.HasPrefix(e.URL, app.base+"/callback?") }
			callbacksBefore := 0
			for _, e := range px.all()[:mark] {
				if isCallback(e) {
					callbacksBefore++
				}
			}
			px.waitForNth(t, "the localhost callback", callbacksBefore+1, isCallback)
			got := px.all()[mark:]
			// The browser leg passed through the proxy: the authorize
			// request, the login hops on the OP and the localhost callback.
			want := []struct {
				what string
				pred func(logEntry) bool
			}{
				{"the app's /login on localhost", func(e logEntry) bool { return strings.HasPrefix(e.URL, app.base+"/login") }},
				{"the authorize request", func(e logEntry) bool { return e.OAuth == "authorize" && strings.HasPrefix(e.URL, op.AuthURL) }},
				{"the login page (hop)", func(e logEntry) bool {
					return e.Method == "GET" && strings.HasPrefix(e.URL, op.Issuer+"/login/username")
				}},
				{"the login form post (hop)", func(e logEntry) bool {
					return e.Method == "POST" && strings.HasPrefix(e.URL, op.Issuer+"/login/username")
				}},
				{"the OP's callback (hop)", func(e logEntry) bool {
					return strings.HasPrefix(e.URL, op.Issuer) && strings.Contains(e.URL, "/callback")
				}},
				{"the localhost callback", isCallback},
			}
			for _, w := range want {
				if !hasEntry(got, w.pred) {
					t.Errorf("%s is not in the proxy log; the login's exchanges:\n%s", w.what, findingsOf(got))
				}
			}
			trace := loginTrace(t, tok)
			t.Logf("login trace: %s", trace)
			if sc.wantFinding == "" {
				for _, e := range got {
					for _, f := range e.Findings {
						if f.Severity != "info" {
							t.Errorf("happy path: %s %s has finding %s/%s: %s", e.Method, e.URL, f.ID, f.Severity, f.Message)
						}
					}
				}
				if !strings.Contains(trace, "→ callback → token 200") {
					t.Errorf("login trace = %q, want it to end with the callback and token 200", trace)
				}
				return
			}
			// The mistakes are reported live, on the token exchange, and
			// the login trace line names the failing step. (Both need the
			// tracing of issue 10 across hops.)
			if _, ok := tok.finding(sc.wantFinding); !ok {
				t.Errorf("token exchange findings %v, want %s; the login's exchanges:\n%s", tok.findingIDs(), sc.wantFinding, findingsOf(got))
			}
			if !strings.Contains(trace, "→ callback → token ") || !strings.HasSuffix(trace, " "+sc.wantFinding) {
				t.Errorf("login trace = %q, want \"login %s: authorize → N hops → callback → token STATUS %s\"", trace, strings.TrimPrefix(op.Issuer, "https://"), sc.wantFinding)
			}
		})
	}

	// The browser made no request of its own: nothing reached the guard
	// for a destination off loopback.
	if refused := guard.refusedRequests(); len(refused) > 0 {
		t.Errorf("the browser sent background requests (refused by the loopback guard; switch them off in browser/args.go chromiumQuiet): %v", refused)
	}
	for _, e := range px.all() {
		if u, err := url.Parse(e.URL); err != nil || !isLoopbackName(u.Hostname()) {
			t.Errorf("a request left loopback: %s %s", e.Method, e.URL)
		}
	}
	br.stop(t)
}

// findChromium returns the Chromium to use, skipping when there is none
// (.ci/run installs Debian's chromium).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium installed; .ci/run installs Debian's chromium")
	}
	t.Skip("no Chromium installed (apt-get install chromium)")
	return ""
}

func hasEntry(es []logEntry, pred func(logEntry) bool) bool {
	for _, e := range es {
		if pred(e) {
			return true
		}
	}
	return false
}

// loginTrace reads the login_trace field of a log line ("" when absent).
func loginTrace(t *testing.T, e logEntry) string {
	t.Helper()
	var v struct {
		LoginTrace string `json:"login_trace"`
	}
	if err := json.Unmarshal([]byte(e.Raw), &v); err != nil {
		t.Fatalf("log line: %v", err)
	}
	return v.LoginTrace
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ---------------------------------------------------------------------------
// The `oauthproxy browser` process

// browserProc is a running `oauthproxy browser --headless`.
type browserProc struct {
	cmd      *exec.Cmd
	devtools string // ws://127.0.0.1:PORT/devtools/browser/ID
	profile  string
	done     chan struct{}
	exitErr  error
	mu       sync.Mutex
	out      strings.Builder
	stopped  bool
}

// startBrowser runs `oauthproxy browser --headless --browser PATH [args]`
// through px and waits until it says the browser runs (after the DevTools
// URL, with --debug-port).
func startBrowser(t *testing.T, px *proxyProc, browserPath string, args ...string) *browserProc {
	t.Helper()
	b := &browserProc{done: make(chan struct{})}
	b.cmd = exec.Command(binPath, append([]string{"browser", "--proxy", px.Addr, "--browser", browserPath, "--headless", "--verbose"}, args...)...)
	b.cmd.Env = append(withoutProxyEnv(os.Environ()), "NO_COLOR=1")
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stderr = writerFunc(b.record)
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start oauthproxy browser: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			b.record([]byte(line + "\n"))
			if rest, ok := strings.CutPrefix(line, "profile: "); ok {
				b.mu.Lock()
				b.profile, _, _ = strings.Cut(rest, " ")
				b.mu.Unlock()
			}
			if rest, ok := strings.CutPrefix(line, "devtools: "); ok {
				b.devtools = rest
			}
			if strings.HasPrefix(line, "close the browser or press Ctrl-C") {
				close(ready)
			}
		}
		io.Copy(io.Discard, stdout)
		b.exitErr = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { b.stop(t) })
	select {
	case <-ready:
	case <-b.done:
		t.Fatalf("oauthproxy browser exited before the browser ran: %v\n%s", b.exitErr, b.output())
	case <-time.After(waitTimeout):
		t.Fatalf("oauthproxy browser did not start the browser within %s\n%s", waitTimeout, b.output())
	}
	return b
}

func (b *browserProc) record(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if *verbose {
		fmt.Fprintf(os.Stderr, "browser: %s", p)
	}
	if b.out.Len() < 1<<20 {
		b.out.Write(p)
	}
}

func (b *browserProc) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// stop sends SIGINT (Ctrl-C) and checks that the command ends cleanly and
// removes its profile. It is idempotent.
func (b *browserProc) stop(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	b.mu.Unlock()
	signalAndWait(t, b.cmd, b.done, syscall.SIGINT, "oauthproxy browser")
	if b.exitErr != nil {
		t.Errorf("oauthproxy browser exited with %v after Ctrl-C, want status 0\n%s", b.exitErr, b.output())
	}
	if s := b.output(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
		t.Errorf("oauthproxy browser shows a data race or panic:\n%s", s)
	}
	b.mu.Lock()
	profile := b.profile
	b.mu.Unlock()
	if profile == "" {
		t.Errorf("oauthproxy browser printed no profile line:\n%s", b.output())
	} else if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("profile %s still exists after the browser ended (stat: %v)", profile, err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

// ---------------------------------------------------------------------------
// The app: an OAuth client whose callback is http://localhost:PORT/callback

// browserApp starts logins (state, PKCE verifier) and, on the callback,
// exchanges the code through the proxy, making the mistake it was told.
type browserApp struct {
	base string // http://localhost:PORT
	op   *idp
	http *http.Client // through the proxy

	mu      sync.Mutex
	logins  map[string]pendingLogin // by state
	results chan exchangeResult
}

type pendingLogin struct {
	verifier, mistake string
}

type exchangeResult struct {
	err error
}

func newBrowserApp(t *testing.T) *browserApp {
	t.Helper()
	a := &browserApp{logins: map[string]pendingLogin{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	srv.Config.ErrorLog = discardLog()
	srv.Start()
	t.Cleanup(srv.Close)
	a.base = "http://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	return a
}

func (a *browserApp) configure(op *idp, px *proxyProc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.op, a.http = op, px.client(nil)
}

func (a *browserApp) discover(t *testing.T) {
	t.Helper()
	s := &session{t: t, idp: a.op, http: a.http, cfg: a.op.oauth2Config()}
	s.discover()
}

// expect returns the channel on which the next exchange's result arrives.
func (a *browserApp) expect() <-chan exchangeResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.results = make(chan exchangeResult, 1)
	return a.results
}

func (a *browserApp) serve(w http.ResponseWriter, r *http.Request) {
	// A browser may ask before configure's write is visible here: the
	// fields are read under the lock.
	a.mu.Lock()
	op, client := a.op, a.http
	a.mu.Unlock()
	if op == nil {
		http.Error(w, "the app is not configured yet", http.StatusServiceUnavailable)
		return
	}
	cfg := op.oauth2Config()
	switch r.URL.Path {
	case "/login":
		state, verifier := "st-"+randHex(8), oauth2.GenerateVerifier()
		a.mu.Lock()
		a.logins[state] = pendingLogin{verifier: verifier, mistake: r.URL.Query().Get("mistake")}
		a.mu.Unlock()
		http.Redirect(w, r, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-"+randHex(6))), http.StatusFound)
	case "/callback":
		q := r.URL.Query()
		a.mu.Lock()
		login, ok := a.logins[q.Get("state")]
		delete(a.logins, q.Get("state"))
		results := a.results
		a.mu.Unlock()
		if !ok || q.Get("code") == "" {
			http.Error(w, "unknown state or no code", http.StatusBadRequest)
			return
		}
		opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(login.verifier)}
		switch login.mistake {
		case "redirect-slash":
			opts = append(opts, oauth2.SetAuthURLParam("redirect_uri", cfg.RedirectURL+"/"))
		case "wrong-verifier":
			opts[0] = oauth2.VerifierOption(oauth2.GenerateVerifier())
		}
		ctx := context.WithValue(r.Context(), oauth2.HTTPClient, client)
		_, err := cfg.Exchange(ctx, q.Get("code"), opts...)
		if results != nil {
			results <- exchangeResult{err: err}
		}
		msg := "signed in"
		if err != nil {
			msg = "token exchange failed: " + err.Error()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><p id="result">%s</p>`, html.EscapeString(msg))
	default:
		http.NotFound(w, r)
	}
}

// ---------------------------------------------------------------------------
// The loopback guard

// loopbackGuard is an HTTP proxy (CONNECT and absolute-form requests) that
// forwards to loopback destinations only; any other destination is refused
// with 403, without a DNS lookup, and recorded.
type loopbackGuard struct {
	URL string

	mu      sync.Mutex
	refused []string
}

func newLoopbackGuard(t *testing.T) *loopbackGuard {
	t.Helper()
	g := &loopbackGuard{}
	fwd := &http.Transport{Proxy: nil}
	t.Cleanup(fwd.CloseIdleConnections)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if r.Method != http.MethodConnect {
			host = r.URL.Host
		}
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = host
		}
		if !isLoopbackName(h) {
			g.mu.Lock()
			g.refused = append(g.refused, r.Method+" "+host)
			g.mu.Unlock()
			http.Error(w, "loopback guard: destination is not loopback", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodConnect {
			up, err := net.Dial("tcp", host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			c, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				up.Close()
				return
			}
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() {
				io.Copy(up, buf)
				up.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, up)
			c.Close()
			up.Close()
			return
		}
		r.RequestURI = ""
		resp, err := fwd.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	srv.Config.ErrorLog = discardLog()
	srv.Start()
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *loopbackGuard) refusedRequests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refused...)
}

// TestBrowserHostsPAC: with --hosts, a real Chromium sends matching hosts
// to the proxy through the generated PAC. The host is a name under .test
// that nothing resolves: the proxy hands it to the loopback guard, which
// refuses it without a DNS lookup.
func TestBrowserHostsPAC(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "browser")
	chromium := findChromium(t)
	guard := newLoopbackGuard(t)
	px := startProxy(t, newTestCA(t), proxyOpts{UpstreamProxy: guard.URL})
	br := startBrowser(t, px, chromium, "--debug-port", "0", "--hosts", "*.test", "about:blank")
	allocCtx, cancelAlloc := remote.NewAllocator(context.Background(), br.devtools)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tabCtx, waitTimeout)
	defer cancel()
	// The page is the guard's 403 (relayed by the proxy): it loads.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://app.test/pac-check")); err != nil && !errors.Is(err, chromedp.ErrPageLoad) {
		t.Fatalf("navigate: %v", err)
	}
	e := px.waitFor(t, "the request for app.test", func(e logEntry) bool { return e.URL == "http://app.test/pac-check" })
	if e.Method != "GET" {
		t.Errorf("proxy log: %s %s, want GET", e.Method, e.URL)
	}
	refused := guard.refusedRequests()
	if len(refused) == 0 {
		t.Errorf("the guard saw no request for app.test")
	}
	for _, r := range refused {
		if r != "GET app.test" {
			t.Errorf("guard refused %v, want requests for app.test only", refused)
			break
		}
	}
	br.stop(t)
}

// TestBrowserFirefox: `oauthproxy browser --browser firefox --headless`
// opens an app's login on http://localhost, which sends it to the OP's
// authorize endpoint over HTTPS and on to the OP's login page: all of it
// goes through the proxy (localhost included) and the proxy's CA is trusted
// in the profile (certutil). Firefox sends nothing of its own: every host is
// routed to the proxy, whose upstream is the loopback guard, and the test
// watches for firefoxQuietWindow from the start (Firefox's own requests
// come late: media plugin updates ~15 s, the update timer ~30 s after
// start), then checks that the proxy saw the test hosts only.
// .ci/run installs firefox-esr; under CI=true a missing Firefox fails.
func TestBrowserFirefox(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "browser")
	firefox := findFirefox(t)
	window := firefoxQuietWindow(t)
	guard := newLoopbackGuard(t)
	ca := newTestCA(t)
	app := newBrowserApp(t)
	op := newIDPWithRedirect(t, ca, app.base+"/callback")
	px := startProxy(t, ca, proxyOpts{UpstreamProxy: guard.URL})
	app.configure(op, px)
	startURL := app.base + "/login"
	br := startBrowser(t, px, firefox, startURL)
	started := time.Now()
	px.waitFor(t, "the app's /login on localhost", func(e logEntry) bool { return e.URL == startURL && e.Status == http.StatusFound })
	px.waitFor(t, "the authorize request over HTTPS", func(e logEntry) bool {
		return e.OAuth == "authorize" && strings.HasPrefix(e.URL, op.AuthURL) && e.Status == http.StatusFound
	})
	px.waitFor(t, "the OP's login page over HTTPS", func(e logEntry) bool {
		return e.Method == "GET" && strings.HasPrefix(e.URL, op.Issuer+"/login/username") && e.Status == http.StatusOK
	})
	// Watch Firefox idle on the login page; stop early if anything was
	// refused.
	for deadline := started.Add(window); time.Now().Before(deadline) && len(guard.refusedRequests()) == 0; {
		time.Sleep(200 * time.Millisecond)
	}
	br.stop(t)

	if refused := guard.refusedRequests(); len(refused) > 0 {
		t.Errorf("Firefox sent background requests (refused by the loopback guard; switch them off in browser/firefox_prefs.go): %v", refused)
	}
	testHosts := map[string]bool{}
	for _, u := range []string{app.base, op.Issuer} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		testHosts[pu.Host] = true
	}
	for _, e := range px.all() {
		if u, err := url.Parse(e.URL); err != nil || !testHosts[u.Host] {
			t.Errorf("the proxy saw a request for a host that is not a test host (%v): %s %s", slices.Collect(maps.Keys(testHosts)), e.Method, e.URL)
		}
	}
	// A TLS connection Firefox refused (a pinned host, say) never becomes
	// an exchange; the proxy logs the failed handshake with its host.
	for _, line := range strings.Split(px.Stderr(), "\n") {
		if strings.Contains(line, "Cannot handshake client") {
			t.Errorf("Firefox refused an intercepted TLS connection: %s", line)
		}
	}
}

// findFirefox returns the Firefox to use, skipping when there is none
// (.ci/run installs Debian's firefox-esr; under CI=true it must be there).
func findFirefox(t *testing.T) string {
	t.Helper()
	var missing []string
	firefox := os.Getenv("E2E_FIREFOX")
	if firefox == "" {
		for _, c := range []string{"firefox", "firefox-esr"} {
			if p, err := exec.LookPath(c); err == nil {
				firefox = p
				break
			}
		}
	}
	if firefox == "" {
		missing = append(missing, "Firefox (apt-get install firefox-esr)")
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		missing = append(missing, "certutil (apt-get install libnss3-tools)")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("not installed: %s; .ci/run installs them", strings.Join(missing, ", "))
		}
		t.Skipf("not installed: %s", strings.Join(missing, ", "))
	}
	return firefox
}

// firefoxQuietWindow is how long TestBrowserFirefox watches Firefox for
// requests of its own, from its start: 35 s, past the first run of
// Firefox's update timer (app.update.timerFirstInterval, 30 s), or
// $OAUTHPROXY_FIREFOX_QUIET (a Go duration such as 5m) for a longer check.
func firefoxQuietWindow(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("OAUTHPROXY_FIREFOX_QUIET")
	if v == "" {
		return 35 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("OAUTHPROXY_FIREFOX_QUIET=%q: want a duration such as 5m", v)
	}
	return d
}
