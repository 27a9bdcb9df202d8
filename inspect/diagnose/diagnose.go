// Package diagnose explains failed OAuth exchanges and every 401, 403 and
// 407: it reads the status, headers and body of a response (standard OAuth
// errors, provider envelopes in JSON, JSONP, form, XML and HTML, error
// headers, WAF/CDN/gateway signatures) together with the request-side
// findings, and returns a category, a stable cause id, evidence and fix
// steps. Its knowledge is data: a table of rules (rules.go), each with its
// source and providers, a wording classifier for messages no rule knows
// (wording.go), and a catalogue of causes (causes.go) documented in
// docs/diagnoses.md.
// It is pure: no I/O, no goroutines.
package diagnose

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// Confidence levels.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
)

// maxEvidence bounds the number of evidence lines.
const maxEvidence = 10

// Diagnose explains x if it is a failed OAuth exchange (or a 200 that is
// really an error) or any exchange answered 401, 403 or 407, using
// x.OAuth.Label and x.OAuth.Findings already set by inspection. It returns
// nil for successes and for other errors of exchanges that are not OAuth.
// It never panics on malformed input.
func Diagnose(x *flow.Exchange) (d *flow.Diagnosis) {
	if x == nil {
		return nil
	}
	defer func() {
		// Last line of defence: a bug in a rule must not take the proxy down.
		if r := recover(); r != nil {
			d = &flow.Diagnosis{Category: flow.CategoryRequest, Cause: CauseUnrecognizedError,
				Summary: "diagnosis failed", Evidence: []string{fmt.Sprintf("internal error: %v", r)}, Confidence: Low}
		}
	}()
	labeled := x.OAuth.Label != flow.LabelNone
	if x.Response == nil || (x.Response.Status == 0 && x.Error != "") {
		if x.Error != "" && labeled && !x.ClientAborted() {
			// (A client that gave up is not the server's failure.)
			return upstream(x)
		}
		return nil
	}
	if !labeled && x.Response.Status < 400 && !challengeHeader(x.Response.Header) {
		return nil // cheap exit for ordinary traffic
	}
	return diagnose(x, nil)
}

// diagnose is Diagnose with the rules of some providers left out (skip
// holds Rule.Providers names), for the leave-one-provider-out measure.
func diagnose(x *flow.Exchange, skip map[string]bool) *flow.Diagnosis {
	f := gather(x)
	f.skip = skip
	d := decide(x, f)
	if d == nil {
		return nil
	}
	finish(x, f, d)
	return d
}

// challengeHeader reports whether h carries a Bearer/DPoP/OAuth challenge.
func challengeHeader(h http.Header) bool {
	for _, v := range h.Values("Www-Authenticate") {
		l := strings.ToLower(strings.TrimSpace(v))
		if strings.HasPrefix(l, "bearer") || strings.HasPrefix(l, "dpop") || strings.HasPrefix(l, "oauth") ||
			strings.Contains(l, ", bearer") || strings.Contains(l, ", dpop") {
			return true
		}
	}
	return false
}

type candidate struct {
	rule  *compiledRule
	score int
	ev    []string
}

// best returns the most specific matching rule of a layer (ties: the
// earlier rule in the table). compiled is sorted that way, so the first
// match wins.
func best(layer Layer, f *facts, x *flow.Exchange, eligible func(*compiledRule) bool) *candidate {
	for _, r := range compiled {
		if r.Layer != layer || !eligible(r) || f.skipped(r) {
			continue
		}
		if score, ev, ok := r.match(f, x); ok {
			return &candidate{r, score, ev}
		}
	}
	return nil
}

func isServerStatus(s int) bool { return s >= 500 || s == 429 }

// edgeStatusOK says whether a non-OAuth-layer rule without an explicit
// status list applies to this status.
func edgeStatusOK(r *compiledRule, status int) bool {
	if r.status != nil {
		return true // checked by match
	}
	if status >= 400 {
		return status < 500 && status != 429 && status != 404 && status != 405 && status != 410
	}
	return r.AlsoSuccess
}

// isRefusal reports whether status is one that always gets a diagnosis:
// 401, 403 and 407, at an OAuth endpoint or any other server.
func isRefusal(status int) bool { return status == 401 || status == 403 || status == 407 }

