package replay

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

const (
	clientID     = "app"
	clientSecret = "real-secret-42"
	liveRefresh  = "rt-live-0001"
)

// idp is a small token endpoint: client_credentials, refresh_token (not
// rotating) and authorization_code (each code accepted once).
type idp struct {
	*httptest.Server
	mu       sync.Mutex
	codes    map[string]bool // unused codes
	requests []*http.Request
	forms    []url.Values
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	s := &idp{codes: map[string]bool{"code-fresh": true}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.token))
	t.Cleanup(s.Close)
	return s
}

func (s *idp) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(context.Background()))
	s.forms = append(s.forms, r.PostForm)
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/token") {
		fail(http.StatusNotFound, "not_found")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != clientID || secret != clientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="idp"`)
		fail(http.StatusUnauthorized, "invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
	case "refresh_token":
		if r.PostForm.Get("refresh_token") != liveRefresh {
			fail(http.StatusBadRequest, "invalid_grant")
			return
		}
	case "authorization_code":
		c := r.PostForm.Get("code")
		if !s.codes[c] {
			fail(http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(s.codes, c)
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"scope":%q}`, len(s.requests), r.PostForm.Get("scope"))
}

func (s *idp) last() (*http.Request, url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil, nil
	}
	return s.requests[len(s.requests)-1], s.forms[len(s.forms)-1]
}

func (s *idp) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// captured builds a token exchange as a capture would hold it.
func captured(seq int, rawURL string, form url.Values, status int, respBody string, mods ...func(*flow.Exchange)) *flow.Exchange {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("User-Agent", "app/1.0")
	h.Set("Content-Length", "999")
	h.Set("Connection", "keep-alive")
	x := &flow.Exchange{
		ID:      fmt.Sprintf("%08x-aaaa-4bbb-8ccc-dddddddddddd", 0xab0000+seq),
		Seq:     seq,
		Start:   time.Date(2025, 3, 1, 12, 0, seq, 0, time.UTC),
		Request: flow.Request{Method: "POST", URL: u, Proto: "HTTP/1.1", Header: h, Body: flow.Body{Data: []byte(form.Encode())}},
		OAuth:   flow.OAuth{Label: flow.LabelToken, GrantType: form.Get("grant_type")},
		Response: &flow.Response{Status: status, Proto: "HTTP/1.1", Header: http.Header{
			"Content-Type": {"application/json"}, "Date": {"Sat, 01 Mar 2025 12:00:00 GMT"}, "Cache-Control": {"no-store"},
		}, Body: flow.Body{Data: []byte(respBody)}},
	}
	for _, m := range mods {
		m(x)
	}
	return x
}

