package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// secrets that must never appear in a report.
var secrets = []string{"s3cr3t-value", "at-123456", "bXktY2xpZW50OnMzY3IzdC12YWx1ZQ==", "verifier-", "the-code-"}

// scenario is a pair of captures and what the verdict should start with.
type scenario struct {
	name  string
	a, b  func() []*flow.Exchange
	kinds []string // expected leading verdict kinds, in order
}

func egressScenario() scenario {
	return scenario{
		name: "egress",
		a: func() []*flow.Exchange {
			return []*flow.Exchange{tokenReq(0, "client_credentials", egress("127.0.0.1"), ok())}
		},
		b: func() []*flow.Exchange {
			return []*flow.Exchange{tokenReq(0, "client_credentials", egress("127.0.0.2"),
				respond(403, "text/html", "<html><body>Forbidden</body></html>", 0),
				diagnosed(flow.CategoryNetwork, "ip-not-allowlisted", "the request was blocked by an IP allowlist"))}
		},
		kinds: []string{"egress-ip"},
	}
}

func headerRewriteScenario() scenario {
	return scenario{
		name: "header-rewrite",
		a: func() []*flow.Exchange {
			return []*flow.Exchange{tokenReq(0, "client_credentials", ok())}
		},
		b: func() []*flow.Exchange {
			return []*flow.Exchange{tokenReq(0, "client_credentials",
				noHeader("Authorization"), header("Via", "1.1 corp-gateway"),
				jsonReq(`{"grant_type":"client_credentials","scope":"api"}`),
				respond(401, "application/json", `{"error":"invalid_client"}`, 0),
				diagnosed(flow.CategoryClientConfig, "invalid-client", "client authentication failed"))}
		},
		kinds: []string{"header-removed", "content-type", "auth-method"},
	}
}

func kinds(r *Report) []string {
	var out []string
	for _, v := range r.Verdict {
		out = append(out, v.Kind+"/"+v.Field)
	}
	return out
}

func TestVerdict(t *testing.T) {
	t.Run("egress IP not allowlisted ranks first", func(t *testing.T) {
		s := egressScenario()
		r := Compare(s.a(), s.b(), Options{NameA: "laptop.har", NameB: "server.har"})
		if len(r.Verdict) == 0 {
			t.Fatalf("got empty verdict, want egress-ip first")
		}
		v := r.Verdict[0]
		if v.Rank != 1 || v.Kind != "egress-ip" {
			t.Fatalf("got rank %d kind %q, want rank 1 egress-ip (verdict %v)", v.Rank, v.Kind, kinds(r))
		}
		if v.Category != flow.CategoryNetwork {
			t.Errorf("got category %q, want network", v.Category)
		}
		for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
			if !strings.Contains(v.Summary, ip) {
				t.Errorf("summary %q does not mention %s", v.Summary, ip)
			}
		}
		if !r.Failure || !strings.HasPrefix(r.Headline, "B fails where A succeeds") {
			t.Errorf("got headline %q failure %v, want B fails where A succeeds", r.Headline, r.Failure)
		}
	})
	t.Run("missing Authorization and JSON body", func(t *testing.T) {
		s := headerRewriteScenario()
		r := Compare(s.a(), s.b(), Options{})
		if len(r.Verdict) == 0 || r.Verdict[0].Kind != "header-removed" || r.Verdict[0].Field != "Authorization" {
			t.Fatalf("got verdict %v, want header-removed/Authorization first", kinds(r))
		}
		if !strings.Contains(r.Verdict[0].Summary, "Authorization") {
			t.Errorf("got summary %q, want it to name Authorization", r.Verdict[0].Summary)
		}
		ct := findReason(r, "content-type")
		if ct == nil {
			t.Fatalf("got verdict %v, want a content-type reason", kinds(r))
		}
		for _, want := range []string{"application/x-www-form-urlencoded", "application/json"} {
			if !strings.Contains(ct.Summary, want) {
				t.Errorf("content-type summary %q does not name %s", ct.Summary, want)
			}
		}
		if ct.Category != flow.CategoryRequest {
			t.Errorf("got content-type category %q, want request", ct.Category)
		}
		am := findReason(r, "auth-method")
		if am == nil || !strings.Contains(am.Summary, "A basic, B none") {
			t.Errorf("got auth-method %+v, want A basic, B none", am)
		}
		if via := findReason(r, "header-added"); via == nil || via.Field != "Via" {
			t.Errorf("got %+v, want header-added Via", via)
		}
	})
	t.Run("unreachable is not an allowlist problem", func(t *testing.T) {
		a := []*flow.Exchange{tokenReq(0, "client_credentials", ok())}
		b := []*flow.Exchange{tokenReq(0, "client_credentials", egress("127.0.0.2"), func(x *flow.Exchange) { x.Error = "dial tcp: i/o timeout" },
			diagnosed(flow.CategoryNetwork, "upstream-unreachable", "OAuth server unreachable"))}
		r := Compare(a, b, Options{})
		e := findReason(r, "egress-ip")
		if e == nil || strings.Contains(e.Summary, "allowlisted") || e.Score >= 95 {
			t.Errorf("got %+v, want a plain egress-ip difference", e)
		}
	})
	t.Run("only Authorization removed", func(t *testing.T) {
		a := []*flow.Exchange{tokenReq(0, "client_credentials", ok())}
		b := []*flow.Exchange{tokenReq(0, "client_credentials", noHeader("Authorization"),
			respond(401, "application/json", `{"error":"invalid_client"}`, 0))}
		r := Compare(a, b, Options{})
		if got := r.Verdict[0]; got.Kind != "header-removed" || got.Field != "Authorization" {
			t.Fatalf("got %s/%s first (%v), want header-removed/Authorization", got.Kind, got.Field, kinds(r))
		}
	})
}

