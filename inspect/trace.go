package inspect

import (
	"bytes"
	"fmt"
	"github.com/oauthproxy/oauthproxy/reqparams"
	"hash/maphash"
	"html"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Login tracing: an authorize request starts a login (its exchange id is the
// login id). The exchanges that follow on the OP's host (login and consent
// pages, the OP's own redirects) are its hops; the authorization response
// (any redirect or form_post to the redirect URI, wherever it comes from) is
// tied to it by state; the token request by the code seen issued (certain)
// or, failing that, by client_id + redirect_uri when exactly one open
// authorize request fits (a guess); userinfo and API calls by the access
// token the token response issued.

// Bounds on tracing state, so a long-running proxy does not grow.
const (
	// maxLoginAge bounds how long an authorize request stays open for
	// hops and state matching (a person may sit on a login page).
	maxLoginAge = time.Hour
	// maxPerKey bounds the authorize requests remembered per client or host.
	maxPerKey = 16
	// maxTraced bounds pages, tokens, clients and verifiers remembered.
	maxTraced = 4096
	// maxSteps bounds the token steps kept for a login's trace line.
	maxSteps = 4
)

// tracer is the tracing state of an Inspector (guarded by its mutex).
type tracer struct {
	// opHosts maps the lower-case host (no port) of an authorize endpoint
	// to the recent authorize requests sent there.
	opHosts *fifo[string, []*authReq]
	// pages maps a URL seen in a login (a request, a Location) to the
	// login; nil when two open logins share it.
	pages *fifo[string, *authReq]
	// clients are the client_ids seen in an authorize request.
	clients *fifo[string, bool]
	// hinted are the clients already told authorize-unseen.
	hinted *fifo[string, bool]
	// lastOK maps client_id + token endpoint to the redirect_uri of the
	// client's last successful token exchange there.
	lastOK *fifo[string, string]
	// verifiers maps a hash of a code_verifier to its first use.
	verifiers *fifo[uint64, verifierUse]
	// tokens maps a hash of an issued access or refresh token to its login.
	tokens *fifo[uint64, tokenRef]
	// reported are states already reported as state-unknown.
	reported *fifo[string, bool]
	// shared holds the logins of a URL in pages tied to none (nil).
	shared *fifo[string, sharedPage]
	// pars maps the request_uri a PAR request got to its login.
	pars *fifo[string, *authReq]
	// seed keys tokens and verifiers; check seeds the second hash.
	seed, check maphash.Seed
}

// verifierUse is the first token request that sent a code_verifier.
type verifierUse struct {
	codeFP string
	flow   string
}

// tokenRef ties an issued token to its login. Tokens are kept as two
// independently seeded 64-bit hashes (the map key and check), never raw:
// cheaper than a fingerprint on every API call, and as safe a match.
type tokenRef struct {
	check uint64
	login string
}

func newTracer() tracer {
	return tracer{
		opHosts:   newFIFO[string, []*authReq](maxTraced),
		pages:     newFIFO[string, *authReq](maxTraced),
		clients:   newFIFO[string, bool](maxTraced),
		hinted:    newFIFO[string, bool](maxTraced),
		lastOK:    newFIFO[string, string](maxTraced),
		verifiers: newFIFO[uint64, verifierUse](maxTraced),
		tokens:    newFIFO[uint64, tokenRef](maxTraced),
		reported:  newFIFO[string, bool](maxTraced),
		pars:      newFIFO[string, *authReq](maxTraced),
		shared:    newFIFO[string, sharedPage](maxTraced),
		seed:      maphash.MakeSeed(),
		check:     maphash.MakeSeed(),
	}
}

// open reports whether a can still get hops and links at time now.
func (a *authReq) open(now time.Time) bool {
	if a.ended {
		return false
	}
	d := now.Sub(a.time)
	return d >= 0 && d <= maxLoginAge
}

// appendBounded adds a to list, keeping the last maxPerKey entries.
func appendBounded(list []*authReq, a *authReq) []*authReq {
	if len(list) >= maxPerKey {
		list = append(list[:0:0], list[len(list)-maxPerKey+1:]...)
	}
	return append(list, a)
}

// startLogin remembers a as the start of a login and reads its response:
// a failure, or a redirect (to a login page, or straight to the redirect
// URI with the authorization response).
func (in *Inspector) startLogin(c *ctx, a *authReq) {
	t := &in.trace
	x := c.x
	u := x.Request.URL
	a.login = x.ID
	a.host = c.host
	a.hostport = endpointKey(u.Scheme, c.host, u.Port(), "")
	x.OAuth.Login = a.login
	cutoff := x.Start.Add(-maxLoginAge)
	in.byState.expire(cutoff)
	t.pages.expire(cutoff)
	t.clients.putAt(a.clientID, true, x.Start)
	list, _ := t.opHosts.get(c.host)
	t.opHosts.put(c.host, appendBounded(list, a))
	in.rememberPage(urlKey(u), a)

	r := x.Response
	switch {
	case r == nil || r.Status < 400 && x.Failed():
		// No answer, or an upstream that broke off its answer. A client
		// that left after a 1xx-3xx answer (a browser no longer following
		// a redirect) did not fail the login: its Location is read below.
		if x.Failed() {
			a.failed, a.ended = true, true
			if r == nil || r.Status == 0 {
				a.statusCause = noAnswer(x) // "net::ERR_BLOCKED_BY_CLIENT", "dns_error"
			}
			in.endTrace(x, a)
		} else if x.BrowserCanceled() {
			// The browser dropped it before any answer (the user clicked
			// twice, a navigation replaced it): not a failure, but no hop,
			// callback or token can follow from it.
			a.ended = true
		}
		return
	case r.Status >= 400:
		a.status = r.Status
		a.failed, a.ended = true, true
		in.endTrace(x, a)
		in.scratchStep = &traceStep{a: a, authorize: true}
		return
	}
	if p, target := responseParams(x); p != nil {
		if m, isResp := in.authResponse(c, p, target, false); isResp {
			if m != nil {
				in.endTrace(x, m)
			}
			return
		}
	}
	if loc := location(x); loc != nil {
		in.rememberPage(urlKey(loc), a)
	}
	if x.OAuth.Label == flow.LabelPAR && r.Status >= 200 && r.Status < 300 {
		// RFC 9126: the answer names the request_uri the browser's
		// authorize request will carry.
		scanObject(r.Body.Data, func(name []byte, kind byte, val []byte) {
			if kind == '"' && string(name) == "request_uri" && len(val) > 0 {
				in.trace.pars.putAt(string(val), a, a.time)
			}
		})
	}
}

// continuePAR ties an authorize request that only carries a request_uri
// to the PAR request that registered it: the same login.
func (in *Inspector) continuePAR(c *ctx, requestURI string) {
	if requestURI == "" {
		return
	}
	a, ok := in.trace.pars.get(requestURI)
	if !ok || a == nil {
		return
	}
	x := c.x
	x.OAuth.Login, x.OAuth.LoginLink = a.login, flow.LinkCertain
	in.rememberPage(urlKey(x.Request.URL), a)
	if p, target := responseParams(x); p != nil {
		if m, isResp := in.authResponse(c, p, target, false); isResp && m != nil {
			in.endTrace(x, m)
		}
		return
	}
	if loc := location(x); loc != nil {
		in.rememberPage(urlKey(loc), a)
	}
	if r := x.Response; r != nil && r.Status >= 400 {
		a.status = r.Status
		a.failed, a.ended = true, true
		in.endTrace(x, a)
		in.scratchStep = &traceStep{a: a, authorize: true}
	}
}

// rememberPage ties a URL to login a. A URL two open logins share is tied
// to neither (nil) until both are over: then the next login may take it.
func (in *Inspector) rememberPage(key string, a *authReq) {
	if key == "" {
		return
	}
	t := &in.trace
	if old, ok := t.pages.get(key); ok && old != a {
		if old == nil {
			if sharers, _ := t.shared.get(key); sharers.open(a.time) {
				return
			}
		} else if old.open(a.time) {
			t.pages.put(key, nil)
			t.shared.put(key, sharedPage{old, a})
			return
		}
	}
	t.pages.putAt(key, a, a.time)
}

// sharedPage are two logins that reached the same URL.
type sharedPage [2]*authReq

// open reports whether either login is still open at now.
func (p sharedPage) open(now time.Time) bool {
	return p[0] != nil && p[0].open(now) || p[1] != nil && p[1].open(now)
}

// traceOther looks at an exchange inspection did not label: an API call
// with a token a login issued, or a hop of a login on the OP's host.
func (in *Inspector) traceOther(c *ctx) {
	t := &in.trace
	if t.tokens.len() > 0 && in.joinByToken(c) {
		return
	}
	if t.opHosts.len() == 0 {
		return
	}
	if list, ok := t.opHosts.get(c.host); ok {
		in.hop(c, list)
	}
}

// hop ties an exchange on an OP host to a login: by the authorization
// response it carries (state), by the URL or Referer of an earlier
// exchange of the login (certain), or as the only open login on that host
// (a guess, for navigations only).
func (in *Inspector) hop(c *ctx, list []*authReq) {
	x := c.x
	u := x.Request.URL
	var a *authReq
	link := flow.LinkCertain
	if p, target := responseParams(x); p != nil {
		m, isResp := in.authResponse(c, p, target, false)
		if isResp {
			x.OAuth.Label = flow.LabelHop
			if m == nil {
				return
			}
			a = m
		}
	}
	key := urlKey(u)
	if a == nil {
		if m, ok := in.trace.pages.get(key); ok && m != nil {
			a = m
		}
	}
	if a == nil {
		if ref := x.Request.Header.Get("Referer"); ref != "" {
			if ru, err := url.Parse(ref); err == nil {
				if m, ok := in.trace.pages.get(urlKey(ru)); ok && m != nil {
					a = m
				}
			}
		}
	}
	if a == nil && navigation(x) {
		hp := endpointKey(u.Scheme, c.host, u.Port(), "")
		n := 0
		for _, cand := range list {
			// A guess holds for two code lifetimes: a person at a login page
			// rarely takes longer, other browsing of the OP often does.
			if cand.hostport == hp && cand.open(x.Start) && x.Start.Sub(cand.time) <= 2*in.lifetime {
				a = cand
				n++
			}
		}
		if n != 1 {
			return
		}
		link = flow.LinkGuess
	}
	if a == nil {
		return
	}
	x.OAuth.Label = flow.LabelHop
	x.OAuth.Login = a.login
	x.OAuth.LoginLink = link
	if x.OAuth.Issuer == "" {
		x.OAuth.Issuer = a.issuer
	}
	a.hops++
	if link == flow.LinkCertain {
		in.rememberPage(key, a)
		if loc := location(x); loc != nil {
			in.rememberPage(urlKey(loc), a)
		}
	}
	in.endTrace(x, a)
}

// endTrace puts the trace line on x when x ended a's login in the front
// channel (a failed authorize request, an error= response).
func (in *Inspector) endTrace(x *flow.Exchange, a *authReq) {
	if a.failed && !a.traced {
		a.traced = true
		x.OAuth.LoginTrace = a.traceLine()
	}
}

// netErrorRE finds a Chrome net error name in an exchange's error.
var netErrorRE = regexp.MustCompile(`net::ERR_[A-Z0-9_]+`)

// noAnswer names why an exchange got no answer, for a trace line: the
// browser's net error read from a DevTools HAR ("net::ERR_BLOCKED_BY_CLIENT"),
// the proxy's Proxy-Status error type ("dns_error"), else "no answer".
func noAnswer(x *flow.Exchange) string {
	if m := netErrorRE.FindString(x.Error); m != "" {
		return m
	}
	if x.ErrorType != "" {
		return x.ErrorType
	}
	if x.ClientAborted() {
		return "canceled by the client"
	}
	return "no answer"
}

// callbackUnanswered reports a callback the browser or proxy could not
// deliver to the app (a is its login, nil when unknown).
func (in *Inspector) callbackUnanswered(c *ctx, a *authReq) {
	x := c.x
	if !x.CallbackUnanswered() {
		return
	}
	u := x.Request.URL
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), defaultPort(u.Scheme))
	}
	where := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.Host == "" {
		where = u.Scheme + ":" + u.EscapedPath() // a custom scheme
	}
	msg := "the request to the redirect URI " + where + " got no answer"
	if why := noAnswer(x); why != "no answer" {
		msg += " (" + why + ")" // a capture without a reason (Firefox) has nothing to add
	}
	if a != nil && a.issued != "" {
		msg += ": the code " + redact.Short(a.issued) + " was issued, but the app did not receive it"
	}
	switch {
	case u.Host == "":
		msg += "; is an app registered for " + u.Scheme + ": URLs?"
	case isLoopback(strings.ToLower(u.Hostname())):
		msg += "; is the app listening on " + hp + "?"
	default:
		msg += "; is the app's server at " + hp + " up and reachable from the browser?"
	}
	in.addFinding(c, IDCallbackUnanswered, msg)
}

