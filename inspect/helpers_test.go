package inspect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Small factories for exchanges, in the spirit of mitmproxy's tflow.

// t0 is the start of every test scenario.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Canary secrets: every secret value used by the tests contains "CANARY",
// and TestMain fails the run if any finding of any test contains one.
const (
	canarySecret   = "CANARY-secret-s3cr3t"
	canaryCode     = "CANARY-code-1111"
	canaryVerifier = "CANARY-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
	canaryAccess   = "CANARY-access-token"
	canaryRefresh  = "CANARY-refresh-token-1"
	canaryRefresh2 = "CANARY-refresh-token-2"
	canaryNonce    = "CANARY-nonce-n0nce"
)

var (
	findingsMu  sync.Mutex
	allFindings []flow.Finding
	// rawTokens are JWTs minted by the tests (their text has no CANARY).
	rawTokens []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	findingsMu.Lock()
	defer findingsMu.Unlock()
	for _, f := range allFindings {
		if leak := leakedSecret(f); leak != "" {
			fmt.Fprintf(os.Stderr, "FAIL: finding %s leaks a secret (%s): %q / %q\n", f.ID, leak, f.Message, f.Fix)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedSecret returns what secret f contains, "" if none.
func leakedSecret(f flow.Finding) string {
	text := f.Message + "\n" + f.Fix
	if strings.Contains(text, "CANARY") {
		return "a CANARY value"
	}
	for _, t := range rawTokens {
		if strings.Contains(text, t) {
			return "a raw JWT"
		}
	}
	return ""
}

// inspectAll runs xs through in, in order, and collects their findings for
// the canary check.
func inspectAll(in *Inspector, xs ...*flow.Exchange) {
	for _, x := range xs {
		in.Inspect(x)
		findingsMu.Lock()
		allFindings = append(allFindings, x.OAuth.Findings...)
		findingsMu.Unlock()
	}
}

// xopt modifies an exchange under construction.
type xopt func(*flow.Exchange)

var seq int

// exch builds an exchange; the id is unique per call.
func exch(method, rawurl string, opts ...xopt) *flow.Exchange {
	u, err := url.Parse(rawurl)
	if err != nil {
		panic(err)
	}
	seq++
	x := &flow.Exchange{
		ID:      fmt.Sprintf("%08x-0000-4000-8000-000000000000", seq),
		Seq:     seq,
		Start:   t0,
		Request: flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
	}
	for _, o := range opts {
		o(x)
	}
	return x
}

// at sets the start time to t0+d.
func at(d time.Duration) xopt { return func(x *flow.Exchange) { x.Start = t0.Add(d) } }

// hdr adds a request header.
func hdr(k, v string) xopt { return func(x *flow.Exchange) { x.Request.Header.Add(k, v) } }

// body sets the request body and Content-Type ("" = no header).
func body(ct, b string) xopt {
	return func(x *flow.Exchange) {
		if ct != "" {
			x.Request.Header.Set("Content-Type", ct)
		}
		x.Request.Body = flow.Body{Data: []byte(b), Size: int64(len(b))}
	}
}

// formBody sets a form body from ordered pairs.
func formBody(p kv) xopt { return body("application/x-www-form-urlencoded", p.encode()) }

// basic adds Authorization: Basic with id and secret used as given.
func basic(id, secret string) xopt {
	return hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

// resp sets the response; headers are name, value pairs.
func resp(status int, ct, b string, headers ...string) xopt {
	return func(x *flow.Exchange) {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			h.Add(headers[i], headers[i+1])
		}
		x.Response = &flow.Response{Status: status, Proto: "HTTP/1.1", Header: h, Body: flow.Body{Data: []byte(b), Size: int64(len(b))}}
	}
}

// jsonResp sets a JSON response.
func jsonResp(status int, v any) xopt {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return resp(status, "application/json", string(b))
}

// upstreamError makes the exchange fail without a response.
func upstreamError(msg string) xopt { return func(x *flow.Exchange) { x.Error = msg } }

// kv is an ordered parameter list.
type kv [][2]string

func (p kv) clone() kv { return append(kv(nil), p...) }

// set replaces the first value of name, or appends it.
func (p kv) set(name, v string) kv {
	p = p.clone()
	for i := range p {
		if p[i][0] == name {
			p[i][1] = v
			return p
		}
	}
	return append(p, [2]string{name, v})
}

// add appends name=v even if name is present.
func (p kv) add(name, v string) kv { return append(p.clone(), [2]string{name, v}) }

// del removes name.
func (p kv) del(name string) kv {
	var out kv
	for _, e := range p {
		if e[0] != name {
			out = append(out, e)
		}
	}
	return out
}

func (p kv) encode() string {
	var b strings.Builder
	for i, e := range p {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(e[0]) + "=" + url.QueryEscape(e[1]))
	}
	return b.String()
}

// s256 computes a PKCE S256 challenge.
func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// jwt mints an unsigned-looking JWT with the given claims and records it as
// a raw token that must never appear in findings.
func jwt(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`))
	b, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	t := h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl"
	findingsMu.Lock()
	rawTokens = append(rawTokens, t)
	findingsMu.Unlock()
	return t
}

// scen is a standard authorization code flow against idp.example.com.
type scen struct {
	issuer, client, redirect, state, nonce, verifier, code, scope string
	method                                                        string // code_challenge_method
	challenge                                                     string
}

func newScen() *scen {
	return &scen{
		issuer:    "https://idp.example.com",
		client:    "app-123",
		redirect:  "https://app.example.com/callback",
		state:     "st-abc",
		nonce:     canaryNonce,
		verifier:  canaryVerifier,
		code:      canaryCode,
		scope:     "openid email profile",
		method:    "S256",
		challenge: s256(canaryVerifier),
	}
}

// discoveryDoc returns the issuer's metadata, changed by mods.
func (s *scen) discoveryDoc(mods ...func(map[string]any)) map[string]any {
	d := map[string]any{
		"issuer":                                s.issuer,
		"authorization_endpoint":                s.issuer + "/authorize",
		"token_endpoint":                        s.issuer + "/oauth2/token",
		"jwks_uri":                              s.issuer + "/keys",
		"userinfo_endpoint":                     s.issuer + "/me",
		"introspection_endpoint":                s.issuer + "/oauth2/inspect",
		"revocation_endpoint":                   s.issuer + "/oauth2/kill",
		"device_authorization_endpoint":         s.issuer + "/oauth2/dev",
		"pushed_authorization_request_endpoint": s.issuer + "/oauth2/push",
		"response_types_supported":              []string{"code"},
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

// discovery is the exchange fetching the discovery document.
func (s *scen) discovery(mods ...func(map[string]any)) *flow.Exchange {
	return exch("GET", s.issuer+"/.well-known/openid-configuration", at(-time.Minute), jsonResp(200, s.discoveryDoc(mods...)))
}

// authParams are the authorize request parameters.
func (s *scen) authParams() kv {
	p := kv{
		{"response_type", "code"},
		{"client_id", s.client},
		{"redirect_uri", s.redirect},
		{"scope", s.scope},
		{"state", s.state},
		{"nonce", s.nonce},
	}
	if s.challenge != "" {
		p = p.set("code_challenge", s.challenge)
		if s.method != "" {
			p = p.set("code_challenge_method", s.method)
		}
	}
	return p
}

// authorize is the browser's authorize request (the login page answers).
func (s *scen) authorize(p kv) *flow.Exchange {
	return exch("GET", s.issuer+"/authorize?"+p.encode(), at(-30*time.Second), resp(200, "text/html", "<html>login</html>"))
}

// callback is the browser arriving at the redirect URI with the code.
func (s *scen) callback(opts ...xopt) *flow.Exchange {
	q := kv{{"code", s.code}, {"state", s.state}, {"iss", s.issuer}}
	return exch("GET", s.redirect+"?"+q.encode(), append([]xopt{resp(302, "", "", "Location", "/")}, opts...)...)
}

// setup is discovery, authorize and callback.
func (s *scen) setup(mods ...func(map[string]any)) []*flow.Exchange {
	return []*flow.Exchange{s.discovery(mods...), s.authorize(s.authParams()), s.callback()}
}

// tokenParams are a correct token request's parameters.
func (s *scen) tokenParams() kv {
	return kv{
		{"grant_type", "authorization_code"},
		{"code", s.code},
		{"redirect_uri", s.redirect},
		{"client_id", s.client},
		{"client_secret", canarySecret},
		{"code_verifier", s.verifier},
	}
}

// idToken mints the id_token the server answers with, changed by mods.
func (s *scen) idToken(mods ...func(map[string]any)) string {
	c := map[string]any{
		"iss":   s.issuer,
		"sub":   "user-1",
		"aud":   s.client,
		"iat":   t0.Unix(),
		"exp":   t0.Add(time.Hour).Unix(),
		"nonce": s.nonce,
	}
	for _, m := range mods {
		m(c)
	}
	return jwt(c)
}

// okResp is a successful token response.
func (s *scen) okResp(idToken string) xopt {
	return jsonResp(200, map[string]any{
		"access_token":  canaryAccess,
		"token_type":    "Bearer",
		"expires_in":    3600,
		"refresh_token": canaryRefresh,
		"id_token":      idToken,
		"scope":         s.scope,
	})
}

// token is a POST to the token endpoint.
func (s *scen) token(p kv, opts ...xopt) *flow.Exchange {
	return exch("POST", s.issuer+"/oauth2/token", append([]xopt{formBody(p), s.okResp(s.idToken())}, opts...)...)
}

// ids returns the finding ids of x.
func ids(x *flow.Exchange) []string {
	var out []string
	for _, f := range x.OAuth.Findings {
		out = append(out, f.ID)
	}
	return out
}

// finding returns the finding with id, if any.
func finding(x *flow.Exchange, id string) (flow.Finding, bool) {
	for _, f := range x.OAuth.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return flow.Finding{}, false
}