func findReason(r *Report, kind string) *Reason {
	for i := range r.Verdict {
		if r.Verdict[i].Kind == kind {
			return &r.Verdict[i]
		}
	}
	return nil
}

func redactAll(xs []*flow.Exchange) []*flow.Exchange {
	out := make([]*flow.Exchange, len(xs))
	for i, x := range xs {
		out[i] = redact.Exchange(x)
	}
	return out
}

// TestRedactedCapturesDiffTheSame compares verdict kinds and order for raw
// and redacted variants of each scenario.
func TestRedactedCapturesDiffTheSame(t *testing.T) {
	for _, s := range []scenario{egressScenario(), headerRewriteScenario(), pkceScenario()} {
		want := kinds(Compare(s.a(), s.b(), Options{}))
		if len(want) == 0 {
			t.Fatalf("%s: raw verdict empty", s.name)
		}
		for _, v := range []struct {
			name string
			a, b func() []*flow.Exchange
		}{
			{"A redacted", func() []*flow.Exchange { return redactAll(s.a()) }, s.b},
			{"B redacted", s.a, func() []*flow.Exchange { return redactAll(s.b()) }},
			{"both redacted", func() []*flow.Exchange { return redactAll(s.a()) }, func() []*flow.Exchange { return redactAll(s.b()) }},
		} {
			t.Run(s.name+"/"+v.name, func(t *testing.T) {
				got := kinds(Compare(v.a(), v.b(), Options{}))
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("got verdict %v, want %v", got, want)
				}
			})
		}
	}
}

func pkceScenario() scenario {
	code := func(seq int, verifier, clientID string, opts ...opt) *flow.Exchange {
		return exchange(seq, "POST", "https://idp.test/oauth2/token", append([]opt{
			labelled(flow.LabelToken, "authorization_code"),
			form("grant_type", "authorization_code", "code", "the-code-"+verifier, "code_verifier", verifier,
				"client_id", clientID, "client_secret", "s3cr3t-value", "redirect_uri", "https://app.test/cb"),
		}, opts...)...)
	}
	return scenario{
		name: "pkce",
		a: func() []*flow.Exchange {
			return []*flow.Exchange{code(0, "verifier-"+strings.Repeat("a", 40), "spa", ok())}
		},
		b: func() []*flow.Exchange {
			return []*flow.Exchange{code(0, "verifier-"+strings.Repeat("b", 20), "spa-prod",
				respond(400, "application/json", `{"error":"invalid_grant"}`, 0),
				diagnosed(flow.CategoryGrant, "pkce-mismatch", "code_verifier does not match"))}
		},
		kinds: []string{"param-value"},
	}
}

