package livelog

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	canaryCode   = "CANARY-code-5d1e"
	canarySecret = "CANARY-secret-a9f0"
	canaryJWT    = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJDQU5BUlkifQ.CANARYsig"
)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// exchanges is a small session: a callback carrying a code, a failed token
// exchange of the same login with a finding, a diagnosis and the login's
// trace line, an upstream error, a 200 that is
// really an error, and an ordinary API call.
func exchanges() []*flow.Exchange {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return []*flow.Exchange{
		{
			ID: "0b7e44d1-0000-4000-8000-000000000001", Start: t0,
			Request:  flow.Request{Method: "GET", URL: mustURL("https://app.example/cb?code=" + canaryCode + "&state=s1")},
			Response: &flow.Response{Status: 200, Body: flow.Body{Size: 120}},
			Timings:  flow.Timings{Total: 3 * time.Millisecond},
			OAuth:    flow.OAuth{Label: flow.LabelCallback, Login: "5c0ffee0-0000-4000-8000-000000000000", LoginLink: flow.LinkCertain},
		},
		{
			ID: "3f9c2a1e-0000-4000-8000-000000000002", Start: t0.Add(time.Second),
			Request:  flow.Request{Method: "POST", URL: mustURL("https://idp.example/oauth2/token")},
			Response: &flow.Response{Status: 400, Body: flow.Body{Size: 92}},
			Timings:  flow.Timings{Total: 38 * time.Millisecond},
			OAuth: flow.OAuth{Label: flow.LabelToken, GrantType: "authorization_code",
				Login: "5c0ffee0-0000-4000-8000-000000000000", LoginLink: flow.LinkCertain,
				LoginTrace: "login idp.example: authorize → 2 hops → callback → token 200 ok → token 400 code-reused",
				Findings: []flow.Finding{
					{ID: "code-reused", Severity: flow.SeverityError, Category: flow.CategoryGrant, Message: "the code code=" + canaryCode + " was already sent", Fix: "restart the flow"},
					{ID: "scope-narrowed", Severity: flow.SeverityInfo, Category: flow.CategoryPermission, Message: "granted fewer scopes", Fix: "check consent"},
				},
				Diagnosis: &flow.Diagnosis{Category: flow.CategoryGrant, Cause: "code-reused", Summary: "already used", Evidence: []string{"error=invalid_grant", "Bearer " + canaryJWT}, Fix: []string{"restart the flow"}, Confidence: "high", Source: "RFC 6749 §4.1.2"},
			},
		},
		{
			ID: "77777777-0000-4000-8000-000000000003", Start: t0.Add(2 * time.Second),
			Request: flow.Request{Method: "POST", URL: mustURL("https://down.example/token?client_secret=" + canarySecret)},
			Error:   `Post "https://down.example/token?client_secret=` + canarySecret + `": dial tcp: connection refused`,
			Timings: flow.Timings{Total: 1500 * time.Microsecond},
			OAuth:   flow.OAuth{Label: flow.LabelToken},
		},
		{
			ID: "88888888-0000-4000-8000-000000000004", Start: t0.Add(3 * time.Second),
			Request:  flow.Request{Method: "POST", URL: mustURL("https://github.com/login/oauth/access_token")},
			Response: &flow.Response{Status: 200, Body: flow.Body{Size: 20 << 10}},
			Timings:  flow.Timings{Total: 12 * time.Second},
			OAuth:    flow.OAuth{Label: flow.LabelToken, Diagnosis: &flow.Diagnosis{Category: flow.CategoryClientConfig, Cause: "invalid-client", Summary: "bad credentials", Confidence: "high"}},
		},
		{
			ID: "99999999-0000-4000-8000-000000000005", Start: t0.Add(4 * time.Second),
			Request:  flow.Request{Method: "GET", URL: mustURL("https://api.example/items"), Header: http.Header{}},
			Response: &flow.Response{Status: 404, Body: flow.Body{Size: 30 << 20}},
			Timings:  flow.Timings{Total: 900 * time.Microsecond},
		},
	}
}

func render(t *testing.T, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	opts.Out = &buf
	l := New(opts)
	for _, x := range exchanges() {
		l.Handle(x)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestConsole(t *testing.T) {
	t.Setenv("TZ", "UTC")
	local := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = local })
	tests := []struct {
		name string
		opts Options
	}{
		{"console.golden", Options{Format: FormatConsole}},
		{"console-verbose.golden", Options{Format: FormatConsole, Verbose: true}},
		{"console-only-oauth.golden", Options{Format: FormatConsole, OnlyOAuth: true}},
		{"console-color.golden", Options{Format: FormatConsole, Color: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { golden(t, tt.name, render(t, tt.opts)) })
	}
}

func TestJSON(t *testing.T) {
	out := render(t, Options{Format: FormatJSON})
	golden(t, "json.golden", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d JSON lines, want 5 (one per exchange)", len(lines))
	}
	wantLevel := []string{"info", "warn", "error", "warn", "warn"}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		for _, k := range []string{"flow", "method", "url", "status", "duration_ms", "time"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %s", i, k, l)
			}
		}
		if m["level"] != wantLevel[i] {
			t.Errorf("line %d: level %v, want %s", i, m["level"], wantLevel[i])
		}
	}
}

// TestNoSecrets: canaries in URLs, error texts, finding messages and
// diagnosis evidence never reach any output format.
func TestNoSecrets(t *testing.T) {
	for _, opts := range []Options{{Format: FormatConsole}, {Format: FormatConsole, Verbose: true, Color: true}, {Format: FormatJSON}} {
		out := render(t, opts)
		for _, c := range []string{canaryCode, canarySecret, canaryJWT, "CANARY"} {
			if strings.Contains(out, c) {
				t.Errorf("format %s leaks %q:\n%s", opts.Format, c, out)
			}
		}
	}
}

