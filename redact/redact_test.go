package redact

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
)

const (
	canarySecret = "CANARY-client-secret-7f3a"
	canaryCode   = "CANARY-code-91b2"
	// strongToken is a 32-byte random value in base64url, like a code or
	// an access token: fingerprinted with the fast hash.
	strongToken = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
	canaryToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJl"
)

func TestFingerprint(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"empty stays empty", "", ""},
		{"known strong value: fast hash", strongToken, "redacted:sha256:9e01791ac5dc:len=43"},
		{"a short value in no chosen field: fast hash", "abc", "redacted:sha256:ba7816bf8f01:len=3"},
		{"a chosen field: memory-hard hash", FingerprintWeak("abc"), "redacted:argon2id:7785ba91c8e8:len=3"},
		{"fingerprint is idempotent", "redacted:sha256:ba7816bf8f01:len=3", "redacted:sha256:ba7816bf8f01:len=3"},
		{"slow fingerprint is idempotent", "redacted:argon2id:7785ba91c8e8:len=3", "redacted:argon2id:7785ba91c8e8:len=3"},
		{"keyed fingerprint is idempotent", "redacted:hmac-0a1b2c3d:7785ba91c8e8:len=3", "redacted:hmac-0a1b2c3d:7785ba91c8e8:len=3"},
		{"unknown scheme is hashed", "redacted:md5:ba7816bf8f01:len=3", Fingerprint("redacted:md5:ba7816bf8f01:len=3")},
		{"lookalike is hashed", "redacted:sha256:zz:len=3", Fingerprint("redacted:sha256:zz:len=3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fingerprint(tt.in); got != tt.want {
				t.Errorf("Fingerprint(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if Fingerprint("a") == Fingerprint("b") {
		t.Error("different values got the same fingerprint")
	}
}

func TestIsRedacted(t *testing.T) {
	for _, v := range []string{Fingerprint("x"), "[REDACTED]", "<redacted>", "***", "_sanitized_"} {
		if !IsRedacted(v) {
			t.Errorf("IsRedacted(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"", "abc", "redact-me-not", "SplxlOBeZQQYbYS6WxSbIA"} {
		if IsRedacted(v) {
			t.Errorf("IsRedacted(%q) = true, want false", v)
		}
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name, header, value string
		keep, drop          string
	}{
		{"basic keeps scheme", "Authorization", "Basic " + canarySecret, "Basic redacted:argon2id:", canarySecret},
		{"bearer", "authorization", "Bearer " + canaryToken, "Bearer redacted:", canaryToken},
		{"cookie keeps names", "Cookie", "sid=" + canarySecret + "; theme=dark", "sid=redacted:", canarySecret},
		{"set-cookie keeps attributes", "Set-Cookie", "sid=" + canarySecret + "; Path=/; HttpOnly", "; Path=/; HttpOnly", canarySecret},
		{"proxy auth", "Proxy-Authorization", "Basic dXNlcjpwYXNz", "Basic redacted:", "dXNlcjpwYXNz"},
		{"ordinary header untouched", "Content-Type", "application/json", "application/json", "redacted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Header(tt.header, tt.value)
			if !strings.Contains(got, tt.keep) || strings.Contains(got, tt.drop) {
				t.Errorf("Header(%q, ...) = %q, want it to contain %q and not %q", tt.header, got, tt.keep, tt.drop)
			}
		})
	}
}

func TestQueryAndURL(t *testing.T) {
	raw := "grant_type=authorization_code&code=" + canaryCode + "&client_secret=" + url.QueryEscape(canarySecret+" x") + "&redirect_uri=https%3A%2F%2Fapp%2Fcb"
	got := Query(raw)
	for _, c := range []string{canaryCode, url.QueryEscape(canarySecret + " x")} {
		if strings.Contains(got, c) {
			t.Errorf("Query kept %q: %s", c, got)
		}
	}
	if !strings.Contains(got, "redirect_uri=https%3A%2F%2Fapp%2Fcb") || !strings.HasPrefix(got, "grant_type=authorization_code&") {
		t.Errorf("Query changed non-secret parts: %s", got)
	}
	v, _ := url.ParseQuery(got)
	if want := Fingerprint(canaryCode); v.Get("code") != want {
		t.Errorf("code = %q, want %q", v.Get("code"), want)
	}
	u, _ := url.Parse("https://app.example/cb?state=s1&code=" + canaryCode + "#access_token=" + canaryToken + "&token_type=Bearer")
	s := URL(u).String()
	if strings.Contains(s, canaryCode) || strings.Contains(s, canaryToken) || !strings.Contains(s, "state=s1") {
		t.Errorf("URL() = %s", s)
	}
}

func TestBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
	}{
		{"form", "application/x-www-form-urlencoded", "client_secret=" + canarySecret + "&code=" + canaryCode},
		{"json", "application/json", `{"access_token":"` + canaryToken + `","nested":{"refresh_token":"` + canarySecret + `"},"list":[{"code":"` + canaryCode + `"}]}`},
		{"json without content type", "", `{"id_token":"` + canaryToken + `"}`},
		{"jwt in text", "text/plain", "token was " + canaryToken + " ok"},
		{"form without content type", "", "code=" + canaryCode + "&state=x"},
		{"malformed json keeps no jwt", "application/json", `{"access_token":"` + canaryToken + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Body(tt.ct, []byte(tt.body)))
			for _, c := range []string{canarySecret, canaryCode, canaryToken} {
				if strings.Contains(got, c) {
					t.Errorf("Body kept canary %q: %s", c, got)
				}
			}
		})
	}
}

