package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthproxy/oauthproxy/flow"
)

// nginx403 is the stock nginx "403 Forbidden" page.
const nginx403 = `<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center><hr><center>nginx</center></body></html>`

// diffReport is the part of `diff --format json` the tests read.
type diffReport struct {
	Headline string `json:"headline"`
	Failure  bool   `json:"failure"`
	Verdict  []struct {
		Rank     int           `json:"rank"`
		Score    int           `json:"score"`
		Category flow.Category `json:"category"`
		Kind     string        `json:"kind"`
		Field    string        `json:"field"`
		Summary  string        `json:"summary"`
	} `json:"verdict"`
}

func (r diffReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "headline: %s\n", r.Headline)
	for _, v := range r.Verdict {
		fmt.Fprintf(&b, "  #%d score=%d %s %s field=%q: %s\n", v.Rank, v.Score, v.Category, v.Kind, v.Field, v.Summary)
	}
	return b.String()
}

// runDiff runs `oauthproxy diff --format json a b`.
func runDiff(t *testing.T, a, b string) diffReport {
	t.Helper()
	res := runCLI(t, nil, "diff", "--format", "json", a, b)
	if res.Code != 0 && res.Code != 1 {
		t.Fatalf("diff: exit %d\n%s", res.Code, res.Stderr)
	}
	var r diffReport
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("diff --format json: not JSON: %v\n%s", err, res.Stdout)
	}
	if len(r.Verdict) == 0 {
		t.Fatalf("diff: empty verdict\n%s", res.Stdout)
	}
	if *verbose {
		t.Logf("diff %s %s:\n%s", a, b, r)
	}
	return r
}

// clientCredentials gets a token with client_credentials through px;
// wrap, if set, sits between the client and the proxy.
func clientCredentials(px *proxyProc, cfg clientcredentials.Config, wrap func(http.RoundTripper) http.RoundTripper) error {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, px.client(wrap))
	_, err := cfg.Token(ctx)
	return err
}

// egressGuard answers the token endpoint like an IP allow-list in front of
// the authorization server: 127.0.0.1 gets a token, anything else the
// nginx 403 page.
func egressGuard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if host != "127.0.0.1" {
			w.Header().Set("Server", "nginx")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, nginx403)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","expires_in":3600}`, randHex(16))
	})
}

// egressUpstream starts a token endpoint behind an allow-list of 127.0.0.1.
type egressUpstream struct {
	name  string
	setup func(t *testing.T) (tokenURL string)
}

func egressUpstreams(ca *testCA) []egressUpstream {
	return []egressUpstream{
		{"go allow-list", func(t *testing.T) string {
			return newTLSServer(t, ca, egressGuard()).URL + "/oauth/token"
		}},
		{"real nginx", func(t *testing.T) string { return startNginx(t, ca) }},
	}
}

// TestEgressGroundTruth checks the allow-lists themselves, without the
// proxy: a token for 127.0.0.1, nginx's HTML 403 for 127.0.0.2.
func TestEgressGroundTruth(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	for _, tt := range egressUpstreams(ca) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokenURL := tt.setup(t)
			for _, src := range []struct {
				ip         string
				wantStatus int
				wantBody   string
			}{
				{"127.0.0.1", 200, `"access_token"`},
				{"127.0.0.2", 403, "<center>nginx"},
			} {
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src.ip)}}
				c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
				resp, err := c.Post(tokenURL, "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
				if err != nil {
					t.Fatalf("from %s: %v", src.ip, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != src.wantStatus || !strings.Contains(string(b), src.wantBody) || (src.wantStatus == 403 && resp.Header.Get("Server") == "") {
					t.Errorf("from %s: got %d Server=%q %s, want %d with %s", src.ip, resp.StatusCode, resp.Header.Get("Server"), b, src.wantStatus, src.wantBody)
				}
			}
		})
	}
}

