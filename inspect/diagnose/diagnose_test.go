package diagnose

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// exchange builds a test exchange; hdr is "Name: value" lines.
func exchange(label flow.Label, rawURL string, status int, hdr string, body string) *flow.Exchange {
	x := &flow.Exchange{ID: "t"}
	x.OAuth.Label = label
	x.Request.Method = http.MethodPost
	x.Request.URL, _ = url.Parse(rawURL)
	x.Request.Header = http.Header{}
	h := http.Header{}
	for _, line := range strings.Split(hdr, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	x.Response = &flow.Response{Status: status, Header: h, Body: flow.Body{Data: []byte(body), Size: int64(len(body))}}
	return x
}

const (
	tokenURL = "https://as.example/oauth/token"
	apiURL   = "https://api.example/v1/orders/42"
	jsonCT   = "Content-Type: application/json"
	htmlCT   = "Content-Type: text/html"
)

func TestNoDiagnosis(t *testing.T) {
	tests := []struct {
		name string
		x    *flow.Exchange
	}{
		{"token success", exchange(flow.LabelToken, tokenURL, 200, jsonCT, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)},
		{"GitHub form success", exchange(flow.LabelToken, tokenURL, 200, "Content-Type: application/x-www-form-urlencoded", `access_token=gho_x&scope=repo&token_type=bearer`)},
		{"authorize redirect with code", exchange(flow.LabelAuthorize, "https://as.example/authorize", 302, "Location: https://app.example/cb?code=c-1&state=s", ``)},
		{"introspection inactive", exchange(flow.LabelIntrospect, tokenURL, 200, jsonCT, `{"active":false}`)},
		{"Feishu success envelope", exchange(flow.LabelToken, tokenURL, 200, jsonCT, `{"code":0,"msg":"success","data":{}}`)},
		{"WeChat success", exchange(flow.LabelToken, tokenURL, 200, "Content-Type: text/plain", `{"access_token":"x","expires_in":7200,"openid":"o"}`)},
		{"discovery success through Cloudflare", exchange(flow.LabelDiscovery, "https://as.example/.well-known/openid-configuration", 200, "Server: cloudflare\nCF-RAY: 1-ARN\n"+jsonCT, `{"issuer":"https://as.example"}`)},
		{"unlabeled 404 JSON", exchange(flow.LabelNone, apiURL, 404, jsonCT, `{"error":"not_found","message":"no such order"}`)},
		{"unlabeled 400 JSON with words", exchange(flow.LabelNone, apiURL, 400, jsonCT, `{"message":"invalid client secret"}`)},
		{"unlabeled 200 block-like page", exchange(flow.LabelNone, apiURL, 200, htmlCT, `<title>Application Blocked</title>`)},
		{"token 200 success with a message member", exchange(flow.LabelToken, tokenURL, 200, jsonCT, `{"access_token":"x","message":"your IP is not in the allowlist, but fine"}`)},
		{"login page with words", exchange(flow.LabelAuthorize, "https://as.example/authorize", 200, htmlCT, `<html><title>Sign in</title><h1>Enter your password</h1><p>Your client secret, code and scope are safe. Blocked? Ask IT.</p></html>`)},
		{"unlabeled 500 HTML", exchange(flow.LabelNone, apiURL, 500, htmlCT, `<html><body>Internal Server Error</body></html>`)},
		{"unlabeled 200 with errcode", exchange(flow.LabelNone, apiURL, 200, jsonCT, `{"errcode":40001,"errmsg":"invalid credential"}`)},
		{"no response, unlabeled error", &flow.Exchange{Request: flow.Request{Method: "GET"}, Error: "dial tcp: connection refused"}},
		{"login page whose script looks like an error", exchange(flow.LabelAuthorize, "https://as.example/authorize", 200, htmlCT, `<html><script>var error = some_function(); if (error) {}</script><form>Sign in</form></html>`)},
		{"no response, no error", &flow.Exchange{OAuth: flow.OAuth{Label: flow.LabelToken}}},
		{"client aborted a token request", &flow.Exchange{OAuth: flow.OAuth{Label: flow.LabelToken}, Error: flow.ClientAbortedPrefix + "the client closed the connection before as.example:443 answered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := Diagnose(tt.x); d != nil {
				t.Errorf("got diagnosis %s/%s (%q), want nil", d.Category, d.Cause, d.Evidence)
			}
		})
	}
	if d := Diagnose(nil); d != nil {
		t.Errorf("Diagnose(nil) = %v, want nil", d)
	}
}