// navigation reports whether x looks like a page a browser navigates to (a
// redirect, an HTML page, a form post), not an image or script.
func navigation(x *flow.Exchange) bool {
	if x.Request.Method == "POST" && mediaType(x.Request.Header.Get("Content-Type")) == "application/x-www-form-urlencoded" {
		return true
	}
	r := x.Response
	if r == nil {
		return false
	}
	if r.Status >= 300 && r.Status < 400 {
		return true
	}
	return mediaType(r.Header.Get("Content-Type")) == "text/html"
}

// location returns the Location of a 3xx response, resolved against the
// request URL; nil when there is none.
func location(x *flow.Exchange) *url.URL {
	r := x.Response
	if r == nil || r.Status < 300 || r.Status >= 400 {
		return nil
	}
	loc := r.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil
	}
	if x.Request.URL != nil {
		u = x.Request.URL.ResolveReference(u)
	}
	return u
}

// responseParams returns the parameters of an authorization response that
// x's response carries, and where it sends them: a redirect's Location
// (query, or fragment) or an auto-submitting form_post page. nil when the
// response carries none.
func responseParams(x *flow.Exchange) (params, *url.URL) {
	r := x.Response
	if r == nil {
		return nil, nil
	}
	if r.Status >= 300 && r.Status < 400 {
		loc := r.Header.Get("Location")
		if !strings.Contains(loc, "code=") && !strings.Contains(loc, "error=") && !strings.Contains(loc, "token=") {
			return nil, nil
		}
		u := location(x)
		if u == nil {
			return nil, nil
		}
		p := parseForm(u.RawQuery)
		if !p.has("code") && !p.has("error") && u.Fragment != "" {
			p = parseForm(u.EscapedFragment())
		}
		return p, u
	}
	if r.Status == 200 && bytes.Contains(r.Body.Data, []byte("<form")) && bytes.Contains(r.Body.Data, []byte("state")) {
		return formPost(r.Body.Data, x.Request.URL)
	}
	return nil, nil
}