// TestDiffEgress (issue 6, acceptance 1): the same client_credentials flow
// captured from the allowed egress address and from 127.0.0.2, which an
// allow-list answers with nginx's 403 page; diff ranks the egress address
// first, as a network problem.
func TestDiffEgress(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "diff")
	ca := newTestCA(t)
	for _, tt := range egressUpstreams(ca) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokenURL := tt.setup(t)
			dir := t.TempDir()
			cfg := clientcredentials.Config{ClientID: "svc", ClientSecret: "cs-" + randHex(12), TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
			capture := func(har, egress string) (logEntry, error) {
				px := startProxy(t, ca, proxyOpts{HAR: har, EgressAddr: egress, TokenEndpoint: tokenURL})
				err := clientCredentials(px, cfg, nil)
				e := px.waitFor(t, "token exchange", isToken)
				px.Stop(t)
				return e, err
			}
			a, b := filepath.Join(dir, "a.har"), filepath.Join(dir, "b.har")
			if _, err := capture(a, ""); err != nil {
				t.Fatalf("capture A (default egress): %v", err)
			}
			eb, err := capture(b, "127.0.0.2")
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != 403 {
				t.Fatalf("capture B (egress 127.0.0.2): got %v, want the 403 page", err)
			}
			if eb.Diagnosis == nil || eb.Diagnosis.Category != flow.CategoryNetwork {
				t.Errorf("live log of B: got diagnosis %+v, want category network (an HTML 403 from nginx is not the authorization server)", eb.Diagnosis)
			}

			r := runDiff(t, a, b)
			top := r.Verdict[0]
			if top.Kind != "egress-ip" || top.Category != flow.CategoryNetwork {
				t.Errorf("diff verdict #1: got %s/%s, want egress-ip/network\n%s", top.Kind, top.Category, r)
			}
			if !strings.Contains(top.Summary, "127.0.0.2") {
				t.Errorf("diff verdict #1 summary %q: want it to name 127.0.0.2", top.Summary)
			}
		})
	}
}

// startNginx runs a real nginx on 127.0.0.1 with `allow 127.0.0.1; deny
// all;` in front of a token endpoint, and returns its token URL.
func startNginx(t *testing.T, ca *testCA) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed (command -v nginx failed); the Go allow-list variant covers the scenario")
	}
	// The authorization server behind nginx (allow/deny run in nginx's
	// access phase, before proxy_pass; a bare `return` would bypass them).
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","expires_in":3600}`, randHex(16))
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	certFile, keyFile := ca.leafFiles(t, dir)
	port := freePort(t)
	conf := fmt.Sprintf(`
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location /oauth/token {
      allow 127.0.0.1;
      deny all;
      proxy_pass %[5]s;
    }
  }
}
`, dir, port, certFile, keyFile, backend.URL)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "error.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(waitTimeout):
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(waitTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s", addr)
		}
	}
	return "https://" + addr + "/oauth/token"
}

// dropHeader is a hop between the client and the proxy (a corporate proxy)
// that removes a header.
type dropHeader struct {
	name string
	next http.RoundTripper
}

func (d dropHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del(d.name)
	return d.next.RoundTrip(r)
}

// TestDiffDroppedAuthorization: the same client_credentials request against
// the OP, once intact and once through a hop that drops Authorization; diff
// names the Authorization header.
func TestDiffDroppedAuthorization(t *testing.T) {
	t.Parallel()
	needSubcommand(t, "diff")
	ca := newTestCA(t)
	p := newIDP(t, ca)
	dir := t.TempDir()
	cfg := clientcredentials.Config{ClientID: p.ServiceID, ClientSecret: p.ServiceSecret, TokenURL: p.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	capture := func(har string, wrap func(http.RoundTripper) http.RoundTripper) error {
		px := startProxy(t, ca, proxyOpts{HAR: har, TokenEndpoint: p.TokenURL})
		err := clientCredentials(px, cfg, wrap)
		px.waitFor(t, "token exchange", isToken)
		px.Stop(t)
		return err
	}
	a, b := filepath.Join(dir, "a.har"), filepath.Join(dir, "b.har")
	if err := capture(a, nil); err != nil {
		t.Fatalf("capture A: %v", err)
	}
	err := capture(b, func(rt http.RoundTripper) http.RoundTripper { return dropHeader{"Authorization", rt} })
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("capture B without Authorization: got %v, want the OP's error", err)
	}

	r := runDiff(t, a, b)
	top := r.Verdict[0]
	if !strings.EqualFold(top.Field, "Authorization") && !strings.Contains(strings.ToLower(top.Summary), "authorization") {
		t.Errorf("diff verdict #1: got %s field=%q %q, want it to name the Authorization header\n%s", top.Kind, top.Field, top.Summary, r)
	}
	named := false
	for _, v := range r.Verdict {
		if v.Kind == "header-removed" && strings.EqualFold(v.Field, "Authorization") {
			named = true
		}
	}
	if !named {
		t.Errorf("diff verdict: no header-removed reason for Authorization\n%s", r)
	}
}
