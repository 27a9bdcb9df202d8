package inspect

import (
	"encoding/base64"
	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
	"net/url"
	"strings"
	"testing"
)

// Canaries planted by FuzzInspectCanary; none may leave raw in a finding or
// a diagnosis.
const (
	fuzzSecret  = "CANARYfz-client-secret-91"
	fuzzCode    = "CANARYfz-code-6a1e"
	fuzzRefresh = "CANARYfz-refresh-0c77"
	fuzzBearer  = "CANARYfz-bearer-token-55d2"
)

// FuzzInspectCanary plants secrets in a form token request (client_secret,
// code, refresh_token, a Basic credential and a Bearer token) with arbitrary
// extra parameters, and answers it with an arbitrary response in which "$S"
// stands for the client secret, "$C" for the code, "$R" for the refresh
// token and "$B" for the Bearer token (a server echoing them back): the
// findings and the diagnosis never carry a raw canary the request sent.
func FuzzInspectCanary(f *testing.F) {
	f.Add("scope=openid", 400, "application/json", `{"error":"invalid_client","error_description":"client_secret $S is wrong"}`)
	f.Add("", 401, "text/html", `<html>code=$C refresh_token=$R Bearer $B</html>`)
	f.Add("grant_type=refresh_token", 400, "application/x-www-form-urlencoded", `error=invalid_grant&error_description=$R+$S`)
	f.Add("a=%zz&&=", 403, "text/plain", `Forbidden: $S:$C:$R:$B`)
	f.Add("", 400, "application/json", `{"error":"0$S00"}`) // quoted by code-reused: found by this target
	fuzzmode.EnableIfFuzzing()                              // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, extra string, status int, ct, respBody string) {
		if status < 100 || status > 999 {
			status = 400
		}
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"app"}, "client_secret": {fuzzSecret},
			"code": {fuzzCode}, "refresh_token": {fuzzRefresh}, "redirect_uri": {"https://app.example/cb"}}
		reqBody := form.Encode()
		if extra != "" {
			reqBody += "&" + extra
		}
		in := New(Options{})
		for _, authz := range []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+fuzzSecret)), "Bearer " + fuzzBearer} {
			planted := []string{fuzzSecret, fuzzCode, fuzzRefresh} // what this request sent
			bearer := ""                                           // a server cannot echo what it was not sent
			if strings.HasPrefix(authz, "Bearer") {
				planted, bearer = append(planted, fuzzBearer), fuzzBearer
			}
			respBody := strings.NewReplacer("$S", fuzzSecret, "$C", fuzzCode, "$R", fuzzRefresh, "$B", bearer).Replace(respBody)
			x := exch("POST", "https://idp.example.com/oauth2/token",
				body("application/x-www-form-urlencoded", reqBody), hdr("Authorization", authz), resp(status, ct, respBody))
			in.Inspect(x)
			x.OAuth.Findings, x.OAuth.Diagnosis = nil, nil
			in.Inspect(x) // the code again: code-reused quotes the first answer
			var texts []string
			for _, fd := range x.OAuth.Findings {
				texts = append(texts, fd.Message, fd.Fix)
			}
			if d := x.OAuth.Diagnosis; d != nil {
				texts = append(texts, d.Summary)
				texts = append(texts, d.Evidence...)
			}
			for _, s := range texts {
				for _, c := range planted {
					if strings.Contains(s, c) {
						t.Fatalf("raw canary %q in %q (response %d %s %q; findings %+v; diagnosis %+v)", c, s, status, ct, respBody, x.OAuth.Findings, x.OAuth.Diagnosis)
					}
				}
			}
		}
	})
}
