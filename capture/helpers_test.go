package capture

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Canary secrets planted in sampleFlow; none may appear in a redacted capture.
const (
	canaryClientSecret = "CANARY-client-secret-7f3a9e"
	canaryCode         = "CANARY-code-b81c44d0"
	canaryVerifier     = "CANARY-verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r"
	canaryRefresh      = "CANARY-refresh-44e0aa91"
	canaryAccess       = "CANARY-access-9a1b2c3d"
	canaryIDToken      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJDQU5BUlktaWQtdG9rZW4ifQ.CANARY-idtoken-sig"
	canaryPassword     = "CANARY-password-Hunter2!"
	canaryBasicSecret  = "CANARY-basic-secret-5e5e"
	canaryBearer       = "CANARY-bearer-c0ffee11"
	canaryCookie       = "CANARY-cookie-sid-8181"
	canarySetCookie    = "CANARY-setcookie-7777"
	canaryDPoP         = "eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJodG0iOiJQT1NUIn0.CANARY-dpop-sig"
	canaryAssertion    = "CANARY-assertion-a55e"
)

var canaries = []string{canaryClientSecret, canaryCode, canaryVerifier, canaryRefresh, canaryAccess, canaryIDToken,
	canaryPassword, canaryBasicSecret, canaryBearer, canaryCookie, canarySetCookie, canaryDPoP, canaryAssertion,
	base64.StdEncoding.EncodeToString([]byte("myclient:" + canaryBasicSecret))}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var t0 = time.Date(2024, 3, 5, 10, 0, 0, 123456000, time.UTC)