func basicAuth(id, secret string) func(*flow.Exchange) {
	return func(x *flow.Exchange) {
		x.Request.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	}
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func hasChange(cs []Change, kind, field string) *Change {
	for i := range cs {
		if cs[i].Kind == kind && cs[i].Field == field {
			return &cs[i]
		}
	}
	return nil
}

func TestSendAndCompare(t *testing.T) {
	srv := newIDP(t)
	tests := []struct {
		name    string
		x       *flow.Exchange
		want    []Change // each must be present (Old/New checked when set)
		notWant []string // kinds+fields that must be absent
	}{
		{
			name: "client_credentials fixed since capture",
			x: captured(1, srv.URL+"/oauth2/token", vals("grant_type", "client_credentials", "scope", "api"),
				401, `{"error":"invalid_client"}`, basicAuth(clientID, clientSecret)),
			want: []Change{
				{Kind: "status", Old: "401", New: "200"},
				{Kind: "member-removed", Field: "error", Old: `"invalid_client"`, New: none},
				{Kind: "member-added", Field: "access_token"},
			},
		},
		{
			name: "refresh_token not rotated",
			x: captured(2, srv.URL+"/oauth2/token", vals("grant_type", "refresh_token", "refresh_token", liveRefresh, "client_id", clientID, "client_secret", clientSecret, "scope", "api"),
				200, `{"access_token":"at-old","token_type":"Bearer","expires_in":3600,"scope":"read"}`),
			want:    []Change{{Kind: "member-changed", Field: "scope", Old: `"read"`, New: `"api"`}},
			notWant: []string{"status", "member-changed access_token", "header-changed Date"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nx, err := Send(context.Background(), tt.x, Options{Client: srv.Client()})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if nx.Error != "" || nx.Response == nil || nx.Response.Status != 200 {
				t.Fatalf("got error %q response %+v, want 200", nx.Error, nx.Response)
			}
			if nx.ID == tt.x.ID || nx.Seq != tt.x.Seq {
				t.Errorf("got ID %s Seq %d, want a new ID and Seq %d", nx.ID, nx.Seq, tt.x.Seq)
			}
			if !strings.HasPrefix(nx.Conn.LocalAddr, "127.0.0.1:") || nx.Conn.ServerAddr != srv.Listener.Addr().String() {
				t.Errorf("got conn local %q server %q, want loopback and %s", nx.Conn.LocalAddr, nx.Conn.ServerAddr, srv.Listener.Addr())
			}
			cert := srv.Certificate()
			if nx.Conn.TLSVersion == "" || nx.Conn.CertIssuer != cert.Issuer.String() || len(nx.Conn.CertSHA256) != 64 {
				t.Errorf("got TLS facts %+v, want version, issuer %q and a sha256", nx.Conn, cert.Issuer)
			}
			if r, _ := srv.last(); r.Header.Get("User-Agent") != "app/1.0" {
				t.Errorf("got upstream headers %v, want captured User-Agent", r.Header)
			}
			cs := Compare(tt.x, nx)
			for _, w := range tt.want {
				c := hasChange(cs, w.Kind, w.Field)
				if c == nil {
					t.Errorf("got changes %+v, want %s %s", cs, w.Kind, w.Field)
					continue
				}
				if (w.Old != "" && c.Old != w.Old) || (w.New != "" && c.New != w.New) {
					t.Errorf("got %s %s: %s -> %s, want %s -> %s", c.Kind, c.Field, c.Old, c.New, w.Old, w.New)
				}
			}
			for _, nw := range tt.notWant {
				k, f, _ := strings.Cut(nw, " ")
				if c := hasChange(cs, k, f); c != nil {
					t.Errorf("got unexpected change %+v", c)
				}
			}
			var buf bytes.Buffer
			if err := WriteChanges(&buf, cs); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{clientSecret, liveRefresh, "at-"} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("changes leak %q:\n%s", secret, buf.String())
				}
			}
		})
	}
}

