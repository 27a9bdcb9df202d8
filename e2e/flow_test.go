package e2e

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestAuthorizationCodeHappyPath: x/oauth2 with PKCE S256 through the
// proxy; the token exchange is labelled and has no error finding.
func TestAuthorizationCodeHappyPath(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	px := startProxy(t, ca, proxyOpts{})
	s := newSession(t, p, px)

	ac := s.authorize()
	tok, err := s.exchange(ac)
	if err != nil {
		t.Fatalf("Exchange through proxy: %v", err)
	}
	if tok.AccessToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("got token %+v, want an access_token and an id_token", tok)
	}

	tests := []struct {
		name string
		pred func(logEntry) bool
		want string // label
	}{
		{"discovery", func(e logEntry) bool { return strings.Contains(e.URL, "/.well-known/openid-configuration") }, "discovery"},
		{"authorize", func(e logEntry) bool { return strings.Contains(e.URL, "/authorize?") }, "authorize"},
		{"callback", func(e logEntry) bool {
			return strings.HasPrefix(e.URL, p.RedirectURI) || strings.Contains(e.URL, strings.TrimPrefix(p.RedirectURI, "https://"))
		}, "callback"},
		{"token", func(e logEntry) bool { return e.Method == "POST" && strings.Contains(e.URL, "/oauth/token") }, "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := px.waitFor(t, tt.name+" exchange", tt.pred)
			if e.OAuth != tt.want {
				t.Errorf("%s %s: got oauth %q, want %q", e.Method, e.URL, e.OAuth, tt.want)
			}
		})
	}

	e := px.waitFor(t, "token exchange", isToken)
	if e.GrantType != "authorization_code" {
		t.Errorf("token exchange: got grant_type %q, want authorization_code", e.GrantType)
	}
	if e.Status != 200 {
		t.Errorf("token exchange: got status %d, want 200", e.Status)
	}
	for _, f := range e.Findings {
		if f.Severity == flow.SeverityError {
			t.Errorf("happy path token exchange: got error finding %s: %s", f.ID, f.Message)
		}
	}
	if e.Diagnosis != nil {
		t.Errorf("happy path token exchange: got diagnosis %s/%s, want none", e.Diagnosis.Category, e.Diagnosis.Cause)
	}
	if t.Failed() {
		t.Logf("log:\n%s", findingsOf(px.all()))
	}
}

// TestTokenRequestMistakes: one bad token request per case after a real
// authorize; the proxy must name the mistake on that exchange.
func TestTokenRequestMistakes(t *testing.T) {
	t.Parallel()
	for _, tt := range tokenMistakes() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ca := newTestCA(t)
			p := newIDP(t, ca)
			px := startProxy(t, ca, proxyOpts{})
			s := newSession(t, p, px)
			ac := s.authorize()
			n := tt.do(t, s, ac)

			e := px.waitForNth(t, "token exchange", n, isToken)
			defer func() {
				if t.Failed() {
					t.Logf("log:\n%s", findingsOf(px.all()))
				}
			}()
			if e.Status < 400 {
				t.Errorf("checked exchange: got status %d, want the OP's error", e.Status)
			}
			f, ok := e.finding(tt.wantFinding)
			if !ok {
				t.Fatalf("token exchange #%d: got findings %v, want %s", n, e.findingIDs(), tt.wantFinding)
			}
			if f.Severity != flow.SeverityError && f.Severity != flow.SeverityWarn {
				t.Errorf("%s: got severity %q, want error or warn (the request failed because of it)", f.ID, f.Severity)
			}
			if tt.wantInMessage != "" && !strings.Contains(strings.ToLower(f.Message), tt.wantInMessage) {
				t.Errorf("%s: got message %q, want it to mention %q", f.ID, f.Message, tt.wantInMessage)
			}
			if tt.wantDiag != nil {
				if e.Diagnosis == nil {
					t.Errorf("got no diagnosis, want %s/%s", tt.wantDiag.Category, tt.wantDiag.Cause)
				} else if e.Diagnosis.Category != tt.wantDiag.Category || e.Diagnosis.Cause != tt.wantDiag.Cause {
					t.Errorf("got diagnosis %s/%s, want %s/%s", e.Diagnosis.Category, e.Diagnosis.Cause, tt.wantDiag.Category, tt.wantDiag.Cause)
				}
			}
			if n > 1 {
				first := px.waitForNth(t, "first token exchange", 1, isToken)
				if _, ok := first.finding(tt.wantFinding); ok {
					t.Errorf("first token exchange: got %s, want it only on the repeat", tt.wantFinding)
				}
			}
		})
	}
}

