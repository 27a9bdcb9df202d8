package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestSite: with Options.Site, requests addressed to the proxy go to the
// site, directly and through the proxy itself, while /ca (trust page),
// /ca.pem and /ca.der stay the proxy's; nothing becomes an exchange.
func TestSite(t *testing.T) {
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Site", "1")
		w.Write([]byte("site:" + r.URL.Path))
	})
	p := startProxy(t, Options{Site: site})
	direct := &http.Client{Timeout: waitLimit}
	base := "http://" + p.addr
	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"direct", direct}, {"through itself", p.client(t)}} {
		t.Run(c.name, func(t *testing.T) {
			tests := []struct {
				path     string
				wantSite bool
				want     string
			}{
				{"/", true, "site:/"},
				{"/api/state", true, "site:/api/state"},
				{"/ca", false, "live view of the session"},
				{"/ca.pem", false, string(p.ca.CertPEM)},
			}
			for _, tt := range tests {
				resp, body := get(t, c.client, base+tt.path)
				if got := resp.Header.Get("X-Site") == "1"; got != tt.wantSite {
					t.Errorf("%s: served by site %v, want %v", tt.path, got, tt.wantSite)
				}
				if !strings.Contains(string(body), tt.want) {
					t.Errorf("%s: body %.80q, want it to contain %.80q", tt.path, body, tt.want)
				}
			}
			resp, body := get(t, c.client, base+"/ca.der")
			if resp.StatusCode != 200 || !bytes.Equal(body, p.ca.DER()) {
				t.Errorf("/ca.der: got %d, want the CA DER", resp.StatusCode)
			}
		})
	}
	if n := len(p.sink.all()); n != 0 {
		t.Errorf("site requests became %d exchanges, want 0", n)
	}
}
