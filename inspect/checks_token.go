package inspect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Each check below is one row of the table in checks.go. A check that
// cannot decide (missing correlation, a redacted value) stays silent.

func checkMethod(c *ctx, r report) {
	m := c.x.Request.Method
	if m == "POST" {
		return
	}
	if c.docQuery != "" {
		r.addSev(flow.SeverityInfo, fmt.Sprintf("the token request uses %s; %s documents this for this endpoint, but RFC 6749 token endpoints require POST", m, c.docQuery),
			"Nothing to do for "+c.docQuery+"; use POST with a form body for standard OAuth servers.")
		return
	}
	r.add(fmt.Sprintf("the token request uses %s; RFC 6749 §3.2 requires POST", orNone(m)), "")
}

// jsonTokenHosts accept JSON token requests (documented).
var jsonTokenHosts = []string{"auth0.com", "github.com"}

func checkContentType(c *ctx, r report) {
	if c.x.Request.Method != "POST" || c.docQuery != "" {
		return
	}
	ct := c.x.Request.Header.Get("Content-Type")
	switch {
	case c.bodyKind == "none" || c.bodyKind == "":
		if len(c.query) > 0 {
			r.add("the POST has no body; its parameters are in the URL query instead of an application/x-www-form-urlencoded body", "")
		} else {
			r.add("the POST has no body: a token request sends its parameters as an application/x-www-form-urlencoded body", "")
		}
	case c.mtype == "application/x-www-form-urlencoded":
	case c.mtype == "":
		r.add("the token request has no Content-Type; the server may not read the body as a form", "Add Content-Type: application/x-www-form-urlencoded.")
	default:
		what := "Content-Type is " + mediaTypeForMessage(ct)
		switch c.bodyKind {
		case "json":
			what += " with a JSON body"
		case "multipart":
			what += " (multipart form fields are not read by most token endpoints)"
		}
		for _, h := range jsonTokenHosts {
			if c.bodyKind == "json" && (c.host == h || strings.HasSuffix(c.host, "."+h)) {
				r.addSev(flow.SeverityInfo, what+"; this provider accepts JSON, standard OAuth servers do not", "")
				return
			}
		}
		r.add(what+", not application/x-www-form-urlencoded (RFC 6749 §4.1.3, Appendix B)", "")
	}
}

// mediaTypeForMessage shows a Content-Type without its parameters (a
// multipart boundary is noise).
func mediaTypeForMessage(ct string) string {
	if m := mediaType(ct); m != "" {
		return m
	}
	return "(none)"
}

func checkParamDup(c *ctx, r report) {
	inBody, inQuery := c.body.counter(), c.query.counter()
	var dups []string
	seen := map[string]bool{}
	for _, p := range c.body {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		if n := inBody(p.Name); n > 1 {
			dups = append(dups, fmt.Sprintf("%s %d times in the body", shorten(p.Name), n))
		} else if inQuery(p.Name) > 0 {
			dups = append(dups, shorten(p.Name)+" in both the query and the body")
		}
	}
	if len(c.body) == 0 {
		for _, p := range c.query {
			if !seen[p.Name] {
				seen[p.Name] = true
				if n := inQuery(p.Name); n > 1 {
					dups = append(dups, fmt.Sprintf("%s %d times in the query", shorten(p.Name), n))
				}
			}
		}
	}
	if len(dups) > maxListed {
		dups = append(dups[:maxListed], fmt.Sprintf("and %d more", len(dups)-maxListed))
	}
	if len(dups) > 0 {
		r.add("parameter sent more than once: "+strings.Join(dups, "; "), "")
	}
}

// maxListed bounds the items a finding message lists.
const maxListed = 10

// shorten cuts a name for a message at 64 bytes.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

