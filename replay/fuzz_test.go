package replay

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
)

// FuzzPrepare feeds arbitrary bodies, queries and Set values; Prepare must
// return a request or an error, never panic.
func FuzzPrepare(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=authorization_code&code=x", "a=%zz", "client_secret", "v", `{"refresh_token":"r"}`)
	f.Add("application/json", `{"grant_type":"refresh_token","refresh_token":"r"}`, "", "header:Authorization", "Basic x", "refresh_token=s")
	f.Add("", "{", "&&=", "", "", "")
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, ct, body, rawQuery, setKey, setVal, respBody string) {
		x := &flow.Exchange{
			Request:  flow.Request{Method: "POST", URL: &url.URL{Scheme: "https", Host: "idp.test", Path: "/token", RawQuery: rawQuery}, Header: http.Header{"Content-Type": {ct}}, Body: flow.Body{Data: []byte(body)}},
			Response: &flow.Response{Status: 200, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: flow.Body{Data: []byte(respBody)}},
		}
		req, err := Prepare(x, Options{Set: map[string]string{setKey: setVal}, Env: func(string) string { return "" }})
		if err == nil && req == nil {
			t.Fatal("got nil request and nil error")
		}
		_ = Compare(x, x)
	})
}
