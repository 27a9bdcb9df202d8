package inspect

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
	"github.com/oauthproxy/oauthproxy/redact"
)

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/findings.md")
	if err != nil {
		t.Fatalf("read docs/findings.md: %v", err)
	}
	return string(b)
}

// TestCodeReuseSequence is discovery -> authorize -> callback -> token ->
// the same token request again.
func TestCodeReuseSequence(t *testing.T) {
	s := newScen()
	in := New(Options{})
	xs := s.setup()
	first := s.token(s.tokenParams(), at(2*time.Second))
	again := s.token(s.tokenParams(), at(9*time.Second), jsonResp(400, map[string]any{"error": "invalid_grant", "error_description": "Code not valid"}))
	inspectAll(in, append(xs, first, again)...)

	wantLabels := []flow.Label{flow.LabelDiscovery, flow.LabelAuthorize, flow.LabelCallback, flow.LabelToken, flow.LabelToken}
	for i, x := range append(xs, first, again) {
		if x.OAuth.Label != wantLabels[i] {
			t.Errorf("exchange %d: got label %q, want %q", i, x.OAuth.Label, wantLabels[i])
		}
	}
	if len(first.OAuth.Findings) != 0 {
		t.Errorf("first token request: got findings %v, want none", first.OAuth.Findings)
	}
	f, ok := finding(again, IDCodeReused)
	if !ok {
		t.Fatalf("second token request: got %v, want %s", ids(again), IDCodeReused)
	}
	for _, want := range []string{shortID(first.ID), "first answer was 200 ok", "7s earlier", redact.Short(redact.Fingerprint(canaryCode))} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q: want it to contain %q", f.Message, want)
		}
	}
	// A third attempt still points at the first use and its answer.
	third := s.token(s.tokenParams(), at(20*time.Second))
	inspectAll(in, third)
	if f, ok := finding(third, IDCodeReused); !ok || !strings.Contains(f.Message, shortID(first.ID)) {
		t.Errorf("third attempt: got %v, want %s naming flow %s", third.OAuth.Findings, IDCodeReused, shortID(first.ID))
	}
}

// TestCodeReuseAfterUpstreamError covers a retried POST after a timeout,
// and after a browser's capture says the first POST got no answer (an SPA's
// token request): code-reused names whose failure the first answer was.
func TestCodeReuseAfterUpstreamError(t *testing.T) {
	tests := []struct {
		name, err, want string
	}{
		{"live proxy timeout", "read tcp: i/o timeout", "first answer was no response (upstream error)"},
		{"browser's capture", flow.BrowserReportedPrefix + "net::ERR_CONNECTION_RESET (no answer)", "first answer was no response (reported by the browser)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			first := s.token(s.tokenParams(), upstreamError(tt.err))
			first.Response = nil
			retry := s.token(s.tokenParams(), at(31*time.Second))
			inspectAll(in, append(s.setup(), first, retry)...)
			f, ok := finding(retry, IDCodeReused)
			if !ok || !strings.Contains(f.Message, tt.want) {
				t.Fatalf("retry: got %v, want %s whose message says %q", retry.OAuth.Findings, IDCodeReused, tt.want)
			}
		})
	}
}

// TestCodeViaAuthorizeRedirect correlates a code seen only in the
// Location of the authorize response (custom-scheme redirect URI).
func TestCodeViaAuthorizeRedirect(t *testing.T) {
	s := newScen()
	s.redirect = "com.example.app:/oauth2redirect"
	in := New(Options{})
	authz := s.authorize(s.authParams())
	loc := s.redirect + "?" + kv{{"code", s.code}, {"state", s.state}}.encode()
	resp(302, "", "", "Location", loc)(authz)
	authz.Timings.Total = 100 * time.Millisecond
	inspectAll(in, s.discovery(), authz)
	x := s.token(s.tokenParams().set("redirect_uri", "com.example.app:/oauth2redirect/"), at(7*time.Minute))
	inspectAll(in, x)
	for _, id := range []string{IDRedirectMismatch, IDCodeStale} {
		if _, ok := finding(x, id); !ok {
			t.Errorf("got %v, want %s", ids(x), id)
		}
	}
}

