package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestKnowledgeBaseInterleavedLogins replays every knowledge-base case with
// a response through the real proxy in one session, each preceded by an
// authorize request of the same client (answered with a login page, so it
// stays open). Token cases are authorization_code requests with a code
// never seen issued and a verifier that matches no challenge: the only
// open authorize request of that client_id and redirect_uri is a guessed
// link, whose findings stay at info and must not change the diagnosis.
// Every case gets the diagnosis `explain` gives for its response.
func TestKnowledgeBaseInterleavedLogins(t *testing.T) {
	cases := loadCases(t)
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("kbcase") == "" {
			switch r.URL.Path {
			case "/oauth2/authorize":
				http.Redirect(w, r, "/login?ar="+url.QueryEscape(r.URL.Query().Get("state")), http.StatusFound)
			default:
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<form method="post"><input name="password" type="password"></form>`)
			}
			return
		}
		i, err := strconv.Atoi(r.URL.Query().Get("kbcase"))
		if err != nil || i < 0 || i >= len(cases) {
			http.Error(w, "no case", 599)
			return
		}
		c := cases[i]
		for k, v := range c.Headers {
			if !strings.EqualFold(k, "Content-Length") {
				w.Header().Set(k, v)
			}
		}
		w.WriteHeader(*c.Status)
		fmt.Fprint(w, *c.Body)
	}))
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger")
	client := p.client(t, dir)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	send := func(req *http.Request) {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i, c := range cases {
		redirect := "https://app.example/cb/" + strconv.Itoa(i)
		challenge := sha256.Sum256([]byte("kb-verifier-" + strconv.Itoa(i)))
		q := url.Values{"response_type": {"code"}, "client_id": {"kb-client"}, "redirect_uri": {redirect}, "state": {"il" + strconv.Itoa(i)},
			"nonce": {"n" + strconv.Itoa(i)}, "scope": {"openid"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"}}
		req, _ := http.NewRequest("GET", up.URL+"/oauth2/authorize?"+q.Encode(), nil)
		send(req)
		switch c.Endpoint {
		case "token", "any", "":
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"kb-code-never-issued-" + strconv.Itoa(i)}, "redirect_uri": {redirect},
				"client_id": {"kb-client"}, "client_secret": {"kb-secret"}, "code_verifier": {"kb-wrong-verifier-0123456789-0123456789-abcdef-" + strconv.Itoa(i)}}
			req, _ = http.NewRequest("POST", up.URL+"/oauth2/token?kbcase="+strconv.Itoa(i), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			req = caseRequest(up.URL, i, c)
		}
		send(req)
	}
	// Two exchanges per case (plus the login page is never fetched).
	recs := make([]map[string]any, len(cases))
	guessed := 0
	for _, rec := range p.waitRecords(t, 2*len(cases)) {
		u, _ := url.Parse(fmt.Sprint(rec["url"]))
		s := u.Query().Get("kbcase")
		if s == "" {
			continue
		}
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(cases) {
			t.Fatalf("log record with no case: %v", rec)
		}
		recs[i] = rec
		if rec["login_link"] == flow.LinkGuess {
			guessed++
		}
	}
	for i, c := range cases {
		rec := recs[i]
		if rec == nil {
			t.Errorf("case %s: not in the log", c.ID)
			continue
		}
		var got, cause string
		if d, ok := rec["diagnosis"].(map[string]any); ok {
			got, _ = d["category"].(string)
			cause, _ = d["cause"].(string)
		}
		if fs, ok := rec["findings"].([]any); ok {
			for _, f := range fs {
				f, _ := f.(map[string]any)
				if id, _ := f["id"].(string); f["severity"] != "info" && (strings.HasPrefix(id, "pkce") || strings.HasPrefix(id, "redirect-uri") || id == "nonce-mismatch") {
					t.Errorf("case %s: got %s at %v from a guessed link, want at most info", c.ID, id, f["severity"])
				}
			}
		}
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		label := flow.Label(c.Endpoint)
		switch c.Endpoint {
		case "any", "":
			label = flow.LabelToken
		case "resource":
			label = flow.LabelNone
		case "metadata":
			label = flow.LabelDiscovery
		}
		x := explainExchange(label, "", *c.Status, h, []byte(*c.Body))
		var ecat, ecause string
		if x.OAuth.Diagnosis != nil {
			ecat, ecause = string(x.OAuth.Diagnosis.Category), x.OAuth.Diagnosis.Cause
		}
		if ecat != got || ecause != cause {
			t.Errorf("case %s: explain says %s/%s, the proxy said %s/%s interleaved with logins", c.ID, ecat, ecause, got, cause)
		}
	}
	// The scenario must exercise guessed links, or it proves nothing.
	if guessed == 0 {
		t.Errorf("no token request was linked by a guess; the scenario does not test what it claims")
	}
	t.Logf("%d cases, %d token requests linked by a guess", len(cases), guessed)
}
