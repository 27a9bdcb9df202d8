package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// echoIDP is a token endpoint and API that echo the secrets they receive
// in their errors, as real servers do: error_description quoting the
// client_secret (form or JSON body), a 401 quoting the query token, a
// response body and Set-Cookie carrying fresh secrets.
func echoIDP(respSecret, setCookieSecret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth2/token":
			var secret string
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				var m map[string]string
				json.NewDecoder(r.Body).Decode(&m)
				secret = m["client_secret"]
			} else {
				r.ParseForm()
				secret = r.PostForm.Get("client_secret")
			}
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client_secret %s is not valid for this client"}`, secret)
		case "/api":
			tok := r.URL.Query().Get("access_token")
			w.Header().Set("Set-Cookie", "sess="+setCookieSecret+"; Path=/; HttpOnly")
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="token `+tok+` expired"`)
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid_token","refresh_token":%q,"message":"token %s expired"}`, respSecret, tok)
		default:
			http.NotFound(w, r)
		}
	})
}

// TestCanaryEveryOutput plants canary secrets in every place a secret
// travels (form, JSON and query parameters, Basic and Bearer credentials,
// cookies, response bodies, Set-Cookie, error texts that echo them, plus
// the full OpenID Provider session of TestSecretsNeverLeak) and checks
// every output of the product for a raw one: the console and JSON logs,
// the live journal, the default HAR, the data directory (ledger), and the
// output and errors of analyze (console and JSON), diff and replay.
func TestCanaryEveryOutput(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	op := newIDP(t, ca)
	c := map[string]string{
		"json client_secret":   "CANARYjs-" + randHex(12),
		"form client_secret":   "CANARYfm-" + randHex(12),
		"basic secret":         "CANARYbs-" + randHex(12),
		"query access_token":   "CANARYqa-" + randHex(16),
		"request cookie":       "CANARYck-" + randHex(12),
		"response secret":      "CANARYrs-" + randHex(16),
		"response set-cookie":  "CANARYsc-" + randHex(12),
		"bearer on api":        "CANARYbr-" + randHex(16),
		"password grant":       "CANARYpw-" + randHex(6),
		"password (form echo)": "CANARYpe-" + randHex(6),
	}
	echo := newTLSServer(t, ca, echoIDP(c["response secret"], c["response set-cookie"]))

	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			dataDir := t.TempDir()
			har := filepath.Join(t.TempDir(), "capture.har")
			px := startProxy(t, ca, proxyOpts{Format: format, HAR: har, DataDir: dataDir})
			s := newSession(t, op, px)
			secrets := canarySession(t, s)
			for k, v := range c {
				secrets[k] = v
			}
			send := func(method, u, ct, body string, hdr ...string) {
				req, _ := http.NewRequest(method, u, strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := s.http.Do(req)
				if err != nil {
					t.Fatalf("%s %s through the proxy: %v", method, u, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			tokenURL := echo.URL + "/oauth2/token"
			send("POST", tokenURL, "application/json",
				`{"grant_type":"client_credentials","client_id":"app","client_secret":"`+c["json client_secret"]+`"}`)
			send("POST", tokenURL, "application/x-www-form-urlencoded",
				url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {c["form client_secret"]}}.Encode())
			send("POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=client_credentials",
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("app:"+c["basic secret"])))
			send("POST", tokenURL, "application/x-www-form-urlencoded",
				url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {c["password grant"]}, "client_id": {"app"},
					"client_secret": {c["password (form echo)"]}}.Encode())
			send("GET", echo.URL+"/api?access_token="+c["query access_token"], "", "",
				"Cookie", "sid="+c["request cookie"], "Authorization", "Bearer "+c["bearer on api"])

			// The journal, while the proxy runs (a clean stop folds it into the HAR).
			px.waitForOutput(t, "/api")
			journal, _ := os.ReadFile(har + ".journal")
			px.Stop(t)

			outputs := map[string]string{
				"log (stdout+stderr, " + format + ")": px.Stdout() + "\n" + px.Stderr(),
				"journal":                             string(journal),
			}
			if b, err := os.ReadFile(har); err != nil {
				t.Fatalf("read HAR: %v", err)
			} else {
				outputs["HAR"] = string(b)
			}
			filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(p)
					outputs["data dir "+filepath.Base(p)] = string(b)
				}
				return nil
			})
			for name, args := range map[string][]string{
				"analyze":      {"analyze", har},
				"analyze json": {"analyze", "--format", "json", har},
				"diff":         {"diff", har, har},
				"diff json":    {"diff", "--format", "json", har, har},
				"replay":       {"replay", "--upstream-ca", ca.PEMFile, "--only", "token", har},
			} {
				r := runCLI(t, nil, args...)
				outputs[name] = r.Stdout + "\n" + r.Stderr
			}

			names := make([]string, 0, len(secrets))
			for k := range secrets {
				names = append(names, k)
			}
			sort.Strings(names)
			outs := make([]string, 0, len(outputs))
			for k := range outputs {
				outs = append(outs, k)
			}
			sort.Strings(outs)
			for _, out := range outs {
				text := outputs[out]
				for _, name := range names {
					v := secrets[name]
					if strings.Contains(text, v) || strings.Contains(text, jsonEscaped(v)) {
						t.Errorf("%s holds the raw %s", out, name)
					}
				}
			}
		})
	}
}
