package e2e

// Login tracing through the real proxy (issue 10): the client follows no
// redirect itself and never requests its redirect URI through the proxy;
// it reads the code from the OP's final Location, as a native app or a
// browser with a localhost callback does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthproxy/oauthproxy/flow"
)

// opControl changes what the OP does for one test: a consent page between
// the login and the OP's callback, an iss added to the final redirect, an
// authorize request answered by the test (a WAF's 403, error=access_denied).
type opControl struct {
	p         *idp
	authPath  string
	iss       atomic.Pointer[string]
	authorize atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

// installControl puts an opControl in front of p's handlers.
func installControl(t *testing.T, p *idp) *opControl {
	t.Helper()
	au, err := url.Parse(p.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &opControl{p: p, authPath: au.Path}
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == c.authPath:
				if f := c.authorize.Load(); f != nil && (*f)(w, r) {
					return
				}
			case r.URL.Path == "/consent" && r.Method == "GET":
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<form method="POST" action="/consent"><input type="hidden" name="next" value="%s"><button>Allow</button></form>`, r.URL.Query().Get("next"))
				return
			case r.URL.Path == "/consent" && r.Method == "POST":
				next := r.FormValue("next")
				if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
					http.Error(w, "bad next", http.StatusBadRequest)
					return
				}
				http.Redirect(w, r, next, http.StatusFound)
				return
			}
			next.ServeHTTP(&locationWriter{ResponseWriter: w, r: r, c: c}, r)
		})
	}
	p.middleware.Store(&mw)
	return c
}

// locationWriter rewrites the Location of the OP's redirects: the login
// POST goes to the consent page first, and the final redirect gets the iss
// the test asked for.
type locationWriter struct {
	http.ResponseWriter
	r *http.Request
	c *opControl
}

func (w *locationWriter) WriteHeader(code int) {
	loc := w.Header().Get("Location")
	switch {
	case loc == "":
	case w.r.Method == "POST" && w.r.URL.Path == "/login/username":
		u, err := url.Parse(loc)
		if err == nil {
			w.Header().Set("Location", "/consent?next="+url.QueryEscape(u.RequestURI()))
		}
	case strings.HasPrefix(loc, w.c.p.RedirectURI):
		if iss := w.c.iss.Load(); iss != nil {
			w.Header().Set("Location", loc+"&iss="+url.QueryEscape(*iss))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *locationWriter) Write(b []byte) (int, error) { return w.ResponseWriter.Write(b) }

// front is what one front channel produced.
type front struct {
	authCode
	// Callback is the OP's own callback URL (the hop whose answer is the
	// final redirect); FinalQuery is the query of the final Location.
	Callback   *url.URL
	FinalQuery url.Values
}

// frontOpts vary the front channel.
type frontOpts struct {
	// directAuthorize sends the authorize request straight to the OP, not
	// through the proxy (its state is then unknown to the proxy).
	directAuthorize bool
	// afterAuthorize, if set, runs between the authorize request and the
	// login hops (a barrier for interleaved logins).
	afterAuthorize func()
}

// loginFront runs the front channel: authorize, the login page and its
// POST (with the Referer a browser sends), the consent page and its POST,
// and the OP's callback, whose Location carries the code. It follows no
// redirect by itself and never requests the redirect URI.
func (s *session) loginFront(o frontOpts) (front, error) {
	f := front{authCode: authCode{State: "st-" + randHex(8), Verifier: oauth2.GenerateVerifier()}}
	authURL := s.cfg.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("nonce", "n-"+randHex(6)))
	client := s.http
	if o.directAuthorize {
		client = newDirectSession(s.t, s.idp).http
	}
	req, _ := http.NewRequest("GET", authURL, nil)
	loc, err := redirectOf(client.Do(req))
	if err != nil {
		return f, fmt.Errorf("authorize: %w", err)
	}
	if o.afterAuthorize != nil {
		o.afterAuthorize()
	}
	page := loc.String()
	if err := s.getOK(page); err != nil {
		return f, fmt.Errorf("login page: %w", err)
	}
	form := url.Values{"id": {loc.Query().Get("authRequestID")}, "username": {s.idp.Username}, "password": {s.idp.Password}}
	loc, err = s.redirect("POST", s.idp.Issuer+"/login/username", form, page)
	if err != nil {
		return f, fmt.Errorf("login POST: %w", err)
	}
	if loc.Path != "/consent" {
		return f, fmt.Errorf("login POST redirected to %s, want the consent page", loc)
	}
	consent := loc.String()
	if err := s.getOK(consent); err != nil {
		return f, fmt.Errorf("consent page: %w", err)
	}
	loc, err = s.redirect("POST", s.idp.Issuer+"/consent", url.Values{"next": {loc.Query().Get("next")}}, consent)
	if err != nil {
		return f, fmt.Errorf("consent POST: %w", err)
	}
	f.Callback = loc
	final, err := redirectOf(s.do("GET", loc.String(), nil, ""))
	if err != nil {
		return f, fmt.Errorf("OP callback: %w", err)
	}
	if got := final.Scheme + "://" + final.Host + final.Path; got != s.idp.RedirectURI {
		return f, fmt.Errorf("OP redirected to %s, want the redirect URI %s", final, s.idp.RedirectURI)
	}
	f.FinalQuery = final.Query()
	f.Code = f.FinalQuery.Get("code")
	if f.Code == "" || f.FinalQuery.Get("state") != f.State {
		return f, fmt.Errorf("final redirect %s: want a code and state %s", final, f.State)
	}
	return f, nil
}

// getOK GETs a page through the proxy and wants a 200.
func (s *session) getOK(u string) error {
	resp, err := s.do("GET", u, nil, "")
	_, err = statusOf(resp, err, http.StatusOK)
	return err
}

// redirect POSTs a form through the proxy with a Referer and returns the
// Location of the redirect it is answered with.
func (s *session) redirect(method, u string, form url.Values, referer string) (*url.URL, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", referer)
	req.Header.Set("Cookie", "op_session="+s.idp.SessionCookie)
	return redirectOf(s.http.Do(req))
}

// redirectOf returns the Location of a 302/303 answer.
func redirectOf(resp *http.Response, err error) (*url.URL, error) {
	b, err := statusOf(resp, err, http.StatusFound, http.StatusSeeOther)
	if err != nil {
		return nil, err
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("%v; body %.200s", err, b)
	}
	return loc, nil
}

// statusOf reads and closes the body and checks the status.
func statusOf(resp *http.Response, err error, want ...int) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return b, nil
		}
	}
	return b, fmt.Errorf("status %d, want %v; body %.200s", resp.StatusCode, want, b)
}

// entryOf returns the first log entry of a hop or authorize request whose
// URL contains part.
func entryOf(t *testing.T, px *proxyProc, what, label, part string) logEntry {
	t.Helper()
	return px.waitFor(t, what, func(e logEntry) bool { return e.OAuth == label && strings.Contains(e.URL, part) })
}

// aboveInfo lists an entry's findings above info.
func aboveInfo(e logEntry) []string {
	var out []string
	for _, f := range e.Findings {
		if f.Severity != flow.SeverityInfo {
			out = append(out, f.ID+"/"+string(f.Severity))
		}
	}
	return out
}

// tokenCounter waits for the token exchanges of a session one by one.
type tokenCounter struct {
	px *proxyProc
	n  int
}

func (c *tokenCounter) next(t *testing.T) logEntry {
	t.Helper()
	c.n++
	return c.px.waitForNth(t, "token exchange", c.n, isToken)
}

// TestLoginTraceAcrossHops: acceptance 1 of issue 10. A certified OP puts
// login and consent pages between authorize and the final redirect; the
// client reads the code from that redirect's Location. redirect_uri + "/",
// a wrong code_verifier, a state that matches nothing and an iss of another
// issuer are each reported; the happy path has no finding above info.
func TestLoginTraceAcrossHops(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	ctl := installControl(t, p)
	px := startProxy(t, ca, proxyOpts{})
	s := newSession(t, p, px)
	s.discover()
	tokens := &tokenCounter{px: px}
	opHost := strings.TrimPrefix(p.Issuer, "https://")
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", findingsOf(px.all()))
		}
	}()

	t.Run("happy path", func(t *testing.T) {
		f, err := s.loginFront(frontOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.exchange(f.authCode); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		e := tokens.next(t)
		authz := entryOf(t, px, "authorize request", "authorize", "state="+f.State)
		if e.Login == "" || e.Login != authz.Login || e.LoginLink != flow.LinkCertain {
			t.Errorf("token exchange: got login %q link %q, want %q certain", e.Login, e.LoginLink, authz.Login)
		}
		if want := "login " + opHost + ": authorize → 5 hops → callback → token 200 ok"; e.LoginTrace != want {
			t.Errorf("trace: got %q, want %q", e.LoginTrace, want)
		}
		hops := 0
		for _, x := range px.all() {
			if x.Login != authz.Login {
				continue
			}
			if got := aboveInfo(x); len(got) > 0 {
				t.Errorf("%s %s: got findings %v, want none above info", x.Method, x.URL, got)
			}
			if x.OAuth == "hop" {
				hops++
			}
		}
		if hops != 5 {
			t.Errorf("got %d hops of the login in the log, want 5 (login page, POST, consent page, POST, OP callback)", hops)
		}
	})

	t.Run("redirect_uri trailing slash", func(t *testing.T) {
		f, err := s.loginFront(frontOpts{})
		if err != nil {
			t.Fatal(err)
		}
		r := s.postForm(url.Values{"grant_type": {"authorization_code"}, "code": {f.Code}, "redirect_uri": {p.RedirectURI + "/"}, "code_verifier": {f.Verifier}})
		if r.Status != 400 {
			t.Fatalf("token with redirect_uri + '/': got %d %s, want 400", r.Status, r.Body)
		}
		e := tokens.next(t)
		if fd, ok := e.finding("redirect-uri-mismatch"); !ok || fd.Severity != flow.SeverityError || !strings.Contains(fd.Message, "trailing slash") {
			t.Errorf("got findings %v, want redirect-uri-mismatch at error naming the trailing slash", e.findingIDs())
		}
		if e.LoginLink != flow.LinkCertain || !strings.HasSuffix(e.LoginTrace, "→ callback → token 400 redirect-uri-mismatch") {
			t.Errorf("got link %q trace %q, want certain and the failing step", e.LoginLink, e.LoginTrace)
		}
	})

	t.Run("wrong code_verifier", func(t *testing.T) {
		f, err := s.loginFront(frontOpts{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.exchange(authCode{Code: f.Code, Verifier: oauth2.GenerateVerifier()})
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("Exchange with another verifier: got %v, want the OP's invalid_grant", err)
		}
		e := tokens.next(t)
		if fd, ok := e.finding("pkce-mismatch"); !ok || fd.Severity != flow.SeverityError {
			t.Errorf("got findings %v, want pkce-mismatch at error", e.findingIDs())
		}
	})

	t.Run("state that matches nothing", func(t *testing.T) {
		// The authorize request bypasses the proxy (another tab, a lost
		// session); the hops and the final redirect go through it.
		f, err := s.loginFront(frontOpts{directAuthorize: true})
		if err != nil {
			t.Fatal(err)
		}
		e := entryOf(t, px, "OP callback", "hop", f.Callback.RawQuery)
		if fd, ok := e.finding("state-unknown"); !ok || fd.Severity != flow.SeverityWarn {
			t.Errorf("final redirect: got findings %v, want state-unknown at warn", e.findingIDs())
		}
	})

	t.Run("iss of another issuer", func(t *testing.T) {
		other := "https://other-issuer.localhost"
		ctl.iss.Store(&other)
		defer ctl.iss.Store(nil)
		f, err := s.loginFront(frontOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if f.FinalQuery.Get("iss") != other {
			t.Fatalf("final redirect query %v: want iss %s", f.FinalQuery, other)
		}
		e := entryOf(t, px, "OP callback", "hop", f.Callback.RawQuery)
		if fd, ok := e.finding("iss-mismatch"); !ok || fd.Severity != flow.SeverityError || !strings.Contains(fd.Message, other) {
			t.Errorf("final redirect: got findings %v, want iss-mismatch at error naming %s", e.findingIDs(), other)
		}
	})
}

// TestConcurrentLoginsLinked: acceptance 3 of issue 10. Ten logins of one
// client_id and redirect_uri in flight at once, interleaved, each with its
// own verifier: every token request is linked to its own authorize
// request, with no cross-link and no false finding.
func TestConcurrentLoginsLinked(t *testing.T) {
	t.Parallel()
	const n = 10
	ca := newTestCA(t)
	p := newIDP(t, ca)
	installControl(t, p)
	px := startProxy(t, ca, proxyOpts{})
	s := newSession(t, p, px)
	s.discover()
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", findingsOf(px.all()))
		}
	}()

	// Every login sends its authorize request before any goes on to the
	// login page: ten logins are open at once and their hops interleave.
	var authorized sync.WaitGroup
	authorized.Add(n)
	fronts := make([]front, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			release := func() { once.Do(authorized.Done) }
			defer release() // a login that failed early must not block the others
			fronts[i], errs[i] = s.loginFront(frontOpts{afterAuthorize: func() { release(); authorized.Wait() }})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	// Every code is out before the first token request; redeem them in a
	// shuffled order.
	tokens := &tokenCounter{px: px}
	for k := range n {
		i := (k*7 + 3) % n
		if _, err := s.exchange(fronts[i].authCode); err != nil {
			t.Fatalf("login %d: Exchange: %v", i, err)
		}
		e := tokens.next(t)
		authz := entryOf(t, px, "authorize request", "authorize", "state="+fronts[i].State)
		if e.Login != authz.Login || e.LoginLink != flow.LinkCertain {
			t.Errorf("login %d: token exchange got login %q link %q, want %q certain", i, e.Login, e.LoginLink, authz.Login)
		}
	}
	logins := map[string]bool{}
	for _, e := range px.all() {
		if got := aboveInfo(e); len(got) > 0 {
			t.Errorf("%s %s: got findings %v, want none above info", e.Method, e.URL, got)
		}
		if e.OAuth == "token" {
			logins[e.Login] = true
		}
	}
	if len(logins) != n {
		t.Errorf("token exchanges belong to %d logins, want %d", len(logins), n)
	}
}

// TestFailedAuthorizeNotLinked: acceptance 4 of issue 10. An authorize
// request answered 403 and another answered with error=access_denied, then
// token requests of the same client with codes never seen issued: no
// redirect/PKCE/nonce finding above info, and their diagnoses are what
// `oauthproxy explain` says for the same responses.
func TestFailedAuthorizeNotLinked(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	ctl := installControl(t, p)
	px := startProxy(t, ca, proxyOpts{})
	s := newSession(t, p, px)
	s.discover()
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", findingsOf(px.all()))
		}
	}()
	const wafPage = "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><p>Request blocked by the security policy.</p></body></html>"
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"authorize answered 403", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, wafPage)
			return true
		}},
		{"authorize answered error=access_denied", func(w http.ResponseWriter, r *http.Request) bool {
			q := url.Values{"error": {"access_denied"}, "error_description": {"The user denied the request"}, "state": {r.URL.Query().Get("state")}}
			http.Redirect(w, r, p.RedirectURI+"?"+q.Encode(), http.StatusFound)
			return true
		}},
	}
	tokens := &tokenCounter{px: px}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl.authorize.Store(&tt.answer)
			defer ctl.authorize.Store(nil)
			state, verifier := "st-"+randHex(8), oauth2.GenerateVerifier()
			resp, err := s.do("GET", s.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-"+randHex(6))), nil, "")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			authz := entryOf(t, px, "authorize request", "authorize", "state="+state)
			if authz.LoginTrace == "" {
				t.Errorf("failed authorize request: got no trace line, want the login's end")
			}
			for i := range 2 {
				r := s.postForm(url.Values{"grant_type": {"authorization_code"}, "code": {"never-issued-" + randHex(12)},
					"redirect_uri": {p.RedirectURI}, "code_verifier": {oauth2.GenerateVerifier()}})
				if r.Status < 400 {
					t.Fatalf("token %d with a code never issued: got %d %s, want an error", i, r.Status, r.Body)
				}
				e := tokens.next(t)
				for _, f := range e.Findings {
					if f.Severity != flow.SeverityInfo && (strings.HasPrefix(f.ID, "redirect-uri") || strings.HasPrefix(f.ID, "pkce") || f.ID == "nonce-mismatch" || f.ID == "client-id-mismatch") {
						t.Errorf("token %d: got %s at %s, want no correlation finding above info", i, f.ID, f.Severity)
					}
				}
				if e.LoginLink != "" {
					t.Errorf("token %d: got login link %q to %q, want no link", i, e.LoginLink, e.Login)
				}
				sameAsExplain(t, e, "token", r.Status, "application/json", r.Body)
			}
		})
	}
}

// sameAsExplain checks that the proxy's diagnosis of e equals what
// `oauthproxy explain` says for the same response.
func sameAsExplain(t *testing.T, e logEntry, endpoint string, status int, contentType string, body []byte) {
	t.Helper()
	res := runCLI(t, bytes.NewReader(body), "explain", "--format", "json", "--endpoint", endpoint, "--status", strconv.Itoa(status), "--header", "Content-Type: "+contentType)
	if res.Code != 0 {
		t.Fatalf("explain: exit %d: %s", res.Code, res.Stderr)
	}
	es := parseEntries(t, res.Stdout)
	if len(es) != 1 {
		t.Fatalf("explain: got %d records, want 1:\n%s", len(es), res.Stdout)
	}
	want, got := es[0].Diagnosis, e.Diagnosis
	switch {
	case want == nil && got == nil:
	case want == nil || got == nil:
		t.Errorf("diagnosis: proxy %+v, explain %+v", got, want)
	case want.Category != got.Category || want.Cause != got.Cause:
		t.Errorf("diagnosis: proxy %s/%s, explain %s/%s", got.Category, got.Cause, want.Category, want.Cause)
	}
}

// TestTokenOnlyMode: acceptance 5 of issue 10. The authorize leg never goes
// through the proxy: single-request checks still fire, the authorize-unseen
// hint appears exactly once for the client, and a redirect_uri that differs
// from the client's last successful exchange is reported.
func TestTokenOnlyMode(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	px := startProxy(t, ca, proxyOpts{})
	s := newSession(t, p, px)
	s.discover() // the app fetches discovery through the proxy; the browser leg bypasses it
	browser := newDirectSession(t, p)
	tokens := &tokenCounter{px: px}
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", findingsOf(px.all()))
		}
	}()

	// A JSON token request: a single-request check.
	ac := browser.authorize()
	r := s.postToken("application/json", []byte(`{"grant_type":"authorization_code","code":"`+ac.Code+`","redirect_uri":"`+p.RedirectURI+`","code_verifier":"`+ac.Verifier+`"}`), p.ClientID+":"+p.ClientSecret)
	if r.Status < 400 {
		t.Fatalf("JSON token request: got %d, want an error", r.Status)
	}
	e := tokens.next(t)
	if _, ok := e.finding("content-type"); !ok {
		t.Errorf("JSON token request: got %v, want content-type", e.findingIDs())
	}
	if f, ok := e.finding("authorize-unseen"); !ok || f.Severity != flow.SeverityInfo || !strings.Contains(f.Message, "oauthproxy browser") {
		t.Errorf("first token request: got %v, want authorize-unseen at info naming oauthproxy browser", e.findingIDs())
	}

	// A successful exchange: the client's last good redirect_uri.
	if _, err := s.exchange(browser.authorize()); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	e = tokens.next(t)
	if got := aboveInfo(e); len(got) > 0 {
		t.Errorf("successful token-only exchange: got %v, want none above info", got)
	}

	// A failed exchange with another redirect_uri.
	ac = browser.authorize()
	r = s.postForm(url.Values{"grant_type": {"authorization_code"}, "code": {ac.Code}, "redirect_uri": {p.RedirectURI + "/"}, "code_verifier": {ac.Verifier}})
	if r.Status != 400 {
		t.Fatalf("token with redirect_uri + '/': got %d, want 400", r.Status)
	}
	e = tokens.next(t)
	if f, ok := e.finding("redirect-uri-changed"); !ok || f.Severity != flow.SeverityWarn || !strings.Contains(f.Message, "trailing slash") {
		t.Errorf("redirect_uri + '/': got %v, want redirect-uri-changed at warn naming the trailing slash", e.findingIDs())
	}

	hints := 0
	for _, e := range px.all() {
		if _, ok := e.finding("authorize-unseen"); ok {
			hints++
		}
		if e.OAuth == "authorize" {
			t.Errorf("authorize request %s went through the proxy; the scenario wants it unseen", e.URL)
		}
	}
	if hints != 1 {
		t.Errorf("authorize-unseen: got %d, want exactly 1 for the client", hints)
	}
}

// TestLoginIDInConsoleHARAndAnalyze: the console log prints the login's
// trace line naming the failing step, the HAR capture carries the login id
// of every exchange as "_login", and `oauthproxy analyze` of that capture
// ties the same exchanges to the same login.
func TestLoginIDInConsoleHARAndAnalyze(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	installControl(t, p)
	harPath := filepath.Join(t.TempDir(), "login.har")
	px := startProxy(t, ca, proxyOpts{Format: "console", HAR: harPath})
	s := newSession(t, p, px)
	s.discover()
	f, err := s.loginFront(frontOpts{})
	if err != nil {
		t.Fatal(err)
	}
	r := s.postForm(url.Values{"grant_type": {"authorization_code"}, "code": {f.Code}, "redirect_uri": {p.RedirectURI + "/"}, "code_verifier": {f.Verifier}})
	if r.Status != 400 {
		t.Fatalf("token with redirect_uri + '/': got %d, want 400", r.Status)
	}
	px.waitForOutput(t, "login "+strings.TrimPrefix(p.Issuer, "https://")+": authorize → 5 hops → callback → token 400 redirect-uri-mismatch")
	px.Stop(t)

	b, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Request struct {
					Method string `json:"method"`
					URL    string `json:"url"`
				} `json:"request"`
				Login string `json:"_login"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &har); err != nil {
		t.Fatalf("capture is not JSON: %v", err)
	}
	var login string
	perLogin := map[string]int{}
	tokenLogin := ""
	for _, e := range har.Log.Entries {
		if strings.Contains(e.Request.URL, "state="+f.State) && strings.HasPrefix(e.Request.URL, p.AuthURL) {
			login = e.Login
		}
		if e.Request.Method == "POST" && e.Request.URL == p.TokenURL {
			tokenLogin = e.Login
		}
		perLogin[e.Login]++
	}
	if login == "" || tokenLogin != login {
		t.Errorf("HAR: authorize entry _login %q, token entry _login %q; want the same, not empty", login, tokenLogin)
	}
	if n := perLogin[login]; n != 7 {
		t.Errorf("HAR: got %d entries of the login, want 7 (authorize, 5 hops, token)", n)
	}

	res := runCLI(t, nil, "analyze", "--format", "json", harPath)
	if res.Code != 0 {
		t.Fatalf("analyze: exit %d: %s", res.Code, res.Stderr)
	}
	n := 0
	for _, e := range parseEntries(t, res.Stdout) {
		if e.Login != login {
			continue
		}
		n++
		if e.OAuth == "token" && !strings.HasSuffix(e.LoginTrace, "token 400 redirect-uri-mismatch") {
			t.Errorf("analyze: token trace %q, want it to end with the failing step", e.LoginTrace)
		}
	}
	if n != 7 {
		t.Errorf("analyze: got %d exchanges of login %s, want 7", n, login)
	}
}
