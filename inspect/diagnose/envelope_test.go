package diagnose

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestEnvelopes: errors read wherever they are, from providers and
// gateways no rule was written for (shapes quoted from public docs and
// SDK sources), decided by the envelope readers and the wording classifier.
func TestEnvelopes(t *testing.T) {
	formCT := "Content-Type: application/x-www-form-urlencoded"
	xmlCT := "Content-Type: application/xml"
	tests := []struct {
		name      string
		x         *flow.Exchange
		wantCat   flow.Category
		wantCause string // "" = any
		wantEv    string
	}{
		{"API 403 missing User-Agent (text)", exchange(flow.LabelNone, apiURL, 403, "Content-Type: text/plain",
			"Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://www.githubstatus.com for any possible outages or for more information."),
			flow.CategoryRequest, CauseInvalidRequest, `wording "User-Agent"`},
		{"API 403 organisation has not approved the app (message envelope)", exchange(flow.LabelNone, apiURL, 403, jsonCT,
			`{"message":"Although you appear to have the correct authorization credentials, the `+"`octo-org`"+` organization has enabled OAuth App access restrictions, meaning that data access to third-parties is limited.","documentation_url":"https://docs.github.com/articles/restricting-access-to-your-organization-s-data/"}`),
			flow.CategoryPermission, "", `wording "restrictions"`},
		{"API 403 client not enrolled (problem+json)", exchange(flow.LabelNone, apiURL, 403, "Content-Type: application/problem+json",
			`{"client_id":"123","detail":"When authenticating requests to the API v2 endpoints, you must use keys and tokens from a developer App that is attached to a Project.","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.example/2/problems/client-forbidden"}`),
			flow.CategoryPermission, CauseAppUnavailable, `client not enrolled`},
		{"API 403 missing permission (error.code envelope)", exchange(flow.LabelNone, apiURL, 403, jsonCT,
			`{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2024-01-01T00:00:00","request-id":"r-1"}}}`),
			flow.CategoryPermission, "", `Insufficient privileges`},
		{"API 403 authorization failure in XML", exchange(flow.LabelNone, apiURL, 403, xmlCT,
			`<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation.
RequestId:0000
Time:2024-01-01T00:00:00.0000000Z</Message></Error>`),
			flow.CategoryPermission, CausePermissionDenied, `not authorized`},
		{"token 400 AWS __type envelope: invalid refresh token", exchange(flow.LabelToken, tokenURL, 400, "Content-Type: application/x-amz-json-1.1",
			`{"__type":"NotAuthorizedException","message":"Invalid Refresh Token"}`),
			flow.CategoryGrant, CauseRefreshTokenInvalid, `Refresh Token`},
		{"token 401 API-management subscription key", exchange(flow.LabelToken, tokenURL, 401, jsonCT,
			`{ "statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API." }`),
			flow.CategoryClientConfig, CauseAPIKeyInvalid, `subscription key`},
		{"form-encoded oauth_problem", exchange(flow.LabelNone, apiURL, 401, formCT,
			`oauth_problem=token_expired&oauth_problem_advice=The%20access%20token%20has%20expired`),
			flow.CategoryGrant, "", `oauth_problem=token_expired`},
		{"form-encoded error without RFC code", exchange(flow.LabelToken, tokenURL, 400, formCT,
			`errcode=1001&errmsg=invalid+client+secret`),
			flow.CategoryClientConfig, CauseInvalidClientSecret, `secret`},
		{"X-Error header on an empty 403", exchange(flow.LabelNone, apiURL, 403, "X-Error: Your IP address 203.0.113.9 is not allowed", ``),
			flow.CategoryNetwork, CauseIPNotAllowlisted, `header X-Error`},
		{"x-amzn-ErrorType header", exchange(flow.LabelNone, apiURL, 403, "x-amzn-ErrorType: AccessDeniedException\n"+jsonCT, `{}`),
			flow.CategoryPermission, "", `AccessDenied`},
		{"application-control page served with 200 at the token endpoint", exchange(flow.LabelToken, tokenURL, 200, htmlCT,
			`<html><head><title>Application Blocked</title></head><body><h1>Application Blocked!</h1><p>You have attempted to use an application which is in violation of your internet usage policy.</p><p>Category: Storage.Backup</p></body></html>`),
			flow.CategoryNetwork, CauseNetworkBlock, `Application Blocked`},
		{"URL-filtering page served with 503", exchange(flow.LabelToken, tokenURL, 503, htmlCT,
			`<html><head><title>Web Page Blocked</title></head><body><h1>Web Page Blocked</h1><p>Access to the web page you were trying to visit has been blocked in accordance with company policy. Please contact your system administrator if you believe this is in error.</p><p>Category: unknown</p></body></html>`),
			flow.CategoryNetwork, CauseNetworkBlock, `Blocked`},
		{"an ordinary 503 stays a server outage", exchange(flow.LabelToken, tokenURL, 503, htmlCT, `<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>`),
			flow.CategoryServer, CauseServerUnavailable, `status 503`},
		{"prose: invalid client secret with an unknown code", exchange(flow.LabelToken, tokenURL, 401, jsonCT, `{"error":"authentication_failed","error_description":"Invalid client secret"}`),
			flow.CategoryClientConfig, CauseInvalidClientSecret, `error=authentication_failed`},
		{"prose: the authorization code was invalid", exchange(flow.LabelToken, tokenURL, 400, jsonCT, `{"code":400,"message":"The authorization code was invalid"}`),
			flow.CategoryGrant, CauseCodeInvalid, `authorization code`},
		{"prose: IP address is not allowed", exchange(flow.LabelToken, tokenURL, 403, jsonCT, `{"status":403,"message":"IP address is not allowed"}`),
			flow.CategoryNetwork, CauseIPNotAllowlisted, `network evidence: wording "IP"`},
		{"JSONP with a provider message", exchange(flow.LabelAuthorize, "https://as.example/authorize", 200, "Content-Type: application/javascript", `cb({"ret":-1,"msg":"redirect uri is illegal"});`),
			flow.CategoryClientConfig, CauseRedirectURIMismatch, `redirect`},
		{"SOAP fault", exchange(flow.LabelToken, tokenURL, 401, "Content-Type: text/xml", `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Invalid client credentials</faultstring></soap:Fault></soap:Body></soap:Envelope>`),
			flow.CategoryClientConfig, CauseInvalidClient, `faultstring`[:0] + `Invalid client credentials`},
		{"'error code' is not about an authorization code", exchange(flow.LabelNone, apiURL, 403, "Content-Type: text/plain", "Access denied. Error code: 1020"),
			flow.CategoryPermission, CausePermissionDenied, `Access denied`},
		{"Chinese: signature error", exchange(flow.LabelToken, tokenURL, 200, jsonCT, `{"errcode":99999,"errmsg":"签名错误"}`),
			flow.CategoryClientConfig, CauseSignatureInvalid, `签名`},
		{"Chinese: code expired", exchange(flow.LabelToken, tokenURL, 400, jsonCT, `{"code":1,"msg":"授权码已过期"}`),
			flow.CategoryGrant, CauseCodeExpired, `授权码`},
		{"Chinese: no permission", exchange(flow.LabelNone, apiURL, 403, jsonCT, `{"code":403,"msg":"没有权限"}`),
			flow.CategoryPermission, CausePermissionDenied, `权限`},
		{"407 from a proxy, unlabeled", exchange(flow.LabelNone, apiURL, 407, `Proxy-Authenticate: Negotiate`+"\nProxy-Authenticate: Basic realm=\"corp\"", ``),
			flow.CategoryNetwork, CauseCorporateProxy, `network evidence: status 407`},
		{"WAF header on a 202 challenge", exchange(flow.LabelToken, tokenURL, 202, "X-Waf-Event: challenge", ``),
			flow.CategoryNetwork, CauseNetworkBlock, `header X-Waf-Event: challenge`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.x)
			if d == nil {
				t.Fatalf("got no diagnosis, want %s", tt.wantCat)
			}
			if d.Category != tt.wantCat || (tt.wantCause != "" && d.Cause != tt.wantCause) {
				t.Errorf("got %s/%s (%q), want %s/%s", d.Category, d.Cause, d.Evidence, tt.wantCat, tt.wantCause)
			}
			if !anyContains(d.Evidence, tt.wantEv) {
				t.Errorf("got evidence %q, want a line containing %q", d.Evidence, tt.wantEv)
			}
			checkNetworkEvidence(t, d)
		})
	}
}

