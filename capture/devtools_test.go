package capture

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestDevToolsNoAnswer reads the entries Chrome's DevTools export for
// requests that got no answer (status 0, statusText "", no headers,
// content size 0, "_error" with the net error name, timings -1; the shape
// of front_end/models/har/Log.ts) from testdata/devtools/ and checks the
// exchange each becomes: what the browser reported is kept in Error, a
// cancellation (net::ERR_ABORTED on a navigation or subresource, a
// custom-scheme URL the browser does not load) is BrowserCanceled and not
// Failed, any other error fails the exchange (a refused callback too, until
// inspection labels it: see flow.Exchange.CallbackUnanswered), and a
// custom-scheme URL is read instead of stopping the whole capture.
func TestDevToolsNoAnswer(t *testing.T) {
	tests := []struct {
		name, file string
		entry      int // index in the file's (sorted) exchanges
		url        string
		errHas     string // substring of Error
		canceled   bool   // BrowserCanceled
		aborted    bool   // ClientAborted
		failed     bool
	}{
		{"custom-scheme callback", "callback-custom-scheme.har", 4,
			"com.example.app:/oauth2redirect?code=CANARY-code-native-7f3a9c&state=st-Qm9vYmFy-native&iss=https%3A%2F%2Fid.example.com",
			"(net::ERR_UNKNOWN_URL_SCHEME)", true, true, false},
		{"loopback callback refused", "callback-refused.har", 4,
			"http://localhost:8400/callback?code=CANARY-code-cli-41be07&state=st-bG9vcGJhY2s-cli&iss=https%3A%2F%2Fid.example.com",
			"the browser reported net::ERR_CONNECTION_REFUSED", false, false, true},
		{"login page canceled", "canceled-navigation.har", 1,
			"https://id.example.com/login?authRequestID=ar-st-c3BhLWxvZ2lu-spa", "(net::ERR_ABORTED)", true, true, false},
		{"favicon canceled", "canceled-navigation.har", 3, "https://id.example.com/favicon.ico", "(net::ERR_ABORTED)", true, true, false},
		{"prefetch canceled", "canceled-navigation.har", 4, "https://id.example.com/static/consent.js", "(net::ERR_ABORTED)", true, true, false},
		{"authorize blocked by an extension", "authorize-blocked.har", 1, "https://id.example.com/oauth2/authorize?",
			"the browser reported net::ERR_BLOCKED_BY_CLIENT", false, false, true},
		{"Firefox: authorize TLS failure", "firefox-authorize-tls.har", 1, "https://id.example.com/oauth2/authorize?",
			`the browser reported a failed TLS connection (Firefox's _securityState "broken"`, false, false, true},
		{"Firefox: loopback callback refused (no reason recorded)", "firefox-callback-refused.har", 1,
			"http://localhost:8400/callback?code=CANARY-code-ff-cli-9d2e41&state=st-ZmlyZWZveA-cli",
			"no response", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs, err := ReadAll(filepath.Join("testdata", "devtools", tt.file))
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if tt.entry >= len(xs) {
				t.Fatalf("got %d exchanges, want more than %d", len(xs), tt.entry)
			}
			x := xs[tt.entry]
			if got := x.Request.URLString(); !strings.HasPrefix(got, tt.url) {
				t.Errorf("URL: got %q, want prefix %q", got, tt.url)
			}
			if x.Response != nil {
				t.Errorf("Response: got status %d, want none (status 0, no headers)", x.Response.Status)
			}
			if !strings.Contains(x.Error, tt.errHas) {
				t.Errorf("Error: got %q, want it to contain %q", x.Error, tt.errHas)
			}
			if got := x.BrowserCanceled(); got != tt.canceled {
				t.Errorf("BrowserCanceled() = %v, want %v", got, tt.canceled)
			}
			if got := x.ClientAborted(); got != tt.aborted {
				t.Errorf("ClientAborted() = %v, want %v", got, tt.aborted)
			}
			if got := x.Failed(); got != tt.failed {
				t.Errorf("Failed() = %v, want %v", got, tt.failed)
			}
			if strings.Contains(x.Error, "CANARY") {
				t.Errorf("Error quotes a secret of the URL: %q", x.Error)
			}
		})
	}
}