// decide picks the diagnosis, before evidence polishing.
func decide(x *flow.Exchange, f *facts) *flow.Diagnosis {
	labeled := f.label != flow.LabelNone
	// Every rule applies to OAuth exchanges and to every refusal.
	active := labeled || isRefusal(f.status)
	oauthErr := f.oauthError()
	failed := f.status >= 400
	server := isServerStatus(f.status)

	unlabeledOK := func(r *compiledRule) bool {
		return active || r.Unlabeled || (f.challengeErr && r.Layer == LayerOAuth)
	}

	// 1. Standard errors and provider envelopes.
	if oauthErr {
		eligible := func(r *compiledRule) bool {
			if !unlabeledOK(r) {
				return false
			}
			return !server || causeByID[r.Cause].Category == flow.CategoryServer
		}
		c := best(LayerOAuth, f, x, func(r *compiledRule) bool { return r.findings == nil && eligible(r) })
		if fc := best(LayerOAuth, f, x, func(r *compiledRule) bool { return r.findings != nil && eligible(r) }); fc != nil && findingWins(fc, c) {
			c = fc
		}
		if c != nil {
			if d := wordsOverCode(c, f); d != nil {
				return d
			}
			return fromRule(c)
		}
		if !active && !f.challengeErr {
			return nil
		}
		if server {
			if d := blockPage(x, f); d != nil {
				return d
			}
			return serverDiagnosis(x, f)
		}
		// 4. The wording classifier.
		if d := classify(f, false); d != nil {
			return withCodes(d, f)
		}
		if isRefusal(f.status) && (f.errCode == "" || !labeled) {
			return refusal(x, f)
		}
		return unrecognized(f)
	}

	// A 2xx whose body is well-formed JSON or form data without an error is
	// an ordinary answer (discovery, JWKS, userinfo...): block pages are HTML
	// or text, and challenges come as 202 or with their own headers. This
	// keeps the edge rules' body scans off the hot path of successes.
	if f.status >= 200 && f.status < 300 && f.status != 202 && !f.challengeErr &&
		(f.kind == kindJSON || f.kind == kindForm || f.kind == kindEmpty) {
		return nil
	}

	// 3. Intermediaries: the body is not an OAuth error.
	if server {
		if !labeled {
			return nil
		}
		if d := blockPage(x, f); d != nil {
			return d
		}
		return serverDiagnosis(x, f)
	}
	c := best(LayerEdge, f, x, func(r *compiledRule) bool {
		return unlabeledOK(r) && edgeStatusOK(r, f.status)
	})
	if c != nil {
		d := fromRule(c)
		if labeled && !c.rule.FromServer {
			d.Evidence = append(d.Evidence, notOAuthNote(f))
		}
		return d
	}
	if !active {
		return nil
	}
	if f.wafHeader != "" && (failed || f.status == 202) {
		return fromCause(CauseNetworkBlock, "A web application firewall acted on the request (it says so in a response header).", Medium,
			"header "+f.wafHeader)
	}
	if !failed {
		if (f.kind == kindJSONP || f.kind == kindXML) && f.message {
			// QQ-style callback({...}) or an XML error served with 200.
			return classify(f, false)
		}
		if f.kind != kindHTML && f.kind != kindText {
			return nil
		}
		// A back-channel endpoint answers JSON: a page served there with a
		// success status is an error page or a block page. At the
		// authorization endpoint it is the login page, unless its title or
		// a heading says it is a block page (application control).
		return classify(f, !backChannel(f.label) && !f.errorPage())
	}
	// A page at a back-channel endpoint saying only "access denied" comes
	// from whatever answered instead of the OAuth server: the generic
	// permission words do not decide there (fallback says not-from-oauth-server).
	skip := ""
	if labeled && backChannel(f.label) && (f.kind == kindHTML || f.kind == kindText || f.kind == kindEmpty) {
		skip = "words-permission"
	}
	if d := classifyWith(f, false, skip); d != nil {
		return d
	}
	if !labeled {
		return refusal(x, f)
	}
	return fallback(x, f)
}