func finding(id, msg string) flow.Finding {
	return flow.Finding{ID: id, Severity: flow.SeverityError, Category: flow.CategoryGrant, Message: msg}
}

func TestFindings(t *testing.T) {
	bare := `{"error":"invalid_grant"}`
	tests := []struct {
		name      string
		body      string
		findings  []flow.Finding
		wantCause string
		wantCat   flow.Category
		wantEv    string
	}{
		{"bare invalid_grant alone", bare, nil, CauseInvalidGrant, flow.CategoryGrant, "error=invalid_grant"},
		{"code reused", bare, []flow.Finding{finding("code-reused", "code redacted:sha256:0123456789ab:len=43 was first used by exchange 1f2e3d4c at 10:00:01 (status 200)")},
			CauseCodeReused, flow.CategoryGrant, "first used by exchange 1f2e3d4c"},
		{"code reused beats Keycloak 'Code not valid'", `{"error":"invalid_grant","error_description":"Code not valid"}`,
			[]flow.Finding{finding("code-reused", "first use: exchange aa")}, CauseCodeReused, flow.CategoryGrant, "exchange aa"},
		{"redirect_uri mismatch", bare, []flow.Finding{finding("redirect-uri-mismatch", "redirect_uri https://app.example/cb/ differs from authorize https://app.example/cb")},
			CauseRedirectURIMismatch, flow.CategoryClientConfig, "differs from authorize"},
		{"pkce mismatch", bare, []flow.Finding{finding("pkce-mismatch", "S256(code_verifier) does not equal code_challenge")},
			CausePKCEMismatch, flow.CategoryClientConfig, "code_challenge"},
		{"stale code", bare, []flow.Finding{finding("code-stale", "code is 12m old")}, CauseCodeExpired, flow.CategoryGrant, "12m old"},
		{"refresh token reused", bare, []flow.Finding{finding("refresh-token-reused", "rotated earlier")}, CauseRefreshTokenReused, flow.CategoryGrant, "rotated earlier"},
		{"multiple client auth", `{"error":"invalid_client"}`, []flow.Finding{finding("client-auth-multiple", "Basic and client_secret")},
			CauseClientAuthMultiple, flow.CategoryRequest, "Basic and client_secret"},
		{"content type", `{"error":"invalid_request","error_description":"Missing grant_type"}`, []flow.Finding{finding("content-type", "body is JSON")},
			CauseContentTypeWrong, flow.CategoryRequest, "body is JSON"},
		{"unrelated finding is kept as context", `{"error":"invalid_client"}`, []flow.Finding{finding("code-reused", "first use: exchange bb")},
			CauseInvalidClient, flow.CategoryClientConfig, "see also request finding code-reused"},
		{"provider code outranks a weaker finding match", `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented","error_codes":[65001]}`,
			[]flow.Finding{finding("code-stale", "old")}, CauseConsentRequired, flow.CategoryPermission, "AADSTS65001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchange(flow.LabelToken, tokenURL, 400, jsonCT, tt.body)
			x.OAuth.Findings = tt.findings
			d := Diagnose(x)
			if d == nil {
				t.Fatalf("got nil, want %s", tt.wantCause)
			}
			if d.Cause != tt.wantCause || d.Category != tt.wantCat {
				t.Errorf("got %s/%s, want %s/%s (evidence %q)", d.Category, d.Cause, tt.wantCat, tt.wantCause, d.Evidence)
			}
			if !anyContains(d.Evidence, tt.wantEv) {
				t.Errorf("got evidence %q, want a line containing %q", d.Evidence, tt.wantEv)
			}
		})
	}
}

