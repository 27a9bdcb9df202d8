package redact

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestExchangeEchoes: a response, an error text or a diagnosis that quotes a
// secret of the request keeps it only as a fingerprint, wherever in the
// request (query, form, JSON body, Basic header) the secret was sent.
func TestExchangeEchoes(t *testing.T) {
	const sec = "Echo-Canary-51d0e2"
	basic := "Basic " + "YXBwOkVjaG8tQ2FuYXJ5LTUxZDBlMg==" // app:Echo-Canary-51d0e2
	tests := []struct {
		name            string
		reqCT, reqBody  string
		query           string
		header          http.Header
		respCT, respBod string
	}{
		{"json body, json error", "application/json", `{"client_secret":"` + sec + `"}`, "", nil,
			"application/json", `{"error":"invalid_client","error_description":"secret '` + sec + `' is wrong"}`},
		{"form body, text error", "application/x-www-form-urlencoded", "client_secret=" + sec, "", nil,
			"text/plain", "bad secret " + sec},
		{"query, html error", "", "", "password=" + sec, nil,
			"text/html", "<p>password " + sec + " rejected</p>"},
		{"basic header, form-encoded error", "", "", "", http.Header{"Authorization": {basic}},
			"application/x-www-form-urlencoded", "error=invalid_client&error_description=" + url.QueryEscape("secret "+sec+" wrong")},
		{"multipart body, json error", "multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"client_secret\"\r\n\r\n" + sec + "\r\n--B--\r\n", "", nil,
			"application/json", `["` + sec + `"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tt.reqCT}}
			for k, v := range tt.header {
				h[k] = v
			}
			x := &flow.Exchange{
				Request:  flow.Request{Method: "POST", URL: &url.URL{Scheme: "https", Host: "idp.test", Path: "/token", RawQuery: tt.query}, Header: h, Body: flow.Body{Data: []byte(tt.reqBody)}},
				Response: &flow.Response{Status: 401, Header: http.Header{"Content-Type": {tt.respCT}}, Body: flow.Body{Data: []byte(tt.respBod)}},
				Error:    "upstream said " + sec,
				OAuth:    flow.OAuth{Diagnosis: &flow.Diagnosis{Summary: "s " + sec, Evidence: []string{"error_description: " + sec}}},
			}
			c := Exchange(x)
			b, _ := json.Marshal(c.OAuth)
			for what, s := range map[string]string{"response body": string(c.Response.Body.Data), "error": c.Error, "oauth": string(b)} {
				if strings.Contains(s, sec) || strings.Contains(s, url.QueryEscape(sec)) {
					t.Errorf("%s keeps the raw secret: %s", what, s)
				}
			}
			if !strings.Contains(string(c.Response.Body.Data), FingerprintWeak(sec)) { // as the request's own client_secret/password/Basic reads
				t.Errorf("response body %q lacks the secret's fingerprint", c.Response.Body.Data)
			}
			if tt.respCT == "application/json" && !json.Valid(c.Response.Body.Data) {
				t.Errorf("JSON response body no longer valid JSON: %s", c.Response.Body.Data)
			}
			if !strings.Contains(string(x.Response.Body.Data), sec) {
				t.Errorf("Exchange modified its input's body")
			}
		})
	}
}

func TestRequestSecrets(t *testing.T) {
	r := &flow.Request{
		URL:    &url.URL{RawQuery: "code=abcdefgh&state=notsecret"},
		Header: http.Header{"Content-Type": {"application/json"}, "Cookie": {"sid=cookievalue1; theme=x"}},
		Body:   flow.Body{Data: []byte(`{"client_secret":"abcdefghij","client_id":"app","refresh_token":"` + Fingerprint("x") + `"}`)},
	}
	got := Raw(RequestSecrets(r))
	want := []string{"sid=cookievalue1; theme=x", "cookievalue1", "abcdefghij", "abcdefgh"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RequestSecrets = %q; want %q (longest first; no public or redacted values)", got, want)
	}
}