// asciiLower lower-cases A-Z and keeps every other byte, so the result is
// as long as s, byte for byte.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// formPost reads an auto-submitting response_mode=form_post page: the form
// action and its hidden inputs. It is tolerant: attributes in any order,
// single, double or no quotes.
func formPost(body []byte, base *url.URL) (params, *url.URL) {
	s := string(body)
	// ASCII-only lower case: strings.ToLower turns invalid UTF-8 into
	// U+FFFD (3 bytes), and indexes into low must hold for s (FuzzFormPost).
	low := asciiLower(s)
	i := strings.Index(low, "<form")
	if i < 0 {
		return nil, nil
	}
	end := strings.Index(low[i:], ">")
	if end < 0 {
		return nil, nil
	}
	action := attr(s[i:i+end], "action")
	if action == "" {
		return nil, nil
	}
	target, err := url.Parse(html.UnescapeString(action))
	if err != nil {
		return nil, nil
	}
	if base != nil {
		target = base.ResolveReference(target)
	}
	var p params
	rest, lrest := s[i+end:], low[i+end:]
	for n := 0; n < 64; n++ {
		j := strings.Index(lrest, "<input")
		if j < 0 {
			break
		}
		k := strings.Index(lrest[j:], ">")
		if k < 0 {
			break
		}
		tag := rest[j : j+k]
		if name := attr(tag, "name"); name != "" {
			p = append(p, param{Name: html.UnescapeString(name), Value: html.UnescapeString(attr(tag, "value")), Where: reqparams.InForm})
		}
		rest, lrest = rest[j+k:], lrest[j+k:]
	}
	if !p.has("code") && !p.has("error") && !p.has("id_token") {
		return nil, nil
	}
	return p, target
}

