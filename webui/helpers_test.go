package webui

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
)

// t0 is the start of every test scenario.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Canary secrets: each one must never appear raw in anything the UI serves.
const (
	canarySecret   = "CANARY-secret-s3cr3t"
	canaryCode     = "CANARY-code-1111"
	canaryVerifier = "CANARY-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
	canaryAccess   = "CANARY-access-token"
	canaryRefresh  = "CANARY-refresh-token-1"
	canaryPassword = "CANARY-passw0rd"
	canaryCookie   = "CANARY-cookie-c00kie"
)

// b64 is base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// s256 is the PKCE S256 challenge of a verifier.
func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return b64(sum[:])
}

// idToken is an unsigned-looking JWT whose signature part is a canary.
func idToken(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1"})
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "." + b64([]byte("CANARY-signature-sig"))
}

// seq numbers the exchanges made by the factories.
var seq int

// xchg builds a finished exchange.
func xchg(method, rawURL string, status int, mods ...func(*flow.Exchange)) *flow.Exchange {
	seq++
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	x := &flow.Exchange{
		ID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", seq),
		Seq:      seq,
		Start:    t0.Add(time.Duration(seq) * time.Second),
		Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Status: status, Proto: "HTTP/1.1", Header: http.Header{}},
	}
	x.Response.Body.Size = 0
	for _, m := range mods {
		m(x)
	}
	return x
}

func form(v url.Values) func(*flow.Exchange) {
	return func(x *flow.Exchange) {
		x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		x.Request.Body.Data = []byte(v.Encode())
		x.Request.Body.Size = int64(len(x.Request.Body.Data))
	}
}

func respJSON(body string) func(*flow.Exchange) {
	return func(x *flow.Exchange) {
		x.Response.Header.Set("Content-Type", "application/json")
		x.Response.Body.Data = []byte(body)
		x.Response.Body.Size = int64(len(body))
	}
}

func header(k, v string) func(*flow.Exchange) {
	return func(x *flow.Exchange) { x.Request.Header.Set(k, v) }
}

func login(id string) func(*flow.Exchange) {
	return func(x *flow.Exchange) { x.OAuth.Login = id }
}

// loginScenario is one authorization code login at login.example.test
// whose token request uses the code given and gets status and tokenBody
// (a successful answer with tokens when ""), with canaries everywhere. The
// exchanges carry login id (as tracing will set it).
func loginScenario(id, code string, tokenStatus int, tokenBody string) []*flow.Exchange {
	const redirect = "https://app.example.test/callback"
	challenge := s256(canaryVerifier)
	az := xchg("GET", "https://login.example.test/oauth2/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {"app-1"}, "redirect_uri": {redirect}, "scope": {"openid profile"},
		"state": {"st-" + id}, "nonce": {"n-" + id}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode(), 302, login(id), func(x *flow.Exchange) {
		x.Response.Header.Set("Location", "https://login.example.test/login?req=1")
	})
	page := xchg("GET", "https://login.example.test/login?req=1", 200, login(id))
	post := xchg("POST", "https://login.example.test/login", 302, login(id), form(url.Values{"username": {"alice"}, "password": {canaryPassword}}), func(x *flow.Exchange) {
		x.Response.Header.Set("Location", redirect+"?code="+code+"&state=st-"+id)
		x.Response.Header.Set("Set-Cookie", "sid="+canaryCookie+"; HttpOnly")
	})
	cb := xchg("GET", redirect+"?code="+url.QueryEscape(code)+"&state=st-"+id, 200, login(id), header("Cookie", "app="+canaryCookie))
	tk := xchg("POST", "https://login.example.test/oauth2/token", tokenStatus, login(id),
		form(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {canaryVerifier}}),
		header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("app-1:"+canarySecret))))
	if tokenBody == "" {
		tokenBody = okTokenBody("n-"+id, tk.Start)
	}
	respJSON(tokenBody)(tk)
	api := xchg("GET", "https://api.example.test/v1/me", 200, login(id), header("Authorization", "Bearer "+canaryAccess), respJSON(`{"name":"alice"}`))
	return []*flow.Exchange{az, page, post, cb, tk, api}
}

// okTokenBody is a token response with canary tokens and an id_token
// issued 5 s before at, valid for an hour.
func okTokenBody(nonce string, at time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"access_token": canaryAccess, "refresh_token": canaryRefresh, "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile",
		"id_token": idToken(map[string]any{"iss": "https://login.example.test", "aud": "app-1", "sub": "alice", "nonce": nonce,
			"iat": at.Add(-5 * time.Second).Unix(), "exp": at.Add(time.Hour - 5*time.Second).Unix()}),
	})
	return string(b)
}

// session is two logins through a real inspector: L1 succeeds, L2
// reuses L1's code and is refused; then a WAF 403 in the other lane.
func session(t *testing.T) []*flow.Exchange {
	t.Helper()
	in := inspect.New(inspect.Options{})
	var xs []*flow.Exchange
	xs = append(xs, loginScenario("L1", canaryCode, 200, "")...)
	xs = append(xs, loginScenario("L2", canaryCode, 400, `{"error":"invalid_grant","error_description":"code already used"}`)...)
	waf := xchg("POST", "https://login.example.test/oauth2/token", 403, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {canarySecret}}), func(x *flow.Exchange) {
		x.Response.Header.Set("Server", "cloudflare")
		x.Response.Header.Set("Cf-Ray", "8a1b2c3d4e5f-FRA")
		x.Response.Header.Set("Content-Type", "text/html")
		x.Response.Body.Data = []byte("<html><title>Attention Required! | Cloudflare</title><h1>Sorry, you have been blocked</h1></html>")
	})
	xs = append(xs, waf)
	for _, x := range xs {
		// Inspection on this branch does not trace logins yet (it resets
		// OAuth): keep the login ids the scenario gave, as tracing will.
		l := x.OAuth.Login
		in.Inspect(x)
		x.OAuth.Login = l
	}
	return xs
}

// newTestServer serves a UI fed with xs.
func newTestServer(t *testing.T, opts Options, xs ...*flow.Exchange) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	for _, x := range xs {
		s.Handle(x)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); hs.Close() })
	return s, hs
}

// fetch GETs path and returns the status and body.
func fetch(t *testing.T, hs *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := hs.Client().Get(hs.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// getJSON GETs path and decodes it into v.
func getJSON(t *testing.T, hs *httptest.Server, path string, v any) {
	t.Helper()
	code, body := fetch(t, hs, path)
	if code != 200 {
		t.Fatalf("GET %s: status %d: %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %.200s", path, err, body)
	}
}

// leaks returns the canaries found in s.
func leaks(s string) []string {
	var out []string
	for _, c := range []string{canarySecret, canaryCode, canaryVerifier, canaryAccess, canaryRefresh, canaryPassword, canaryCookie, "CANARY-signature",
		base64.StdEncoding.EncodeToString([]byte("app-1:" + canarySecret)), url.QueryEscape(canaryVerifier)} {
		if strings.Contains(s, c) {
			out = append(out, c)
		}
	}
	return out
}
