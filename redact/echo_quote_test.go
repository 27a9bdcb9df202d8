package redact

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestExchangeUnechoes: a response that quotes a request secret back (in
// its body or a header) is redacted too, whatever the request carried it in.
func TestExchangeUnechoes(t *testing.T) {
	const secret = "CANARY-echoed-s3cret"
	tests := []struct {
		name string
		req  func(*flow.Exchange)
	}{
		{"form", func(x *flow.Exchange) {
			x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			x.Request.Body.Data = []byte("grant_type=client_credentials&client_secret=" + secret)
		}},
		{"json", func(x *flow.Exchange) {
			x.Request.Header.Set("Content-Type", "application/json")
			x.Request.Body.Data = []byte(`{"grant_type":"client_credentials","client":{"client_secret":"` + secret + `"}}`)
		}},
		{"query", func(x *flow.Exchange) { x.Request.URL.RawQuery = "access_token=" + secret }},
		{"basic", func(x *flow.Exchange) {
			x.Request.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("app:"+secret)))
		}},
		{"bearer", func(x *flow.Exchange) { x.Request.Header.Set("Authorization", "Bearer "+secret) }},
		{"cookie", func(x *flow.Exchange) { x.Request.Header.Set("Cookie", "a=b; sid="+secret) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse("https://idp.example/oauth2/token")
			x := &flow.Exchange{Request: flow.Request{Method: "POST", URL: u, Header: http.Header{}}}
			tt.req(x)
			x.Response = &flow.Response{Status: 401, Header: http.Header{
				"Content-Type":     {"text/plain"},
				"Www-Authenticate": {`Bearer error="invalid_token", error_description="` + secret + ` expired"`},
			}, Body: flow.Body{Data: []byte("error: the credential " + secret + " is not valid")}}
			got := Exchange(x)
			if b := string(got.Response.Body.Data); strings.Contains(b, secret) || !strings.Contains(b, Marker) {
				t.Errorf("body %q, want the secret fingerprinted", b)
			}
			if h := got.Response.Header.Get("Www-Authenticate"); strings.Contains(h, secret) {
				t.Errorf("WWW-Authenticate %q keeps the secret", h)
			}
			if !strings.Contains(string(x.Response.Body.Data), secret) {
				t.Error("the original exchange was modified")
			}
		})
	}
}
