package diff

import (
	"encoding/json"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestCaptureSameAsCompare: a comparison streamed through Capture (which
// keeps only the OAuth exchanges and a few others, bodies dropped) reports
// exactly what Compare over whole slices reports.
func TestCaptureSameAsCompare(t *testing.T) {
	many := func(n int) func() []*flow.Exchange {
		return func() []*flow.Exchange {
			var xs []*flow.Exchange
			for i := 0; i < n; i++ {
				xs = append(xs, exchange(i, "GET", "https://cdn.test/x", respond(200, "text/plain", "", 0)))
			}
			xs = append(xs, exchange(n, "GET", "https://cdn.test/broken", respond(500, "text/plain", "boom", 0)))
			return append(xs, tokenReq(n+1, "client_credentials", respond(401, "application/json", `{"error":"invalid_client"}`, 0)))
		}
	}
	for _, sc := range []struct {
		name string
		a, b func() []*flow.Exchange
	}{
		{"egress", egressScenario().a, egressScenario().b},
		{"header-rewrite", headerRewriteScenario().a, headerRewriteScenario().b},
		{"pkce", pkceScenario().a, pkceScenario().b},
		{"few others aligned", many(3), many(5)},
		{"many others counted", many(maxAlignedOther + 5), many(2)},
		{"empty", func() []*flow.Exchange { return nil }, many(maxAlignedOther + 1)},
	} {
		t.Run(sc.name, func(t *testing.T) {
			want, _ := json.Marshal(Compare(sc.a(), sc.b(), Options{NameA: "a", NameB: "b"}))
			ca, cb := NewCapture("a"), NewCapture("b")
			for _, x := range sc.a() {
				ca.Add(x)
			}
			for _, x := range sc.b() {
				cb.Add(x)
			}
			got, _ := json.Marshal(CompareCaptures(ca, cb))
			if string(got) != string(want) {
				t.Errorf("streamed report differs:\ngot  %s\nwant %s", got, want)
			}
			if n := len(ca.kept) + len(cb.kept); n > 2*(maxAlignedOther+2) {
				t.Errorf("captures keep %d exchanges; want at most the OAuth ones and %d others per side", n, maxAlignedOther)
			}
		})
	}
}