func TestParams(t *testing.T) {
	s := pkceScenario()
	r := Compare(s.a(), s.b(), Options{})
	if v := r.Verdict[0]; v.Kind != "param-value" || v.Field != "client_id" {
		t.Fatalf("got %s/%s first, want param-value/client_id (%v)", v.Kind, v.Field, kinds(r))
	}
	var shape *Difference
	for i, d := range r.Pairs[0].Differences {
		if d.Kind == "param-value" && (d.Field == "code" || d.Field == "code_verifier") {
			t.Errorf("per-flow parameter %s compared by value: %+v", d.Field, d)
		}
		if d.Kind == "param-shape" && d.Field == "code_verifier" {
			shape = &r.Pairs[0].Differences[i]
		}
	}
	if shape == nil || shape.A != "len=49 base64url" || shape.B != "len=29 base64url" {
		t.Errorf("got code_verifier shape %+v, want len=49 vs len=29", shape)
	}
}

func TestConnectionAndClock(t *testing.T) {
	a := []*flow.Exchange{tokenReq(0, "client_credentials", ok())}
	b := []*flow.Exchange{tokenReq(0, "client_credentials",
		respond(400, "application/json", `{"error":"invalid_client","error_description":"assertion expired"}`, 5*time.Minute),
		conn(func(c *flow.Conn) {
			c.ServerAddr = "10.9.9.9:443"
			c.CertIssuer = "CN=Corp Inspection CA"
			c.TLSVersion = "TLS 1.2"
		}))}
	r := Compare(a, b, Options{})
	tests := []struct {
		kind, a, b string
	}{
		{"clock-skew", "+0s", "+300s"},
		{"resolved-ip", "127.0.0.1", "10.9.9.9"},
		{"server-cert", "CN=Test CA", "CN=Corp Inspection CA"},
		{"tls", "TLS 1.3 h2 TLS_AES_128_GCM_SHA256", "TLS 1.2 h2 TLS_AES_128_GCM_SHA256"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			var got *Difference
			for i, d := range r.Pairs[0].Differences {
				if d.Kind == tt.kind {
					got = &r.Pairs[0].Differences[i]
				}
			}
			if got == nil || got.A != tt.a || got.B != tt.b {
				t.Errorf("got %+v, want %s A %s B %s", got, tt.kind, tt.a, tt.b)
			}
		})
	}
	if r.B.ClockSkewSeconds == nil || *r.B.ClockSkewSeconds != 300 {
		t.Errorf("got B clock skew %v, want 300", r.B.ClockSkewSeconds)
	}
	if v := r.Verdict[0]; v.Kind != "clock-skew" {
		t.Errorf("got %s first (%v), want clock-skew", v.Kind, kinds(r))
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct {
		name, urlA, urlB, wantDetail string
	}{
		{"trailing slash", "https://idp.test/oauth2/token", "https://idp.test/oauth2/token/", "trailing slash"},
		{"case", "https://idp.test/oauth2/token", "https://idp.test/OAuth2/Token", "letter case"},
		{"tenant in path", "https://idp.test/t1/oauth2/token", "https://idp.test/t2/oauth2/token", "tenant"},
		{"host", "https://idp.test/oauth2/token", "https://idp-staging.test/oauth2/token", "host differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func(u string, o opt) []*flow.Exchange {
				return []*flow.Exchange{exchange(0, "POST", u, labelled(flow.LabelToken, "client_credentials"),
					form("grant_type", "client_credentials", "client_id", "c", "client_secret", "s3cr3t-value"), o)}
			}
			r := Compare(mk(tt.urlA, ok()), mk(tt.urlB, respond(404, "text/plain", "not found", 0)), Options{})
			if len(r.Pairs) != 1 {
				t.Fatalf("got %d pairs, want 1", len(r.Pairs))
			}
			v := r.Verdict[0]
			if v.Kind != "endpoint-url" || !strings.Contains(v.Detail, tt.wantDetail) {
				t.Errorf("got %s %q, want endpoint-url with %q", v.Kind, v.Detail, tt.wantDetail)
			}
		})
	}
}

