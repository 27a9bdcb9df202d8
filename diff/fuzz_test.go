package diff

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
)

// FuzzCompare feeds arbitrary bodies, content types and header values; the
// comparison and both renderings must never panic.
func FuzzCompare(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=x", `{"error":"invalid_client"}`, "Basic Zm9vOmJhcg==", "Sat, 01 Mar 2025 12:00:00 GMT")
	f.Add("application/json", `{"grant_type":"refresh_token","refresh_token":{"a":1}}`, "<html>", "Bearer", "garbage")
	f.Add("", "%zz=&=&&code_verifier=%", "", "redacted:sha256:000000000000:len=3", "")
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, ct, reqBody, respBody, auth, date string) {
		mk := func(seq int) *flow.Exchange {
			x := exchange(seq, "POST", "https://idp.test/token?x=1")
			x.Request.Header.Set("Content-Type", ct)
			x.Request.Header.Set("Authorization", auth)
			x.Request.Body.Data = []byte(reqBody)
			x.Response = &flow.Response{Status: 400, Header: http.Header{"Date": {date}, "Content-Type": {ct}}, Body: flow.Body{Data: []byte(respBody)}}
			return x
		}
		b := mk(1)
		b.Request.Header.Del("Authorization")
		b.Response.Status = 200
		r := Compare([]*flow.Exchange{mk(0)}, []*flow.Exchange{b}, Options{})
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