func checkParamsInQuery(c *ctx, r report) {
	var names []string
	for _, n := range queryCredentialNames {
		if c.query.has(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	msg := strings.Join(names, ", ") + " in the URL query string of the token request"
	if c.docQuery != "" {
		r.addSev(flow.SeverityInfo, msg+" ("+c.docQuery+" documents this; keep such URLs out of logs)", "Nothing to change for "+c.docQuery+"; make sure access logs and traces do not record the query string.")
		return
	}
	r.add(msg+"; URLs end up in server logs, proxies and traces", "")
}

func checkGrantMissing(c *ctx, r report) {
	if c.hasGrant || c.grantOptional {
		return
	}
	hint := ""
	switch {
	case c.code != "":
		hint = " (it carries a code: grant_type=authorization_code is probably meant)"
	case c.all.has("refresh_token"):
		hint = " (it carries a refresh_token: grant_type=refresh_token is probably meant)"
	}
	r.add("the token request has no grant_type"+hint, "")
}

func checkGrantUnknown(c *ctx, r report) {
	if !c.hasGrant || grantKnown(c.grant, c.host) {
		return
	}
	msg := fmt.Sprintf("grant_type %s is not a registered grant type", quote(c.grant))
	if c.grant == "" {
		msg = "grant_type is empty"
	}
	fix := ""
	if s := suggestGrant(c.grant); s != "" && s != c.grant {
		msg += fmt.Sprintf("; did you mean %q?", s)
		fix = fmt.Sprintf("Send grant_type=%s.", s)
	}
	r.add(msg, fix)
}

func checkGrantUnsupported(c *ctx, r report) {
	if !c.hasGrant || c.meta == nil || c.meta.grantTypes == nil || contains(c.meta.grantTypes, c.grant) || !grantKnown(c.grant, c.host) {
		return
	}
	r.add(fmt.Sprintf("grant_type %s is not in grant_types_supported of %s [%s]", quote(c.grant), c.meta.issuer, strings.Join(c.meta.grantTypes, " ")), "")
}

func checkCodeMissing(c *ctx, r report) {
	if c.grant != grantAuthCode || c.code != "" {
		return
	}
	if c.all.has("code") {
		r.add("grant_type=authorization_code with an empty code", "")
		return
	}
	r.add("grant_type=authorization_code without a code parameter", "")
}

// authRef names the authorize request in messages.
func authRef(a *authReq) string {
	return "the authorize request (flow " + shortID(a.flow) + ")"
}

func checkRedirectMissing(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || !c.auth.hasRedirect || c.all.has("redirect_uri") {
		return
	}
	r.add(fmt.Sprintf("the token request has no redirect_uri, but %s sent redirect_uri=%q", authRef(c.auth), displayURI(c.auth.redirectURI)), "")
}

func checkRedirectMismatch(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || !c.auth.hasRedirect {
		return
	}
	got, ok := c.all.get("redirect_uri")
	if !ok {
		return
	}
	d := redirectDiff(c.auth.redirectURI, got)
	if d == nil {
		return
	}
	r.add(fmt.Sprintf("redirect_uri differs from %s: %s; authorize %q, token %q", authRef(c.auth), strings.Join(d, "; "),
		displayURI(c.auth.redirectURI), displayURI(got)), "")
}

func checkClientIDMismatch(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || c.auth.clientID == "" {
		return
	}
	id := c.cred.clientID()
	if id == "" || id == c.auth.clientID {
		return
	}
	where := "client_id"
	if !c.cred.hasBodyID {
		where = "the Basic user name"
	}
	msg := fmt.Sprintf("the token request authenticates as %s %q, but the code was requested by client_id %q in %s", where, id, c.auth.clientID, authRef(c.auth))
	if strings.TrimSpace(id) == strings.TrimSpace(c.auth.clientID) {
		msg += " (they differ only in whitespace)"
	}
	r.add(msg, "")
}

func checkCodeReused(c *ctx, r report) {
	if !c.codeSeen || c.priorCode.Flow == c.x.ID {
		return
	}
	p := c.priorCode
	when := p.Time.UTC().Format(time.RFC3339)
	if !c.x.Start.IsZero() && !p.Time.IsZero() {
		when += " (" + age(c.x.Start.Sub(p.Time)) + " earlier)"
	}
	r.add(fmt.Sprintf("the code %s was already sent to a token endpoint at %s in flow %s; the first answer was %s", short(c.codeFP), when, shortID(p.Flow), answer(p)), "")
}

func checkCodeStale(c *ctx, r report) {
	if c.issue == nil || c.issue.time.IsZero() || c.x.Start.IsZero() {
		return
	}
	d := c.x.Start.Sub(c.issue.time)
	if d <= c.in.lifetime {
		return
	}
	r.add(fmt.Sprintf("the code was exchanged %s after the callback that delivered it (flow %s); that is longer than the code lifetime %s (most servers: 30 s to 10 min)",
		age(d), shortID(c.issue.flow), age(c.in.lifetime)), "")
}

func checkRefreshReused(c *ctx, r report) {
	if !c.refreshSeen || !c.priorRefresh.Rotated || c.priorRefresh.Flow == c.x.ID {
		return
	}
	p := c.priorRefresh
	// Concatenated, not fmt.Sprintf: this fires on every reuse of a
	// rotated refresh token, the shared benchmark's every exchange.
	// c.refreshFP is already a fingerprint: only shortened.
	r.add("the refresh token "+redact.Short(c.refreshFP)+" was already used at "+p.Time.UTC().Format(time.RFC3339)+" in flow "+shortID(p.Flow)+
		" (first answer: "+answer(p)+") and the server rotated it (a refresh returned a new refresh_token); the old one is invalid and reusing it may revoke the whole token family", "")
}

// verifier returns the code_verifier sent, and whether it can be examined
// (present and not redacted).
func (c *ctx) verifier() (string, bool) {
	v, ok := c.all.get("code_verifier")
	if !ok || redacted(v) {
		return v, false
	}
	return v, true
}

func checkPKCEVerifierMissing(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || c.auth.challenge == "" || c.all.has("code_verifier") {
		return
	}
	r.add(fmt.Sprintf("%s sent a code_challenge (method %s) but the token request has no code_verifier", authRef(c.auth), orDefault(c.auth.method, "plain")), "")
}

func checkPKCEVerifierInvalid(c *ctx, r report) {
	v, ok := c.verifier()
	if !ok {
		// A capture redacted by oauthproxy keeps the verifier's length and
		// whether its characters were allowed.
		raw, _ := c.all.get("code_verifier")
		if _, n, charsOK, isVerifier := redact.RedactedVerifier(raw); isVerifier {
			var problems []string
			if n < 43 || n > 128 {
				problems = append(problems, fmt.Sprintf("it is %d characters long (must be 43 to 128)", n))
			}
			if !charsOK {
				problems = append(problems, "it contains characters outside [A-Za-z0-9-._~]")
			}
			if len(problems) > 0 {
				r.add(fmt.Sprintf("code_verifier (redacted) is invalid: %s", strings.Join(problems, "; ")), "")
			}
		}
		return
	}
	var problems []string
	if n := len(v); n < 43 || n > 128 {
		problems = append(problems, fmt.Sprintf("it is %d characters long (must be 43 to 128)", n))
	}
	if bad := badVerifierChars(v); bad != "" {
		problems = append(problems, "it contains characters outside [A-Za-z0-9-._~]: "+bad)
	}
	if len(problems) > 0 {
		r.add(fmt.Sprintf("code_verifier %s is invalid: %s", short(v), strings.Join(problems, "; ")), "")
	}
}

// badVerifierChars describes the kinds of characters not allowed in a
// verifier (never the characters' positions or the value).
func badVerifierChars(v string) string {
	var kinds []string
	seen := map[string]bool{}
	for _, ch := range v {
		var k string
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '.', ch == '_', ch == '~':
			continue
		case ch == '+' || ch == '/' || ch == '=':
			k = "'+' '/' '=' (standard base64: use base64url without padding)"
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			k = "whitespace"
		case ch == '%':
			k = "'%' (percent-encoded twice?)"
		default:
			k = "other punctuation or non-ASCII"
		}
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	return strings.Join(kinds, ", ")
}

func checkPKCEMismatch(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || c.auth.challenge == "" {
		return
	}
	v, ok := c.verifier()
	if !ok {
		checkRedactedPKCE(c, r)
		return
	}
	ch, method := c.auth.challenge, c.auth.method
	sum := sha256.Sum256([]byte(v))
	s256 := base64.RawURLEncoding.EncodeToString(sum[:])
	switch method {
	case "S256":
		if ch == s256 {
			return
		}
	case "", "plain":
		if ch == v {
			return
		}
	default:
		return // pkce-method-unsupported covers unknown methods
	}
	why := "the verifier belongs to another authorize request (another login attempt, a lost or shared session, or a verifier regenerated after the redirect)"
	hexSum := hex.EncodeToString(sum[:])
	switch {
	case method == "S256" && ch == v:
		why = "the code_challenge is the verifier itself: the client sent the verifier with code_challenge_method=S256 instead of its SHA-256 hash"
	case method != "S256" && ch == s256:
		why = "the challenge is the S256 hash of the verifier, but the authorize request did not say code_challenge_method=S256, so the server compares it as plain"
	case ch == base64.StdEncoding.EncodeToString(sum[:]) || ch == base64.RawStdEncoding.EncodeToString(sum[:]):
		why = "the challenge was encoded with standard base64 ('+', '/', '='), not base64url without padding"
	case ch == base64.URLEncoding.EncodeToString(sum[:]):
		why = "the challenge has '=' padding; base64url without padding is required"
	case ch == hexSum || strings.EqualFold(ch, hexSum):
		why = "the challenge is the hex SHA-256 digest; it must be base64url of the raw 32-byte digest"
	case ch == base64.RawURLEncoding.EncodeToString([]byte(hexSum)):
		why = "the challenge is base64url of the hex digest string instead of the raw digest bytes"
	}
	r.add(fmt.Sprintf("code_verifier %s does not match the code_challenge %s of %s (method %s): %s", short(v), short(ch), authRef(c.auth), orDefault(method, "plain"), why), "")
}

func checkPKCEUnexpected(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || c.auth.indirect || c.auth.challenge != "" || !c.all.has("code_verifier") {
		return
	}
	r.add(fmt.Sprintf("the token request sends a code_verifier but %s had no code_challenge", authRef(c.auth)), "")
}

func checkPKCEMethod(c *ctx, r report) {
	a := c.authz
	if a == nil || a.challenge == "" {
		return
	}
	m := a.method
	switch {
	case m != "" && m != "S256" && m != "plain":
		fix := ""
		if strings.EqualFold(m, "s256") {
			fix = "Send code_challenge_method=S256 exactly (the value is case-sensitive)."
		}
		r.add(fmt.Sprintf("code_challenge_method %s is not defined (RFC 7636 defines S256 and plain)", quote(m)), fix)
	case c.meta != nil && c.meta.challengeMethods != nil && !contains(c.meta.challengeMethods, orDefault(m, "plain")):
		msg := fmt.Sprintf("code_challenge_method %s is not in code_challenge_methods_supported of %s [%s]", orDefault(m, "plain"), c.meta.issuer, strings.Join(c.meta.challengeMethods, " "))
		if m == "" {
			msg = "the authorize request sends a code_challenge without code_challenge_method, which means plain; " + msg
		}
		r.add(msg, "")
	}
}

func checkClientAuthMultiple(c *ctx, r report) {
	cc := &c.cred
	var used []string
	if cc.basic {
		used = append(used, "Authorization: Basic")
	}
	if cc.hasSecret {
		where := "the body"
		if cc.secretInQuery {
			where = "the query"
		}
		used = append(used, cc.secretName+" in "+where)
	}
	if cc.assertion {
		used = append(used, "client_assertion")
	}
	if len(used) < 2 {
		return
	}
	r.add("the client authenticates in more than one way: "+strings.Join(used, " and ")+" (servers answer 400 invalid_request; Okta reportedly 403)", "")
}

// formSafe reports whether b can appear in a form-urlencoded value: the
// characters encoders leave alone, '+' (space) and '%' (escapes).
func formSafe(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~' || b == '*' || b == '+' || b == '%'
}

// unencodedChars describes the characters in v that form-encoding would
// have escaped, and whether a '%' is not followed by two hex digits.
// For a secret the punctuation is not named (that would tell which
// characters it has), only counted as such.
func unencodedChars(v string, secret bool) (kinds []string, badEscape bool) {
	seen := map[byte]bool{}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b == '%' && (i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2])) {
			badEscape = true
		}
		if formSafe(b) || seen[b] {
			continue
		}
		seen[b] = true
		switch {
		case b < 0x20 || b == 0x7f:
			kinds = append(kinds, "a control character")
		case b >= 0x80:
			if !seen[0x80] {
				seen[0x80] = true
				kinds = append(kinds, "non-ASCII")
			}
		case b == ' ':
			kinds = append(kinds, "space")
		case secret:
			if !seen[0] {
				seen[0] = true
				kinds = append(kinds, "punctuation that form-urlencoding changes")
			}
		default:
			kinds = append(kinds, "'"+string(b)+"'")
		}
	}
	return kinds, badEscape
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