func TestAlignment(t *testing.T) {
	disc := func(seq int) *flow.Exchange {
		return exchange(seq, "GET", "https://idp.test/.well-known/openid-configuration",
			labelled(flow.LabelDiscovery, ""), respond(200, "application/json", `{}`, 0))
	}
	auth := func(seq int) *flow.Exchange {
		return exchange(seq, "GET", "https://idp.test/authorize?client_id=c&state=abc&response_type=code",
			labelled(flow.LabelAuthorize, ""), respond(302, "text/html", "", 0))
	}
	// An uninspected token request: recognised by its grant_type.
	raw := func(seq int, grant string) *flow.Exchange {
		return exchange(seq, "POST", "https://idp.test/oauth2/token", form("grant_type", grant, "client_id", "c"), ok())
	}
	asset := func(seq int, path string) *flow.Exchange {
		return exchange(seq, "GET", "https://app.test"+path, respond(200, "text/css", "", 0))
	}
	a := []*flow.Exchange{disc(0), auth(1), raw(2, "authorization_code"), asset(3, "/a.css")}
	b := []*flow.Exchange{auth(0), asset(1, "/b.css"), raw(2, "refresh_token"), disc(3), raw(4, "authorization_code"), nil}
	r := Compare(a, b, Options{})
	var got []string
	for _, p := range r.Pairs {
		got = append(got, string(p.A.Label)+":"+itoa(p.A.Seq)+"-"+itoa(p.B.Seq))
	}
	want := []string{"discovery:0-3", "authorize:1-0", "token:2-4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got pairs %v, want %v", got, want)
	}
	if len(r.UnmatchedA) != 1 || r.UnmatchedA[0].URL != "https://app.test/a.css" {
		t.Errorf("got unmatched A %+v, want a.css", r.UnmatchedA)
	}
	if len(r.UnmatchedB) != 2 || r.UnmatchedB[0].Seq != 1 || r.UnmatchedB[1].GrantType != "refresh_token" {
		t.Errorf("got unmatched B %+v, want b.css and the refresh", r.UnmatchedB)
	}
	if r.Failure || !strings.HasPrefix(r.Headline, "no failure to explain") {
		t.Errorf("got headline %q, want no failure to explain", r.Headline)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestManyNonOAuthAreCounted(t *testing.T) {
	var a, b []*flow.Exchange
	for i := 0; i < maxAlignedOther+1; i++ {
		a = append(a, exchange(i, "GET", "https://cdn.test/x", respond(200, "text/plain", "", 0)))
		b = append(b, exchange(i, "GET", "https://cdn.test/x", respond(200, "text/plain", "", 0)))
	}
	a = append(a, tokenReq(100, "client_credentials", ok()))
	b = append(b, tokenReq(100, "client_credentials", ok()))
	r := Compare(a, b, Options{})
	if len(r.Pairs) != 1 || r.A.Uncompared != maxAlignedOther+1 || len(r.UnmatchedA) != 0 {
		t.Errorf("got %d pairs, uncompared %d, unmatched %d; want 1, %d, 0", len(r.Pairs), r.A.Uncompared, len(r.UnmatchedA), maxAlignedOther+1)
	}
}

// TestOddInput covers captures that cannot be compared meaningfully: the
// report must say so clearly and never panic.
func TestOddInput(t *testing.T) {
	authorize := exchange(0, "GET", "https://idp.test/authorize?client_id=c", labelled(flow.LabelAuthorize, ""), respond(302, "text/html", "", 0))
	jwks := exchange(0, "GET", "https://idp.test/jwks", labelled(flow.LabelJWKS, ""), respond(200, "application/json", "{}", 0))
	page := func(status int) *flow.Exchange {
		return exchange(0, "GET", "https://www.test/", respond(status, "text/html", "<p>hi</p>", 0))
	}
	broken := &flow.Exchange{Seq: 7, Request: flow.Request{Method: "POST"}, Error: "dial tcp: connection refused"}
	tests := []struct {
		name string
		a, b []*flow.Exchange
		want []string
	}{
		{"A empty", nil, []*flow.Exchange{authorize}, []string{"capture A has no exchanges"}},
		{"B empty", []*flow.Exchange{authorize}, nil, []string{"capture B has no exchanges"}},
		{"both empty", nil, []*flow.Exchange{nil}, []string{"capture A has no exchanges; capture B has no exchanges"}},
		{"mismatched flows", []*flow.Exchange{authorize}, []*flow.Exchange{jwks}, []string{"no exchange of A could be matched", "Only in A:", "Only in B:"}},
		{"non-OAuth", []*flow.Exchange{page(200)}, []*flow.Exchange{page(503)}, []string{"neither capture contains a recognised OAuth exchange", "B fails where A succeeds: GET https://www.test/ -> 503"}},
		{"one side OAuth", []*flow.Exchange{page(200)}, []*flow.Exchange{authorize}, []string{"only one capture contains OAuth exchanges"}},
		{"no URL, no response", []*flow.Exchange{broken}, []*flow.Exchange{broken}, []string{"both fail", "no response: dial tcp: connection refused"}},
		{"both succeed", []*flow.Exchange{tokenReq(0, "client_credentials", ok())}, []*flow.Exchange{tokenReq(0, "client_credentials", egress("127.0.0.9"), ok())},
			[]string{"no failure to explain", "Differences (no failure to explain", "egress-ip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Compare(tt.a, tt.b, Options{})
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("text report lacks %q:\n%s", w, buf.String())
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("json.Marshal: %v", err)
			}
		})
	}
}

