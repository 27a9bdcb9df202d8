package diff

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestWriteJSON: the streamed report is byte for byte what encoding/json
// writes with two-space indentation, for reports with and without pairs,
// verdicts, unmatched exchanges and notes, and for nil and empty slices.
func TestWriteJSON(t *testing.T) {
	both := func() []*flow.Exchange { return []*flow.Exchange{tokenReq(0, "client_credentials", ok())} }
	many := func(n int, status int) []*flow.Exchange {
		var xs []*flow.Exchange
		for i := 0; i < n; i++ {
			xs = append(xs, tokenReq(i, "client_credentials", egress("10.0.0."+string(rune('1'+status%2))),
				respond(status, "application/json", `{"error":"<invalid_client> & co"}`, 0)))
		}
		return xs
	}
	tests := []struct {
		name string
		r    *Report
	}{
		{"egress", Compare(egressScenario().a(), egressScenario().b(), Options{NameA: "laptop.har", NameB: "server.har"})},
		{"header rewrite", Compare(headerRewriteScenario().a(), redactAll(headerRewriteScenario().b()), Options{})},
		{"pkce", Compare(pkceScenario().a(), pkceScenario().b(), Options{})},
		{"both ok", Compare(both(), both(), Options{})},
		{"empty A", Compare(nil, both(), Options{})},
		{"many pairs, unmatched, HTML characters", Compare(many(3, 200), many(5, 401), Options{})},
		{"nil slices", &Report{Headline: "x"}},
		{"empty slices", &Report{Verdict: []Reason{}, Pairs: []Pair{}, UnmatchedA: []ExchangeRef{}, UnmatchedB: []ExchangeRef{}, Notes: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(tt.r); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := tt.r.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("got:\n%s\nwant (encoding/json):\n%s", got.String(), want.String())
			}
		})
	}
}