func TestSummary(t *testing.T) {
	var s Summary
	for _, x := range exchanges() {
		s.Handle(x)
	}
	var buf bytes.Buffer
	s.WriteTo(&buf)
	golden(t, "summary.golden", buf.String())
	if s.Failed != 4 {
		t.Errorf("failed = %d, want 4 (400, upstream error, 200 with an error diagnosis, 404)", s.Failed)
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		ok   bool
		want Format
	}{{"console", true, FormatConsole}, {"json", true, FormatJSON}, {"xml", false, ""}, {"", false, ""}} {
		got, err := ParseFormat(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestLine(t *testing.T) {
	xs := exchanges()
	tests := []struct {
		name string
		x    *flow.Exchange
		want string
	}{
		{"callback with a code", xs[0], "GET app.example/cb?code=redacted:"},
		{"failed token exchange", xs[1], "POST idp.example/oauth2/token 400 38ms 92B token authorization_code"},
		{"upstream error", xs[2], "POST down.example/token?client_secret=redacted:"},
		{"ordinary API", xs[4], "GET api.example/items 404 900µs 30MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Line(tt.x)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("Line = %q, want it to start with %q", got, tt.want)
			}
			if strings.Contains(got, "\n") || strings.Contains(got, "\x1b") {
				t.Errorf("Line = %q: want one line without colours", got)
			}
			for _, c := range []string{canaryCode, canarySecret} {
				if strings.Contains(got, c) {
					t.Errorf("Line = %q leaks %s", got, c)
				}
			}
		})
	}
}

// TestBrowserCaptureLines: what a browser's capture says of a request that
// got no answer is printed as the browser's, not as an upstream error, and
// a custom-scheme URL keeps its scheme (its code redacted).
func TestBrowserCaptureLines(t *testing.T) {
	tests := []struct {
		name, url, err string
		want, wantNot  string
	}{
		{"browser error", "http://localhost:8400/callback", flow.BrowserReportedPrefix + "net::ERR_CONNECTION_REFUSED (no answer)",
			"\n  the browser reported net::ERR_CONNECTION_REFUSED (no answer)\n", "upstream error"},
		{"custom-scheme callback", "com.example.app:/oauth2redirect?code=" + canaryCode + "&state=s1", flow.BrowserCanceledPrefix + "loading a com.example.app: URL (net::ERR_UNKNOWN_URL_SCHEME)",
			" GET com.example.app:/oauth2redirect?code=redacted:", canaryCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(Options{Out: &buf}).Handle(&flow.Exchange{ID: "aaaaaaaa-0000-4000-8000-000000000002", Start: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
				Request: flow.Request{Method: "GET", URL: mustURL(tt.url)}, Error: tt.err})
			got := buf.String()
			if !strings.Contains(got, tt.want) || strings.Contains(got, tt.wantNot) {
				t.Errorf("got:\n%s\nwant %q and no %q", got, tt.want, tt.wantNot)
			}
		})
	}
}

// TestClientAbortLine: a client that gave up is said as such, not as an
// upstream error (the upstream did nothing wrong).
func TestClientAbortLine(t *testing.T) {
	var buf bytes.Buffer
	l := New(Options{Out: &buf})
	l.Handle(&flow.Exchange{ID: "aaaaaaaa-0000-4000-8000-000000000001", Start: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Request: flow.Request{Method: "GET", URL: mustURL("https://slow.example/x")},
		Error:   flow.ClientAbortedPrefix + "the client closed the connection before slow.example:443 answered"})
	got := buf.String()
	if !strings.Contains(got, "\n  client aborted: the client closed the connection before slow.example:443 answered\n") || strings.Contains(got, "upstream error") {
		t.Errorf("client abort line:\n%s\nwant 'client aborted: ...' and no 'upstream error'", got)
	}
}

// TestFixRedactedEveryTime: fixes are remembered only when redaction leaves
// them as they are, so a fix quoting a secret is redacted on every line,
// not only the first.
func TestFixRedactedEveryTime(t *testing.T) {
	tests := []struct {
		name, fix string
		secret    string // must never be printed; "" for a static fix
	}{
		{"static fix", "Redeem each code exactly once.", ""},
		{"fix quoting a client secret", "Send client_secret=" + canarySecret + " in the body, not the query.", canarySecret},
		{"fix quoting a JWT", "Compare with " + canaryJWT + ".", "CANARYsig"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			l := New(Options{Out: &out})
			x := &flow.Exchange{ID: "f1", Start: time.Unix(0, 0), Request: flow.Request{Method: "POST", URL: mustURL("https://idp.test/token")}}
			x.OAuth.Findings = []flow.Finding{{ID: "x-test", Severity: flow.SeverityError, Message: "m", Fix: tc.fix}}
			for range 3 {
				l.Handle(x)
			}
			got := out.String()
			if n := strings.Count(got, "fix: "); n != 3 {
				t.Errorf("got %d fix lines, want 3:\n%s", n, got)
			}
			if tc.secret != "" && strings.Contains(got, tc.secret) {
				t.Errorf("secret %q printed:\n%s", tc.secret, got)
			}
			if tc.secret == "" && strings.Count(got, tc.fix) != 3 {
				t.Errorf("static fix not printed 3 times as is:\n%s", got)
			}
		})
	}
}
