package webui

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Detail is everything the detail panel shows of one exchange, redacted
// exactly as a HAR written by the proxy (capture's converter made Entry).
type Detail struct {
	Row Row `json:"row"`
	// Entry is the exchange as a redacted HAR entry: headers, query, form
	// parameters and decoded bodies.
	Entry     capture.Entry  `json:"entry"`
	Findings  []FindingView  `json:"findings,omitempty"`
	Diagnosis *DiagnosisView `json:"diagnosis,omitempty"`
	JWTs      []JWT          `json:"jwts,omitempty"`
	// Resend says whether the exchange can be re-sent, and whether only
	// after confirmation (a single-use credential).
	Resend ResendInfo `json:"resend"`
}

// FindingView is a finding with the address of its documentation.
type FindingView struct {
	flow.Finding
	Doc string `json:"doc"`
}

// DiagnosisView is a diagnosis with the address of its documentation.
type DiagnosisView struct {
	flow.Diagnosis
	Doc string `json:"doc"`
}

// ResendInfo describes what re-sending an exchange would do.
type ResendInfo struct {
	// Available is false when this UI cannot re-send (offline view).
	Available bool `json:"available"`
	// Refused explains why a re-send is refused outright ("" when not).
	Refused string `json:"refused,omitempty"`
	// Confirm explains why a re-send needs confirmation ("" when not).
	Confirm string `json:"confirm,omitempty"`
}

// JWT is a JSON Web Token found in an exchange, decoded. Its signature is
// never shown; the token itself only as a fingerprint.
type JWT struct {
	// Where names the place: "response id_token", "request Authorization".
	Where       string          `json:"where"`
	Fingerprint string          `json:"fingerprint"`
	Header      json.RawMessage `json:"header"`
	Claims      json.RawMessage `json:"claims"`
	// Times are exp, iat, nbf and auth_time relative to the exchange's start.
	Times []JWTTime `json:"times,omitempty"`
	// Checks compare aud, iss and azp with what the exchange says.
	Checks []JWTCheck `json:"checks,omitempty"`
}

// JWTTime is one time claim.
type JWTTime struct {
	Claim string    `json:"claim"`
	Time  time.Time `json:"time"`
	// Relative is e.g. "in 59m0s" or "2m0s ago", against the exchange time.
	Relative string `json:"relative"`
	// Problem is set when the time makes the token invalid at the exchange time.
	Problem string `json:"problem,omitempty"`
}

// JWTCheck is one consistency check of a claim.
type JWTCheck struct {
	Claim string `json:"claim"`
	OK    bool   `json:"ok"`
	Text  string `json:"text"`
}

func (s *Server) detail(x *flow.Exchange, row Row) Detail {
	d := Detail{Row: row, Entry: capture.EntryFromExchange(x, capture.WriterOptions{BodyCap: -1})}
	for _, f := range redact.Findings(x.OAuth.Findings) {
		d.Findings = append(d.Findings, FindingView{Finding: f, Doc: s.opts.DocsBase + "findings.md#" + f.ID})
	}
	if dg := redact.Diagnosis(x.OAuth.Diagnosis); dg != nil {
		d.Diagnosis = &DiagnosisView{Diagnosis: *dg, Doc: s.opts.DocsBase + "diagnoses.md#" + dg.Cause}
	}
	d.JWTs = jwtsOf(x)
	d.Resend = s.resendInfo(x)
	return d
}

var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// jwtsOf finds and decodes the JWTs of x: in the Authorization header, the
// URL, the request body and the response body.
func jwtsOf(x *flow.Exchange) []JWT {
	var out []JWT
	seen := map[string]bool{}
	add := func(where, tok string) {
		if seen[tok] || len(out) >= 8 {
			return
		}
		seen[tok] = true
		if j, ok := decodeJWT(tok, x); ok {
			j.Where = where
			out = append(out, j)
		}
	}
	scanNamed := func(side string, data []byte, ct string) {
		// JSON or form members first, so the place has a name.
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok && jwtPattern.MatchString(s) {
					add(side+" "+k, jwtPattern.FindString(s))
				}
			}
		} else if vs, err := url.ParseQuery(string(data)); err == nil && strings.Contains(ct, "form") {
			for k, v := range vs {
				for _, s := range v {
					if jwtPattern.MatchString(s) {
						add(side+" "+k, jwtPattern.FindString(s))
					}
				}
			}
		}
		for _, t := range jwtPattern.FindAllString(string(data), 8) {
			add(side+" body", t)
		}
	}
	if v := x.Request.Header.Get("Authorization"); v != "" {
		if t := jwtPattern.FindString(v); t != "" {
			add("request Authorization", t)
		}
	}
	if u := x.Request.URL; u != nil {
		for _, raw := range []string{u.RawQuery, u.Fragment} {
			vs, _ := url.ParseQuery(raw)
			for k, v := range vs {
				for _, s := range v {
					if t := jwtPattern.FindString(s); t != "" {
						add("request "+k, t)
					}
				}
			}
		}
	}
	scanNamed("request", x.Request.Body.Data, x.Request.Header.Get("Content-Type"))
	if r := x.Response; r != nil {
		scanNamed("response", r.Body.Data, r.Header.Get("Content-Type"))
		if loc := r.Header.Get("Location"); loc != "" {
			if t := jwtPattern.FindString(loc); t != "" {
				add("response Location", t)
			}
		}
	}
	return out
}