func anyContains(xs []string, sub string) bool {
	for _, s := range xs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name      string
		x         *flow.Exchange
		wantCause string
		wantCat   flow.Category
		wantConf  string // "" = any
		wantEv    string
	}{
		{"Cloudflare block page on token", exchange(flow.LabelToken, tokenURL, 403, "Server: cloudflare\nCF-RAY: 634f162b7a3bcadc-ARN\n"+htmlCT, `<title>Attention Required! | Cloudflare</title>`),
			CauseWAFCloudflare, flow.CategoryNetwork, High, "header Cf-Ray: 634f162b7a3bcadc-ARN"},
		{"Auth0 403 with OAuth JSON behind Cloudflare is Auth0's answer", exchange(flow.LabelToken, tokenURL, 403, "Server: cloudflare\nCF-RAY: 1\n"+jsonCT, `{"error":"unauthorized_client","error_description":"Grant type 'password' not allowed for the client."}`),
			CauseGrantTypeNotEnabled, flow.CategoryClientConfig, High, "error=unauthorized_client"},
		{"Imperva block page served with 200", exchange(flow.LabelToken, tokenURL, 200, htmlCT, `<html>Request unsuccessful. Incapsula incident ID: 123</html>`),
			CauseWAFImperva, flow.CategoryNetwork, High, "Incapsula"},
		{"Imperva cookie", exchange(flow.LabelToken, tokenURL, 403, htmlCT+"\nSet-Cookie: incap_ses_123_456=abcdef; path=/", `<html>denied</html>`),
			CauseWAFImperva, flow.CategoryNetwork, Medium, "cookie incap_ses_123_456 set"},
		{"F5 support ID in 200", exchange(flow.LabelToken, tokenURL, 200, htmlCT, `<html>The requested URL was rejected. Please consult with your administrator.<br>Your support ID is: 1234</html>`),
			CauseWAFF5, flow.CategoryNetwork, High, "The requested URL was rejected"},
		{"Akamai reference", exchange(flow.LabelToken, tokenURL, 403, "Server: AkamaiGHost\n"+htmlCT, `<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference #18.6c3e1402.1700000000.abc123</BODY></HTML>`),
			CauseWAFAkamai, flow.CategoryNetwork, High, "Reference #18"},
		{"Azure App Service 403 Ip Forbidden in the status line only", func() *flow.Exchange {
			x := exchange(flow.LabelToken, tokenURL, 403, "", ``)
			x.Response.Reason = "Ip Forbidden"
			return x
		}(), CauseIPNotAllowlisted, flow.CategoryNetwork, "", "status line: 403 Ip Forbidden"},
		{"Envoy RBAC", exchange(flow.LabelToken, tokenURL, 403, "Server: istio-envoy\nContent-Type: text/plain", `RBAC: access denied`),
			CauseGatewayPolicyDeny, flow.CategoryPermission, High, "RBAC: access denied"},
		{"Squid", exchange(flow.LabelToken, tokenURL, 403, "Server: squid/5.7\nX-Squid-Error: ERR_ACCESS_DENIED 0\n"+htmlCT, `<html>Access Denied</html>`),
			CauseCorporateProxy, flow.CategoryNetwork, High, "X-Squid-Error"},
		{"407 proxy auth", exchange(flow.LabelToken, tokenURL, 407, "Proxy-Authenticate: Basic", ``),
			CauseCorporateProxy, flow.CategoryNetwork, High, "status 407"},
		{"AWS WAF captcha 405", exchange(flow.LabelToken, tokenURL, 405, "x-amzn-waf-action: captcha", ``),
			CauseBotChallenge, flow.CategoryNetwork, High, "X-Amzn-Waf-Action: captcha"},
		{"ALB block with redirect_uri in request", func() *flow.Exchange {
			x := exchange(flow.LabelToken, tokenURL, 403, "Server: awselb/2.0\n"+htmlCT, `<html><head><title>403 Forbidden</title></head></html>`)
			x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			x.Request.Body.Data = []byte("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")
			return x
		}(), CauseWAFAWS, flow.CategoryNetwork, High, "request has parameter redirect_uri"},
		{"blank Cloudflare 403 with SNI differing from Host", func() *flow.Exchange {
			x := exchange(flow.LabelToken, tokenURL, 403, "Server: cloudflare", ``)
			x.Conn.ServerName = "other.example"
			return x
		}(), CauseCDNSNIMismatch, flow.CategoryNetwork, High, `TLS SNI "other.example" differs from Host "as.example"`},
		{"HTML 403 with no signature on token endpoint", exchange(flow.LabelToken, tokenURL, 403, htmlCT, `<html><body><h1>Forbidden</h1></body></html>`),
			CauseNotFromOAuthServer, flow.CategoryNetwork, Medium, "body is HTML"},
		{"JSON without error on token endpoint is not network evidence", exchange(flow.LabelToken, tokenURL, 403, jsonCT, `{"message":"Forbidden"}`),
			CauseRefusalUnexplained, flow.CategoryInfo, Low, `message`},
		{"404 on token endpoint", exchange(flow.LabelToken, tokenURL, 404, htmlCT+"\nServer: nginx", `<html><center>404 Not Found</center><hr><center>nginx</center></html>`),
			CauseEndpointNotFound, flow.CategoryClientConfig, Medium, "status 404"},
		{"text: IP allowlist", exchange(flow.LabelToken, tokenURL, 403, "Content-Type: text/plain", `Your IP address is not in the allowlist`),
			CauseIPNotAllowlisted, flow.CategoryNetwork, Low, "allowlist"},
		{"unknown OAuth error at 403", exchange(flow.LabelToken, tokenURL, 403, jsonCT, `{"error":"weird_thing","error_description":"something"}`),
			CauseUnrecognizedError, flow.CategoryPermission, Low, "error=weird_thing"},
		{"unknown error with IP text", exchange(flow.LabelToken, tokenURL, 400, jsonCT, `{"error":"forbidden_source","error_description":"request ip 1.2.3.4 not in whitelist"}`),
			CauseIPNotAllowlisted, flow.CategoryNetwork, Low, "error=forbidden_source"},
		{"503 HTML", exchange(flow.LabelToken, tokenURL, 503, htmlCT+"\nRetry-After: 120", `<html>Service Unavailable</html>`),
			CauseServerUnavailable, flow.CategoryServer, High, "header Retry-After: 120"},
		{"502 from Cloudflare", exchange(flow.LabelToken, tokenURL, 502, "Server: cloudflare\n"+htmlCT, `<html>Bad gateway</html>`),
			CauseServerUnavailable, flow.CategoryServer, High, "header Server: cloudflare"},
		{"500 with invalid_grant is still the server", exchange(flow.LabelToken, tokenURL, 500, jsonCT, `{"error":"invalid_grant"}`),
			CauseServerError, flow.CategoryServer, High, "error=invalid_grant"},
		{"server_error JSON", exchange(flow.LabelToken, tokenURL, 500, jsonCT, `{"error":"server_error"}`),
			CauseServerError, flow.CategoryServer, High, "error=server_error"},
		{"429", exchange(flow.LabelToken, tokenURL, 429, jsonCT, `{"message":"slow"}`),
			CauseRateLimited, flow.CategoryServer, High, "status 429"},
		{"authorize error in Location fragment", exchange(flow.LabelAuthorize, "https://as.example/authorize", 302, "Location: https://app.example/cb#error=consent_required&state=x", ``),
			CauseConsentRequired, flow.CategoryPermission, High, "error=consent_required (from Location)"},
		{"callback URL carries the error", func() *flow.Exchange {
			x := exchange(flow.LabelCallback, "https://app.example/cb?error=access_denied&error_description=The+user+denied&state=x", 200, htmlCT, `<html>Login failed</html>`)
			x.Request.Method = http.MethodGet
			return x
		}(), CauseAccessDenied, flow.CategoryPermission, Medium, "error=access_denied (from callback URL)"},
		{"form_post error page", exchange(flow.LabelAuthorize, "https://as.example/authorize", 200, htmlCT, `<form method="post" action="https://app.example/cb"><input type="hidden" name="error" value="login_required"/></form>`),
			CauseInteractionRequired, flow.CategoryGrant, High, "form_post"},
		{"resource 403 insufficient_scope unlabeled", exchange(flow.LabelNone, apiURL, 403, `WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="orders:read"`, ``),
			CauseInsufficientScope, flow.CategoryPermission, High, "error=insufficient_scope (from WWW-Authenticate)"},
		{"DPoP nonce at resource", exchange(flow.LabelNone, apiURL, 401, `WWW-Authenticate: DPoP error="use_dpop_nonce", error_description="nonce"`+"\nDPoP-Nonce: n-1", ``),
			CauseDPoPNonceRequired, flow.CategoryInfo, High, "header Dpop-Nonce: present"},
		{"userinfo 401 Bearer challenge without error", exchange(flow.LabelUserinfo, "https://as.example/userinfo", 401, `WWW-Authenticate: Bearer realm="as"`, ``),
			CauseTokenMissing, flow.CategoryRequest, Medium, `header Www-Authenticate: Bearer realm="as"`},
		{"Slack ok:false", exchange(flow.LabelToken, "https://slack.com/api/oauth.v2.access", 200, jsonCT, `{"ok":false,"error":"invalid_code"}`),
			CauseCodeInvalid, flow.CategoryGrant, High, "error=invalid_code"},
		{"GitHub form-encoded error in 200", exchange(flow.LabelToken, "https://github.com/login/oauth/access_token", 200, "Content-Type: application/x-www-form-urlencoded; charset=utf-8", `error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com`),
			CauseCodeInvalid, flow.CategoryGrant, High, "error_uri: https://docs.github.com"},
		{"WeChat IP 40164", exchange(flow.LabelToken, tokenURL, 200, "Content-Type: text/plain", `{"errcode":40164,"errmsg":"invalid ip 1.2.3.4, not in whitelist"}`),
			CauseIPNotAllowlisted, flow.CategoryNetwork, High, "errcode=40164"},
		{"Entra conditional access", exchange(flow.LabelToken, tokenURL, 400, jsonCT, `{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies.","error_codes":[53003]}`),
			CauseConditionalAccess, flow.CategoryPermission, High, "AADSTS53003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.x)
			checkNetworkEvidence(t, d)
			if d == nil {
				t.Fatalf("got nil, want %s", tt.wantCause)
			}
			if d.Cause != tt.wantCause || d.Category != tt.wantCat {
				t.Errorf("got %s/%s, want %s/%s (evidence %q)", d.Category, d.Cause, tt.wantCat, tt.wantCause, d.Evidence)
			}
			if tt.wantConf != "" && d.Confidence != tt.wantConf {
				t.Errorf("got confidence %s, want %s", d.Confidence, tt.wantConf)
			}
			if !anyContains(d.Evidence, tt.wantEv) {
				t.Errorf("got evidence %q, want a line containing %q", d.Evidence, tt.wantEv)
			}
			if d.Cause == CauseTokenMissing && anyContains(d.Evidence, "did not produce") {
				t.Errorf("got evidence %q: a Bearer challenge comes from the resource server itself", d.Evidence)
			}
			if len(d.Fix) == 0 || d.Summary == "" || d.Source == "" {
				t.Errorf("got fix %q, summary %q, source %q; want all set", d.Fix, d.Summary, d.Source)
			}
		})
	}
}

