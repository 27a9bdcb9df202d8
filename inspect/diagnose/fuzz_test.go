package diagnose

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
)

var fuzzLabels = []flow.Label{flow.LabelNone, flow.LabelToken, flow.LabelAuthorize, flow.LabelCallback, flow.LabelDiscovery, flow.LabelUserinfo, flow.LabelDevice}

var fuzzEncodings = []string{"", "gzip", "br", "deflate", "gzip, br", "bogus"}

var validCategories = map[flow.Category]bool{
	flow.CategoryRequest: true, flow.CategoryClientConfig: true, flow.CategoryGrant: true, flow.CategoryPermission: true,
	flow.CategoryNetwork: true, flow.CategoryServer: true, flow.CategoryInfo: true,
}

// fuzzSecret is sent in every fuzzed request; it must never show up in a diagnosis.
const fuzzSecret = "fz-Secret-9c1e77aa"

// FuzzDiagnose feeds arbitrary status codes, headers and bodies (plain or
// claiming an encoding) through Diagnose: it must not panic, and whatever it
// returns must be well-formed and free of the request's secrets.
func FuzzDiagnose(f *testing.F) {
	for _, c := range loadCases(f) {
		var hdr strings.Builder
		for k, v := range c.Headers {
			hdr.WriteString(k + ": " + v + "\n")
		}
		status := 400
		if c.Status != nil {
			status = *c.Status
		}
		for i, l := range fuzzLabels {
			if (c.Endpoint == "resource") == (l == flow.LabelNone) {
				f.Add(uint8(i), status, hdr.String(), []byte(c.Body), uint8(0))
			}
		}
	}
	f.Add(uint8(1), 400, "Content-Encoding: gzip\n", gz([]byte(`{"error":"invalid_grant"}`)), uint8(1))
	f.Add(uint8(1), 400, "Content-Encoding: br\n", br([]byte(`{"error":"invalid_grant"}`)), uint8(2))
	f.Add(uint8(1), 403, "", []byte{0x1f, 0x8b, 0x00}, uint8(1))
	f.Add(uint8(1), 400, "Content-Type: application/json\n", []byte(`{"error":"invalid_grant","error_description":"`+fuzzSecret+`"}`), uint8(0))
	f.Add(uint8(0), 401, `WWW-Authenticate: Bearer error="invalid_token", error_description="`+fuzzSecret+`"`+"\n", []byte{}, uint8(0))
	f.Add(uint8(2), 302, "Location: https://app.example/cb?error=access_denied&error_description=x%00y\n", []byte{}, uint8(0))
	f.Add(uint8(1), 200, "", []byte(`callback( {"error":100011} );`), uint8(0))
	f.Add(uint8(1), 599, "WWW-Authenticate: \"\"\"=,,==\n", []byte(`{"error":{"code":"x","type":[]}}`), uint8(5))
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, label uint8, status int, headers string, body []byte, enc uint8) {
		x := &flow.Exchange{}
		x.OAuth.Label = fuzzLabels[int(label)%len(fuzzLabels)]
		x.Request.Method = http.MethodPost
		x.Request.URL, _ = url.Parse("https://as.example/token?client_id=app")
		x.Request.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		x.Request.Body.Data = []byte("grant_type=authorization_code&code=c0de-1234&client_secret=" + fuzzSecret)
		h := http.Header{}
		for _, line := range strings.Split(headers, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) != "" {
				h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		x.Response = &flow.Response{Status: status, Header: h, Body: flow.Body{Data: body, Size: int64(len(body))}}
		if e := fuzzEncodings[int(enc)%len(fuzzEncodings)]; e != "" {
			x.Response.Body.Encoding = e
			x.Response.Body.DecodeError = "fuzz: not decoded"
		}
		d := Diagnose(x)
		if d == nil {
			return
		}
		if !validCategories[d.Category] {
			t.Errorf("got category %q", d.Category)
		}
		if causeByID[d.Cause] == nil {
			t.Errorf("got undocumented cause %q", d.Cause)
		}
		if d.Confidence != High && d.Confidence != Medium && d.Confidence != Low {
			t.Errorf("got confidence %q", d.Confidence)
		}
		if len(d.Evidence) > maxEvidence {
			t.Errorf("got %d evidence lines, want at most %d", len(d.Evidence), maxEvidence)
		}
		checkNetworkEvidence(t, d)
		for _, e := range append(d.Evidence, d.Summary) {
			if strings.Contains(e, "internal error") {
				t.Fatalf("Diagnose recovered from a panic: %q", e)
			}
			if strings.Contains(e, fuzzSecret) {
				t.Errorf("evidence %q leaks the client secret", e)
			}
		}
	})
}