// wordsOverCode lets the server's own words decide over a rule that read
// the error code alone: an `invalid_request` or `unauthorized_client`
// whose description names a scope, a client type or a redirect URI says
// more than the code. It applies only when the words point to another
// category; the answer then has the classifier's low confidence, and the
// code rule's reading is kept in the evidence.
func wordsOverCode(c *candidate, f *facts) *flow.Diagnosis {
	r := c.rule
	if r.errors == nil || r.codes != nil || r.desc != nil || r.findings != nil || r.headers != nil || r.body != nil || len(f.descs) == 0 {
		return nil
	}
	cat := causeByID[r.Cause].Category
	if r.Category != "" {
		cat = r.Category
	}
	if cat == flow.CategoryInfo || cat == flow.CategoryServer {
		return nil
	}
	g := *f
	g.errCode, g.errRaw, g.codes, g.hdrTexts, g.page, g.pageDone = "", "", nil, nil, nil, true
	d := classify(&g, false)
	if d == nil || d.Category == cat {
		return nil
	}
	d = withCodes(d, f)
	d.Evidence = append(d.Evidence, fmt.Sprintf("the error code alone would read %s (%s, rule %s); the description says more", cat, r.Cause, r.ID))
	return d
}

// withCodes puts the error code and provider codes in front of a
// classifier diagnosis's evidence.
func withCodes(d *flow.Diagnosis, f *facts) *flow.Diagnosis {
	var pre []string
	if f.errCode != "" {
		pre = append(pre, errorEvidence(f))
	}
	for _, code := range f.codes {
		pre = append(pre, codeEvidence(code))
	}
	d.Evidence = append(pre, d.Evidence...)
	return d
}

// blockPage recognises a block page served with a 5xx status (a URL
// filter's 503): an intermediary signature known to appear on block pages
// whatever the status, or network words in the page.
func blockPage(x *flow.Exchange, f *facts) *flow.Diagnosis {
	if f.kind != kindHTML && f.kind != kindText && !f.message {
		return nil
	}
	if c := best(LayerEdge, f, x, func(r *compiledRule) bool { return r.AlsoSuccess && r.body != nil }); c != nil {
		d := fromRule(c)
		d.Evidence = append(d.Evidence, fmt.Sprintf("a block page served with status %d, not a server failure", f.status))
		return d
	}
	return classify(f, true)
}

// findingWins decides between the best rule that uses a request-side
// finding (fc) and the best one reading the response alone (c): the finding
// is the concrete root cause unless the server named a different kind of
// problem precisely (a provider code or description outside the grant
// family, e.g. AADSTS65001 consent).
func findingWins(fc, c *candidate) bool {
	if c == nil {
		return true
	}
	specific := c.rule.codes != nil || c.rule.desc != nil
	cat := causeByID[c.rule.Cause].Category
	return !specific || cat == flow.CategoryGrant || cat == causeByID[fc.rule.Cause].Category
}

func fromRule(c *candidate) *flow.Diagnosis {
	r := c.rule
	cause := causeByID[r.Cause]
	d := &flow.Diagnosis{
		Category:   cause.Category,
		Cause:      r.Cause,
		Summary:    r.Summary,
		Evidence:   c.ev,
		Confidence: r.Confidence,
		Source:     r.Source,
	}
	if r.Category != "" {
		d.Category = r.Category
	}
	if d.Summary == "" {
		d.Summary = cause.Title
	}
	if d.Confidence == "" {
		switch r.Layer {
		case LayerOAuth:
			d.Confidence = High
		case LayerEdge:
			d.Confidence = Medium
		}
	}
	d.Fix = append(append([]string(nil), r.Fix...), cause.Fix...)
	return d
}

func fromCause(id, summary, confidence string, ev ...string) *flow.Diagnosis {
	c := causeByID[id]
	return &flow.Diagnosis{Category: c.Category, Cause: id, Summary: summary, Evidence: ev,
		Fix: append([]string(nil), c.Fix...), Confidence: confidence, Source: c.Source}
}

