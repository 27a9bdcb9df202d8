package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthproxy/oauthproxy/webui"
)

// TestUIBrowserReportedError: an exchange a browser's capture says it
// blocked (DevTools HAR, status 0, `_error` net::ERR_BLOCKED_BY_CLIENT)
// is shown as the browser's report, in the detail panel and on the
// diagram's failing step, not as an upstream error.
func TestUIBrowserReportedError(t *testing.T) {
	needSubcommand(t, "view")
	ctx := newBrowser(t)
	base := startView(t, "../capture/testdata/devtools/authorize-blocked.har")
	var page webui.Page
	getJSONURL(t, base+"api/exchanges", &page)
	var id string
	for _, r := range page.Rows {
		if strings.HasPrefix(r.Error, "the browser reported ") {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("no row with the browser's report among %+v", page.Rows)
	}
	runIn(t, ctx, "open the page", chromedp.Navigate(base))
	waitJS(t, ctx, "the page to load", `document.body.dataset.ready === '1' && document.querySelectorAll('#rows tbody tr').length > 0`)
	click(t, ctx, "the blocked request's row", fmt.Sprintf(`#rows tbody tr[data-id=%q]`, id))
	waitJS(t, ctx, "its detail", fmt.Sprintf(`(document.querySelector('#detail [data-id=%q] .problem') || {}).textContent !== undefined`, id))
	got := js[string](t, ctx, "read the detail's problem", `document.querySelector('#detail .problem').textContent`)
	if want := "the browser reported net::ERR_BLOCKED_BY_CLIENT"; !strings.HasPrefix(got, want) {
		t.Errorf("detail says %q, want it to start with %q", got, want)
	}
	if labels := js[string](t, ctx, "read the diagram", `[...document.querySelectorAll('#seq text')].map(e => e.textContent).join('\n')`); strings.Contains(labels, "upstream error") {
		t.Errorf("the diagram calls the browser's report an upstream error:\n%s", labels)
	}
}