func TestText(t *testing.T) {
	in := `Post "https://idp/token?code=` + canaryCode + `&x=1": dial tcp: refused; Authorization: Bearer ` + canarySecret + " " + canaryToken
	got := Text(in)
	for _, c := range []string{canaryCode, canarySecret, canaryToken} {
		if strings.Contains(got, c) {
			t.Errorf("Text kept %q: %s", c, got)
		}
	}
	if !strings.Contains(got, "x=1") || !strings.Contains(got, "dial tcp: refused") {
		t.Errorf("Text removed ordinary text: %s", got)
	}
	if again := Text(got); again != got {
		t.Errorf("Text is not idempotent:\n%s\n%s", got, again)
	}
}

func TestExchange(t *testing.T) {
	u, _ := url.Parse("https://idp.example/token?client_secret=" + canarySecret)
	x := &flow.Exchange{
		Request: flow.Request{Method: "POST", URL: u, Header: http.Header{
			"Authorization": {"Basic " + canarySecret},
			"Content-Type":  {"application/x-www-form-urlencoded"},
		}, Body: flow.Body{Data: []byte("code=" + canaryCode)}},
		Response: &flow.Response{Status: 302, Header: http.Header{
			"Location":     {"https://app/cb?code=" + canaryCode},
			"Set-Cookie":   {"s=" + canarySecret},
			"Content-Type": {"application/json"},
		}, Body: flow.Body{Data: []byte(`{"access_token":"` + canaryToken + `"}`)}},
	}
	r := Exchange(x)
	dump := r.Request.URL.String() + strings.Join(r.Request.Header["Authorization"], "") + string(r.Request.Body.Data) +
		strings.Join(r.Response.Header["Location"], "") + strings.Join(r.Response.Header["Set-Cookie"], "") + string(r.Response.Body.Data)
	for _, c := range []string{canarySecret, canaryCode, canaryToken} {
		if strings.Contains(dump, c) {
			t.Errorf("redacted exchange kept %q: %s", c, dump)
		}
	}
	if x.Request.Header.Get("Authorization") != "Basic "+canarySecret || string(x.Request.Body.Data) != "code="+canaryCode {
		t.Error("Exchange modified its input")
	}
}

func TestBasic(t *testing.T) {
	id, secret, ok := Basic("Basic Y2xpZW50OnMlM0FjcmV0")
	if !ok || id != "client" || secret != "s%3Acret" {
		t.Errorf("Basic = %q, %q, %v", id, secret, ok)
	}
	if _, _, ok := Basic("Bearer abc"); ok {
		t.Error("Basic accepted a Bearer credential")
	}
	if _, _, ok := Basic("Basic !!!"); ok {
		t.Error("Basic accepted bad base64")
	}
}

func FuzzText(f *testing.F) {
	f.Add("code=abc&client_secret=def Bearer abcdefghijkl")
	f.Add("")
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, s string) {
		_ = Text(s)
		_ = Body("application/json", []byte(s))
		_ = Body("application/x-www-form-urlencoded", []byte(s))
		_ = URLString(s)
	})
}