func serverDiagnosis(x *flow.Exchange, f *facts) *flow.Diagnosis {
	var d *flow.Diagnosis
	switch {
	case f.status == 429:
		d = fromCause(CauseRateLimited, "The server or an edge rate limit throttled the request (429).", High)
	case f.status == 502 || f.status == 503 || f.status == 504 || (f.status >= 520 && f.status <= 530):
		d = fromCause(CauseServerUnavailable, fmt.Sprintf("The server, or the gateway in front of it, is unavailable (%d).", f.status), High)
	default:
		d = fromCause(CauseServerError, fmt.Sprintf("The server failed with %d.", f.status), High)
	}
	if f.errCode != "" {
		d.Evidence = append(d.Evidence, errorEvidence(f))
	}
	if len(f.descs) > 0 {
		d.Evidence = append(d.Evidence, fmt.Sprintf("error_description: %q", f.descs[0]))
	}
	if v := f.header.Get("Retry-After"); v != "" {
		d.Evidence = append(d.Evidence, "header Retry-After: "+v)
	}
	// Say who answered, if an intermediary signature is present.
	g := *f
	g.status = 403
	if c := best(LayerEdge, &g, x, func(r *compiledRule) bool { return r.status == nil }); c != nil {
		d.Evidence = append(d.Evidence, c.ev...)
		d.Summary += " Answered by: " + causeByID[c.rule.Cause].Title + "."
	}
	return d
}

// unrecognized is the answer for an error no rule knows.
func unrecognized(f *facts) *flow.Diagnosis {
	d := fromCause(CauseUnrecognizedError, "The response is an error that no rule recognises.", Low)
	d.Category = categoryByStatus(f.status)
	if f.errCode != "" {
		d.Evidence = append(d.Evidence, errorEvidence(f))
	}
	for _, c := range f.codes {
		d.Evidence = append(d.Evidence, codeEvidence(c))
	}
	for _, s := range f.descs {
		d.Evidence = append(d.Evidence, fmt.Sprintf("error_description: %q", s))
	}
	return d
}

func categoryByStatus(status int) flow.Category {
	switch status {
	case 401:
		return flow.CategoryClientConfig
	case 403:
		return flow.CategoryPermission
	case 404, 405, 410:
		return flow.CategoryClientConfig
	}
	return flow.CategoryRequest
}

// backChannel labels expect JSON answers from the OAuth server.
func backChannel(l flow.Label) bool {
	switch l {
	case flow.LabelAuthorize, flow.LabelCallback:
		return false
	}
	return true
}

// fallback explains a labeled failure whose body is not an OAuth error and
// that no rule and no wording recognised.
func fallback(x *flow.Exchange, f *facts) *flow.Diagnosis {
	switch f.status {
	case 404, 405, 410:
		return fromCause(CauseEndpointNotFound,
			fmt.Sprintf("The %s endpoint answered %d without an OAuth error: the URL or method is wrong.", f.label, f.status), Medium,
			fmt.Sprintf("status %d", f.status), notOAuthNote(f))
	}
	if !backChannel(f.label) {
		if isRefusal(f.status) {
			return refusal(x, f)
		}
		d := unrecognized(f)
		d.Summary = fmt.Sprintf("The %s endpoint answered %d with a page no rule recognises.", f.label, f.status)
		return d
	}
	// A structured body (JSON, form, XML) is some server's own error
	// envelope: the absence of an RFC `error` member says nothing about
	// who answered, so it is not network evidence.
	if f.kind == kindJSON || f.kind == kindJSONP || f.kind == kindForm || f.kind == kindXML || f.kind == kindBinary {
		if isRefusal(f.status) {
			return refusal(x, f)
		}
		d := unrecognized(f)
		d.Summary = fmt.Sprintf("The %s endpoint answered %d with an error no rule recognises.", f.label, f.status)
		return d
	}
	conf := Medium
	if f.kind != kindHTML && f.kind != kindEmpty {
		conf = Low
	}
	return fromCause(CauseNotFromOAuthServer,
		fmt.Sprintf("The %s endpoint answered %d without an OAuth error; the request likely never reached the OAuth server (a WAF, CDN, gateway or proxy answered).", f.label, f.status),
		conf, fmt.Sprintf("status %d", f.status), notOAuthNote(f))
}

// notOAuthNote describes a body that is not an OAuth error.
func notOAuthNote(f *facts) string {
	ct := f.header.Get("Content-Type")
	what := ""
	switch f.kind {
	case kindEmpty:
		what = "body is empty"
	case kindHTML:
		what = "body is HTML"
	case kindJSON:
		what = "body is JSON without an OAuth `error` member"
	case kindBinary:
		what = "body is binary"
	default:
		what = "body is not an OAuth JSON error"
	}
	if ct != "" {
		what += " (Content-Type: " + ct + ")"
	}
	return what + ": the OAuth server probably did not produce this response"
}