// attr returns the value of attribute name in an HTML start tag ("" when
// absent).
func attr(tag, name string) string {
	low := asciiLower(tag) // indexes into low hold for tag
	for from := 0; ; {
		i := strings.Index(low[from:], name)
		if i < 0 {
			return ""
		}
		i += from
		from = i + len(name)
		if i > 0 && !isSpace(low[i-1]) {
			continue
		}
		j := from
		for j < len(low) && isSpace(low[j]) {
			j++
		}
		if j >= len(low) || low[j] != '=' {
			continue
		}
		j++
		for j < len(low) && isSpace(low[j]) {
			j++
		}
		if j >= len(tag) {
			return ""
		}
		switch q := tag[j]; q {
		case '"', '\'':
			if k := strings.IndexByte(tag[j+1:], q); k >= 0 {
				return tag[j+1 : j+1+k]
			}
			return ""
		default:
			k := j
			for k < len(tag) && !isSpace(tag[k]) && tag[k] != '>' && tag[k] != '/' {
				k++
			}
			return tag[j:k]
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' }

// urlKey is a URL without its fragment, host in lower case; "" for nil.
func urlKey(u *url.URL) string {
	if u == nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath() + "?" + u.RawQuery
}

// hostPathKey is the key of a redirect URI in Inspector.redirects.
func hostPathKey(u *url.URL) string {
	return strings.ToLower(u.Hostname()) + strings.TrimRight(strings.ToLower(u.Path), "/")
}

// authResponse handles an authorization response (parameters p delivered
// to target): tied by state to its authorize request, it records the code
// as issued by that request, marks an error= response failed and checks
// iss. atCallback says the exchange is the request to the redirect URI
// itself. isResp is false when p is not an authorization response (no
// code or error, or not sent to a redirect URI).
func (in *Inspector) authResponse(c *ctx, p params, target *url.URL, atCallback bool) (a *authReq, isResp bool) {
	code, hasCode := p.get("code")
	errCode := p.value("error")
	if !hasCode && errCode == "" && !p.has("id_token") && !p.has("access_token") {
		return nil, false
	}
	x := c.x
	state, hasState := p.get("state")
	if hasState {
		a, _ = in.byState.get(state)
		if a != nil && x.Start.Sub(a.time) > maxLoginAge {
			a = nil
		}
	}
	tk := hostPathKey(target)
	_, known := in.redirects.get(tk)
	if !atCallback && !known && (a == nil || !a.hasRedirect || !sameTarget(a.redirectURI, tk)) {
		return nil, false
	}
	if a == nil {
		if hasState && known && !redacted(state) {
			in.stateUnknown(c, state)
		}
		if code != "" {
			in.recordCode(code, &codeIssue{time: x.Start, flow: x.ID})
		}
		return nil, true
	}
	if iss := p.value("iss"); iss != "" && a.issuer != "" && iss != a.issuer && !a.issWarned {
		a.issWarned = true
		in.addFinding(c, IDIssMismatch, fmt.Sprintf("the authorization response carries iss %s, but %s was sent to issuer %s: the response comes from another authorization server than the one the login started at (a mix-up, RFC 9207)",
			quote(iss), authRef(a), quote(a.issuer)))
	}
	a.answered = true
	if errCode != "" {
		if a.errCode == "" {
			a.errCode = errCode
		}
		a.failed, a.ended = true, true
	}
	if tok := p.value("access_token"); tok != "" {
		in.rememberToken(tok, a.login) // implicit or hybrid flow
	}
	if code != "" {
		when := x.Start
		if !atCallback {
			when = x.Start.Add(x.Timings.Total)
		}
		in.recordCode(code, &codeIssue{time: when, flow: x.ID, auth: a})
		if a.issued == "" {
			a.issued = fingerprint(code)
		}
	}
	return a, true
}

// sameTarget reports whether redirect URI ru has the host+path key tk.
func sameTarget(ru, tk string) bool {
	u, err := url.Parse(ru)
	return err == nil && hostPathKey(u) == tk
}

// stateUnknown reports a state no authorize request sent (once per state).
func (in *Inspector) stateUnknown(c *ctx, state string) {
	t := &in.trace
	if _, done := t.reported.get(state); done {
		return
	}
	t.reported.put(state, true)
	msg := fmt.Sprintf("the authorization response's state %s matches no authorize request seen", short(state))
	if in.byState.evicted > 0 {
		msg += " (older authorize requests were forgotten: more than " + strconv.Itoa(maxAuthorizations) + " were seen)"
	}
	msg += "; the client will (and should) reject it: a lost session cookie, a second tab or login started meanwhile, a state the client never sent (CSRF), or an authorize request that did not go through the proxy"
	in.addFinding(c, IDStateUnknown, msg)
}

// addFinding reports a tracing finding with its table severity.
func (in *Inspector) addFinding(c *ctx, id, msg string) {
	ch := checkByID[id]
	report{c: ch, out: &c.x.OAuth.Findings}.add(msg, "")
}

// guessAuth returns the only open authorize request of the token
// request's client_id and redirect_uri that could have issued its code:
// not failed, no code seen issued, not older than the code lifetime, at
// the same issuer (or host). nil when there is none or several.
func (in *Inspector) guessAuth(c *ctx) *authReq {
	ru, ok := c.all.get("redirect_uri")
	if !ok {
		return nil
	}
	list, ok := in.byClient.get(clientKey(c.cred.clientID(), ru))
	if !ok {
		return nil
	}
	x := c.x
	var found *authReq
	for _, a := range list {
		if a.failed || a.ended || a.issued != "" {
			continue
		}
		if d := x.Start.Sub(a.time); d < 0 || d > in.lifetime {
			continue
		}
		if x.OAuth.Issuer != "" && a.issuer != "" {
			if x.OAuth.Issuer != a.issuer {
				continue
			}
		} else if a.host != c.host {
			continue
		}
		if found != nil {
			return nil // ambiguous: two logins in flight
		}
		found = a
	}
	return found
}

// traceToken ties a token exchange to its login (or starts one when no
// authorize request is linked), runs the token-only checks, and remembers
// the tokens it issued.
func (in *Inspector) traceToken(c *ctx) {
	x := c.x
	t := &in.trace
	ok := c.resp != nil && c.resp.ok
	if c.grant == grantRefresh {
		if ref, found := in.tokenLogin(c.all.value("refresh_token")); found {
			x.OAuth.Login, x.OAuth.LoginLink = ref, flow.LinkCertain
		}
	}
	if v, has := c.all.get("code_verifier"); has && c.codeFP != "" && v != "" && (!redacted(v) || redact.IsFingerprint(v)) {
		h := maphash.String(t.seed, v)
		if prev, seen := t.verifiers.get(h); !seen {
			t.verifiers.put(h, verifierUse{codeFP: c.codeFP, flow: x.ID})
		} else if prev.codeFP != c.codeFP {
			in.addFinding(c, IDVerifierReused, fmt.Sprintf("the code_verifier %s was already sent with another code (code %s, flow %s); this request sends it with code %s",
				short(v), short(prev.codeFP), shortID(prev.flow), short(c.codeFP)))
		}
	}
	if c.grant == grantAuthCode {
		clientID := c.cred.clientID()
		ru, hasRU := c.all.get("redirect_uri")
		epKey := clientID + "\x00" + endpointKey(x.Request.URL.Scheme, c.host, x.Request.URL.Port(), c.lpath)
		a := c.auth
		step, reason := tokenStep(c)
		if a != nil {
			x.OAuth.Login, x.OAuth.LoginLink = a.login, c.link
			a.ended = true
			if c.link == flow.LinkGuess {
				step += " (guessed link)"
			}
			if len(a.steps) < maxSteps {
				a.steps = append(a.steps, step)
				if !reason {
					in.scratchStep = &traceStep{a: a, idx: len(a.steps) - 1}
				}
			} else if len(a.steps) == maxSteps {
				a.steps = append(a.steps, "…")
			}
			a.traced = true
			x.OAuth.LoginTrace = a.traceLine()
		} else {
			x.OAuth.Login = x.ID
			_, seenClient := t.clients.get(clientID)
			what := "authorize not linked"
			if !seenClient && clientID != "" {
				what = "authorize not seen"
				in.tokenOnly(c, clientID, epKey, ru, hasRU, ok)
			}
			u := x.Request.URL
			x.OAuth.LoginTrace = "login " + endpointKey(u.Scheme, c.host, u.Port(), "") + ": " + what + " → token " + step
			if !reason {
				in.scratchStep = &traceStep{idx: -1}
			}
		}
		if ok && hasRU && clientID != "" {
			if prev, _ := t.lastOK.get(epKey); prev != ru {
				t.lastOK.put(epKey, ru)
			}
		}
	}
	if ok && x.OAuth.Login != "" {
		in.rememberToken(c.resp.get("access_token"), x.OAuth.Login)
		in.rememberToken(c.resp.get("refresh_token"), x.OAuth.Login)
	}
}

// tokenOnly runs the checks of a token request whose client's authorize
// leg was never seen.
func (in *Inspector) tokenOnly(c *ctx, clientID, epKey, ru string, hasRU, ok bool) {
	t := &in.trace
	if _, done := t.hinted.get(clientID); !done {
		t.hinted.put(clientID, true)
		in.addFinding(c, IDAuthorizeUnseen, fmt.Sprintf("no authorize request of client_id %s went through the proxy, so redirect_uri, PKCE, state and nonce cannot be compared with it (said once per client); run the login through `oauthproxy browser` to see it", quote(clientID)))
	}
	if !hasRU || ok {
		return
	}
	if prev, seen := t.lastOK.get(epKey); seen {
		if d := redirectDiff(prev, ru); d != nil {
			in.addFinding(c, IDRedirectChanged, fmt.Sprintf("redirect_uri differs from the client's last successful token exchange at this endpoint: %s; then %q, now %q",
				strings.Join(d, "; "), displayURI(prev), displayURI(ru)))
		}
	}
}

// traceStep is a token step of a trace line that has no reason yet (a
// bare status): the diagnosis adds its cause.
type traceStep struct {
	a   *authReq // nil for a login without authorize request
	idx int      // index in a.steps
	// authorize: the step is the authorize request's failed status.
	authorize bool
}

// addCause appends cause to the step and rewrites x's trace line.
func (s *traceStep) addCause(x *flow.Exchange, cause string) {
	switch {
	case s.a == nil:
		x.OAuth.LoginTrace += " " + cause
		return
	case s.authorize:
		s.a.statusCause = cause
	case s.idx < len(s.a.steps):
		s.a.steps[s.idx] += " " + cause
	}
	x.OAuth.LoginTrace = s.a.traceLine()
}

// tokenStep describes a token exchange for a trace line: "200 ok",
// "400 redirect-uri-mismatch", "400 invalid_grant". reason is false when it
// is only a status.
func tokenStep(c *ctx) (step string, reason bool) {
	x := c.x
	if x.Response == nil || x.Response.Status == 0 {
		return noAnswer(x), true
	}
	s := strconv.Itoa(x.Response.Status)
	best := -1
	for i, f := range x.OAuth.Findings {
		if f.Severity != flow.SeverityInfo && (best < 0 || f.Severity.Rank() < x.OAuth.Findings[best].Severity.Rank()) {
			best = i
		}
	}
	switch {
	case best >= 0:
		return s + " " + x.OAuth.Findings[best].ID, true
	case c.resp != nil && c.resp.errCode != "":
		return s + " " + shorten(c.resp.errCode), true
	case c.resp != nil && c.resp.ok:
		return s + " ok", true
	}
	return s, false
}

// traceLine is the one-line summary of a login:
// "login idp.example.com: authorize → 4 hops → callback → token 400 redirect-uri-mismatch".
func (a *authReq) traceLine() string {
	var b strings.Builder
	b.WriteString("login ")
	b.WriteString(a.hostport)
	b.WriteString(": authorize")
	if a.status >= 400 {
		b.WriteString(" " + strconv.Itoa(a.status))
	}
	if a.statusCause != "" {
		b.WriteString(" " + a.statusCause)
	}
	switch {
	case a.hops == 1:
		b.WriteString(" → 1 hop")
	case a.hops > 1:
		b.WriteString(" → " + strconv.Itoa(a.hops) + " hops")
	}
	switch {
	case a.errCode != "":
		b.WriteString(" → error=" + shorten(a.errCode))
	case a.answered:
		b.WriteString(" → callback")
	}
	for _, s := range a.steps {
		b.WriteString(" → token ")
		b.WriteString(s)
	}
	return b.String()
}

// bearer returns the token of an Authorization: Bearer (or DPoP) header.
func bearer(x *flow.Exchange) string {
	a := x.Request.Header.Get("Authorization")
	switch {
	case len(a) > 7 && strings.EqualFold(a[:7], "bearer "):
		return strings.TrimSpace(a[7:])
	case len(a) > 5 && strings.EqualFold(a[:5], "dpop "):
		return strings.TrimSpace(a[5:])
	}
	return ""
}

// joinByToken ties a call made with a token a login issued to that login.
func (in *Inspector) joinByToken(c *ctx) bool {
	tok := bearer(c.x)
	if tok == "" {
		return false
	}
	login, ok := in.tokenLogin(tok)
	if !ok {
		return false
	}
	c.x.OAuth.Login, c.x.OAuth.LoginLink = login, flow.LinkCertain
	return true
}

// tokenLogin returns the login that issued token v.
func (in *Inspector) tokenLogin(v string) (string, bool) {
	t := &in.trace
	if v == "" || t.tokens.len() == 0 {
		return "", false
	}
	ref, ok := t.tokens.get(maphash.String(t.seed, v))
	if !ok || ref.check != maphash.String(t.check, v) {
		return "", false
	}
	return ref.login, true
}

// rememberToken ties an issued token to login.
func (in *Inspector) rememberToken(v, login string) {
	if v == "" || redacted(v) && !redact.IsFingerprint(v) {
		return
	}
	t := &in.trace
	t.tokens.put(maphash.String(t.seed, v), tokenRef{check: maphash.String(t.check, v), login: login})
}
