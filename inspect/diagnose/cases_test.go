package diagnose

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

var update = flag.Bool("update", false, "rewrite the generated sections of docs/diagnoses.md")

// docPath is the documentation this package owns besides its code.
var docPath = filepath.Join("..", "..", "docs", "diagnoses.md")

// kbCase is one line of testdata/cases.jsonl (a copy of the shared
// knowledge base).
type kbCase struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Status     *int              `json:"http_status"`
	Endpoint   string            `json:"endpoint"`
	ErrorCode  *string           `json:"error_code"`
	Category   string            `json:"category"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	Citation   string            `json:"citation"`
	Confidence string            `json:"confidence"`
}

func loadCases(t testing.TB) []kbCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "cases.jsonl"))
	if err != nil {
		t.Fatalf("read cases: %v", err)
	}
	var out []kbCase
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var c kbCase
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("parse case: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no cases")
	}
	return out
}

// kbCategory maps the knowledge base's categories to diagnosis categories.
var kbCategory = map[string]flow.Category{
	"protocol":          flow.CategoryRequest,
	"client_config":     flow.CategoryClientConfig,
	"grant_state":       flow.CategoryGrant,
	"permission_policy": flow.CategoryPermission,
	"network_policy":    flow.CategoryNetwork,
	"informational":     flow.CategoryInfo,
}

// disagreement records a case where we deliberately answer differently
// from the knowledge base: the category we give and why.
type disagreement struct {
	got    flow.Category
	reason string
}

// knownDisagreements are documented in docs/diagnoses.md (generated).
var knownDisagreements = map[string]disagreement{
	"rfc6749-4.1.3-redirect-uri-mismatch": {flow.CategoryGrant,
		"The response is a bare `{\"error\":\"invalid_grant\"}`, byte for byte the same as rfc6749-5.2-invalid_grant (grant). The response alone cannot tell a redirect_uri mismatch; with the request-side finding `redirect-uri-mismatch` the diagnosis is `redirect-uri-mismatch` / client-config (TestFindings)."},
	"rfc7636-4.6-pkce-mismatch": {flow.CategoryGrant,
		"Bare `{\"error\":\"invalid_grant\"}` again: indistinguishable from a reused or expired code without the request. With the finding `pkce-mismatch` the diagnosis is `pkce-mismatch` / client-config (TestFindings)."},
	"google-disallowed_useragent": {flow.CategoryClientConfig,
		"Google refuses embedded web views by User-Agent. The fix is the developer's (open the system browser: AppAuth, ASWebAuthenticationSession, Custom Tabs), not a network or firewall change, so we answer client-config (`embedded-webview-blocked`) rather than network."},
	"qq-100010-100011-redirect-app-offline": {flow.CategoryClientConfig,
		"The captured body is error 100010 'redirect uri is illegal': a redirect_uri registration problem, which the knowledge base's own rule 5 files under configuration. 100011/110406 (app not online / not approved), named in the same case, do give permission (`app-not-live`)."},
}

// caseLabel returns the exchange label and URL for a case's endpoint.
func caseExchange(c kbCase, status int) *flow.Exchange {
	x := &flow.Exchange{ID: c.ID}
	h := http.Header{}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	var u string
	switch c.Endpoint {
	case "authorize":
		x.OAuth.Label = flow.LabelAuthorize
		x.Request.Method = http.MethodGet
		u = "https://as.example/authorize?response_type=code&client_id=app&state=xyz"
	case "resource":
		x.Request.Method = http.MethodGet
		u = "https://api.example/v1/me"
	case "metadata":
		x.OAuth.Label = flow.LabelDiscovery
		x.Request.Method = http.MethodGet
		u = "https://as.example/.well-known/openid-configuration"
	default: // token, any
		x.OAuth.Label = flow.LabelToken
		x.Request.Method = http.MethodPost
		u = "https://as.example/token"
	}
	x.Request.URL, _ = url.Parse(u)
	x.Request.Header = http.Header{}
	x.Response = &flow.Response{Status: status, Header: h, Body: flow.Body{Data: []byte(c.Body), Size: int64(len(c.Body))}}
	return x
}

// caseStatus returns the status to replay a case with, or ok=false for
// cases that describe no response (N/A).
func caseStatus(c kbCase) (int, bool) {
	if c.Status != nil {
		return *c.Status, true
	}
	if c.Category == "informational" {
		// Descriptions of formats and checks (discovery fields, the §5.1
		// response format), not responses to diagnose.
		return 0, false
	}
	return 400, true // an error page or body whose status was not captured
}

type caseResult struct {
	c        kbCase
	status   int
	na       bool
	want     flow.Category
	got      *flow.Diagnosis
	hit      bool
	disagree *disagreement
}

func runCases(t *testing.T) []caseResult {
	var out []caseResult
	for _, c := range loadCases(t) {
		r := caseResult{c: c, want: kbCategory[c.Category]}
		if r.want == "" {
			t.Fatalf("case %s: unknown category %q", c.ID, c.Category)
		}
		status, ok := caseStatus(c)
		if !ok {
			r.na = true
			out = append(out, r)
			continue
		}
		r.status = status
		r.got = Diagnose(caseExchange(c, status))
		r.hit = r.got != nil && r.got.Category == r.want
		if d, ok := knownDisagreements[c.ID]; ok {
			r.disagree = &d
		}
		out = append(out, r)
	}
	return out
}