// checkNetworkEvidence: a network diagnosis names its network evidence.
func checkNetworkEvidence(t *testing.T, d *flow.Diagnosis) {
	t.Helper()
	if d != nil && d.Category == flow.CategoryNetwork && !anyContains(d.Evidence, "network evidence: ") {
		t.Errorf("network diagnosis %s without a network evidence line: %q", d.Cause, d.Evidence)
	}
}

// TestRefusalSaysWhatIsKnown: a 403 nothing explains gets an info
// diagnosis with who answered, the credentials sent and the JWT's claims.
func TestRefusalSaysWhatIsKnown(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	jwt := b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(`{"iss":"https://as.example","sub":"alice-secret-subject","aud":"api://orders","scope":"orders.read","exp":1700000000}`)) + ".c2ln"
	x := exchange(flow.LabelNone, apiURL, 403, "Server: api-gw/7\n"+jsonCT, `{"ok":true}`[:0]+`{}`)
	x.Start = time.Unix(1700000300, 0)
	x.Request.Header.Set("Authorization", "Bearer "+jwt)
	x.Request.Header.Set("Cookie", "session=s3cr3t-cookie; theme=dark")
	d := Diagnose(x)
	if d == nil || d.Cause != CauseRefusalUnexplained || d.Category != flow.CategoryInfo {
		t.Fatalf("got %+v, want info/refusal-unexplained", d)
	}
	for _, want := range []string{"answered by: Server: api-gw/7", "Authorization Bearer with a JWT access token", "aud=api://orders", "scope=orders.read", "expired 5m0s before the request", "cookies session, theme"} {
		if !anyContains(d.Evidence, want) {
			t.Errorf("got evidence %q, want a line containing %q", d.Evidence, want)
		}
	}
	for _, leak := range []string{jwt, "alice-secret-subject", "s3cr3t-cookie"} {
		if anyContains(d.Evidence, leak) || strings.Contains(d.Summary, leak) {
			t.Errorf("evidence %q leaks %q", d.Evidence, leak)
		}
	}
	x = exchange(flow.LabelNone, apiURL, 401, "", ``)
	if d := Diagnose(x); d == nil || !anyContains(d.Evidence, "request credentials: none") {
		t.Errorf("got %+v, want the absence of credentials said", d)
	}
}