func decodeJWT(tok string, x *flow.Exchange) (JWT, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return JWT{}, false
	}
	hdr, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pl, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err1 != nil || err2 != nil || !json.Valid(hdr) || json.Unmarshal(pl, &claims) != nil {
		return JWT{}, false
	}
	// Claims and header pass through the body redaction: a secret-named
	// member or a nested token becomes a fingerprint.
	j := JWT{
		Fingerprint: redact.Fingerprint(tok),
		Header:      json.RawMessage(redact.Body("application/json", hdr)),
		Claims:      json.RawMessage(redact.Body("application/json", pl)),
	}
	if !json.Valid(j.Header) {
		j.Header = json.RawMessage(`{}`)
	}
	if !json.Valid(j.Claims) {
		j.Claims = json.RawMessage(`{}`)
	}
	at := x.Start
	for _, c := range []string{"exp", "iat", "nbf", "auth_time"} {
		f, ok := claims[c].(float64)
		if !ok {
			continue
		}
		t := time.Unix(int64(f), 0).UTC()
		jt := JWTTime{Claim: c, Time: t, Relative: relative(t, at)}
		switch {
		case c == "exp" && !t.After(at):
			jt.Problem = "expired before the exchange"
		case c == "nbf" && t.After(at):
			jt.Problem = "not valid yet at the exchange (clock skew?)"
		case c == "iat" && t.After(at.Add(time.Minute)):
			jt.Problem = "issued in the future (clock skew?)"
		}
		j.Times = append(j.Times, jt)
	}
	if iss, ok := claims["iss"].(string); ok && x.OAuth.Issuer != "" {
		ok := strings.TrimSuffix(iss, "/") == strings.TrimSuffix(x.OAuth.Issuer, "/")
		j.Checks = append(j.Checks, JWTCheck{Claim: "iss", OK: ok, Text: fmt.Sprintf("iss %q, issuer of the exchange %q", iss, x.OAuth.Issuer)})
	}
	if cid := clientIDOf(x); cid != "" {
		if aud := audiences(claims["aud"]); len(aud) > 0 {
			ok := false
			for _, a := range aud {
				ok = ok || a == cid
			}
			j.Checks = append(j.Checks, JWTCheck{Claim: "aud", OK: ok, Text: fmt.Sprintf("aud %q, client_id %q", strings.Join(aud, " "), cid)})
		}
	}
	return j, true
}

