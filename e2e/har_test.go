package e2e

import (
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// verdictOf is what must survive a capture round trip for one exchange.
func verdictOf(e logEntry) string {
	fs := e.findingIDs()
	slices.Sort(fs)
	d := "-"
	if e.Diagnosis != nil {
		d = string(e.Diagnosis.Category) + "/" + e.Diagnosis.Cause
	}
	return "oauth=" + e.OAuth + " grant=" + e.GrantType + " findings=" + strings.Join(fs, ",") + " diagnosis=" + d
}

// TestHARRoundTrip: a live session captured with --har, then `analyze
// --format json` on the (redacted) capture gives, per exchange, the same
// findings and diagnosis the live log showed; the reused code is still
// recognised from fingerprints.
func TestHARRoundTrip(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "analyze")
	ca := newTestCA(t)
	p := newIDP(t, ca)
	har := filepath.Join(t.TempDir(), "session.har")
	px := startProxy(t, ca, proxyOpts{HAR: har})
	s := newSession(t, p, px)

	// Happy exchange, then the same code again.
	ac := s.authorize()
	if _, err := s.exchange(ac); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	var re *oauth2.RetrieveError
	if _, err := s.exchange(ac); !errors.As(err, &re) {
		t.Fatalf("second Exchange: got %v, want an OAuth error", err)
	}
	// A trailing-slash redirect_uri and a wrong verifier on fresh codes.
	ac2 := s.authorize()
	s.postForm(url.Values{"grant_type": {"authorization_code"}, "code": {ac2.Code}, "redirect_uri": {p.RedirectURI + "/"}, "code_verifier": {ac2.Verifier}})
	ac3 := s.authorize()
	if _, err := s.exchange(authCode{Code: ac3.Code, Verifier: oauth2.GenerateVerifier()}); err == nil {
		t.Fatalf("Exchange with a wrong verifier: got success, want invalid_grant")
	}
	px.waitForNth(t, "fourth token exchange", 4, isToken)
	px.Stop(t)
	live := px.all()

	res := runCLI(t, nil, "analyze", "--format", "json", har)
	if res.Code != 0 {
		t.Fatalf("analyze: exit %d\n%s", res.Code, res.Stderr)
	}
	got := parseEntries(t, res.Stdout)
	if len(got) != len(live) {
		t.Errorf("analyze printed %d exchanges, the live log %d", len(got), len(live))
	}
	byFlow := map[string]logEntry{}
	for _, e := range got {
		byFlow[e.Flow] = e
	}
	for _, l := range live {
		a, ok := byFlow[l.Flow]
		if !ok {
			t.Errorf("flow %s (%s %s) is in the live log but not in analyze's output", l.Flow, l.Method, l.URL)
			continue
		}
		if lv, av := verdictOf(l), verdictOf(a); lv != av {
			t.Errorf("flow %s %s %s:\n live:    %s\n analyze: %s", l.Flow, l.Method, l.URL, lv, av)
		}
	}

	var tokens []logEntry
	for _, e := range got {
		if isToken(e) {
			tokens = append(tokens, e)
		}
	}
	if len(tokens) != 4 {
		t.Fatalf("analyze: got %d token exchanges, want 4:\n%s", len(tokens), findingsOf(got))
	}
	if _, ok := tokens[1].finding("code-reused"); !ok {
		t.Errorf("analyze of the redacted capture: second token exchange has findings %v, want code-reused", tokens[1].findingIDs())
	}
	if d := tokens[1].Diagnosis; d == nil || d.Cause != "code-reused" {
		t.Errorf("analyze: second token exchange diagnosis %+v, want cause code-reused", d)
	}
	if t.Failed() {
		t.Logf("live:\n%s\nanalyze:\n%s", findingsOf(live), findingsOf(got))
	}
}
