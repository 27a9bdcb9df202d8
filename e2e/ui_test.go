package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

var updateScreens = flag.Bool("update-screens", false, "rewrite the UI screenshots in ../docs/img/")

// chromium finds a Chromium-family browser: $CHROME, then the usual names.
// Without one the browser tests skip, except on CI (CI=true), where
// .ci/run installs Debian's chromium and its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on CI: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium, chromium-browser or google-chrome on PATH (set CHROME); the browser test needs one")
	return ""
}

// newBrowser starts headless Chromium with the quiet flags of the network
// rule: it makes no background request, and it uses no proxy (the page is
// at the proxy's own loopback address and is loaded directly).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	// Not t.TempDir: Chromium's helpers may still write to the profile
	// while the test's cleanup removes it, which fails the test.
	profile, err := os.MkdirTemp("", "oauthproxy-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1500, 950),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-features", "OptimizationHints,MediaRouter,Translate"),
		chromedp.Flag("no-proxy-server", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	// No timeout on this context: it would stop the browser. Waits are
	// bounded by the polling timeout of waitJS.
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelB()
		cancelA()
		for i := 0; i < 5 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// runIn runs browser actions and fails the test with what was being done.
func runIn(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// js evaluates a JavaScript expression in the page and returns its value.
func js[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// search types text into the search box (as one input event).
func search(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	js[bool](t, ctx, "search "+text, fmt.Sprintf(`(() => { const q = document.getElementById('q'); q.value = %q; q.dispatchEvent(new Event('input')); return true; })()`, text))
}

// waitJS polls a JavaScript expression until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
		t.Fatalf("browser: waiting for %s: %v\npage text:\n%s", what, err, dump)
	}
}

// click clicks the first element matching a CSS selector, looked up and
// clicked in one step: live updates redraw the lists, so a node found in
// one round trip may be gone in the next.
func click(t *testing.T, ctx context.Context, what, selector string) {
	t.Helper()
	waitJS(t, ctx, what, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()`, selector))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreens {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "docs", "img", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// wafPage is a Cloudflare block page, as in the knowledge base.
const wafPage = `<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body><h1>Sorry, you have been blocked</h1><p>You are unable to access this website.</p><span>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7b</strong></span></body></html>`

// TestUILive: headless Chromium opens the proxy's page before any traffic
// (the empty state), then two logins go through the real proxy: one whose
// code is redeemed twice, one whose token request a WAF answers with a
// Cloudflare 403. Both must appear live with their badges; the diagram
// marks each failing step red with its finding id; the detail panel shows
// the diagnosis. Screenshots: go test -run TestUILive -update-screens.
func TestUILive(t *testing.T) {
	ctx := newBrowser(t)
	ca := newTestCA(t)
	p := newIDP(t, ca)
	waf := newTLSServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Server", "cloudflare")
		w.Header().Set("Cf-Ray", "8a1b2c3d4e5f6a7b-FRA")
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, wafPage)
	}))
	wafToken := waf.URL + "/oauth2/token"
	px := startProxy(t, ca, proxyOpts{TokenEndpoint: wafToken})
	base := "http://" + px.Addr + "/"

	runIn(t, ctx, "open the page", chromedp.Navigate(base))
	waitJS(t, ctx, "the page to load", `document.body.dataset.ready === '1'`)
	firstPaint := js[float64](t, ctx, "read timings", `window.oauthproxyPerf.firstPaint`)
	t.Logf("first paint (empty session): %.0f ms after navigation start", firstPaint)
	waitJS(t, ctx, "the empty state", `!document.getElementById('empty').hidden && document.getElementById('empty').innerText.includes('oauthproxy env')`)

	// A follower of the event stream from the start, for the canary check.
	events := followEvents(t, base)

	// Login 1: a code redeemed twice.
	s := newSession(t, p, px)
	ac := s.authorize()
	tok, err := s.exchange(ac)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	var re *oauth2.RetrieveError
	if _, err := s.exchange(ac); !errors.As(err, &re) {
		t.Fatalf("second Exchange: got %v, want an OAuth error", err)
	}
	// Login 2: the token request is stopped by a WAF.
	s2 := newSession(t, p, px)
	ac2 := s2.authorize()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {ac2.Code}, "redirect_uri": {p.RedirectURI}, "code_verifier": {ac2.Verifier}, "client_id": {p.ClientID}}
	resp, err := s2.http.PostForm(wafToken, form)
	if err != nil {
		t.Fatalf("token request to the WAF: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("WAF answered %d, want 403", resp.StatusCode)
	}

	// Both failures appear live, each in its group with its badge: its
	// login once login tracing sets the ids, the other lane until then
	// (whose badge is the most severe of the lane's, so only the row's
	// badge is checked there).
	cases := []struct{ badge, finding, diagnosis, shot string }{
		{"code-reused", "code-reused", "grant/code-reused", "ui-code-reused.png"},
		{"waf-cloudflare", "network/waf-cloudflare", "network/waf-cloudflare", "ui-waf-403.png"},
	}
	groups := map[string]string{}
	for _, c := range cases {
		g := groupOf(t, base, c.badge)
		groups[c.badge] = g
		t.Logf("%s: in group %q", c.badge, g)
		if g == "other" {
			waitJS(t, ctx, "the other lane", `document.querySelector('#logins li[data-login="other"] .badge') !== null`)
		} else {
			waitJS(t, ctx, "the login with "+c.badge, fmt.Sprintf(`document.querySelector('#logins li[data-login=%q] [data-badge$=%q]') !== null`, g, c.badge))
		}
	}
	if a, b := groups["code-reused"], groups["waf-cloudflare"]; a != "other" && a == b {
		t.Errorf("both failing logins are in login %s, want two logins", a)
	}
	for _, c := range cases {
		click(t, ctx, "select the group of "+c.badge, fmt.Sprintf(`#logins li[data-login=%q]`, groups[c.badge]))
		// The row of the failing exchange carries the badge.
		waitJS(t, ctx, "the exchange row badge "+c.badge, fmt.Sprintf(`document.querySelector('#rows tbody [data-badge$=%q]') !== null`, c.badge))
		// The diagram marks the failing step red with its finding id.
		sel := fmt.Sprintf(`#seq g.step.fail[data-finding=%q]`, c.finding)
		waitJS(t, ctx, "the failing step "+c.finding, fmt.Sprintf(`(() => { const g = document.querySelector('%s'); return g !== null && g.textContent.includes(%q) && getComputedStyle(g.querySelector('line')).stroke === 'rgb(198, 40, 40)'; })()`, sel, c.finding))
		click(t, ctx, "open the failing step", sel+" text")
		waitJS(t, ctx, "the diagnosis of "+c.finding, fmt.Sprintf(`(() => { const d = document.getElementById('diagnosis'); return d !== null && d.innerText.includes(%q) && d.querySelector('.summary').innerText.length > 20; })()`, c.diagnosis))
		summary := js[string](t, ctx, "read the diagnosis", `document.querySelector('#diagnosis .summary').innerText`)
		t.Logf("%s: diagnosis shown: %s", c.finding, summary)
		screenshot(t, ctx, c.shot)
	}

	// A filter change: search for the WAF cause.
	search(t, ctx, "waf-cloudflare")
	waitJS(t, ctx, "the filtered list", `document.querySelectorAll('#rows tbody tr').length === 1`)
	// The list can be redrawn before the filter's own requests all end.
	waitJS(t, ctx, "the filter's timing", `typeof window.oauthproxyPerf.lastFilter === 'number'`)
	filter := js[float64](t, ctx, "read timings", `window.oauthproxyPerf.lastFilter`)
	t.Logf("filter change: %.0f ms from the search request to the redrawn lists (after the page's 150 ms typing debounce)", filter)

	// Hops fold into one arrow that unfolds on a click.
	search(t, ctx, "")
	waitJS(t, ctx, "a folded hop arrow", `document.querySelector('#seq line.fold') !== null`)
	before := js[int](t, ctx, "count steps", `document.querySelectorAll('#seq g.step').length`)
	click(t, ctx, "unfold the hops", `#seq g.step:has(line.fold) text`)
	waitJS(t, ctx, "the unfolded hops", fmt.Sprintf(`document.querySelectorAll('#seq g.step').length > %d`, before))
	after := js[int](t, ctx, "count steps", `document.querySelectorAll('#seq g.step').length`)
	t.Logf("diagram: %d steps folded, %d unfolded", before, after)

	// No secret of the session in the page, its event stream, a downloaded
	// HAR or a copied curl.
	idToken, _ := tok.Extra("id_token").(string)
	secrets := map[string]string{"client secret": p.ClientSecret, "code": ac.Code, "code 2": ac2.Code, "verifier": ac.Verifier, "verifier 2": ac2.Verifier,
		"password": p.Password, "access token": tok.AccessToken, "refresh token": tok.RefreshToken, "id token": idToken, "session cookie": p.SessionCookie}
	for name, v := range secrets {
		if len(v) < 8 {
			t.Fatalf("the %s is %q: too short to be a canary", name, v)
		}
	}
	html := js[string](t, ctx, "read the page", `document.documentElement.outerHTML`)
	served := map[string]string{"the page": html, "the event stream": events(), "the session HAR": httpGet(t, base+"api/har")}
	var page struct {
		Rows []struct {
			ID string `json:"id"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, base+"api/exchanges?limit=500")), &page); err != nil || len(page.Rows) < 10 {
		t.Fatalf("exchanges: %v, %d rows", err, len(page.Rows))
	}
	for _, r := range page.Rows {
		served["curl of "+r.ID] = httpGet(t, base+"api/curl?id="+r.ID)
		served["detail of "+r.ID] = httpGet(t, base+"api/exchange?id="+r.ID)
	}
	for where, body := range served {
		for name, v := range secrets {
			if strings.Contains(body, v) {
				t.Errorf("%s holds the raw %s", where, name)
			}
		}
	}
	if !strings.Contains(served["the event stream"], "event: x") {
		t.Errorf("the event stream carried no exchange:\n%.500s", served["the event stream"])
	}
}

// followEvents reads the UI's event stream in the background; the
// returned function gives what arrived so far.
func followEvents(t *testing.T, base string) func() string {
	t.Helper()
	resp, err := http.Get(base + "api/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	var mu sync.Mutex
	var buf strings.Builder
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// groupOf returns the login id (or "other") of the failing exchange whose
// badge ends with badge.
func groupOf(t *testing.T, base, badge string) string {
	t.Helper()
	// The exchange reaches the UI through the proxy's queue, a moment after
	// the client has its answer: ask until it is there (waitTimeout is a
	// safety net, not a performance bound).
	deadline := time.Now().Add(waitTimeout)
	for {
		var page struct {
			Rows []struct {
				Login string `json:"login"`
				Badge *struct {
					ID string `json:"id"`
				} `json:"badge"`
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(httpGet(t, base+"api/exchanges?failed=1&q="+url.QueryEscape(badge))), &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			if r.Badge != nil && strings.HasSuffix(r.Badge.ID, badge) {
				if r.Login == "" {
					return "other"
				}
				return r.Login
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failing exchange with the badge %s after %s", badge, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