// TestUpstreamErrors: an exchange that got no answer is diagnosed by its
// error, and the evidence says whose error it is: the proxy's upstream
// error, or what the browser reported in its capture (never "upstream
// error", since no proxy was involved).
func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		err  string
		want string
		ev   string // the evidence line quoting the error
	}{
		{`Post "https://as.example/token?client_secret=hunter22": tls: failed to verify certificate: x509: certificate signed by unknown authority`, CauseUpstreamTLS,
			`upstream error: Post "https://as.example/token?client_secret=redacted`},
		{`dial tcp: lookup as.example on 127.0.0.53:53: no such host`, CauseUpstreamDNS,
			`upstream error: dial tcp: lookup as.example on 127.0.0.53:53: no such host`},
		{`dial tcp 10.0.0.1:443: connect: connection refused`, CauseUpstreamUnreachable,
			`upstream error: dial tcp 10.0.0.1:443: connect: connection refused`},
		{`proxyconnect tcp: dial tcp 10.1.1.1:3128: i/o timeout`, CauseCorporateProxy,
			`upstream error: proxyconnect tcp: dial tcp 10.1.1.1:3128: i/o timeout`},
		{`oauthproxy: upstream as.example:443: dial tcp 10.0.0.1:443: connect: connection refused`, CauseUpstreamUnreachable,
			`upstream error: oauthproxy: upstream as.example:443: dial tcp 10.0.0.1:443: connect: connection refused`},
		// What capture reads from a DevTools HAR's "_error".
		{flow.BrowserReportedPrefix + `net::ERR_BLOCKED_BY_CLIENT (no answer)`, CauseBrowserBlocked,
			`the browser reported net::ERR_BLOCKED_BY_CLIENT (no answer)`},
		{flow.BrowserReportedPrefix + `net::ERR_BLOCKED_BY_ADMINISTRATOR (no answer)`, CauseBrowserBlocked,
			`the browser reported net::ERR_BLOCKED_BY_ADMINISTRATOR (no answer)`},
		{flow.BrowserReportedPrefix + `net::ERR_NAME_NOT_RESOLVED (no answer)`, CauseUpstreamDNS,
			`the browser reported net::ERR_NAME_NOT_RESOLVED (no answer)`},
		{flow.BrowserReportedPrefix + `net::ERR_CERT_AUTHORITY_INVALID (no answer)`, CauseUpstreamTLS,
			`the browser reported net::ERR_CERT_AUTHORITY_INVALID (no answer)`},
		{flow.BrowserReportedPrefix + `net::ERR_SSL_PROTOCOL_ERROR (no answer)`, CauseUpstreamTLS,
			`the browser reported net::ERR_SSL_PROTOCOL_ERROR (no answer)`},
		{flow.BrowserReportedPrefix + `net::ERR_CONNECTION_REFUSED (no answer)`, CauseUpstreamUnreachable,
			`the browser reported net::ERR_CONNECTION_REFUSED (no answer)`},
	}
	for _, tt := range tests {
		t.Run(tt.ev, func(t *testing.T) {
			x := &flow.Exchange{Error: tt.err, OAuth: flow.OAuth{Label: flow.LabelToken}}
			d := Diagnose(x)
			if d == nil || d.Cause != tt.want || d.Category != flow.CategoryNetwork {
				t.Fatalf("got %+v, want %s/network", d, tt.want)
			}
			if anyContains(d.Evidence, "hunter22") {
				t.Errorf("evidence %q leaks the secret in the URL", d.Evidence)
			}
			if !slices.ContainsFunc(d.Evidence, func(e string) bool { return strings.HasPrefix(e, tt.ev) }) {
				t.Errorf("got evidence %q, want a line starting %q", d.Evidence, tt.ev)
			}
			if strings.HasPrefix(tt.err, flow.BrowserReportedPrefix) && anyContains(d.Evidence, "upstream error") {
				t.Errorf("got evidence %q: the browser's own report is no upstream error", d.Evidence)
			}
		})
	}
}