// sampleFlow is an OAuth flow with every kind of secret planted: login form
// with password, authorize redirect with code, form_post page, callback,
// token request (secret, code, verifier, Basic, DPoP) and its tokens,
// a refresh, a userinfo call with Bearer and cookies, a reused code and an
// upstream error.
func sampleFlow(t testing.TB) []*flow.Exchange {
	cb := "https://app.example.com/cb?code=" + canaryCode + "&state=s1"
	tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {canaryCode}, "code_verifier": {canaryVerifier},
		"client_secret": {canaryClientSecret}, "redirect_uri": {"https://app.example.com/cb"}}.Encode()
	tokenJSON, _ := json.Marshal(map[string]any{"access_token": canaryAccess, "refresh_token": canaryRefresh, "id_token": canaryIDToken, "token_type": "DPoP", "expires_in": 300})
	formPost := `<html><body onload="document.forms[0].submit()"><form method="post" action="https://app.example.com/cb"><input type="hidden" name="code" value="` + canaryCode + `"/><input type="hidden" name="state" value="s1"/></form></body></html>`
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("myclient:"+canaryBasicSecret))
	conn := flow.Conn{ClientAddr: "127.0.0.1:50000", ServerAddr: "192.0.2.10:443", LocalAddr: "10.0.0.5:61000", TLSVersion: "TLS 1.3", ALPN: "h2",
		CipherSuite: "TLS_AES_128_GCM_SHA256", ServerName: "idp.example.com", CertIssuer: "CN=Example CA", CertSHA256: "ab12cd34", Intercepted: true, ConnectionID: "c1"}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	body := func(s string) flow.Body { return flow.Body{Data: []byte(s), Size: int64(len(s))} }
	xs := []*flow.Exchange{
		{ID: "11111111-0000-4000-8000-000000000001", Start: t0,
			Request: flow.Request{Method: "POST", URL: mustURL(t, "https://idp.example.com/login"), Proto: "HTTP/1.1",
				Header: hdr("Content-Type", "application/x-www-form-urlencoded", "Cookie", "idp="+canaryCookie+"; lang=en"),
				Body:   body("username=alice&password=" + url.QueryEscape(canaryPassword))},
			Response: &flow.Response{Status: 302, Proto: "HTTP/1.1", Header: hdr("Location", cb, "Set-Cookie", "sess="+canarySetCookie+"; Path=/; HttpOnly; Secure; SameSite=Lax")},
			Timings:  flow.Timings{DNS: 2 * time.Millisecond, Connect: 3 * time.Millisecond, TLS: 4 * time.Millisecond, Send: time.Millisecond, Wait: 20 * time.Millisecond, Receive: time.Millisecond, Total: 31 * time.Millisecond},
			Conn:     conn,
			OAuth:    flow.OAuth{Label: flow.LabelAuthorize, Issuer: "https://idp.example.com"}},
		{ID: "11111111-0000-4000-8000-000000000002", Start: t0.Add(100 * time.Millisecond),
			Request:  flow.Request{Method: "GET", URL: mustURL(t, "https://idp.example.com/authorize?response_mode=form_post&client_id=myclient"), Proto: "HTTP/2.0", Header: hdr("Accept", "text/html")},
			Response: &flow.Response{Status: 200, Proto: "HTTP/2.0", Header: hdr("Content-Type", "text/html; charset=utf-8"), Body: body(formPost)},
			OAuth:    flow.OAuth{Label: flow.LabelAuthorize}},
		{ID: "11111111-0000-4000-8000-000000000003", Start: t0.Add(200 * time.Millisecond),
			Request:  flow.Request{Method: "GET", URL: mustURL(t, cb), Proto: "HTTP/1.1", Header: hdr("Referer", "https://idp.example.com/x?code="+canaryCode)},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: hdr("Content-Type", "text/plain"), Body: body("ok")},
			OAuth:    flow.OAuth{Label: flow.LabelCallback, Login: "11111111-0000-4000-8000-000000000002", LoginLink: flow.LinkCertain}},
		{ID: "11111111-0000-4000-8000-000000000004", Start: t0.Add(300 * time.Millisecond),
			Request: flow.Request{Method: "POST", URL: mustURL(t, "https://idp.example.com/token"), Proto: "HTTP/2.0",
				Header: hdr("Content-Type", "application/x-www-form-urlencoded", "Authorization", basic, "DPoP", canaryDPoP),
				Body:   body(tokenForm)},
			Response: &flow.Response{Status: 200, Proto: "HTTP/2.0", Header: hdr("Content-Type", "application/json"), Body: flow.Body{Data: tokenJSON, Size: 190, Encoding: "gzip"}},
			Conn:     conn,
			OAuth: flow.OAuth{Label: flow.LabelToken, GrantType: "authorization_code", Issuer: "https://idp.example.com",
				Login: "11111111-0000-4000-8000-000000000002", LoginLink: flow.LinkCertain, LoginTrace: "login idp.example.com: authorize → callback → token 200 ok",
				Findings: []flow.Finding{{ID: "pkce-ok", Severity: flow.SeverityInfo, Category: flow.CategoryInfo, Message: "PKCE verifier matches"}}}},
		{ID: "11111111-0000-4000-8000-000000000005", Start: t0.Add(400 * time.Millisecond),
			Request: flow.Request{Method: "POST", URL: mustURL(t, "https://idp.example.com/token"), Proto: "HTTP/2.0",
				Header: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: body(tokenForm)},
			Response: &flow.Response{Status: 400, Proto: "HTTP/2.0", Header: hdr("Content-Type", "application/json"), Body: body(`{"error":"invalid_grant","error_description":"code already used"}`)},
			OAuth: flow.OAuth{Label: flow.LabelToken, GrantType: "authorization_code",
				Findings:  []flow.Finding{{ID: "code-reused", Severity: flow.SeverityError, Category: flow.CategoryGrant, Message: "authorization code redacted:sha256:0123456789ab:len=20 was already used", Fix: "Use each code once."}},
				Diagnosis: &flow.Diagnosis{Category: flow.CategoryGrant, Cause: "code-reused", Summary: "The code was redeemed twice", Evidence: []string{"first use 100ms earlier"}, Fix: []string{"Do not retry the token request"}, Confidence: "high", Source: "RFC 6749 4.1.2"}}},
		{ID: "11111111-0000-4000-8000-000000000006", Start: t0.Add(500 * time.Millisecond),
			Request: flow.Request{Method: "POST", URL: mustURL(t, "https://idp.example.com/token"), Proto: "HTTP/1.1",
				Header: hdr("Content-Type", "application/json"),
				Body:   body(`{"grant_type":"refresh_token","refresh_token":"` + canaryRefresh + `","client_assertion":"` + canaryAssertion + `"}`)},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: hdr("Content-Type", "application/json"), Body: flow.Body{Data: tokenJSON, Size: int64(len(tokenJSON))}},
			OAuth:    flow.OAuth{Label: flow.LabelToken, GrantType: "refresh_token"}},
		{ID: "11111111-0000-4000-8000-000000000007", Start: t0.Add(600 * time.Millisecond),
			Request:  flow.Request{Method: "GET", URL: mustURL(t, "https://api.example.com/me"), Proto: "HTTP/1.1", Header: hdr("Authorization", "Bearer "+canaryBearer, "Proxy-Authorization", basic)},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: hdr("Content-Type", "application/octet-stream"), Body: body("\x00\x01\x02binary\xff\xfe")}},
		{ID: "11111111-0000-4000-8000-000000000008", Start: t0.Add(700 * time.Millisecond),
			Request: flow.Request{Method: "GET", URL: mustURL(t, "https://api.example.com/down?access_token="+canaryAccess), Proto: "HTTP/1.1", Header: hdr()},
			Error:   "Get \"https://api.example.com/down?access_token=" + canaryAccess + "\": dial tcp 192.0.2.99:443: connect: connection refused",
			Conn:    flow.Conn{ClientAddr: "127.0.0.1:50001"}},
	}
	return xs
}

func writeHAR(t testing.TB, xs []*flow.Exchange, opts WriterOptions) string {
	t.Helper()
	path := t.TempDir() + "/capture.har"
	w, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		w.Handle(x)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type (
	xchg        = flow.Exchange
	flowTimings = flow.Timings
)