var (
	tlsErrRE = regexp.MustCompile(`(?i)\btls\b|x509|certificate|handshake|net::ERR_(CERT|SSL)_`)
	dnsErrRE = regexp.MustCompile(`(?i)no such host|server misbehaving|name resolution|\bdns\b|lookup [^ ]+ on|net::ERR_NAME_NOT_RESOLVED`)
	// blockedErrRE: a browser's capture says it blocked the request itself.
	blockedErrRE = regexp.MustCompile(`net::ERR_BLOCKED_BY_(CLIENT|ADMINISTRATOR)`)
	proxyErrRE   = regexp.MustCompile(`(?i)proxyconnect|proxy authentication required|\b407\b`)
)

// upstream explains an exchange that got no response. Its evidence quotes
// the error as what it is: the proxy's (or another tool's) upstream error,
// or the browser's own report read from its capture ("the browser reported
// net::ERR_BLOCKED_BY_CLIENT (no answer)"), where no upstream was involved.
func upstream(x *flow.Exchange) *flow.Diagnosis {
	text := httpURLRE.ReplaceAllStringFunc(x.Error, redact.URLString)
	ev := "upstream error: " + text
	if strings.HasPrefix(x.Error, flow.BrowserReportedPrefix) {
		ev = text
	}
	var d *flow.Diagnosis
	switch {
	case blockedErrRE.MatchString(x.Error):
		d = fromCause(CauseBrowserBlocked, "The browser blocked the request itself (an extension's filter list or an administrator's policy); the server never saw it.", High, ev)
	case proxyErrRE.MatchString(x.Error):
		d = fromCause(CauseCorporateProxy, "The connection through the upstream/corporate proxy failed.", Medium, ev)
	case tlsErrRE.MatchString(x.Error):
		d = fromCause(CauseUpstreamTLS, "The TLS connection to the OAuth server failed.", High, ev)
	case dnsErrRE.MatchString(x.Error):
		d = fromCause(CauseUpstreamDNS, "The OAuth server's host name could not be resolved.", High, ev)
	default:
		d = fromCause(CauseUpstreamUnreachable, "No response from the OAuth server (connection refused, reset or timed out).", Medium, ev)
	}
	d.Evidence = append([]string{"network evidence: no response came back"}, d.Evidence...)
	if x.Conn.ServerAddr != "" {
		d.Evidence = append(d.Evidence, "server address: "+x.Conn.ServerAddr)
	}
	if x.Conn.Intercepted && d.Cause == CauseUpstreamTLS {
		d.Evidence = append(d.Evidence, "the connection was TLS-intercepted by oauthproxy (mTLS client certificates cannot pass through)")
	}
	d.Evidence = scrubAll(x, d.Evidence)
	return d
}

// correlationHeaders are quoted so that block logs can be searched.
var correlationHeaders = []string{"Cf-Ray", "X-Amz-Cf-Id", "X-Amzn-Requestid", "X-Azure-Ref", "X-Ms-Request-Id", "X-Iinfo", "Dpop-Nonce", "Retry-After"}

