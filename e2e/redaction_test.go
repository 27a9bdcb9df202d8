package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// harFile is the part of a HAR file the tests read.
type harFile struct {
	Log struct {
		Entries []struct {
			Request struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
			Response struct {
				Status int `json:"status"`
			} `json:"response"`
		} `json:"entries"`
	} `json:"log"`
}

// readHAR returns the raw bytes and the parsed entries of a HAR file.
func readHAR(t *testing.T, path string) ([]byte, harFile) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read capture: %v", err)
	}
	var h harFile
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s is not a HAR file: %v", path, err)
	}
	return b, h
}

// countEntries counts HAR entries whose URL contains s.
func (h harFile) countEntries(s string) int {
	n := 0
	for _, e := range h.Log.Entries {
		if strings.Contains(e.Request.URL, s) {
			n++
		}
	}
	return n
}

// canarySession runs a session that puts every kind of secret on the wire
// (password form, cookies, Basic credentials, code, verifier, secret in a
// form body, access/refresh/id tokens in responses and a Bearer header),
// and returns the secrets by name. It makes three token exchanges.
func canarySession(t *testing.T, s *session) map[string]string {
	t.Helper()
	ac := s.authorize()
	tok, err := s.exchange(ac)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if tok.RefreshToken == "" || idToken == "" {
		t.Fatalf("got token %+v, want refresh and id tokens", tok)
	}
	// The code again: the error path must not leak it either.
	if _, err := s.exchange(ac); err == nil {
		t.Fatalf("second Exchange of the same code: got success, want invalid_grant")
	}
	// Refresh with client_secret_post: the secret and refresh token in a form body.
	r := s.postToken("application/x-www-form-urlencoded", []byte(url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {tok.RefreshToken},
		"client_id":     {s.idp.ClientID},
		"client_secret": {s.idp.ClientSecret},
	}.Encode()), "")
	if r.Status != 200 || r.str("access_token") == "" {
		t.Fatalf("refresh: got %d %s, want 200 with tokens", r.Status, r.Body)
	}
	// A Bearer header on the userinfo endpoint.
	req, _ := http.NewRequest("GET", s.idp.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("userinfo through proxy: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo: got status %d, want 200", resp.StatusCode)
	}
	c := map[string]string{
		"client_secret":      s.idp.ClientSecret,
		"basic credentials":  base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(s.idp.ClientID) + ":" + url.QueryEscape(s.idp.ClientSecret))),
		"password":           s.idp.Password,
		"session cookie":     s.idp.SessionCookie,
		"code":               ac.Code,
		"code_verifier":      ac.Verifier,
		"access_token":       tok.AccessToken,
		"refresh_token":      tok.RefreshToken,
		"id_token":           idToken,
		"refreshed access":   r.str("access_token"),
		"refreshed refresh":  r.str("refresh_token"),
		"refreshed id_token": r.str("id_token"),
	}
	for k, v := range c {
		if v == "" {
			delete(c, k)
		}
	}
	return c
}

// TestSecretsNeverLeak: the proxy's stdout and stderr (console and JSON)
// and a default (redacted) HAR hold no raw secret; an unredacted HAR holds
// them all, which shows the canaries really crossed the proxy.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format     string
		unredacted bool
	}{
		{"json", false},
		{"console", false},
		{"json", true},
	}
	for _, tt := range tests {
		name := tt.format
		if tt.unredacted {
			name += " har-unredacted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ca := newTestCA(t)
			p := newIDP(t, ca)
			har := filepath.Join(t.TempDir(), "capture.har")
			px := startProxy(t, ca, proxyOpts{Format: tt.format, HAR: har, HARUnredacted: tt.unredacted})
			s := newSession(t, p, px)
			canaries := canarySession(t, s)
			if tt.format == "json" {
				px.waitForNth(t, "third token exchange", 3, isToken)
				px.waitFor(t, "userinfo exchange", func(e logEntry) bool { return strings.Contains(e.URL, "/userinfo") })
			} else {
				px.waitForOutput(t, "refresh_token")
				px.waitForOutput(t, "/userinfo")
			}
			px.Stop(t)

			raw, h := readHAR(t, har)
			if n := h.countEntries("/oauth/token"); n != 3 {
				t.Fatalf("capture holds %d token exchanges, want 3", n)
			}
			if n := h.countEntries("/userinfo"); n != 1 {
				t.Fatalf("capture holds %d userinfo exchanges, want 1", n)
			}
			logs := px.Stdout() + "\n" + px.Stderr()
			names := make([]string, 0, len(canaries))
			for k := range canaries {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, name := range names {
				v := canaries[name]
				if strings.Contains(logs, v) {
					t.Errorf("proxy output (--log-format %s) holds the raw %s", tt.format, name)
				}
				inHAR := strings.Contains(string(raw), v) || strings.Contains(string(raw), jsonEscaped(v))
				switch {
				case tt.unredacted && !inHAR:
					t.Errorf("--har-unredacted capture lacks the raw %s", name)
				case !tt.unredacted && inHAR:
					t.Errorf("default (redacted) capture holds the raw %s", name)
				}
			}
		})
	}
}

// jsonEscaped is v as it appears inside a JSON string.
func jsonEscaped(v string) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}