// TestFirefoxError: of a Firefox entry that got no answer, only a TLS
// failure ("_securityState": "broken") is worded as the browser's report;
// the other states say nothing about why, and another tool's own error
// text is kept.
func TestFirefoxError(t *testing.T) {
	tests := []struct {
		name, state, err string
		want             bool // worded as a TLS failure the browser reported
	}{
		{"broken", "broken", "", true},
		{"insecure (plain http, or aborted before TLS)", "insecure", "", false},
		{"secure", "secure", "", false},
		{"weak", "weak", "", false},
		{"no state (not Firefox)", "", "", false},
		{"broken, but the tool wrote its own error", "broken", "Connection killed.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{SecurityState: tt.state, Response: Response{Error: tt.err}}
			got := firefoxError(e)
			if tt.want != (got != "") {
				t.Fatalf("firefoxError() = %q, want worded: %v", got, tt.want)
			}
			if tt.want && (!strings.HasPrefix(got, flow.BrowserReportedPrefix) || !strings.Contains(got, "TLS")) {
				t.Errorf("got %q, want prefix %q and \"TLS\" (for the diagnosis)", got, flow.BrowserReportedPrefix)
			}
		})
	}
}

// TestBrowserError: every kind of DevTools "_error" gets its wording, and
// only Chrome net errors are reworded (other tools' texts stay as they are).
func TestBrowserError(t *testing.T) {
	web := mustURL(t, "https://id.example.com/login")
	app := mustURL(t, "com.example.app:/oauth2redirect?code=x")
	tests := []struct {
		name, err, rtype string
		u                string
		wantPrefix       string // "" means not reworded
	}{
		{"navigation canceled", "net::ERR_ABORTED", "document", "web", flow.BrowserCanceledPrefix},
		{"image canceled", "net::ERR_ABORTED", "image", "web", flow.BrowserCanceledPrefix},
		{"fetch aborted by the page", "net::ERR_ABORTED", "fetch", "web", flow.ClientAbortedPrefix + "the page's script"},
		{"xhr aborted by the page", "net::ERR_ABORTED", "xhr", "web", flow.ClientAbortedPrefix + "the page's script"},
		{"custom scheme, unknown", "net::ERR_UNKNOWN_URL_SCHEME", "document", "app", flow.BrowserCanceledPrefix + "loading a com.example.app: URL"},
		{"custom scheme, handed over", "net::ERR_ABORTED", "document", "app", flow.BrowserCanceledPrefix + "loading a com.example.app: URL"},
		{"name not resolved", "net::ERR_NAME_NOT_RESOLVED", "document", "web", flow.BrowserReportedPrefix + "net::ERR_NAME_NOT_RESOLVED"},
		{"mitmproxy's text", "Connection killed.", "", "web", ""},
		{"HTTP Toolkit's text", "Aborted", "", "web", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := web
			if tt.u == "app" {
				u = app
			}
			got := browserError(u, tt.err, tt.rtype)
			if tt.wantPrefix == "" {
				if got != "" {
					t.Errorf("got %q, want the text kept as is (\"\")", got)
				}
				return
			}
			if !strings.HasPrefix(got, tt.wantPrefix) || !strings.Contains(got, tt.err) {
				t.Errorf("got %q, want prefix %q and the browser's %s", got, tt.wantPrefix, tt.err)
			}
		})
	}
}

// TestNonWebURLs: entries whose URL has a scheme but no host (what DevTools
// record for data:, blob: and custom-scheme URLs) are read, not an error
// that ends the capture; a relative URL without a host still is one.
func TestNonWebURLs(t *testing.T) {
	tests := []struct {
		name, url string
		wantErr   bool
	}{
		{"custom scheme with path", "com.example.app:/oauth2redirect?code=x&state=y", false},
		{"custom scheme, opaque", "msauth.com.example.app:oauth?code=x", false},
		{"data URL", "data:image/png;base64,iVBORw0KGgo=", false},
		{"blob URL", "blob:https://app.example.com/3f1c2a9e-0000-4000-8000-000000000000", false},
		{"relative, no host", "/oauth2/token", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{StartedDateTime: "2025-06-02T09:30:00.000Z", Request: Request{Method: "GET", URL: tt.url},
				Response: Response{Error: "net::ERR_UNKNOWN_URL_SCHEME"}}
			x, err := ExchangeFromEntry(e, 0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && x.Request.URLString() != tt.url {
				t.Errorf("URL: got %q, want %q", x.Request.URLString(), tt.url)
			}
		})
	}
}