// TestRefusals covers single-use credentials, redacted values and how to
// supply them; allowed cases are sent to the real endpoint.
func TestRefusals(t *testing.T) {
	srv := newIDP(t)
	tokenURL := srv.URL + "/oauth2/token"
	codeForm := vals("grant_type", "authorization_code", "code", "code-fresh", "redirect_uri", "https://app.test/cb", "client_id", clientID, "client_secret", clientSecret)
	rotatedRefresh := captured(4, tokenURL, vals("grant_type", "refresh_token", "refresh_token", liveRefresh, "client_id", clientID, "client_secret", clientSecret),
		200, `{"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-next-0002"}`)
	sameRefresh := captured(5, tokenURL, vals("grant_type", "refresh_token", "refresh_token", liveRefresh, "client_id", clientID, "client_secret", clientSecret),
		200, `{"access_token":"at-1","token_type":"Bearer","refresh_token":"`+liveRefresh+`"}`)
	redactedSecret := redact.Exchange(captured(6, tokenURL, vals("grant_type", "client_credentials", "client_id", clientID, "client_secret", clientSecret), 200, `{}`))
	redactedBasic := redact.Exchange(captured(7, tokenURL, vals("grant_type", "client_credentials"), 200, `{}`, basicAuth(clientID, clientSecret)))
	cookie := captured(8, tokenURL, vals("grant_type", "client_credentials", "client_id", clientID, "client_secret", clientSecret), 200, `{}`,
		func(x *flow.Exchange) { x.Request.Header.Set("Cookie", "sid=[REDACTED]; lang=en") })
	truncated := captured(9, tokenURL, vals("grant_type", "client_credentials"), 200, `{}`, func(x *flow.Exchange) { x.Request.Body.Truncated = true })
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := []struct {
		name string
		x    *flow.Exchange
		opts Options
		// refusal expectations; empty field means the replay must succeed with 200.
		field    string
		contains []string
	}{
		{name: "authorization_code refused", x: captured(3, tokenURL, codeForm, 200, `{}`),
			field: "grant_type", contains: []string{"single-use", "--force", "RFC 6749 §4.1.2"}},
		{name: "authorization_code uninspected refused", x: captured(3, tokenURL, codeForm, 200, `{}`, func(x *flow.Exchange) { x.OAuth = flow.OAuth{} }),
			field: "grant_type", contains: []string{"single-use"}},
		{name: "authorization_code forced", x: captured(3, tokenURL, codeForm, 200, `{}`), opts: Options{Force: true}},
		{name: "rotated refresh token refused", x: rotatedRefresh,
			field: "refresh_token", contains: []string{"rotated", "single-use", "--set refresh_token=", "--force"}},
		{name: "rotated refresh token refused when redacted", x: redact.Exchange(rotatedRefresh), field: "refresh_token"},
		{name: "rotated refresh token with a supplied token", x: rotatedRefresh, opts: Options{Set: map[string]string{"refresh_token": liveRefresh}}},
		{name: "refresh token returned unchanged is not rotation", x: sameRefresh},
		{name: "redacted client_secret refused", x: redactedSecret,
			field: "client_secret", contains: []string{"redacted", "--set client_secret=", "OAUTHPROXY_SET_CLIENT_SECRET"}},
		{name: "client_secret from --set", x: redactedSecret, opts: Options{Set: map[string]string{"client_secret": clientSecret}}},
		{name: "client_secret from environment", x: redactedSecret, opts: Options{Env: env(map[string]string{"OAUTHPROXY_SET_CLIENT_SECRET": clientSecret})}},
		{name: "redacted Basic credentials refused", x: redactedBasic,
			field: "header:Authorization", contains: []string{"--set header:Authorization="}},
		{name: "Basic credentials from --set", x: redactedBasic, opts: Options{Set: map[string]string{
			"header:Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))}}},
		{name: "redacted cookie refused", x: cookie, field: "header:Cookie", contains: []string{"--set header:Cookie="}},
		{name: "truncated body refused", x: truncated, field: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Client = srv.Client()
			if tt.opts.Env == nil {
				tt.opts.Env = env(nil)
			}
			before := srv.count()
			nx, err := Send(context.Background(), tt.x, tt.opts)
			if tt.field != "" {
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("got %v, want a *RefusedError", err)
				}
				if re.Field != tt.field || re.Entry != tt.x.Seq {
					t.Errorf("got field %q entry %d, want %q entry %d", re.Field, re.Entry, tt.field, tt.x.Seq)
				}
				for _, c := range tt.contains {
					if !strings.Contains(err.Error(), c) {
						t.Errorf("error %q does not mention %q", err, c)
					}
				}
				for _, s := range []string{clientSecret, liveRefresh, "rt-next-0002", "code-fresh"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error leaks %q: %v", s, err)
					}
				}
				if srv.count() != before {
					t.Errorf("a refused replay reached the server")
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if nx.Response == nil || nx.Response.Status != 200 {
				t.Fatalf("got %q %+v, want 200 (body %s)", nx.Error, nx.Response, body(nx))
			}
		})
	}
}

func body(x *flow.Exchange) string {
	if x == nil || x.Response == nil {
		return ""
	}
	return string(x.Response.Body.Data)
}

func TestSetReplacesEverywhere(t *testing.T) {
	tests := []struct {
		name, ct, body, rawQuery string
		set                      map[string]string
		wantBody, wantQuery      string
	}{
		{"form keeps order", "application/x-www-form-urlencoded", "b=1&client_secret=x&a=2", "", map[string]string{"client_secret": "n w"},
			"b=1&client_secret=n+w&a=2", ""},
		{"query and form", "application/x-www-form-urlencoded", "client_id=c", "client_id=c&x=1", map[string]string{"client_id": "d"},
			"client_id=d", "client_id=d&x=1"},
		{"absent param goes to form body", "application/x-www-form-urlencoded", "a=1", "", map[string]string{"scope": "api"},
			"a=1&scope=api", ""},
		{"json body", "application/json", `{"client_secret":"x","n":1}`, "", map[string]string{"client_secret": "y"},
			`{"client_secret":"y","n":1}`, ""},
		{"no body: query", "", "", "a=1", map[string]string{"b": "2"}, "", "a=1&b=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &flow.Exchange{Request: flow.Request{Method: "POST", URL: &url.URL{Scheme: "https", Host: "idp.test", Path: "/token", RawQuery: tt.rawQuery},
				Header: http.Header{"Content-Type": {tt.ct}}, Body: flow.Body{Data: []byte(tt.body)}}}
			if tt.ct == "" {
				x.Request.Header = http.Header{}
			}
			req, err := Prepare(x, Options{Set: tt.set, Env: func(string) string { return "" }})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			var got []byte
			if req.GetBody != nil {
				rc, _ := req.GetBody()
				got, _ = readAll(rc)
			}
			if string(got) != tt.wantBody || req.URL.RawQuery != tt.wantQuery {
				t.Errorf("got body %q query %q, want %q %q", got, req.URL.RawQuery, tt.wantBody, tt.wantQuery)
			}
			if tt.wantBody != "" && req.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("got Content-Length %d, want %d", req.ContentLength, len(tt.wantBody))
			}
		})
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		name, captured, target, want string
	}{
		{"scheme and host replaced, path kept", "https://login.example.com/t1/oauth2/token?x=1", "http://127.0.0.1:8080", "http://127.0.0.1:8080/t1/oauth2/token?x=1"},
		{"root path keeps the captured path", "https://login.example.com/oauth2/token", "https://staging.example.com/", "https://staging.example.com/oauth2/token"},
		{"non-root path replaces the path", "https://login.example.com/t1/oauth2/token?x=1", "https://staging.example.com/v2/token", "https://staging.example.com/v2/token?x=1"},
		{"target query ignored", "https://login.example.com/token", "https://staging.example.com?debug=1", "https://staging.example.com/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.captured)
			tg, _ := url.Parse(tt.target)
			x := &flow.Exchange{Request: flow.Request{Method: "GET", URL: u, Header: http.Header{"Host": {"login.example.com"}}}}
			req, err := Prepare(x, Options{Target: tg, Env: func(string) string { return "" }})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if req.URL.String() != tt.want || req.Host != "" && req.Host != tg.Host {
				t.Errorf("got %s (Host %q), want %s", req.URL, req.Host, tt.want)
			}
			if req.Header.Get("Host") != "" {
				t.Errorf("captured Host header kept: %q", req.Header.Get("Host"))
			}
		})
	}
	t.Run("server capture replayed against another endpoint", func(t *testing.T) {
		srv := newIDP(t)
		x := captured(1, "https://idp.invalid/tenant-a/oauth2/token", vals("grant_type", "client_credentials", "client_id", clientID, "client_secret", clientSecret), 403, "<html>blocked</html>",
			func(x *flow.Exchange) { x.Request.Header.Set("Host", "idp.invalid") })
		x.Response.Header.Set("Content-Type", "text/html")
		tg, _ := url.Parse(srv.URL)
		nx, err := Send(context.Background(), x, Options{Target: tg, Client: srv.Client(), Env: func(string) string { return "" }})
		if err != nil || nx.Response == nil || nx.Response.Status != 200 {
			t.Fatalf("got %v %q %s, want 200", err, nx.Error, body(nx))
		}
		r, _ := srv.last()
		if r.URL.Path != "/tenant-a/oauth2/token" || r.Host != tg.Host {
			t.Errorf("server saw %s on %s, want /tenant-a/oauth2/token on %s", r.URL.Path, r.Host, tg.Host)
		}
		cs := Compare(x, nx)
		if c := hasChange(cs, "status", ""); c == nil || c.Old != "403" || c.New != "200" {
			t.Errorf("got %+v, want status 403 -> 200", cs)
		}
		if c := hasChange(cs, "header-changed", "Content-Type"); c == nil || c.New != "application/json" {
			t.Errorf("got %+v, want Content-Type change", cs)
		}
	})
}