func TestParamVerifier(t *testing.T) {
	// challenge computed independently: base64url(sha256(verifier)) with Python.
	const verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc"
	got := Param("code_verifier", verifier)
	if strings.Contains(got, verifier) {
		t.Fatalf("verifier kept raw: %s", got)
	}
	s256, n, charsOK, ok := RedactedVerifier(got)
	if !ok || s256 != challenge || n != len(verifier) || !charsOK {
		t.Errorf("RedactedVerifier(%q) = %q, %d, %v, %v; want %q, %d, true, true", got, s256, n, charsOK, ok, challenge, len(verifier))
	}
	if !IsFingerprint(got) || !IsRedacted(got) || Param("code_verifier", got) != got {
		t.Errorf("redacted verifier %q is not recognised as redacted or not idempotent", got)
	}
	if _, _, charsOK, _ := RedactedVerifier(Param("code_verifier", "has spaces and ! marks, long enough to matter here ok")); charsOK {
		t.Error("bad characters not flagged")
	}
	if Param("code", "abc") != Fingerprint("abc") {
		t.Error("Param for an ordinary secret is not Fingerprint")
	}
	q := Query("code_verifier=" + verifier + "&code=x")
	if !strings.Contains(q, url.QueryEscape(VerifierPrefix+challenge)) {
		t.Errorf("Query did not use the verifier form: %s", q)
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "sha256:ba7816bf8f01 len=3"},
		{FingerprintWeak("abc"), "argon2id:7785ba91c8e8 len=3"},
		{strongToken, "sha256:9e01791ac5dc len=43"},
		{"", `""`},
		{"[REDACTED]", "(redacted)"},
		{Param("code_verifier", "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"), "s256:ngF5GsXcbwlj len=43"},
	}
	for _, tt := range tests {
		if got := Display(tt.in); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextSchemes(t *testing.T) {
	for _, in := range []string{"BASIC " + canarySecret, "DPoP " + canarySecret, "authorization: bearer " + canarySecret,
		"Bearer\f" + canarySecret, "Bearer\r\n" + canarySecret} {
		if got := Text(in); strings.Contains(got, canarySecret) {
			t.Errorf("Text(%q) = %q keeps the credential", in, got)
		}
	}
	if got := Text("a basic rate limit"); got != "a basic rate limit" {
		t.Errorf("ordinary text changed: %q", got)
	}
}

func TestTextKeepsProse(t *testing.T) {
	for _, in := range []string{"the Basic credentials were not form-encoded", "a Bearer challenge without error", "DPoP challenge"} {
		if got := Text(in); got != in {
			t.Errorf("Text(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestIsFingerprintShapes(t *testing.T) {
	ch := strings.Repeat("A", 42) + "_"
	tests := []struct {
		in   string
		want bool
	}{
		{Fingerprint("x"), true},
		{"redacted:sha256:0123456789ab:len=7", true},
		{"redacted:sha256:0123456789AB:len=7", false},  // upper-case hex
		{"redacted:sha256:0123456789a:len=7", false},   // 11 digits
		{"redacted:sha256:0123456789ab:len=", false},   // no length
		{"redacted:sha256:0123456789ab:len=7x", false}, // trailing garbage
		{"redacted:sha256:0123456789ab", false},
		{"redacted:s256:" + ch + ":len=43", true},
		{"redacted:s256:" + ch + ":len=43:badchars", true},
		{"redacted:s256:" + ch + ":len=43:other", false},
		{"redacted:s256:" + ch[:42] + ":len=43", false},  // 42 characters
		{"redacted:s256:" + ch[:42] + "+:len=43", false}, // not base64url
		{"redacted:s256:" + ch + ":len=", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsFingerprint(tt.in); got != tt.want {
				t.Errorf("IsFingerprint(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	s256, n, charsOK, ok := RedactedVerifier("redacted:s256:" + ch + ":len=128:badchars")
	if s256 != ch || n != 128 || charsOK || !ok {
		t.Errorf("RedactedVerifier = %q, %d, %v, %v; want %q, 128, false, true", s256, n, charsOK, ok, ch)
	}
}

// TestRedactionMarkers: every marker is recognised in any case and with
// surrounding space, which needs maxMarker to cover the longest.
func TestRedactionMarkers(t *testing.T) {
	for _, m := range redactionMarkers {
		for _, v := range []string{m, strings.ToUpper(m), " " + m + "\n"} {
			if !IsRedacted(v) {
				t.Errorf("IsRedacted(%q) = false, want true", v)
			}
		}
	}
	for _, v := range []string{"redactedX", "rt.rrrrrrrrrrrrrrrrrr", "xxxxx", "maskedvalue"} {
		if IsRedacted(v) {
			t.Errorf("IsRedacted(%q) = true, want false", v)
		}
	}
}

func TestShort(t *testing.T) {
	v := Param("code_verifier", strings.Repeat("v", 50))
	s256, _, _, _ := RedactedVerifier(v)
	tests := []struct{ in, want string }{
		{FingerprintWeak("abc"), "argon2id:7785ba91c8e8"},
		{Fingerprint(strongToken), "sha256:9e01791ac5dc"},
		{"redacted:hmac-0a1b2c3d:7785ba91c8e8:len=3", "hmac-0a1b2c3d:7785ba91c8e8"},
		{v, "s256:" + s256[:12]},
		{"not a fingerprint", "not a fingerprint"},
		{"redacted:sha256:ba7816bf8f01:len=", "redacted:sha256:ba7816bf8f01:len="},
	}
	for _, tt := range tests {
		if got := Short(tt.in); got != tt.want {
			t.Errorf("Short(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestBodyCutJSON: a JSON token response cut off (by the capture limit or
// the network) does not parse, and its secrets are still fingerprinted.
func TestBodyCutJSON(t *testing.T) {
	tests := []struct{ name, in string }{
		{"cut inside a value", `{"access_token":"` + canarySecret + `","refresh_token":"` + canarySecret[:10]},
		{"cut after a value", `{"id_token":"x.y.z","client_secret" : "` + canarySecret + `", "exp`},
		{"escaped quote in the value", `{"refresh_token":"a\"` + canarySecret + `"` + `,`},
		{"inside other text", `error: {"password":"` + canarySecret + `"} (see logs)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Body("application/json", []byte(tt.in)))
			if strings.Contains(got, canarySecret) || strings.Contains(got, canarySecret[:10]) {
				t.Errorf("Body(%q) = %q keeps a secret", tt.in, got)
			}
			if !strings.Contains(got, SlowPrefix) && !strings.Contains(got, Prefix) {
				t.Errorf("Body(%q) = %q, want fingerprints", tt.in, got)
			}
		})
	}
	if got := string(Body("text/plain", []byte(`{"scope":"openid","state":"abc`))); got != `{"scope":"openid","state":"abc` {
		t.Errorf("non-secret members changed: %q", got)
	}
}

// TestExchangeUndecodableAndTexts: a body whose Content-Encoding could not
// be removed is dropped (it cannot be checked), and the error, findings
// and diagnosis texts are redacted like the log's.
func TestExchangeUndecodableAndTexts(t *testing.T) {
	x := &flow.Exchange{
		Request: flow.Request{Method: "POST", Header: http.Header{}},
		Response: &flow.Response{Status: 200, Header: http.Header{"Content-Encoding": {"zstd"}},
			Body: flow.Body{Data: []byte("raw zstd bytes " + canarySecret), Size: 40, Encoding: "zstd", DecodeError: `content: unsupported Content-Encoding "zstd"`}},
		Error: "read: Bearer " + canarySecret,
	}
	x.OAuth.Findings = []flow.Finding{{ID: "x", Message: "client_secret=" + canarySecret}}
	x.OAuth.Diagnosis = &flow.Diagnosis{Summary: "Bearer " + canarySecret, Evidence: []string{"code=" + canarySecret}}
	c := Exchange(x)
	if len(c.Response.Body.Data) != 0 || !c.Response.Body.Truncated {
		t.Errorf("undecodable body kept: %q", c.Response.Body.Data)
	}
	for _, s := range []string{c.Error, c.OAuth.Findings[0].Message, c.OAuth.Diagnosis.Summary, c.OAuth.Diagnosis.Evidence[0]} {
		if strings.Contains(s, canarySecret) {
			t.Errorf("secret kept in %q", s)
		}
	}
	if !strings.Contains(x.OAuth.Findings[0].Message, canarySecret) {
		t.Errorf("the original exchange was modified")
	}
}

func TestSecretNames(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header bool
		want   bool
	}{
		{"accessToken", false, true}, {"refresh-token", false, true}, {"clientSecret", false, true},
		{"CODE", false, true}, {"scope", false, false}, {"state", false, false}, {"session_state", false, false},
		{"X-Goog-Api-Key", true, true}, {"Ocp-Apim-Subscription-Key", true, true}, {"X-Csrf-Token", true, true},
		{"Authorization", true, true}, {"Content-Type", true, false}, {"Keep-Alive", true, false}, {"Accept", true, false},
	} {
		got := IsSecretParam(tt.name)
		if tt.header {
			got = IsSecretHeader(tt.name)
		}
		if got != tt.want {
			t.Errorf("%s (header %v): got %v, want %v", tt.name, tt.header, got, tt.want)
		}
	}
	if got := string(Body("application/json", []byte(`{"accessToken":"`+canarySecret+`"}`))); strings.Contains(got, canarySecret) {
		t.Errorf("camelCase JSON member kept: %s", got)
	}
}

func TestValue(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"
	for _, tt := range []struct{ name, v string }{
		{"client_secret", canarySecret},
		{"data", `{"client_secret":"` + canarySecret + `"}`},
		{"id_token_hint", jwt},
		{"note", "Bearer " + canarySecret},
	} {
		got := Value(tt.name, tt.v)
		if strings.Contains(got, canarySecret) || strings.Contains(got, jwt) {
			t.Errorf("Value(%q, %q) = %s keeps a secret", tt.name, tt.v, got)
		}
	}
	if got := Value("scope", "openid email"); got != `"openid email"` {
		t.Errorf("ordinary value: got %s", got)
	}
}