// finish adds the status, cross-checks and context, applies the
// confidence caps and scrubs secrets from the evidence.
func finish(x *flow.Exchange, f *facts, d *flow.Diagnosis) {
	ev := []string{fmt.Sprintf("status %d", f.status)}
	ev = append(ev, d.Evidence...)
	if f.errURI != "" {
		ev = append(ev, "error_uri: "+f.errURI)
	}
	for _, h := range correlationHeaders {
		if v := f.header.Get(h); v != "" {
			if h == "Dpop-Nonce" {
				v = "present"
			}
			ev = append(ev, "header "+h+": "+v)
		}
	}
	if d.Cause == CauseCDNSNIMismatch && x.Request.URL != nil && x.Conn.ServerName != "" &&
		!strings.EqualFold(x.Conn.ServerName, x.Request.URL.Hostname()) {
		ev = append(ev, fmt.Sprintf("TLS SNI %q differs from Host %q", x.Conn.ServerName, x.Request.URL.Hostname()))
		d.Confidence = High
	}
	if x.Conn.Intercepted && (d.Cause == CauseCertBoundMismatch || d.Cause == CauseInvalidClient) && looksMTLS(x) {
		ev = append(ev, "the connection was TLS-intercepted by oauthproxy: mTLS client certificates (RFC 8705) cannot pass through")
	}
	// Other request-side problems are worth seeing next to the diagnosis.
	for _, fd := range f.findings {
		if fd.Severity == flow.SeverityError && !containsPrefix(ev, "request finding "+fd.ID+":") {
			ev = append(ev, "see also request finding "+fd.ID+": "+fd.Message)
		}
	}
	if f.defect != "" {
		ev = append(ev, f.defect)
		d.Confidence = Low
		d.Summary += " (The body could not be read completely, so this is a guess.)"
	} else if x.Response.Body.Truncated && f.kind == kindJSON && !f.oauthError() {
		d.Confidence = Low
	}
	if f.errFrom == "page text" && d.Confidence == High {
		d.Confidence = Medium
	}
	if d.Category == flow.CategoryNetwork {
		ev = networkEvidence(f, ev)
	}
	secrets := f.secrets()
	d.Evidence = scrubWith(secrets, dedup(ev))
	if len(d.Evidence) > maxEvidence {
		d.Evidence = d.Evidence[:maxEvidence]
	}
	d.Summary = scrubWith(secrets, []string{d.Summary})[0]
}

// networkEvidence marks the evidence line that makes a network diagnosis
// a network one ("network evidence: …"): an intermediary's header, cookie,
// body or status-line signature, a provider code or description naming a
// network restriction, network wording. Without such a line it adds one
// for a 407 or for a body no OAuth server sends on a back-channel
// endpoint. Only those count; the absence of an OAuth error alone does not.
func networkEvidence(f *facts, ev []string) []string {
	for i, e := range ev {
		if i == 0 {
			continue // the status
		}
		for _, p := range []string{"header ", "cookie ", "status line", "body: ", "body is empty", "wording ", "upstream error",
			"errcode=", "AADSTS", "error_description: "} {
			if strings.HasPrefix(e, p) {
				out := append([]string(nil), ev...)
				out[i] = "network evidence: " + e
				return out
			}
		}
	}
	what := ""
	switch {
	case f.status == 407:
		what = "status 407: a proxy between the client and the server asks for credentials"
		if v := f.header.Get("Proxy-Authenticate"); v != "" {
			what += " (Proxy-Authenticate: " + shorten(v, 80) + ")"
		}
	case f.kind == kindHTML || f.kind == kindEmpty || f.kind == kindText:
		what = fmt.Sprintf("a %s endpoint answered with %s; OAuth servers answer it with JSON", f.label, map[string]string{kindHTML: "an HTML page", kindEmpty: "an empty body", kindText: "plain text"}[f.kind])
	default:
		return ev
	}
	out := make([]string, 0, len(ev)+1)
	out = append(out, ev[0], "network evidence: "+what)
	return append(out, ev[1:]...)
}

func looksMTLS(x *flow.Exchange) bool {
	if x.Request.URL != nil && strings.Contains(strings.ToLower(x.Request.URL.Host), "mtls") {
		return true
	}
	// tls_client_auth sends client_id only: no secret, no assertion, no Basic.
	return hasRequestParam(x, "client_id") && x.Request.Header.Get("Authorization") == "" &&
		!hasRequestParam(x, "client_secret") && !hasRequestParam(x, "client_assertion")
}