var fuzzContentTypes = []string{"", "application/json", "application/x-www-form-urlencoded", "text/html", "text/xml", "application/javascript", "text/plain", "application/problem+json"}

// FuzzEnvelope feeds arbitrary bodies, content types and error headers to
// the envelope readers (JSON, JSONP, form, XML/SOAP, HTML pages, headers)
// and the wording classifier: no panic, bounded output, every message
// valid to quote, and the request's secret never among the messages.
func FuzzEnvelope(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add([]byte(c.Body), uint8(0), "", 403)
	}
	f.Add([]byte(`oauth_problem=token_rejected&oauth_problem_advice=x`), uint8(2), "", 401)
	f.Add([]byte(`<?xml version="1.0"?><soap:Envelope><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Invalid client credentials</faultstring></soap:Fault></soap:Body></soap:Envelope>`), uint8(4), "", 401)
	f.Add([]byte(`<Error><Code>AuthorizationFailure</Code><Message>not authorized</Message></Error>`), uint8(4), "", 403)
	f.Add([]byte(`{"__type":"com.amazon#NotAuthorizedException","message":"Invalid Refresh Token"}`), uint8(1), "", 400)
	f.Add([]byte(`{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}`), uint8(1), "", 401)
	f.Add([]byte(`cb({"ret":-1,"msg":"redirect uri is illegal"});`), uint8(5), "", 200)
	f.Add([]byte(`<html><title>Web Page Blocked</title><h1>Blocked</h1><script>x</script><p>`+fuzzSecret+`</p>`), uint8(3), "X-Error: ip "+fuzzSecret, 503)
	f.Add([]byte(`{"error":{"code":"invalid_grant","message":"x","errors":[{"reason":"a_b"}]}}`), uint8(1), "x-amzn-ErrorType: AccessDeniedException:http://internal", 403)
	f.Fuzz(func(t *testing.T, body []byte, ct uint8, errHeader string, status int) {
		x := &flow.Exchange{}
		x.OAuth.Label = flow.LabelToken
		x.Request.Method = http.MethodPost
		x.Request.URL, _ = url.Parse("https://as.example/token")
		x.Request.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		x.Request.Body.Data = []byte("grant_type=client_credentials&client_secret=" + fuzzSecret)
		h := http.Header{}
		if c := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]; c != "" {
			h.Set("Content-Type", c)
		}
		if k, v, ok := strings.Cut(errHeader, ":"); ok && strings.TrimSpace(k) != "" {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		x.Response = &flow.Response{Status: status, Header: h, Body: flow.Body{Data: body, Size: int64(len(body))}}
		fc := gather(x)
		if len(fc.descs) > 8 || len(fc.hdrTexts) > 6 || len(fc.pageTexts()) > 6 {
			t.Fatalf("unbounded: %d descs, %d header texts, %d page texts", len(fc.descs), len(fc.hdrTexts), len(fc.pageTexts()))
		}
		for _, p := range fc.pageTexts() {
			if len(p.text) > 600+len("…") {
				t.Errorf("page text of %d bytes", len(p.text))
			}
		}
		for _, m := range fc.messages(true) {
			if strings.Contains(m.text, fuzzSecret) {
				t.Errorf("message %q from %s keeps the request's secret", m.text, m.from)
			}
		}
		for _, nw := range []bool{false, true} {
			if d := classify(fc, nw); d != nil {
				if causeByID[d.Cause] == nil || d.Confidence != Low {
					t.Errorf("classifier gave cause %q confidence %q", d.Cause, d.Confidence)
				}
			}
		}
		if d := Diagnose(x); d != nil {
			for _, e := range append(d.Evidence, d.Summary) {
				if strings.Contains(e, fuzzSecret) {
					t.Errorf("evidence %q leaks the client secret", e)
				}
			}
		}
	})
}
