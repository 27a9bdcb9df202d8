package diagnose

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Canary secrets carried by the request; none may appear in a diagnosis.
const (
	canarySecret   = "CANARY-Secret-6a1f09"
	canaryCode     = "CANARY-Code-77c2e1"
	canaryRefresh  = "CANARY-Refresh-93d0aa"
	canaryVerifier = "CANARY-Verifier-1b2c3d4e5f"
	canaryPassword = "CANARY-Passw0rd-x"
	canaryBearer   = "CANARY-Bearer-0f9e8d"
	canaryCookie   = "CANARY-Cookie-5a5a5a"
	canaryAPIKey   = "CANARY-ApiKey-c0ffee"
)

var canaries = []string{canarySecret, canaryCode, canaryRefresh, canaryVerifier, canaryPassword, canaryBearer, canaryCookie, canaryAPIKey}

// canaryRequest is a token request carrying every kind of secret.
func canaryRequest(x *flow.Exchange) {
	x.Request.URL, _ = url.Parse(tokenURL + "?access_token=" + canaryBearer)
	x.Request.Header = http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+canarySecret))},
		"Cookie":        {"sid=" + canaryCookie},
		"X-Api-Key":     {canaryAPIKey},
	}
	x.Request.Body.Data = []byte(url.Values{"grant_type": {"authorization_code"}, "code": {canaryCode}, "client_secret": {canarySecret},
		"refresh_token": {canaryRefresh}, "code_verifier": {canaryVerifier}, "password": {canaryPassword}}.Encode())
}

// TestCanaryEvidence: whatever envelope a server echoes the request's
// secrets in, and whichever part of the diagnosis quotes the server's
// words (rules, the wording classifier, the refusal fallback), no secret
// shows: summary, evidence, fixes and source are all checked.
func TestCanaryEvidence(t *testing.T) {
	all := strings.Join(canaries, " ")
	long := strings.Repeat("padding words ", 20) // pushes a secret across the cut of a long text
	tests := []struct {
		name, hdr, body string
		status          int
		label           flow.Label
	}{
		{"RFC description", jsonCT, `{"error":"invalid_grant","error_description":"code ` + canaryCode + ` and verifier ` + canaryVerifier + ` rejected"}`, 400, flow.LabelToken},
		{"message envelope", jsonCT, `{"message":"invalid client secret ` + canarySecret + `; refresh token ` + canaryRefresh + `"}`, 401, flow.LabelToken},
		{"unknown words, refusal", jsonCT, `{"message":"nope ` + all + `"}`, 403, flow.LabelNone},
		{"XML fault", "Content-Type: text/xml", `<soap:Envelope><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Invalid client credentials ` + all + `</faultstring></soap:Fault></soap:Body></soap:Envelope>`, 401, flow.LabelToken},
		{"HTML title and heading", htmlCT, `<html><head><title>Blocked ` + canaryCookie + `</title></head><body><h1>Access denied for ` + canaryAPIKey + `</h1><p>` + all + `</p></body></html>`, 403, flow.LabelNone},
		// The reader keeps 300 bytes of a page title: the secret starts at 294, then 296.
		{"page title cut across a secret", htmlCT, "<title>permission missing " + strings.Repeat("y", 274) + " " + canaryPassword + " " + long + "</title>", 403, flow.LabelNone},
		{"page title cut across a secret, 4 bytes left", htmlCT, "<title>permission missing " + strings.Repeat("y", 276) + " " + canaryPassword + " " + long + "</title>", 403, flow.LabelNone},
		{"long description cut across a secret", jsonCT, `{"message":"` + long + long + long + `not authorized, secret=x ` + canarySecret + `"}`, 403, flow.LabelNone},
		{"error header", "X-Error: IP address not allowed for key " + canaryAPIKey, ``, 403, flow.LabelNone},
		{"form oauth_problem advice", "Content-Type: application/x-www-form-urlencoded", `oauth_problem=token_rejected&oauth_problem_advice=` + url.QueryEscape("token "+canaryBearer+" rejected"), 401, flow.LabelNone},
		{"JSONP message", "Content-Type: application/javascript", `cb({"msg":"redirect uri illegal for code ` + canaryCode + `"});`, 200, flow.LabelAuthorize},
		{"Chinese message", jsonCT, `{"errcode":99999,"errmsg":"签名错误 ` + canarySecret + `"}`, 200, flow.LabelToken},
		{"challenge description", `WWW-Authenticate: Bearer error="invalid_token", error_description="token ` + canaryBearer + ` expired"`, ``, 401, flow.LabelNone},
		{"block page served with 503", htmlCT, `<html><title>Web Page Blocked</title><h1>Blocked: ` + canaryCode + `</h1></html>`, 503, flow.LabelToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchange(tt.label, tokenURL, tt.status, tt.hdr, tt.body)
			canaryRequest(x)
			d := Diagnose(x)
			if d == nil {
				t.Fatal("got no diagnosis")
			}
			if tt.name == "unknown words, refusal" && d.Cause != CauseRefusalUnexplained {
				// "Code" in CANARY-Code-… is a secret's, not the server's word.
				t.Errorf("got %s (%q): the words of a secret decided", d.Cause, d.Evidence)
			}
			texts := append(append([]string{d.Summary, d.Source, string(d.Cause)}, d.Evidence...), d.Fix...)
			for _, s := range texts {
				for _, c := range canaries {
					// A secret cut short still must not show its start
					// (every canary starts with CANARY).
					if strings.Contains(s, c) || strings.Contains(s, "CANA") {
						t.Errorf("diagnosis %s leaks %q in %q", d.Cause, c, s)
					}
				}
			}
		})
	}
}