func checkClientAuthEncoding(c *ctx, r report) {
	cc := &c.cred
	if !cc.basic || cc.basicRedacted {
		return
	}
	if !cc.basicOK {
		r.addSev(flow.SeverityError, "the Authorization: Basic value is not the base64 encoding of client_id:client_secret", "")
		return
	}
	// A ':' in client_id splits the Basic value at the wrong place.
	if cc.hasBodyID && cc.bodyID != unescape(cc.basicID) && strings.HasPrefix(cc.bodyID, cc.basicID+":") {
		r.addSev(flow.SeverityError, "the client_id contains ':' and was not form-urlencoded before base64, so the server splits user name and password at the wrong ':'",
			"Form-urlencode client_id (':' becomes %3A) and client_secret before joining them with ':' and base64-encoding.")
		return
	}
	var parts []string
	for _, f := range []struct{ name, v string }{{"client_id", cc.basicID}, {"client_secret", cc.basicSecret}} {
		kinds, badEsc := unencodedChars(f.v, f.name == "client_secret")
		if badEsc {
			kinds = append(kinds, "a '%' not followed by two hex digits")
		}
		if len(kinds) > 0 {
			parts = append(parts, fmt.Sprintf("the %s in Basic contains %s", f.name, strings.Join(kinds, ", ")))
		}
	}
	if len(parts) == 0 {
		return
	}
	r.add(strings.Join(parts, "; ")+": it was not form-urlencoded before base64 (RFC 6749 §2.3.1); a server that form-decodes (as Keycloak and Spring Authorization Server do) sees a different value; some servers do not decode, so test after the change", "")
}

