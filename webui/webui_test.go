package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/flow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRingByteBound: 10,000 exchanges into a small ring: the bytes held
// never exceed the bound, the oldest go first, lookups of evicted ids fail,
// and the API pages (no answer holds more than a page of rows).
func TestRingByteBound(t *testing.T) {
	const bound = 8 << 20
	s := New(Options{MaxBytes: bound})
	body := strings.Repeat("x", 3000)
	var ids []string
	for i := 0; i < 10000; i++ {
		x := xchg("POST", fmt.Sprintf("https://api.example.test/items/%d", i), 200, respJSON(`{"v":"`+body+`"}`))
		ids = append(ids, x.ID)
		s.Handle(x)
		if st := s.Store().Stats(); st.Bytes > bound {
			t.Fatalf("after %d exchanges the ring holds %d bytes, bound %d", i+1, st.Bytes, bound)
		}
	}
	st := s.Store().Stats()
	if st.Seen != 10000 || st.Evicted == 0 || int64(st.Exchanges)+st.Evicted != st.Seen {
		t.Errorf("stats %+v: want 10000 seen, some evicted, held+evicted = seen", st)
	}
	if _, _, ok := s.Store().get(ids[0]); ok {
		t.Errorf("the oldest exchange is still held")
	}
	if _, _, ok := s.Store().get(ids[len(ids)-1]); !ok {
		t.Errorf("the newest exchange is gone")
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	var p Page
	getJSON(t, hs, "/api/exchanges?limit=100000", &p)
	if len(p.Rows) != MaxPageSize || p.Total != st.Exchanges {
		t.Errorf("got %d rows of %d, want a page of %d of %d", len(p.Rows), p.Total, MaxPageSize, st.Exchanges)
	}
	if p.Rows[0].ID != ids[len(ids)-1] {
		t.Errorf("first row %s, want the newest %s", p.Rows[0].ID, ids[len(ids)-1])
	}
	getJSON(t, hs, "/api/exchanges", &p)
	if len(p.Rows) != PageSize {
		t.Errorf("default page: %d rows, want %d", len(p.Rows), PageSize)
	}
}

// TestOversizedExchange: an exchange larger than the whole bound is kept
// without its bodies, so it still shows.
func TestOversizedExchange(t *testing.T) {
	s := NewStore(64 << 10)
	x := xchg("GET", "https://api.example.test/big", 200, respJSON(strings.Repeat("y", 1<<20)))
	s.Add(x)
	got, _, ok := s.get(x.ID)
	if !ok || len(got.Response.Body.Data) != 0 || !got.Response.Body.Truncated {
		t.Fatalf("oversized exchange: held %v, body %d bytes; want held without body", ok, len(got.Response.Body.Data))
	}
	if len(x.Response.Body.Data) == 0 {
		t.Errorf("the caller's exchange was modified")
	}
	if st := s.Stats(); st.Bytes > st.MaxBytes {
		t.Errorf("%d bytes held, bound %d", st.Bytes, st.MaxBytes)
	}
}

// TestLogins: exchanges group by login, most recent first, with the most
// severe badge; those of no login form the other lane, last, which
// hide_other removes.
func TestLogins(t *testing.T) {
	_, hs := newTestServer(t, Options{}, session(t)...)
	var lp LoginPage
	getJSON(t, hs, "/api/logins", &lp)
	var got []string
	for _, l := range lp.Logins {
		b := "-"
		if l.Badge != nil {
			b = l.Badge.Level + ":" + l.Badge.ID
		}
		got = append(got, fmt.Sprintf("%s %d %s", l.ID, l.Count, b))
	}
	want := []string{"L2 6 error:code-reused", "L1 6 -", "other 1 error:network/waf-cloudflare"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logins:\n got %q\nwant %q", got, want)
	}
	getJSON(t, hs, "/api/logins?hide_other=1", &lp)
	if len(lp.Logins) != 2 || lp.Total != 2 {
		t.Errorf("hide_other: got %d logins, want 2", len(lp.Logins))
	}
	if lp.Logins[0].Title != "login.example.test · app-1" {
		t.Errorf("title %q, want the authorization server and client", lp.Logins[0].Title)
	}
}

// TestQuery: server-side search, filters and paging.
func TestQuery(t *testing.T) {
	xs := session(t)
	_, hs := newTestServer(t, Options{}, xs...)
	// OAuth exchanges of L1: authorize, callback, token; login tracing
	// also labels the login pages ("hop").
	oauthL1 := 0
	for _, x := range xs {
		if x.OAuth.Login == "L1" && x.OAuth.Label != "" {
			oauthL1++
		}
	}
	if oauthL1 < 3 {
		t.Fatalf("%d OAuth exchanges in L1, want at least authorize, callback and token", oauthL1)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"", 13},
		{"q=code-reused", 1},
		{"q=waf-cloudflare", 1},
		{"q=API.EXAMPLE.TEST", 2},
		{"q=403", 1},
		{"failed=1", 2},
		{"oauth=1&login=L1", oauthL1},
		{"login=other", 1},
		{"login=L2&q=token", 1},
		{"q=nothing-matches-this", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var p Page
			getJSON(t, hs, "/api/exchanges?"+tt.query, &p)
			if p.Total != tt.want || len(p.Rows) != tt.want {
				t.Errorf("got %d rows (total %d), want %d", len(p.Rows), p.Total, tt.want)
			}
		})
	}
	var p Page
	getJSON(t, hs, "/api/exchanges?offset=10&limit=5", &p)
	if len(p.Rows) != 3 || p.Total != 13 || p.Rows[0].Seq >= p.Rows[2].Seq == false {
		t.Errorf("offset 10 limit 5: got %d rows of %d, want the 3 oldest, newest first", len(p.Rows), p.Total)
	}
}