func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	u, _ := url.Parse(addr + "/token?api_key=very-secret-key")
	x := &flow.Exchange{Seq: 3, Request: flow.Request{Method: "GET", URL: u, Header: http.Header{}},
		Response: &flow.Response{Status: 200, Header: http.Header{}}}
	nx, err := Send(context.Background(), x, Options{Env: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("got err %v, want the failure in the exchange", err)
	}
	if nx.Error == "" || nx.Response != nil {
		t.Fatalf("got Error %q response %+v, want a transport error", nx.Error, nx.Response)
	}
	if strings.Contains(nx.Error, "very-secret-key") {
		t.Errorf("error leaks the api key: %s", nx.Error)
	}
	if c := hasChange(Compare(x, nx), "status", ""); c == nil || c.New != "no response" {
		t.Errorf("got %+v, want status 200 -> no response", c)
	}
}

func TestSelect(t *testing.T) {
	mk := func(seq int, id string, label flow.Label, grant string) *flow.Exchange {
		u, _ := url.Parse("https://idp.test/x")
		x := &flow.Exchange{ID: id, Seq: seq, Request: flow.Request{Method: "POST", URL: u, Header: http.Header{}}}
		x.OAuth.Label = label
		if grant != "" {
			x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			x.Request.Body.Data = []byte("grant_type=" + grant)
		}
		return x
	}
	xs := []*flow.Exchange{
		mk(0, "0a1b2c3d-0000", flow.LabelDiscovery, ""),
		mk(1, "1b2c3d4e-0000", flow.LabelAuthorize, ""),
		mk(2, "2c3d4e5f-0000", flow.LabelToken, "authorization_code"),
		nil,
		mk(3, "3d4e5f60-0000", flow.LabelNone, "refresh_token"), // uninspected token request
		mk(4, "4e5f6071-0000", flow.LabelNone, ""),
	}
	tests := []struct {
		name    string
		opts    Options
		want    []int
		wantErr string
	}{
		{"only token", Options{Only: flow.LabelToken}, []int{2, 3}, ""},
		{"entries", Options{Entries: []int{4, 1}}, []int{1, 4}, ""},
		{"flow prefix", Options{Flow: "2C3D"}, []int{2}, ""},
		{"combined", Options{Only: flow.LabelToken, Entries: []int{3}}, []int{3}, ""},
		{"nothing selected", Options{}, nil, "nothing selected"},
		{"no match names labels", Options{Only: flow.LabelJWKS}, nil, "labels in the capture: authorize, discovery, token"},
		{"missing entry", Options{Entries: []int{1, 9}}, nil, "entry 9"},
		{"entry outside label", Options{Only: flow.LabelToken, Entries: []int{0}}, nil, "no exchange matches --only token --entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(xs, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int
			for _, x := range got {
				seqs = append(seqs, x.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", seqs, tt.want)
			}
		})
	}
}