func checkClientAuthUnsupported(c *ctx, r report) {
	if c.meta == nil || c.meta.authMethods == nil {
		return
	}
	supported := c.meta.authMethods
	var bad []string
	for _, m := range c.cred.methods() {
		if contains(supported, m) {
			continue
		}
		if m == "none" && (contains(supported, "tls_client_auth") || contains(supported, "self_signed_tls_client_auth")) {
			continue // may be mTLS, which the proxy cannot see
		}
		if m == "none" {
			m = "none (no client authentication: a public client)"
		}
		bad = append(bad, m)
	}
	if len(bad) == 0 {
		return
	}
	r.add(fmt.Sprintf("client authentication %s is not in token_endpoint_auth_methods_supported of %s [%s]", strings.Join(bad, " and "), c.meta.issuer, strings.Join(supported, " ")), "")
}

func checkSecretWhitespace(c *ctx, r report) {
	cc := &c.cred
	type val struct{ what, v string }
	var vals []val
	if cc.hasBodyID {
		vals = append(vals, val{cc.idName, cc.bodyID})
	}
	if cc.hasSecret {
		vals = append(vals, val{cc.secretName, cc.secret})
	}
	if cc.basicOK {
		vals = append(vals, val{"client_id (Basic)", cc.basicID}, val{"client_secret (Basic)", cc.basicSecret})
	}
	for _, e := range vals {
		if redacted(e.v) {
			continue
		}
		if w := whitespace(e.v); w != "" {
			display := redact.Short(redact.FingerprintWeak(e.v)) // a client secret: guessable
			if strings.HasPrefix(e.what, "client_id") || e.what == cc.idName {
				display = fmt.Sprintf("%q", e.v)
			}
			r.add(fmt.Sprintf("%s %s %s", e.what, display, w), "")
		}
	}
}