// TestRefreshRotationSequence is a refresh that rotates, a refresh with the
// new token, then the old one again.
func TestRefreshRotationSequence(t *testing.T) {
	s := newScen()
	in := New(Options{})
	r1 := s.refresh(canaryRefresh, canaryRefresh2, time.Minute)
	r2 := s.refresh(canaryRefresh2, "CANARY-refresh-3", 2*time.Minute)
	old := s.refresh(canaryRefresh, "CANARY-refresh-4", 3*time.Minute)
	inspectAll(in, r1, r2, old)
	for _, x := range []*flow.Exchange{r1, r2} {
		if _, ok := finding(x, IDRefreshReused); ok {
			t.Errorf("%s: got %s, want none", shortID(x.ID), IDRefreshReused)
		}
	}
	f, ok := finding(old, IDRefreshReused)
	if !ok {
		t.Fatalf("old refresh token again: got %v, want %s", ids(old), IDRefreshReused)
	}
	if !strings.Contains(f.Message, shortID(r1.ID)) || !strings.Contains(f.Message, "200 ok") {
		t.Errorf("message %q: want the first flow %s and its answer", f.Message, shortID(r1.ID))
	}
}

// TestCodeStaleSequence reports the age of the code.
func TestCodeStaleSequence(t *testing.T) {
	s := newScen()
	in := New(Options{CodeLifetime: time.Minute})
	x := s.token(s.tokenParams(), at(90*time.Second))
	inspectAll(in, append(s.setup(), x)...)
	f, ok := finding(x, IDCodeStale)
	if !ok || !strings.Contains(f.Message, "1m30s") || !strings.Contains(f.Message, "1m0s") {
		t.Fatalf("got %v, want %s saying 1m30s and lifetime 1m0s", x.OAuth.Findings, IDCodeStale)
	}
}

// TestRedactedCapture replays a flow whose capture was redacted by
// oauthproxy (fingerprints): reuse and correlation still work, and
// checks that need the raw value stay silent.
func TestRedactedCapture(t *testing.T) {
	s := newScen()
	in := New(Options{})
	var xs []*flow.Exchange
	for _, x := range append(s.setup(), s.token(s.tokenParams(), at(time.Second)), s.token(s.tokenParams(), at(2*time.Second))) {
		xs = append(xs, redact.Exchange(x))
	}
	inspectAll(in, xs...)
	first, again := xs[3], xs[4]
	if len(first.OAuth.Findings) != 0 {
		t.Errorf("first redacted token request: got %v, want no findings", first.OAuth.Findings)
	}
	if _, ok := finding(again, IDCodeReused); !ok {
		t.Errorf("second redacted token request: got %v, want %s", ids(again), IDCodeReused)
	}
	if again.OAuth.Issuer != s.issuer {
		t.Errorf("issuer: got %q, want %q", again.OAuth.Issuer, s.issuer)
	}
}

// TestRedactedByOtherTool: a code replaced by "[REDACTED]" in someone
// else's capture must not be taken as one reused code.
func TestRedactedByOtherTool(t *testing.T) {
	s := newScen()
	s.code = "[REDACTED]"
	in := New(Options{})
	a := s.token(s.tokenParams().set("code_verifier", "***"), at(time.Second))
	b := s.token(s.tokenParams().set("code_verifier", "***"), at(2*time.Second))
	inspectAll(in, append(s.setup(), a, b)...)
	for _, x := range []*flow.Exchange{a, b} {
		for _, id := range []string{IDCodeReused, IDPKCEMismatch, IDPKCEVerifierInvalid} {
			if _, ok := finding(x, id); ok {
				t.Errorf("%s: got %s on a redacted value, want none", shortID(x.ID), id)
			}
		}
	}
}