func containsPrefix(xs []string, p string) bool {
	for _, s := range xs {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func dedup(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, s := range xs {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// requestParams returns the request's parameters (query, form, JSON and
// multipart bodies), read by reqparams like everywhere else in the tree.
func requestParams(x *flow.Exchange) url.Values {
	raw := ""
	if x.Request.URL != nil {
		raw = x.Request.URL.RawQuery
	}
	body := x.Request.Body.Data
	if len(body) > maxInspect {
		body = body[:maxInspect]
	}
	return reqparams.Request(raw, x.Request.Header.Get("Content-Type"), body).Values()
}

func hasRequestParam(x *flow.Exchange, name string) bool {
	_, ok := requestParams(x)[name]
	return ok
}

var (
	secretPairRE = regexp.MustCompile(`(?i)\b(access_token|refresh_token|id_token|client_secret|code_verifier|code|assertion|client_assertion|password|device_code)(["']?\s*[:=]\s*["']?)([A-Za-z0-9._~+/\-]{6,})`)
)

// scrubAll removes secrets from evidence: values the request carried
// (client secret, code, tokens, credentials), JWTs anywhere, and
// name=value pairs of secret parameters echoed by the server.
func scrubAll(x *flow.Exchange, ev []string) []string {
	return scrubWith(requestSecrets(x), ev)
}

// requestSecrets lists the secret values x's request carried, longest
// first: a secret that is a prefix of another must not leave the other's
// tail behind.
func requestSecrets(x *flow.Exchange) []redact.Secret {
	// Every secret the request carried, wherever (query, form, JSON body,
	// headers, cookie values), longest first, each with the fingerprint its
	// name calls for (the same one the HAR shows for it).
	return redact.RequestSecrets(&x.Request)
}

// scrubWith replaces secrets, JWTs and secret name=value pairs in ev.
func scrubWith(secrets []redact.Secret, ev []string) []string {
	out := make([]string, len(ev))
	for i, s := range ev {
		s = redact.Echoes(s, secrets)
		if mayHoldSecretPair(s) {
			s = secretPairRE.ReplaceAllStringFunc(s, func(m string) string {
				p := secretPairRE.FindStringSubmatch(m)
				if redact.IsFingerprint(p[3]) || strings.HasPrefix(p[3], "redacted") {
					return m
				}
				if strings.EqualFold(p[1], "code") && !strings.Contains(p[2], "=") && !strings.Contains(p[2], "\"") {
					return m // "code: 100" style provider codes are not secrets
				}
				return p[1] + p[2] + redact.Fingerprint(p[3])
			})
		}
		if strings.Contains(s, "eyJ") {
			s = jwtRE.ReplaceAllStringFunc(s, redact.Fingerprint)
		}
		out[i] = scrubCutTail(shorten(s, 400), redact.Raw(secrets))
	}
	return out
}

// scrubCutTail removes the beginning of a secret left at the end of a text
// that was cut short ("…"), by the readers or by shorten: a secret cut in
// half no longer matches whole.
func scrubCutTail(s string, secrets []string) string {
	body, cut := strings.CutSuffix(strings.TrimRight(s, `"`), "…")
	if !cut {
		return s
	}
	for _, sec := range secrets {
		for k := len(sec) - 1; k >= 4; k-- {
			if strings.HasSuffix(body, sec[:k]) {
				return body[:len(body)-k] + "redacted…"
			}
		}
	}
	return s
}

// secretPairNames are the parameter names secretPairRE looks for; a line
// without any of them (in any case) is not scanned.
var secretPairNames = []string{"token", "secret", "code", "assertion", "password", "verifier"}

func mayHoldSecretPair(s string) bool {
	l := strings.ToLower(s)
	for _, n := range secretPairNames {
		for rest := l; ; {
			i := strings.Index(rest, n)
			if i < 0 {
				break
			}
			rest = rest[i+len(n):]
			// A ':' or '=' follows, after quotes and white space (a
			// superset of what secretPairRE allows there).
			t := strings.TrimLeft(rest, "\"' \t\n\r\v\f")
			if t != "" && (t[0] == ':' || t[0] == '=') {
				return true
			}
		}
	}
	return false
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// Explain diagnoses a response given by its parts, for the `oauthproxy
// explain` command. label defaults to token when empty; body may be
// encoded as header's Content-Encoding says (gzip, deflate, br). It returns
// nil when the response is not an error.
func Explain(label flow.Label, status int, header http.Header, body []byte) *flow.Diagnosis {
	if label == flow.LabelNone {
		label = flow.LabelToken
	}
	if header == nil {
		header = http.Header{}
	}
	b := flow.Body{Data: body, Size: int64(len(body))}
	if ce := header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		b.Encoding = ce
		out, err := content.Decode(ce, body, 4*maxInspect)
		switch {
		case err == nil:
			b.Data = out
		case errors.Is(err, content.ErrTooLarge):
			b.Data, b.Truncated = out, true
		default:
			b.DecodeError = err.Error() // Data keeps the raw bytes
		}
	}
	x := &flow.Exchange{
		Request:  flow.Request{Method: http.MethodPost, Header: http.Header{}},
		Response: &flow.Response{Status: status, Header: header, Body: b},
	}
	x.OAuth.Label = label
	return Diagnose(x)
}