func TestJSONFieldNames(t *testing.T) {
	s := egressScenario()
	data, err := json.Marshal(Compare(s.a(), s.b(), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "headline", "failure", "verdict", "pairs", "unmatched_a", "unmatched_b", "notes"} {
		v, ok := m[k]
		if !ok || string(v) == "null" {
			t.Errorf("got %s = %s, want a non-null member", k, v)
		}
	}
	var v struct {
		Verdict []map[string]any `json:"verdict"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rank", "score", "category", "kind", "summary"} {
		if _, ok := v.Verdict[0][k]; !ok {
			t.Errorf("verdict[0] lacks %q: %v", k, v.Verdict[0])
		}
	}
}

// TestGolden checks the text reports (and that they hold no secret).
func TestGolden(t *testing.T) {
	both := func() []*flow.Exchange {
		return []*flow.Exchange{tokenReq(0, "client_credentials", ok())}
	}
	cases := []struct {
		name string
		a, b []*flow.Exchange
	}{
		{"egress", egressScenario().a(), egressScenario().b()},
		{"header-rewrite", headerRewriteScenario().a(), redactAll(headerRewriteScenario().b())},
		{"pkce", pkceScenario().a(), pkceScenario().b()},
		{"both-ok", both(), both()},
		{"empty", nil, both()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Compare(c.a, c.b, Options{NameA: "laptop.har", NameB: "server.har"})
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(r)
			for _, s := range secrets {
				if strings.Contains(buf.String(), s) || strings.Contains(string(js), s) {
					t.Errorf("report leaks %q", s)
				}
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if buf.String() != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
			}
		})
	}
}

// TestClientAbortNotAFailure: a client that left after the server
// answered below 400 (B's app closed the connection during a 200) is not a
// failing side; one that left before any answer is (nothing came back).
func TestClientAbortNotAFailure(t *testing.T) {
	abort := func(msg string) opt { return func(x *flow.Exchange) { x.Error = flow.ClientAbortedPrefix + msg } }
	tests := []struct {
		name        string
		b           *flow.Exchange
		wantFailure bool
	}{
		{"abort after 200", tokenReq(0, "client_credentials", ok(), abort("the client closed the connection while idp.test:443 sent the response body")), false},
		{"abort before the answer", tokenReq(0, "client_credentials", abort("the client closed the connection before idp.test:443 answered")), true},
		{"abort after 403", tokenReq(0, "client_credentials", respond(403, "text/html", "<html>Forbidden</html>", 0), abort("the client closed the connection while idp.test:443 sent the response body")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Compare([]*flow.Exchange{tokenReq(0, "client_credentials", ok())}, []*flow.Exchange{tt.b}, Options{NameA: "a", NameB: "b"})
			if r.Failure != tt.wantFailure || (r.B.Failed == 1) != tt.wantFailure {
				t.Errorf("got failure %v, B failed %d (headline %q); want failure %v", r.Failure, r.B.Failed, r.Headline, tt.wantFailure)
			}
		})
	}
}