// TestNoSecretsInFindings drives a request that trips many checks at once
// with canary values and greps every message and fix.
func TestNoSecretsInFindings(t *testing.T) {
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.setup(func(d map[string]any) {
		d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
		d["grant_types_supported"] = []string{"client_credentials"}
	})...)
	p := s.tokenParams().
		set("code_verifier", "CANARY+bad/verifier=").
		set("client_secret", canarySecret+"\n").
		set("redirect_uri", s.redirect+"/?x=1").
		add("code", canaryCode)
	idt := s.idToken(claim("nonce", "CANARY-nonce-zz"), claim("aud", "x"), claim("iat", t0.Add(time.Hour).Unix()))
	x := exch("GET", s.issuer+"/oauth2/token?"+p.encode()+"&refresh_token="+url.QueryEscape(canaryRefresh), basic("app-123", "CANARY:/x"),
		jsonResp(200, map[string]any{"access_token": "eyJhbGciOiJIUzI1NiJ9.CANARY.x", "id_token": idt, "scope": "openid", "refresh_token": canaryRefresh2}))
	inspectAll(in, x)
	again := exch("GET", s.issuer+"/oauth2/token?"+p.encode(), at(10*time.Minute), jsonResp(200, map[string]any{"access_token": canaryAccess}))
	inspectAll(in, again)
	if len(x.OAuth.Findings) < 10 {
		t.Fatalf("got %d findings %v, want a request that trips at least 10 checks", len(x.OAuth.Findings), ids(x))
	}
	for _, f := range append(x.OAuth.Findings, again.OAuth.Findings...) {
		if leak := leakedSecret(f); leak != "" {
			t.Errorf("finding %s leaks %s: %q / %q", f.ID, leak, f.Message, f.Fix)
		}
	}
}

// TestBoundedState feeds more authorize requests than the inspector keeps.
func TestBoundedState(t *testing.T) {
	s := newScen()
	in := New(Options{})
	for i := range maxAuthorizations + 100 {
		p := s.authParams().set("state", "s"+strconv.Itoa(i)).set("redirect_uri", s.redirect+strconv.Itoa(i))
		in.Inspect(s.authorize(p))
	}
	if n := in.byState.len(); n > maxAuthorizations {
		t.Errorf("authorize requests kept: got %d, want at most %d", n, maxAuthorizations)
	}
	if n := in.byClient.len(); n > maxAuthorizations {
		t.Errorf("client keys kept: got %d, want at most %d", n, maxAuthorizations)
	}
}

// FuzzInspect feeds arbitrary request bodies, queries and responses to the
// token path: no panics.
func FuzzInspect(f *testing.F) {
	f.Add("POST", "/oauth2/token", "grant_type=authorization_code&code=x", "application/x-www-form-urlencoded", `{"id_token":"eyJ.eyJ.x"}`, "code=1&state=2", "Basic Og==")
	f.Add("GET", "/authorize", "", "", "", "response_type=code&client_id=a&code_challenge=x&code_challenge_method=s256", "")
	f.Add("POST", "/token", `{"grant_type":1}`, "application/json", `{"access_token":"a","id_token":"eyJhbGciOiJub25lIn0.eyJhdWQiOlsxXX0.","scope":7}`, "", "Basic %%%")
	f.Add("POST", "/token", "--b\r\n", "multipart/form-data; boundary=b", "access_token=a&scope=x", "grant_type=%zz", "basic")
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, method, path, reqBody, ct, respBody, query, authz string) {
		in := New(Options{TokenEndpoints: []string{"/x"}})
		s := newScen()
		in.Inspect(s.discovery())
		in.Inspect(s.authorize(s.authParams()))
		u := &url.URL{Scheme: "https", Host: "idp.example.com", Path: path, RawQuery: query}
		x := exch(method, "https://idp.example.com/", body(ct, reqBody), hdr("Authorization", authz), resp(200, "", respBody, "Date", respBody))
		x.Request.URL = u
		in.Inspect(x)
		in.Inspect(x)
	})
}