// TestLoginView: the diagram data of the failing login marks the token
// step with its finding id, and the comparison lines up authorize and
// token: equal redirect_uri, client_id and PKCE (S256 of the redacted
// verifier), the nonce of the id_token.
func TestLoginView(t *testing.T) {
	_, hs := newTestServer(t, Options{}, session(t)...)
	var v LoginView
	getJSON(t, hs, "/api/login?id=L2", &v)
	if len(v.Rows) != 6 || v.Rows[0].OAuth != "authorize" {
		t.Fatalf("login L2: %d rows starting with %q, want 6 from the authorize request", len(v.Rows), v.Rows[0].OAuth)
	}
	var failing []string
	for _, r := range v.Rows {
		if r.Failed {
			failing = append(failing, r.OAuth+" "+r.Badge.ID)
		}
	}
	if strings.Join(failing, ",") != "token code-reused" {
		t.Errorf("failing steps %q, want the token request with code-reused", failing)
	}
	getJSON(t, hs, "/api/login?id=L1", &v)
	if v.Comparison == nil {
		t.Fatal("login L1: no comparison")
	}
	// L2 reused L1's code and was refused: no tokens, so no nonce row.
	var v2 LoginView
	getJSON(t, hs, "/api/login?id=L2", &v2)
	for _, c := range v2.Comparison.Rows {
		if c.Name == "nonce" || c.Name == "scope" {
			t.Errorf("login L2 (refused): a %s row %+v, want none", c.Name, c)
		}
	}
	got := map[string]string{}
	for _, c := range v.Comparison.Rows {
		got[c.Name] = fmt.Sprintf("%v %s|%s", c.Equal, c.Authorize, c.Token)
	}
	want := map[string]string{
		"redirect_uri": "true https://app.example.test/callback|https://app.example.test/callback",
		"client_id":    "true app-1|app-1",
		"pkce":         "true " + s256(canaryVerifier) + "|" + s256(canaryVerifier),
		"scope":        "true openid profile|openid profile",
		"nonce":        "true n-L1|n-L1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

// TestCompareDiffers: a trailing slash and a wrong verifier are shown as differences.
func TestCompareDiffers(t *testing.T) {
	xs := loginScenario("L9", canaryCode, 200, "")
	tk := xs[4]
	tk.OAuth.Label, tk.OAuth.GrantType = flow.LabelToken, "authorization_code"
	respJSON(okTokenBody("another-nonce", tk.Start))(tk)
	xs[0].OAuth.Label = flow.LabelAuthorize
	tk.Request.Body.Data = []byte(url.Values{"grant_type": {"authorization_code"}, "code": {canaryCode},
		"redirect_uri": {"https://app.example.test/callback/"}, "code_verifier": {"CANARY-wrong-verifier-0123456789abcdefghijklmnopq"}}.Encode())
	c := compare(xs)
	if c == nil {
		t.Fatal("no comparison")
	}
	for _, r := range c.Rows {
		wantEqual := r.Name == "client_id" || r.Name == "scope"
		if r.Equal != wantEqual {
			t.Errorf("%s: equal %v, want %v (%q vs %q)", r.Name, r.Equal, wantEqual, r.Authorize, r.Token)
		}
		if l := leaks(r.Authorize + r.Token); len(l) > 0 {
			t.Errorf("%s leaks %q", r.Name, l)
		}
	}
}

// TestDetail: the detail of the refused token request has its finding with
// a docs link, the diagnosis, redacted form parameters, and the JWT of the
// successful one is decoded with times relative to the exchange.
func TestDetail(t *testing.T) {
	xs := session(t)
	_, hs := newTestServer(t, Options{}, xs...)
	var d Detail
	getJSON(t, hs, "/api/exchange?id="+xs[10].ID, &d)
	if len(d.Findings) == 0 || d.Findings[0].ID != "code-reused" || !strings.HasSuffix(d.Findings[0].Doc, "findings.md#code-reused") {
		t.Errorf("findings %+v, want code-reused with its docs link", d.Findings)
	}
	if d.Diagnosis == nil || d.Diagnosis.Cause != "code-reused" || len(d.Diagnosis.Fix) == 0 {
		t.Errorf("diagnosis %+v, want grant/code-reused with fixes", d.Diagnosis)
	}
	if d.Entry.Request.PostData == nil || len(d.Entry.Request.PostData.Params) != 4 {
		t.Fatalf("form params: %+v", d.Entry.Request.PostData)
	}
	getJSON(t, hs, "/api/exchange?id="+xs[4].ID, &d)
	var idt *JWT
	for i := range d.JWTs {
		if d.JWTs[i].Where == "response id_token" {
			idt = &d.JWTs[i]
		}
	}
	if idt == nil {
		t.Fatalf("JWTs %+v: want the response id_token", d.JWTs)
	}
	times := map[string]string{}
	for _, tm := range idt.Times {
		times[tm.Claim] = tm.Relative
	}
	if times["exp"] != "in 59m55s" || times["iat"] != "5s ago" {
		t.Errorf("times %v, want exp in 59m55s and iat 5s ago (relative to the exchange)", times)
	}
	checks := map[string]bool{}
	for _, c := range idt.Checks {
		checks[c.Claim] = c.OK
	}
	if ok, found := checks["aud"]; !found || !ok {
		t.Errorf("checks %+v, want a passing aud check", idt.Checks)
	}
	if ok, found := checks["nonce"]; !found || !ok {
		t.Errorf("checks %+v, want a passing nonce check against the login's authorize request", idt.Checks)
	}
	// The same ID token after an authorize request with another nonce.
	other := xchg("GET", "https://login.example.test/oauth2/authorize?client_id=app-1&nonce=another", 302)
	other.OAuth.Label = flow.LabelAuthorize
	d.JWTs = []JWT{*idt}
	d.JWTs[0].Checks = nil
	nonceChecks(&d, []*flow.Exchange{other, xs[4]})
	if c := d.JWTs[0].Checks; len(c) != 1 || c[0].OK || !strings.Contains(c[0].Text, `"another"`) {
		t.Errorf("nonce mismatch: checks %+v, want one failing nonce check", c)
	}
	if code, _ := fetch(t, hs, "/api/exchange?id=nope"); code != 404 {
		t.Errorf("unknown id: %d, want 404", code)
	}
}

// TestCurl: secrets become placeholders; the rest is kept (golden file).
func TestCurl(t *testing.T) {
	xs := loginScenario("L1", canaryCode, 200, "")
	xs[4].Request.URL.RawQuery = "tenant=a&access_token=" + canaryAccess
	got := Curl(xs[4]) + "\n" + Curl(xs[5])
	if l := leaks(got); len(l) > 0 {
		t.Errorf("curl leaks %q:\n%s", l, got)
	}
	golden := filepath.Join("testdata", "curl.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./webui -run TestCurl -update)", err)
	}
	if got != string(want) {
		t.Errorf("curl:\n got:\n%s\nwant:\n%s", got, want)
	}
}

// TestNoCanaryServed: no canary secret appears raw in the page, any API
// answer, the event stream, a downloaded HAR or a copied curl.
func TestNoCanaryServed(t *testing.T) {
	s, hs := newTestServer(t, Options{Title: "test"})
	// Open the event stream before the traffic, so it carries all of it.
	resp, err := hs.Client().Get(hs.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	if _, err := events.ReadString('\n'); err != nil { // the hello event has started
		t.Fatal(err)
	}
	xs := session(t)
	for _, x := range xs {
		s.Handle(x)
	}
	var stream strings.Builder
	for n := 0; n < len(xs); {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v after %d events", err, n)
		}
		stream.WriteString(line)
		if strings.HasPrefix(line, "event: x") {
			n++
		}
	}
	served := map[string]string{"event stream": stream.String()}
	paths := []string{"/", "/app.js", "/app.css", "/api/state", "/api/exchanges", "/api/logins", "/api/login?id=L1", "/api/login?id=L2", "/api/login?id=other", "/api/har", "/api/har?login=L1"}
	for _, x := range xs {
		paths = append(paths, "/api/exchange?id="+x.ID, "/api/curl?id="+x.ID)
	}
	for _, p := range paths {
		code, body := fetch(t, hs, p)
		if code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
		served[p] = body
	}
	for where, body := range served {
		if l := leaks(body); len(l) > 0 {
			t.Errorf("%s leaks %q", where, l)
		}
	}
	// The canaries were in the exchanges, so the check can fail.
	if l := leaks(string(xs[4].Request.Body.Data) + xs[4].Request.Header.Get("Authorization")); len(l) < 2 {
		t.Fatalf("the scenario plants no canaries: %q", l)
	}
	// The downloaded HAR is a HAR the reader takes back, fingerprints and all.
	r, err := capture.NewReader(strings.NewReader(served["/api/har"]))
	if err != nil {
		t.Fatalf("downloaded HAR: %v", err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("downloaded HAR: %v", err)
		}
		n++
	}
	if n != len(xs) {
		t.Errorf("downloaded HAR has %d entries, want %d", n, len(xs))
	}
}

// gatedWriter is the response writer of a page whose connection stalls:
// once stalled, every Write waits until release is closed.
type gatedWriter struct {
	h       http.Header
	stalled atomic.Bool
	release chan struct{}
	mu      sync.Mutex
	out     strings.Builder
	wrote   chan struct{} // a token per write, never blocking
	writes  atomic.Int32
	flushes atomic.Int32
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{h: http.Header{}, release: make(chan struct{}), wrote: make(chan struct{}, 1)}
}

func (g *gatedWriter) Header() http.Header { return g.h }
func (g *gatedWriter) WriteHeader(int)     {}
func (g *gatedWriter) Flush()              { g.flushes.Add(1) }

func (g *gatedWriter) Write(p []byte) (int, error) {
	if g.stalled.Load() {
		<-g.release
	}
	g.writes.Add(1)
	g.mu.Lock()
	g.out.Write(p)
	g.mu.Unlock()
	select {
	case g.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor waits for writes until the output contains s.
func (g *gatedWriter) waitFor(s string) {
	for {
		g.mu.Lock()
		done := strings.Contains(g.out.String(), s)
		g.mu.Unlock()
		if done {
			return
		}
		<-g.wrote
	}
}

// TestStalledPage: a page whose connection stalls never slows Handle
// (which would hang this test otherwise); once its connection moves again
// it is told how many updates it missed.
func TestStalledPage(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	w, stop := stalledStream(s)
	const n = 2 * subBuffer
	for i := 0; i < n; i++ {
		s.Handle(xchg("GET", fmt.Sprintf("https://api.example.test/%d", i), 200))
	}
	close(w.release)
	w.waitFor("event: missed")
	stop()
	w.mu.Lock()
	out := w.out.String()
	w.mu.Unlock()
	got, missed := 0, 0
	for _, ev := range strings.Split(out, "\n\n") {
		switch {
		case strings.HasPrefix(ev, "event: x\n"):
			got++
		case strings.HasPrefix(ev, "event: missed\ndata: "):
			k, err := strconv.Atoi(strings.TrimPrefix(ev, "event: missed\ndata: "))
			if err != nil {
				t.Fatalf("missed event %q: %v", ev, err)
			}
			missed += k
		}
	}
	if got+missed != n || missed == 0 {
		t.Errorf("the stalled page got %d events and was told it missed %d, want %d in all with some missed", got, missed, n)
	}
}

// TestEventsBatched: rows that wait for a page's stream go out in one
// write and one flush, not one per row (a page open costs the proxy a
// syscall per batch, issue 12 "Performance"). The page's connection is
// held while the rows arrive, so the stream writes its hello and then
// one batch.
func TestEventsBatched(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	w, stop := stalledStream(s)
	const n = 200
	for i := 0; i < n; i++ {
		s.Handle(xchg("GET", fmt.Sprintf("https://api.example.test/batch/%d", i), 200))
	}
	close(w.release)
	w.waitFor(fmt.Sprintf(`"url":"https://api.example.test/batch/%d"`, n-1))
	stop()
	w.mu.Lock()
	got := strings.Count(w.out.String(), "event: x\n")
	w.mu.Unlock()
	if got != n {
		t.Errorf("the page got %d rows, want %d", got, n)
	}
	if dw, df := w.writes.Load(), w.flushes.Load(); dw != 2 || df != 2 {
		t.Errorf("hello and %d rows took %d writes and %d flushes, want 2 of each", n, dw, df)
	}
}

// stalledStream opens an event stream of s on a connection stalled from
// the start: the stream blocks on its first write, after it subscribed,
// so every row handled until w.release is closed waits in (or overflows)
// its buffer. stop ends the stream and waits for it.
func stalledStream(s *Server) (w *gatedWriter, stop func()) {
	w = newGatedWriter()
	w.stalled.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serveEvents(w, httptest.NewRequest("GET", "/api/events", nil).WithContext(ctx))
	}()
	waitSubscribed(s, 1)
	return w, func() { cancel(); <-done }
}

// waitSubscribed waits until n pages follow s's event stream.
func waitSubscribed(s *Server, n int) {
	for int(s.hub.n.Load()) < n {
		time.Sleep(time.Millisecond)
	}
}

// TestHubNeverBlocks: publishing to a full subscriber counts a miss.
func TestHubNeverBlocks(t *testing.T) {
	h := newHub()
	sb := h.subscribe()
	row := rowOf(xchg("GET", "https://a.example.test/", 200))
	for i := 0; i < subBuffer+10; i++ {
		h.publish(&row)
	}
	if got := sb.missed.Load(); got != 10 {
		t.Errorf("missed %d, want 10", got)
	}
	h.close()
	if h.subscribe() != nil {
		t.Errorf("subscribe after close succeeded")
	}
}

// TestEmptyState: with no traffic the state says so, and the page carries
// the instructions to start.
func TestEmptyState(t *testing.T) {
	_, hs := newTestServer(t, Options{ProxyAddr: "127.0.0.1:8080", Title: "127.0.0.1:8080"})
	var st State
	getJSON(t, hs, "/api/state", &st)
	if st.Stats.Seen != 0 || st.ProxyAddr != "127.0.0.1:8080" {
		t.Errorf("state %+v", st)
	}
	_, page := fetch(t, hs, "/")
	for _, want := range []string{`eval "$(oauthproxy env)"`, "oauthproxy browser", `href="/ca"`} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}

// TestHeaders: every answer has the strict CSP; the page loads nothing
// from elsewhere.
func TestHeaders(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	resp, err := hs.Client().Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") || !strings.Contains(got, "connect-src 'self'") {
		t.Errorf("CSP %q", got)
	}
	js := strings.ReplaceAll(mustRead(t, "assets/app.js"), "'http://www.w3.org/2000/svg'", "SVGNS")
	for _, asset := range []string{string(b), js, mustRead(t, "assets/app.css")} {
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "eval("} {
			if strings.Contains(asset, bad) {
				t.Errorf("an asset contains %q", bad)
			}
		}
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGuard: who may open the UI.
func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	tests := []struct {
		name, auth, remote, host, authz string
		want                            int
	}{
		{"loopback", "", "127.0.0.1:5000", "127.0.0.1:8080", "", 200},
		{"loopback v6 localhost", "", "[::1]:5000", "localhost:8080", "", 200},
		{"remote client", "", "192.0.2.7:5000", "127.0.0.1:8080", "", 403},
		{"DNS rebinding", "", "127.0.0.1:5000", "evil.example:8080", "", 403},
		{"auth missing", "u:p", "192.0.2.7:5000", "proxy.example:8080", "", 401},
		{"auth wrong", "u:p", "192.0.2.7:5000", "proxy.example:8080", "Basic dTp4", 401},
		{"auth right", "u:p", "192.0.2.7:5000", "proxy.example:8080", "Basic dTpw", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			w := httptest.NewRecorder()
			Guard(ok, tt.auth).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("got %d, want %d", w.Code, tt.want)
			}
		})
	}
}

