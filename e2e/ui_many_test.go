package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/webui"
)

// manyHAR writes a capture of n exchanges: API calls, with a refused
// token request every 1000th.
func manyHAR(t *testing.T, n int) (path string, refused int) {
	t.Helper()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	xs := make([]*flow.Exchange, 0, n)
	for i := 0; i < n; i++ {
		u, _ := url.Parse(fmt.Sprintf("https://api.example.test/v1/items/%d?page=%d", i, i%7))
		x := &flow.Exchange{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Seq: i + 1, Start: start.Add(time.Duration(i) * time.Millisecond),
			Request:  flow.Request{Method: "GET", URL: u, Proto: "HTTP/1.1", Header: http.Header{"Accept": {"application/json"}}},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Type": {"application/json"}}, Body: flow.Body{Data: []byte(`{"id":` + fmt.Sprint(i) + `,"name":"item"}`)}},
		}
		if i%1000 == 999 {
			refused++
			x.Request.Method = "POST"
			x.Request.URL, _ = url.Parse("https://login.example.test/oauth2/token")
			x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			x.Request.Body.Data = []byte(url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"CANARY-many-secret"}}.Encode())
			x.Response.Status = 401
			x.Response.Body.Data = []byte(`{"error":"invalid_client","error_description":"client authentication failed"}`)
		}
		xs = append(xs, x)
	}
	path = filepath.Join(t.TempDir(), "many.har")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := webui.WriteHAR(f, xs, "e2e"); err != nil {
		t.Fatal(err)
	}
	return path, refused
}

// TestUIManyExchanges: a session of 10,000 exchanges (opened with
// `oauthproxy view`, which serves the same UI with the same ring): the
// ring stays within its byte bound, the page holds at most a page of rows,
// and a search is answered by the server. First paint and the filter
// change are measured and logged, not asserted (docs/benchmarks.md).
func TestUIManyExchanges(t *testing.T) {
	needSubcommand(t, "view")
	ctx := newBrowser(t)
	const n = 10000
	har, refused := manyHAR(t, n)
	const bound = 32 << 20 // holds all of them (TestRingByteBound in webui drops the oldest)
	base := startView(t, "--max-bytes", fmt.Sprint(bound), har)

	var st webui.State
	getJSONURL(t, base+"api/state", &st)
	if st.Stats.Seen != n || st.Stats.Exchanges != n || st.Stats.Bytes > st.Stats.MaxBytes || st.Stats.MaxBytes != bound {
		t.Fatalf("ring %+v: want all %d held, bytes within %d", st.Stats, n, bound)
	}
	t.Logf("ring: %d of %d exchanges held in %d bytes (bound %d)", st.Stats.Exchanges, n, st.Stats.Bytes, bound)

	runIn(t, ctx, "open the page", chromedp.Navigate(base))
	waitJS(t, ctx, "the page to load", `document.body.dataset.ready === '1' && document.querySelectorAll('#rows tbody tr').length > 0`)
	waitJS(t, ctx, "the first paint's timing", `typeof window.oauthproxyPerf.firstPaint === 'number'`)
	firstPaint := js[float64](t, ctx, "read timings", `window.oauthproxyPerf.firstPaint`)
	rows := js[int](t, ctx, "count rows", `document.querySelectorAll('#rows tbody tr').length`)
	logins := js[int](t, ctx, "count logins", `document.querySelectorAll('#logins li').length`)
	steps := js[int](t, ctx, "count steps", `document.querySelectorAll('#seq g.step').length`)
	if steps > webui.MaxLoginRows {
		t.Errorf("the diagram draws %d steps, want at most %d", steps, webui.MaxLoginRows)
	}
	t.Logf("first paint with %d exchanges held: %.0f ms after navigation start; phases (ms; >sent, <answered): %s", st.Stats.Exchanges, firstPaint,
		strings.Join(js[[]string](t, ctx, "read the phases", `window.oauthproxyPerf.marks`), " "))
	if rows > st.PageSize || logins > 200 {
		t.Errorf("the page holds %d rows and %d logins, want at most a page (%d rows, 200 logins)", rows, logins, st.PageSize)
	}
	search(t, ctx, "invalid-client")
	// Only the refused token requests match.
	var page webui.Page
	getJSONURL(t, base+"api/exchanges?q=invalid-client", &page)
	if page.Total != refused {
		t.Fatalf("search: %d matches, want %d", page.Total, refused)
	}
	waitJS(t, ctx, "the filtered list", fmt.Sprintf(`document.querySelectorAll('#rows tbody tr').length === %d`, page.Total))
	waitJS(t, ctx, "the filter's timing", `typeof window.oauthproxyPerf.lastFilter === 'number'`)
	filter := js[float64](t, ctx, "read timings", `window.oauthproxyPerf.lastFilter`)
	t.Logf("filter change over %d exchanges: %.0f ms from the search request to the redrawn lists", st.Stats.Exchanges, filter)
}

func getJSONURL(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// startView runs `oauthproxy view ARGS...` until the test ends and
// returns the URL it prints.
func startView(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"view"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("view printed no URL: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(line)
}