func TestCompareHeadersAndBodies(t *testing.T) {
	resp := func(status int, h http.Header, b string) *flow.Exchange {
		return &flow.Exchange{Response: &flow.Response{Status: status, Header: h, Body: flow.Body{Data: []byte(b)}}}
	}
	old := resp(403, http.Header{"Server": {"cloudflare"}, "Cf-Ray": {"1"}, "Date": {"a"}, "Set-Cookie": {"__cf_bm=abc; Path=/"}, "Content-Type": {"text/html; charset=UTF-8"}}, "<html>blocked</html>")
	nw := resp(403, http.Header{"Server": {"nginx"}, "Date": {"b"}, "Set-Cookie": {"__cf_bm=def; Path=/"}, "Content-Type": {"text/html; charset=utf-8"}}, "<html>other</html>")
	cs := Compare(old, nw)
	want := []string{"header-changed Server", "body "}
	var got []string
	for _, c := range cs {
		got = append(got, c.Kind+" "+c.Field)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	var buf bytes.Buffer
	_ = WriteChanges(&buf, nil)
	if !strings.Contains(buf.String(), "no difference") {
		t.Errorf("got %q, want no difference", buf.String())
	}
	if cs := Compare(nil, old); len(cs) != 0 {
		t.Errorf("got %v for a nil exchange, want none", cs)
	}
	if _, err := json.Marshal(cs); err != nil {
		t.Fatal(err)
	}
}

func readAll(rc interface {
	Read([]byte) (int, error)
	Close() error
}) ([]byte, error) {
	defer rc.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(rc)
	return b.Bytes(), err
}