// TestResend: re-sending goes through replay's single-use guard: a code
// is refused (409) until confirmed; the page header is required; the
// re-sent exchange reaches the Replayed sink.
func TestResend(t *testing.T) {
	var hits int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_grant"}`)
	}))
	defer up.Close()
	xs := loginScenario("L1", canaryCode, 200, "")
	tk := xs[4]
	tk.OAuth.Label, tk.OAuth.GrantType = flow.LabelToken, "authorization_code"
	tk.Request.URL, _ = url.Parse(up.URL + "/oauth2/token")
	var got []*flow.Exchange
	_, hs := newTestServer(t, Options{ReplayClient: up.Client(), Replayed: flow.SinkFunc(func(x *flow.Exchange) { got = append(got, x) })}, tk)
	post := func(q string, withHeader bool) (int, string) {
		req, _ := http.NewRequest("POST", hs.URL+"/api/resend?"+q, nil)
		if withHeader {
			req.Header.Set("X-Oauthproxy", "1")
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var d Detail
	getJSON(t, hs, "/api/exchange?id="+tk.ID, &d)
	if !d.Resend.Available || d.Resend.Confirm == "" || d.Resend.Refused != "" {
		t.Errorf("resend info %+v, want available with a confirmation", d.Resend)
	}
	if code, _ := post("id="+tk.ID+"&confirm=1", false); code != 403 || hits != 0 {
		t.Errorf("without the page header: %d (%d sent), want 403 and nothing sent", code, hits)
	}
	if code, body := post("id="+tk.ID, true); code != 409 || hits != 0 || !strings.Contains(body, "single-use") {
		t.Errorf("unconfirmed: %d %q (%d sent), want 409 naming single-use and nothing sent", code, body, hits)
	}
	code, body := post("id="+tk.ID+"&confirm=1", true)
	if code != 200 || hits != 1 || len(got) != 1 {
		t.Fatalf("confirmed: %d %q (%d sent, %d to the sink), want 200 and one sent", code, body, hits, len(got))
	}
	var res ResendResult
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Status != 400 || res.ID != got[0].ID {
		t.Errorf("result %+v (%v), want status 400 and the new id", res, err)
	}
	if l := leaks(body); len(l) > 0 {
		t.Errorf("re-send answer leaks %q", l)
	}
	_, off := newTestServer(t, Options{}, tk)
	req, _ := http.NewRequest("POST", off.URL+"/api/resend?id="+tk.ID+"&confirm=1", nil)
	req.Header.Set("X-Oauthproxy", "1")
	resp, err := off.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("without a replay client: %d, want 501", resp.StatusCode)
	}
}