// TestOPGroundTruth runs the same mistakes straight against the OP, without
// the proxy: it pins what the certified OP answers (the do functions check
// it), so a proxy test failing means the proxy, not the scenario.
func TestOPGroundTruth(t *testing.T) {
	t.Parallel()
	for _, tt := range tokenMistakes() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newIDP(t, newTestCA(t))
			s := newDirectSession(t, p)
			tt.do(t, s, s.authorize())
		})
	}
	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		p := newIDP(t, newTestCA(t))
		s := newDirectSession(t, p)
		tok, err := s.exchange(s.authorize())
		if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("Exchange: got %+v, %v; want access and refresh tokens", tok, err)
		}
	})
}

// tokenMistake is one wrong token request after a real authorize.
type tokenMistake struct {
	name string
	// do sends the token request(s) and checks the OP's answer; it
	// returns how many token exchanges it made (the last one is checked).
	do          func(t *testing.T, s *session, ac authCode) (tokenExchanges int)
	wantFinding string
	// wantInMessage must appear in the finding's message (lower case).
	wantInMessage string
	wantDiag      *flow.Diagnosis // Category and Cause only
}

func tokenMistakes() []tokenMistake {
	return []tokenMistake{
		{
			name: "code exchanged twice",
			do: func(t *testing.T, s *session, ac authCode) int {
				if _, err := s.exchange(ac); err != nil {
					t.Fatalf("first Exchange: %v", err)
				}
				_, err := s.exchange(ac)
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
					t.Fatalf("second Exchange: got %v, want the OP's invalid_grant", err)
				}
				return 2
			},
			wantFinding: "code-reused",
			wantDiag:    &flow.Diagnosis{Category: flow.CategoryGrant, Cause: "code-reused"},
		},
		{
			name: "redirect_uri trailing slash",
			do: func(t *testing.T, s *session, ac authCode) int {
				r := s.postForm(url.Values{
					"grant_type":    {"authorization_code"},
					"code":          {ac.Code},
					"redirect_uri":  {s.idp.RedirectURI + "/"},
					"code_verifier": {ac.Verifier},
				})
				if r.Status != 400 || r.str("error") != "invalid_grant" {
					t.Fatalf("token with redirect_uri + '/': got %d %s, want 400 invalid_grant", r.Status, r.Body)
				}
				return 1
			},
			wantFinding:   "redirect-uri-mismatch",
			wantInMessage: "trailing slash",
		},
		{
			name: "wrong PKCE verifier",
			do: func(t *testing.T, s *session, ac authCode) int {
				_, err := s.exchange(authCode{Code: ac.Code, Verifier: oauth2.GenerateVerifier()})
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
					t.Fatalf("Exchange with another verifier: got %v, want the OP's invalid_grant", err)
				}
				return 1
			},
			wantFinding: "pkce-mismatch",
		},
		{
			name: "JSON body",
			do: func(t *testing.T, s *session, ac authCode) int {
				body, _ := json.Marshal(map[string]string{
					"grant_type":    "authorization_code",
					"code":          ac.Code,
					"redirect_uri":  s.idp.RedirectURI,
					"code_verifier": ac.Verifier,
				})
				r := s.postToken("application/json", body, s.idp.ClientID+":"+s.idp.ClientSecret)
				if r.Status < 400 {
					t.Fatalf("JSON token request: got status %d, want an error; body %s", r.Status, r.Body)
				}
				return 1
			},
			wantFinding: "content-type",
		},
		{
			name: "Basic and body credentials (curl)",
			do: func(t *testing.T, s *session, ac authCode) int {
				out := s.curl(t, "-u", s.idp.ClientID+":"+s.idp.ClientSecret,
					"-d", "grant_type=authorization_code",
					"--data-urlencode", "code="+ac.Code,
					"--data-urlencode", "redirect_uri="+s.idp.RedirectURI,
					"--data-urlencode", "code_verifier="+ac.Verifier,
					"--data-urlencode", "client_id="+s.idp.ClientID,
					"--data-urlencode", "client_secret="+s.idp.ClientSecret,
					s.idp.TokenURL)
				if !strings.Contains(out, `"invalid_request"`) {
					t.Fatalf("curl with Basic and body credentials: got %s, want the OP's invalid_request", out)
				}
				return 1
			},
			wantFinding: "client-auth-multiple",
		},
	}
}
