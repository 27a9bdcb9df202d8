package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestReplay: replay re-sends a captured client_credentials request and
// reports how the answer changed; it refuses an authorization code without
// --force and a redacted credential, naming it, without sending anything.
func TestReplay(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "replay")
	ca := newTestCA(t)
	p := newIDP(t, ca)
	dir := t.TempDir()

	// captureCC captures one client_credentials exchange.
	captureCC := func(name string, unredacted bool, style oauth2.AuthStyle) string {
		har := filepath.Join(dir, name)
		px := startProxy(t, ca, proxyOpts{HAR: har, HARUnredacted: unredacted, TokenEndpoint: p.TokenURL})
		cfg := clientcredentials.Config{ClientID: p.ServiceID, ClientSecret: p.ServiceSecret, TokenURL: p.TokenURL, AuthStyle: style}
		if err := clientCredentials(px, cfg, nil); err != nil {
			t.Fatalf("capture %s: %v", name, err)
		}
		px.waitFor(t, "token exchange", isToken)
		px.Stop(t)
		return har
	}
	ccRaw := captureCC("cc-raw.har", true, oauth2.AuthStyleInHeader)
	ccBasic := captureCC("cc-basic.har", false, oauth2.AuthStyleInHeader)
	ccPost := captureCC("cc-post.har", false, oauth2.AuthStyleInParams)

	codeHAR := filepath.Join(dir, "code-raw.har")
	px := startProxy(t, ca, proxyOpts{HAR: codeHAR, HARUnredacted: true})
	s := newSession(t, p, px)
	if _, err := s.exchange(s.authorize()); err != nil {
		t.Fatalf("capture code exchange: %v", err)
	}
	px.waitFor(t, "token exchange", isToken)
	px.Stop(t)

	tests := []struct {
		name string
		args []string
		// wantSent is whether the request must reach the OP.
		wantSent bool
		wantOK   bool
		// wantOut must all appear in stdout+stderr (case-insensitive).
		wantOut []string
		check   func(t *testing.T, res cliResult)
	}{
		{
			name:     "client_credentials from an unredacted capture",
			args:     []string{"--only", "token", ccRaw},
			wantSent: true, wantOK: true,
			// A new access token is expected, not a difference.
			wantOut: []string{"token client_credentials", "no difference"},
		},
		{
			name:     "client_credentials, JSON output",
			args:     []string{"--only", "token", "--format", "json", ccRaw},
			wantSent: true, wantOK: true,
			check: func(t *testing.T, res cliResult) {
				es := parseEntries(t, res.Stdout)
				if len(es) != 1 || es[0].Status != 200 || es[0].OAuth != "token" || es[0].GrantType != "client_credentials" {
					t.Errorf("replay --format json: got\n%s\nwant one token client_credentials exchange with status 200", findingsOf(es))
				}
			},
		},
		{
			name:    "authorization_code refused without --force",
			args:    []string{"--only", "token", codeHAR},
			wantOut: []string{"--force"},
		},
		{
			name:     "authorization_code with --force is reported as reused",
			args:     []string{"--only", "token", "--force", "--format", "json", codeHAR},
			wantSent: true, wantOK: true,
			check: func(t *testing.T, res cliResult) {
				es := parseEntries(t, res.Stdout)
				if len(es) != 1 {
					t.Fatalf("replay --force: got %d exchanges, want 1:\n%s", len(es), res.Stdout)
				}
				if _, ok := es[0].finding("code-reused"); !ok || es[0].Status != 400 {
					t.Errorf("replay --force of a redeemed code: got %d %v, want 400 with code-reused", es[0].Status, es[0].findingIDs())
				}
			},
		},
		{
			name:    "redacted Basic credentials refused, naming Authorization",
			args:    []string{"--only", "token", ccBasic},
			wantOut: []string{"authorization", "redacted"},
		},
		{
			name:    "redacted client_secret refused, naming it",
			args:    []string{"--only", "token", ccPost},
			wantOut: []string{"client_secret", "redacted"},
		},
		{
			name:     "redacted client_secret supplied with --set",
			args:     []string{"--only", "token", "--format", "json", "--set", "client_secret=" + p.ServiceSecret, ccPost},
			wantSent: true, wantOK: true,
			check: func(t *testing.T, res cliResult) {
				es := parseEntries(t, res.Stdout)
				if len(es) != 1 || es[0].Status != 200 {
					t.Errorf("replay --set client_secret: got\n%s\nwant one exchange with status 200", findingsOf(es))
				}
			},
		},
	}
	t.Run("client_credentials after the secret was rotated", func(t *testing.T) {
		// A token endpoint whose client secret can be rotated: captured
		// while the secret was valid, replayed after rotation.
		secret := "cs-" + randHex(12)
		var rotated atomic.Bool
		var hits atomic.Int64
		srv := newTLSServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			id, sec, ok := r.BasicAuth()
			w.Header().Set("Content-Type", "application/json")
			if !ok || id != "svc" || sec != secret || rotated.Load() {
				w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
				return
			}
			fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","expires_in":3600}`, randHex(16))
		}))
		tokenURL := srv.URL + "/oauth/token"
		har := filepath.Join(dir, "rotate-raw.har")
		px := startProxy(t, ca, proxyOpts{HAR: har, HARUnredacted: true, TokenEndpoint: tokenURL})
		cfg := clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		if err := clientCredentials(px, cfg, nil); err != nil {
			t.Fatalf("capture: %v", err)
		}
		px.waitFor(t, "token exchange", isToken)
		px.Stop(t)

		rotated.Store(true)
		before := hits.Load()
		res := runCLI(t, nil, "replay", "--upstream-ca", ca.PEMFile, "--only", "token", har)
		out := res.Stdout + "\n" + res.Stderr
		if res.Code != 0 || hits.Load() != before+1 {
			t.Fatalf("replay: exit %d, %d requests sent, want 0 and 1\n%s", res.Code, hits.Load()-before, out)
		}
		for _, w := range []string{"status", "200 -> 401", "invalid_client"} {
			if !strings.Contains(out, w) {
				t.Errorf("replay output lacks %q (the answer changed from a token to invalid_client):\n%s", w, out)
			}
		}
		if strings.Contains(out, secret) {
			t.Errorf("replay output holds the raw client secret")
		}
		if *verbose {
			t.Logf("replay:\n%s", out)
		}
	})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the OP's token request counter tells what was sent.
			before := p.tokenRequests.Load()
			args := append([]string{"replay", "--upstream-ca", ca.PEMFile}, tt.args...)
			res := runCLI(t, nil, args...)
			sent := p.tokenRequests.Load() - before
			out := res.Stdout + "\n" + res.Stderr
			if tt.wantOK != (res.Code == 0) {
				t.Errorf("exit %d, want success=%v\n%s", res.Code, tt.wantOK, out)
			}
			if got := sent > 0; got != tt.wantSent {
				t.Errorf("%d requests reached the OP, want sent=%v", sent, tt.wantSent)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(strings.ToLower(out), strings.ToLower(w)) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, p.ServiceSecret) && !strings.Contains(strings.Join(tt.args, " "), p.ServiceSecret) {
				t.Errorf("replay output holds the raw client secret")
			}
			if tt.check != nil {
				tt.check(t, res)
			}
			if *verbose {
				t.Logf("replay %s:\n%s", strings.Join(tt.args, " "), out)
			}
		})
	}
}