// TestNoNetworkWithoutEvidence: a JSON error that is not an RFC error,
// with no gateway signal and no network words, is never network, whatever
// the status and endpoint; and the JSON bodies of the knowledge base without
// their headers are not network either unless their own words say so.
func TestNoNetworkWithoutEvidence(t *testing.T) {
	bodies := []string{`{"message":"Forbidden"}`, `{"message":"Something went wrong"}`, `{"status":"error"}`, `{}`, `[]`,
		`{"message":"You cannot consume this service"}`, `{"errors":[{"title":"Not allowed"}]}`, `{"code":42,"msg":"fail"}`,
		`{"error":{"message":"Request had invalid authentication credentials."}}`, `{"detail":"Not found."}`}
	for _, c := range loadCases(t) {
		if strings.HasPrefix(strings.TrimSpace(c.Body), "{") && !strings.Contains(c.Body, `"error"`) {
			bodies = append(bodies, c.Body)
		}
	}
	for _, body := range bodies {
		for _, status := range []int{200, 400, 401, 403, 404, 429} {
			for _, label := range []flow.Label{flow.LabelToken, flow.LabelNone, flow.LabelUserinfo} {
				d := Diagnose(exchange(label, tokenURL, status, jsonCT, body))
				if d != nil && d.Category == flow.CategoryNetwork && !anyContains(d.Evidence, "network evidence: wording") &&
					!anyContains(d.Evidence, "network evidence: errcode=") {
					t.Errorf("%s %d %s: got network (%s, %q) without a gateway signal", label, status, body, d.Cause, d.Evidence)
				}
			}
		}
	}
}

func TestIsStatusText(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"Forbidden", true}, {"403 Forbidden", true}, {"Error 401 - Unauthorized", true}, {"HTTP 403: Access Denied.", true},
		{"error", true}, {"Forbidden: IP not allowed", false}, {"rate limited", false}, {"403", false},
	}
	for _, tt := range tests {
		if got := isStatusText(tt.s); got != tt.want {
			t.Errorf("isStatusText(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestErrorLabelled(t *testing.T) {
	for _, s := range []string{"error: invalid_grant", "error 400: redirect_uri_mismatch", "error=access_denied", "error  \n 403 = x", "x error:"} {
		if pageErrRE.MatchString(s+"_y") && !errorLabelled(strings.ToLower(s)) {
			t.Errorf("errorLabelled(%q) = false, but pageErrRE matches", s)
		}
	}
	if errorLabelled("var error = 1;"[:9]) || errorLabelled("<div class=error-box>") {
		t.Error("errorLabelled accepts text without a colon or equals sign after error")
	}
}