// whitespace describes stray whitespace in v, "" when there is none.
func whitespace(v string) string {
	var w []string
	switch {
	case strings.HasSuffix(v, "\r\n"), strings.HasSuffix(v, "\n"):
		w = append(w, "ends with a line break")
	case strings.TrimRight(v, " \t\r\n\v\f") != v:
		w = append(w, "ends with whitespace")
	}
	if strings.TrimLeft(v, " \t\r\n\v\f") != v {
		w = append(w, "starts with whitespace")
	}
	if inner := strings.TrimSpace(v); strings.ContainsAny(inner, "\r\n\t") {
		w = append(w, "contains a line break or tab")
	}
	return strings.Join(w, ", ")
}

// quote shows a non-secret value, bounded in length.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkRedactedPKCE checks a verifier that a capture holds only in its
// redacted form, "redacted:s256:<BASE64URL(SHA256(verifier))>:len=N": for
// S256 that is compared with the challenge, for plain with the S256 of the
// challenge (which for plain is the verifier itself).
func checkRedactedPKCE(c *ctx, r report) {
	raw, _ := c.all.get("code_verifier")
	s256, _, _, ok := redact.RedactedVerifier(raw)
	if !ok {
		return
	}
	ch, method := c.auth.challenge, c.auth.method
	switch method {
	case "S256":
		if ch == s256 {
			return
		}
	case "", "plain":
		sum := sha256.Sum256([]byte(ch))
		if base64.RawURLEncoding.EncodeToString(sum[:]) == s256 {
			return
		}
	default:
		return
	}
	r.add(fmt.Sprintf("code_verifier (redacted, S256 %s) does not match the code_challenge %s of %s (method %s): the verifier belongs to another authorize request (another login attempt, a lost or shared session, or a verifier regenerated after the redirect)",
		short(s256), short(ch), authRef(c.auth), orDefault(method, "plain")), "")
}