// FuzzDecodeJWT: tolerant decoding, never a panic.
func FuzzDecodeJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhIn0.sig")
	f.Add("eyJ.eyJ.")
	f.Add("a.b.c.d.e")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30")
	f.Fuzz(func(t *testing.T, s string) {
		_, c, err := decodeJWT(s)
		if err == nil && c == nil {
			t.Fatalf("decodeJWT(%q): nil claims without error", s)
		}
	})
}

// BenchmarkInspectTokenExchange measures a typical authorization_code token
// exchange correlated with its authorize request and callback (PKCE,
// client_secret_post, JSON response with an id_token). Each iteration uses a
// fresh code; authorize requests and callbacks are fed outside the timer.
func BenchmarkInspectTokenExchange(b *testing.B) {
	const batch = 512
	s := newScen()
	idt := s.idToken()
	var in *Inspector
	tokens := make([]*flow.Exchange, batch)
	prepare := func(round int) {
		in = New(Options{})
		in.Inspect(s.discovery())
		for i := range tokens {
			c := *s
			c.state = "st-" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			c.code = "CANARY-code-" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			// A verifier per login: one verifier for several codes is
			// itself a finding (pkce-verifier-reused).
			c.verifier = canaryVerifier + "-" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			c.challenge = s256(c.verifier)
			in.Inspect(c.authorize(c.authParams()))
			in.Inspect(c.callback())
			tokens[i] = c.token(c.tokenParams(), at(2*time.Second), c.okResp(idt))
		}
	}
	b.ReportAllocs()
	i, round := 0, 0
	b.StopTimer()
	prepare(round)
	b.StartTimer()
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			round++
			prepare(round)
			i = 0
			b.StartTimer()
		}
		x := tokens[i]
		in.Inspect(x)
		i++
	}
	b.StopTimer()
	for _, x := range []*flow.Exchange{tokens[0], tokens[i-1]} {
		if len(x.OAuth.Findings) != 0 {
			b.Fatalf("benchmark exchange has findings %v; want a clean exchange", ids(x))
		}
	}
}

// BenchmarkInspectNonOAuth measures the bail-out on ordinary API traffic.
func BenchmarkInspectNonOAuth(b *testing.B) {
	in := New(Options{})
	xs := []*flow.Exchange{
		exch("GET", "https://api.example.com/v1/users/42?page=2", jsonResp(200, map[string]any{"id": 42})),
		exch("POST", "https://api.example.com/v1/orders", body("application/json", `{"item":"x"}`), jsonResp(201, map[string]any{"ok": true})),
		exch("POST", "https://shop.example.com/api/login", body("application/x-www-form-urlencoded", "username=bob&password=x"), jsonResp(200, map[string]any{"ok": true})),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in.Inspect(xs[i%len(xs)])
		i++
	}
}

// TestDiagnosisAttached checks that Inspect hands failed OAuth exchanges to
// diagnose (with the findings already set) and skips successful token
// exchanges.
func TestDiagnosisAttached(t *testing.T) {
	s := newScen()
	in := New(Options{})
	ok := s.token(s.tokenParams(), at(time.Second))
	failed := s.token(s.tokenParams(), at(2*time.Second), jsonResp(400, map[string]any{"error": "invalid_grant", "error_description": "Code not valid"}))
	inspectAll(in, append(s.setup(), ok, failed)...)
	if ok.OAuth.Diagnosis != nil {
		t.Errorf("successful token exchange: got diagnosis %+v, want none", ok.OAuth.Diagnosis)
	}
	if failed.OAuth.Diagnosis == nil {
		t.Fatalf("failed token exchange (findings %v): got no diagnosis, want one", ids(failed))
	}
	plain := exch("GET", "https://api.example.com/v1/users", jsonResp(200, map[string]any{"id": 1}))
	inspectAll(in, plain)
	if plain.OAuth.Diagnosis != nil {
		t.Errorf("ordinary 200: got diagnosis %+v, want none", plain.OAuth.Diagnosis)
	}
}