func TestCases(t *testing.T) {
	results := runCases(t)
	for _, r := range results {
		t.Run(r.c.ID, func(t *testing.T) {
			if r.na {
				t.Skipf("N/A: %s describes no response", r.c.ID)
			}
			if r.got == nil {
				t.Fatalf("got no diagnosis, want category %s", r.want)
			}
			if r.got.Cause == "" || causeByID[r.got.Cause] == nil {
				t.Errorf("got undocumented cause %q", r.got.Cause)
			}
			checkNetworkEvidence(t, r.got)
			if r.disagree != nil {
				if r.got.Category != r.disagree.got {
					t.Errorf("got category %s (cause %s), want the documented disagreement %s (knowledge base says %s)", r.got.Category, r.got.Cause, r.disagree.got, r.want)
				}
				return
			}
			if r.got.Category != r.want {
				t.Errorf("got category %s (cause %s, evidence %q), want %s", r.got.Category, r.got.Cause, r.got.Evidence, r.want)
			}
		})
	}
	for id := range knownDisagreements {
		found := false
		for _, r := range results {
			found = found || r.c.ID == id
		}
		if !found {
			t.Errorf("knownDisagreements names unknown case %s", id)
		}
	}
	syncDoc(t, "accuracy", accuracyMarkdown(results))
}

// accuracyMarkdown renders the accuracy table, the disagreements and the
// per-case results.
func accuracyMarkdown(results []caseResult) string {
	type row struct{ cases, hits, disagree, na int }
	rows := map[flow.Category]*row{}
	order := []flow.Category{flow.CategoryRequest, flow.CategoryClientConfig, flow.CategoryGrant, flow.CategoryPermission, flow.CategoryNetwork, flow.CategoryServer, flow.CategoryInfo}
	for _, c := range order {
		rows[c] = &row{}
	}
	var total row
	for _, r := range results {
		w := rows[r.want]
		switch {
		case r.na:
			w.na++
			total.na++
			continue
		case r.hit:
			w.hits++
			total.hits++
		case r.disagree != nil:
			w.disagree++
			total.disagree++
		}
		w.cases++
		total.cases++
	}
	var b strings.Builder
	b.WriteString("Generated by `go test ./inspect/diagnose -run TestCases -update` from testdata/cases.jsonl (a copy of the shared knowledge base).\n\n")
	b.WriteString("| expected category | cases | hits | documented disagreements | misses | N/A |\n|---|---:|---:|---:|---:|---:|\n")
	for _, c := range order {
		w := rows[c]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", c, w.cases, w.hits, w.disagree, w.cases-w.hits-w.disagree, w.na)
	}
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | **%d** | **%d** | **%d** |\n\n", total.cases, total.hits, total.disagree, total.cases-total.hits-total.disagree, total.na)
	if total.cases > 0 {
		fmt.Fprintf(&b, "Accuracy: %d of %d cases (%.1f%%) get the knowledge base's category; the other %d are the documented disagreements below (no unexplained misses: the test fails on any).\n\n",
			total.hits, total.cases, 100*float64(total.hits)/float64(total.cases), total.cases-total.hits)
	}
	b.WriteString("### Disagreements\n\n")
	ids := make([]string, 0, len(knownDisagreements))
	for id := range knownDisagreements {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d := knownDisagreements[id]
		var want flow.Category
		for _, r := range results {
			if r.c.ID == id {
				want = r.want
			}
		}
		fmt.Fprintf(&b, "- `%s`: knowledge base %s, we answer %s. %s\n", id, want, d.got, d.reason)
	}
	b.WriteString("\n### Not applicable\n\n")
	for _, r := range results {
		if r.na {
			fmt.Fprintf(&b, "- `%s` (no status, %s): describes a format or pre-flight check, not a response; not replayed.\n", r.c.ID, r.c.Category)
		}
	}
	b.WriteString("\nCases without a captured status (other than those) are replayed with status 400.\n\n")
	b.WriteString("### Per case\n\n| case | status | expected | got | cause | confidence |\n|---|---:|---|---|---|---|\n")
	for _, r := range results {
		if r.na {
			fmt.Fprintf(&b, "| %s | – | %s | N/A | | |\n", r.c.ID, r.want)
			continue
		}
		got, cause, conf := "nil", "", ""
		if r.got != nil {
			got, cause, conf = string(r.got.Category), "`"+r.got.Cause+"`", r.got.Confidence
		}
		mark := ""
		if !r.hit {
			mark = " ✗"
			if r.disagree != nil {
				mark = " (disagreement)"
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s%s | %s | %s |\n", r.c.ID, r.status, r.want, got, mark, cause, conf)
	}
	return b.String()
}

// syncDoc checks (or with -update rewrites) a generated section of
// docs/diagnoses.md, delimited by BEGIN/END GENERATED markers.
func syncDoc(t *testing.T, name, body string) {
	t.Helper()
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read %s: %v", docPath, err)
	}
	begin := "<!-- BEGIN GENERATED: " + name + " -->\n"
	end := "<!-- END GENERATED: " + name + " -->"
	doc := string(raw)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s: markers for section %q not found", docPath, name)
	}
	cur := doc[i+len(begin) : j]
	if cur == body {
		return
	}
	if !*update {
		t.Errorf("%s: generated section %q is out of date; run `go test ./inspect/diagnose -update`", docPath, name)
		return
	}
	doc = doc[:i+len(begin)] + body + doc[j:]
	if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
		t.Fatalf("write %s: %v", docPath, err)
	}
}