// nonceChecks adds to every ID token of d a check of its nonce against the
// nonce of the last authorize request of the login (xs, oldest first)
// that came before the exchange.
func nonceChecks(d *Detail, xs []*flow.Exchange) {
	var nonce string
	for _, x := range xs {
		if x.ID == d.Row.ID {
			break
		}
		if x.OAuth.Label == flow.LabelAuthorize && x.Request.URL != nil {
			nonce = x.Request.URL.Query().Get("nonce")
		}
	}
	if nonce == "" {
		return
	}
	for i := range d.JWTs {
		j := &d.JWTs[i]
		if !strings.HasSuffix(j.Where, "id_token") {
			continue
		}
		var claims struct {
			Nonce *string `json:"nonce"`
		}
		if json.Unmarshal(j.Claims, &claims) != nil {
			continue
		}
		got := "(none)"
		if claims.Nonce != nil {
			got = strconv.Quote(*claims.Nonce)
		}
		j.Checks = append(j.Checks, JWTCheck{Claim: "nonce", OK: claims.Nonce != nil && *claims.Nonce == nonce,
			Text: fmt.Sprintf("nonce %s, the login's authorize request sent %q", got, nonce)})
	}
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, e := range a {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// clientIDOf returns the client_id a request names: form, query or Basic.
func clientIDOf(x *flow.Exchange) string {
	if f := formOf(&x.Request); f != nil && f.Get("client_id") != "" {
		return f.Get("client_id")
	}
	if u := x.Request.URL; u != nil && u.Query().Get("client_id") != "" {
		return u.Query().Get("client_id")
	}
	if id, _, ok := redact.Basic(x.Request.Header.Get("Authorization")); ok {
		if s, err := url.QueryUnescape(id); err == nil {
			return s
		}
		return id
	}
	return ""
}

// formOf parses a form-encoded request body (nil when it is not one).
func formOf(r *flow.Request) url.Values {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.Contains(ct, "x-www-form-urlencoded") || len(r.Body.Data) == 0 {
		return nil
	}
	v, err := url.ParseQuery(string(r.Body.Data))
	if err != nil {
		return nil
	}
	return v
}

func relative(t, at time.Time) string {
	d := t.Sub(at).Round(time.Second)
	switch {
	case d == 0:
		return "at the exchange"
	case d > 0:
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}

// Compared is one row of the authorize-vs-token comparison.
type Compared struct {
	// Name is what is compared: redirect_uri, client_id, pkce, scope, nonce.
	Name string `json:"name"`
	// Authorize and Token are the two sides as displayed (redacted; the
	// PKCE row shows the code_challenge and S256(code_verifier)).
	Authorize string `json:"authorize"`
	Token     string `json:"token"`
	// TokenFrom says where the token side comes from ("token request",
	// "id_token", "token response").
	TokenFrom string `json:"token_from"`
	Equal     bool   `json:"equal"`
}

// Comparison is the authorize request of a login next to its token exchange.
type Comparison struct {
	Authorize string     `json:"authorize,omitempty"` // exchange ids
	Token     string     `json:"token,omitempty"`
	Rows      []Compared `json:"rows"`
}

// compare builds the comparison from the last authorize and the last
// authorization_code token request of xs; scope and nonce come from the
// last successful answer of one (a refused reuse has no tokens). Values
// are redacted: a code_verifier is only ever its S256 hash.
func compare(xs []*flow.Exchange) *Comparison {
	var az, tk, ok *flow.Exchange
	for _, x := range xs {
		switch {
		case x.OAuth.Label == flow.LabelAuthorize:
			az = x
		case x.OAuth.Label == flow.LabelToken && (x.OAuth.GrantType == "authorization_code" || x.OAuth.GrantType == ""):
			tk = x
			if x.Response != nil && x.Response.Status < 300 {
				ok = x
			}
		}
	}
	if ok == nil {
		ok = tk
	}
	if az == nil || tk == nil || az.Request.URL == nil {
		return nil
	}
	q := az.Request.URL.Query()
	form := formOf(&tk.Request)
	if form == nil {
		form = url.Values{}
	}
	c := &Comparison{Authorize: az.ID, Token: tk.ID}
	add := func(name, a, t, from string) {
		c.Rows = append(c.Rows, Compared{Name: name, Authorize: show(name, a), Token: show(name, t), TokenFrom: from, Equal: a == t})
	}
	add("redirect_uri", q.Get("redirect_uri"), form.Get("redirect_uri"), "token request")
	add("client_id", q.Get("client_id"), clientIDOf(tk), "token request")
	if ch := q.Get("code_challenge"); ch != "" || form.Get("code_verifier") != "" {
		red := redact.Param("code_verifier", form.Get("code_verifier"))
		if redact.IsRedacted(form.Get("code_verifier")) {
			red = form.Get("code_verifier")
		}
		s256, _, _, ok := redact.RedactedVerifier(red)
		if !ok {
			s256 = ""
		}
		c.Rows = append(c.Rows, Compared{Name: "pkce", Authorize: ch, Token: s256, TokenFrom: "S256(code_verifier)", Equal: ch == s256})
	}
	claims := idTokenClaims(ok)
	if sc := q.Get("scope"); sc != "" {
		granted := ""
		if ok.Response != nil {
			var m map[string]any
			if json.Unmarshal(ok.Response.Body.Data, &m) == nil {
				granted, _ = m["scope"].(string)
			}
		}
		if granted != "" {
			add("scope", sc, granted, "token response")
		}
	}
	if n := q.Get("nonce"); n != "" && claims != nil {
		tn, _ := claims["nonce"].(string)
		add("nonce", n, tn, "id_token")
	}
	return c
}

func show(name, v string) string {
	if redact.IsSecretParam(name) {
		return redact.Display(v)
	}
	return redact.Text(v)
}

// idTokenClaims decodes the id_token of a token response (nil when none).
func idTokenClaims(x *flow.Exchange) map[string]any {
	if x.Response == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(x.Response.Body.Data, &m) != nil {
		return nil
	}
	tok, _ := m["id_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	pl, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(pl, &claims) != nil {
		return nil
	}
	return claims
}