func TestEvidenceHasNoSecrets(t *testing.T) {
	const secret = "s3cr3t-Value+/=xyz"
	const refresh = "1//0gRefreshTokenValue123456"
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
	x := exchange(flow.LabelToken, tokenURL, 400, jsonCT,
		`{"error":"invalid_grant","error_description":"refresh_token=`+refresh+` is unknown; client_secret `+secret+` ; assertion `+jwt+`"}`)
	x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	x.Request.Header.Set("Authorization", "Basic "+"YXBwOnMzY3IzdC1WYWx1ZSsvPXh5eg==")
	x.Request.Body.Data = []byte("grant_type=refresh_token&refresh_token=" + url.QueryEscape(refresh) + "&client_secret=" + url.QueryEscape(secret))
	d := Diagnose(x)
	if d == nil {
		t.Fatal("got nil diagnosis")
	}
	for _, s := range []string{secret, refresh, jwt, "YXBwOnMzY3IzdC1WYWx1ZSsvPXh5eg=="} {
		if anyContains(d.Evidence, s) || strings.Contains(d.Summary, s) {
			t.Errorf("evidence %q leaks %q", d.Evidence, s)
		}
	}
	if !anyContains(d.Evidence, redact.Fingerprint(refresh)) {
		t.Errorf("got evidence %q, want the refresh token's fingerprint", d.Evidence)
	}
	if d.Cause != CauseRefreshTokenInvalid {
		t.Errorf("got cause %s, want %s", d.Cause, CauseRefreshTokenInvalid)
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func br(b []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestExplain(t *testing.T) {
	invalidGrant := []byte(`{"error":"invalid_grant","error_description":"Code not valid"}`)
	tests := []struct {
		name      string
		label     flow.Label
		status    int
		header    http.Header
		body      []byte
		wantCause string
		wantConf  string
	}{
		{"plain, label defaults to token", "", 400, http.Header{"Content-Type": {"application/json"}}, invalidGrant, CauseCodeInvalid, High},
		{"gzip", "", 400, http.Header{"Content-Encoding": {"gzip"}}, gz(invalidGrant), CauseCodeInvalid, High},
		{"br", flow.LabelToken, 400, http.Header{"Content-Encoding": {"br"}}, br(invalidGrant), CauseCodeInvalid, High},
		{"claims gzip but is not", "", 403, http.Header{"Content-Encoding": {"gzip"}}, []byte{0x00, 0xff, 0x13, 0x37, 0x80, 0x81}, CauseRefusalUnexplained, Low},
		{"authorize page", flow.LabelAuthorize, 400, http.Header{"Content-Type": {"text/html"}}, []byte("Error 400: redirect_uri_mismatch"), CauseRedirectURIMismatch, Medium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Explain(tt.label, tt.status, tt.header, tt.body)
			if d == nil || d.Cause != tt.wantCause || d.Confidence != tt.wantConf {
				t.Fatalf("got %+v, want cause %s confidence %s", d, tt.wantCause, tt.wantConf)
			}
		})
	}
	if d := Explain("", 200, nil, []byte(`{"access_token":"x"}`)); d != nil {
		t.Errorf("Explain(success) = %+v, want nil", d)
	}
}

func TestCapturedButUndecodedBody(t *testing.T) {
	body := []byte(`{"error":"invalid_client","error_description":"The client secret is invalid."}`)
	x := exchange(flow.LabelToken, tokenURL, 401, "Content-Encoding: gzip\n"+jsonCT, "")
	x.Response.Body = flow.Body{Data: gz(body), Encoding: "gzip", DecodeError: "capture: decoder unavailable"}
	d := Diagnose(x)
	if d == nil || d.Cause != CauseInvalidClientSecret || d.Confidence != High {
		t.Fatalf("got %+v, want invalid-client-secret with high confidence after decoding", d)
	}
}

func TestMalformedBodies(t *testing.T) {
	huge := bytes.Repeat([]byte("A"), 10<<20)
	hugeJSON := append([]byte(`{"error":"invalid_grant","pad":"`), huge...)
	tests := []struct {
		name string
		body flow.Body
	}{
		{"truncated JSON", flow.Body{Data: []byte(`{"error":"invalid_grant","error_descr`), Truncated: true}},
		{"malformed JSON", flow.Body{Data: []byte(`{"error": invalid_grant}`)}},
		{"10 MiB of text", flow.Body{Data: huge, Size: int64(len(huge))}},
		{"10 MiB JSON", flow.Body{Data: hugeJSON, Size: int64(len(hugeJSON)), Truncated: true}},
		{"binary", flow.Body{Data: []byte{0x00, 0x01, 0xfe, 0xff, 0x10, 0x80}}},
		{"wrongly encoded", flow.Body{Data: []byte("\x1f\x8b\x08\x00garbage"), Encoding: "gzip", DecodeError: "gzip: invalid header"}},
		{"claims br, is random", flow.Body{Data: []byte{0xce, 0xb2, 0xcf, 0x80, 0xff, 0xfe, 0x00}, Encoding: "br", DecodeError: "brotli: corrupt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchange(flow.LabelToken, tokenURL, 400, jsonCT, "")
			x.Response.Body = tt.body
			d := Diagnose(x)
			if d == nil {
				t.Fatal("got nil, want a low-confidence diagnosis")
			}
			if d.Confidence != Low {
				t.Errorf("got confidence %s (%s, %q), want low", d.Confidence, d.Cause, d.Evidence)
			}
		})
	}
}

func TestCompileRulesRejectsBadRules(t *testing.T) {
	tests := []struct {
		name string
		r    Rule
	}{
		{"bad regexp", Rule{ID: "x", Errors: []string{"e"}, Desc: "(", Cause: CauseInvalidGrant, Source: "s"}},
		{"undocumented cause", Rule{ID: "x", Errors: []string{"e"}, Cause: "no-such-cause", Source: "s"}},
		{"no source", Rule{ID: "x", Errors: []string{"e"}, Cause: CauseInvalidGrant}},
		{"OAuth rule without OAuth condition", Rule{ID: "x", Body: "x", Cause: CauseInvalidGrant, Source: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := compileRules([]Rule{tt.r}); err == nil {
				t.Errorf("got no error, want one")
			}
		})
	}
	if _, err := compileRules([]Rule{{ID: "a", Errors: []string{"e"}, Cause: CauseInvalidGrant, Source: "s"}, {ID: "a", Errors: []string{"e"}, Cause: CauseInvalidGrant, Source: "s"}}); err == nil {
		t.Error("duplicate ids: got no error, want one")
	}
	if _, err := compileRules(rules); err != nil {
		t.Errorf("the rule table does not compile: %v", err)
	}
}

func TestParseChallenges(t *testing.T) {
	got := parseChallenges(`Newauth realm="apps", type=1, title="Login to \"apps\"", Bearer realm="example", error="invalid_token", error_description="The access token expired"`)
	if len(got) != 2 || got[1].scheme != "Bearer" || got[1].params["error"] != "invalid_token" || got[0].params["title"] != `Login to "apps"` {
		t.Errorf("got %+v, want Newauth and Bearer challenges with params", got)
	}
	fb := parseChallenges(`OAuth "Facebook Platform" "invalid_code" "Error validating verification code."`)
	if len(fb) != 1 || len(fb[0].bare) != 3 || fb[0].bare[1] != "invalid_code" {
		t.Errorf("got %+v, want Facebook's three quoted strings", fb)
	}
}

// TestScrubPrefixSecrets: a secret that is a prefix of another (a short
// client_secret and a code starting with it) leaves no tail of the longer
// one in evidence, whatever the order the parameters are read in.
func TestScrubPrefixSecrets(t *testing.T) {
	u, _ := url.Parse("https://idp.example/token")
	x := &flow.Exchange{Request: flow.Request{Method: "POST", URL: u,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   flow.Body{Data: []byte("grant_type=authorization_code&client_secret=abcd&code=abcdSECRETCODETAIL")}}}
	for i := 0; i < 20; i++ {
		got := scrubAll(x, []string{"server said: code abcdSECRETCODETAIL is invalid"})
		if strings.Contains(got[0], "SECRETCODETAIL") {
			t.Fatalf("evidence keeps the tail of the code: %q", got[0])
		}
	}
}

// TestSecretPairPrefilter: the cheap test before secretPairRE never skips
// a line the regexp would change.
func TestSecretPairPrefilter(t *testing.T) {
	lines := []string{`refresh_token=abcdefgh`, `"client_secret" : "abcdefgh"`, "code \t=\n  abcdefgh", `Password:abcdefgh`, `x code_verifier='abcdefghij'`,
		`the code was invalid`, `AADSTS70008: The provided authorization code or refresh token has expired`, `id_token: eyJabc.def.ghi`}
	for _, l := range lines {
		if secretPairRE.MatchString(l) && !mayHoldSecretPair(l) {
			t.Errorf("prefilter skips %q, which secretPairRE matches", l)
		}
	}
	if mayHoldSecretPair(lines[6]) {
		t.Errorf("prefilter accepts %q: no name is followed by : or =", lines[6])
	}
}