// TestCompareUsesTheSuccessfulAnswer: after a successful token request and
// a refused reuse, scope and nonce still come from the successful answer.
func TestCompareUsesTheSuccessfulAnswer(t *testing.T) {
	xs := loginScenario("L5", canaryCode, 200, "")
	reuse := xchg("POST", "https://login.example.test/oauth2/token", 400, respJSON(`{"error":"invalid_grant"}`),
		form(url.Values{"grant_type": {"authorization_code"}, "code": {canaryCode}, "redirect_uri": {"https://app.example.test/callback"}}))
	xs = append(xs, reuse)
	xs[0].OAuth.Label = flow.LabelAuthorize
	for _, x := range []*flow.Exchange{xs[4], reuse} {
		x.OAuth.Label, x.OAuth.GrantType = flow.LabelToken, "authorization_code"
	}
	c := compare(xs)
	if c == nil || c.Token != reuse.ID {
		t.Fatalf("comparison %+v, want the last token request %s", c, reuse.ID)
	}
	got := map[string]bool{}
	for _, r := range c.Rows {
		got[r.Name] = r.Equal
	}
	if eq, ok := got["nonce"]; !ok || !eq {
		t.Errorf("nonce row: present %v equal %v, want an equal nonce from the successful answer", ok, eq)
	}
	if eq, ok := got["scope"]; !ok || !eq {
		t.Errorf("scope row: present %v equal %v, want the granted scope of the successful answer", ok, eq)
	}
}
