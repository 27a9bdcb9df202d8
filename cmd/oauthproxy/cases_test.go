package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// kbCase is one line of the knowledge base (inspect/diagnose/testdata/cases.jsonl,
// copied from shared/oauth-kb).
type kbCase struct {
	ID         string            `json:"id"`
	Status     *int              `json:"http_status"`
	Endpoint   string            `json:"endpoint"`
	Category   string            `json:"category"`
	Headers    map[string]string `json:"headers"`
	Body       *string           `json:"body"`
	SourceKind string            `json:"source_kind"`
}

var kbCategory = map[string]string{
	"protocol":          "request",
	"client_config":     "client-config",
	"grant_state":       "grant",
	"permission_policy": "permission",
	"network_policy":    "network",
	"informational":     "info",
}

func loadCases(t *testing.T) []kbCase {
	t.Helper()
	f, err := os.Open("../../inspect/diagnose/testdata/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []kbCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c kbCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("cases.jsonl: %v", err)
		}
		if c.Status != nil && c.Body != nil {
			cs = append(cs, c)
		}
	}
	return cs
}

// request builds the client request for a case: a clean token request, an
// authorize request, or an API call, so that the diagnosis depends on the
// response alone.
func caseRequest(base string, i int, c kbCase) *http.Request {
	var req *http.Request
	switch c.Endpoint {
	case "authorize":
		q := url.Values{"response_type": {"code"}, "client_id": {"kb-client"}, "redirect_uri": {"https://app.example/cb"}, "state": {"st" + strconv.Itoa(i)}, "scope": {"openid"}}
		req, _ = http.NewRequest("GET", base+"/oauth2/authorize?kbcase="+strconv.Itoa(i)+"&"+q.Encode(), nil)
	case "resource":
		req, _ = http.NewRequest("GET", base+"/api/v1/me?kbcase="+strconv.Itoa(i), nil)
		req.Header.Set("Authorization", "Bearer kb-access-token-"+strconv.Itoa(i))
	case "metadata":
		req, _ = http.NewRequest("GET", base+"/.well-known/openid-configuration?kbcase="+strconv.Itoa(i), nil)
	default: // token, any
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"kb-client"}, "client_secret": {"kb-secret"}, "scope": {"read"}}
		req, _ = http.NewRequest("POST", base+"/oauth2/token?kbcase="+strconv.Itoa(i), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// TestKnowledgeBaseThroughProxy serves every case of the knowledge base that
// describes a response from a local HTTPS upstream, fetches it through the
// real proxy, and checks the JSON log's diagnosis category against the
// case's category. Cases whose answer differs must be explained in
// docs/diagnoses.md (by id). It also checks that `explain` gives the same
// category and cause for the same response.
func TestKnowledgeBaseThroughProxy(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 80 {
		t.Fatalf("only %d cases with a response in cases.jsonl", len(cases))
	}
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.URL.Query().Get("kbcase"))
		if err != nil || i < 0 || i >= len(cases) {
			http.Error(w, "no case", 599)
			return
		}
		c := cases[i]
		for k, v := range c.Headers {
			if strings.EqualFold(k, "Content-Length") {
				continue
			}
			w.Header().Set(k, v)
		}
		w.WriteHeader(*c.Status)
		fmt.Fprint(w, *c.Body)
	}))
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger")
	client := p.client(t, dir)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i, c := range cases {
		resp, err := client.Do(caseRequest(up.URL, i, c))
		if err != nil {
			t.Fatalf("case %s: %v", c.ID, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Exchanges are logged when their body has been relayed, which need not
	// be in request order: match records to cases by the kbcase parameter.
	recs := make([]map[string]any, len(cases))
	for _, rec := range p.waitRecords(t, len(cases)) {
		u, _ := url.Parse(fmt.Sprint(rec["url"]))
		i, err := strconv.Atoi(u.Query().Get("kbcase"))
		if err != nil || i < 0 || i >= len(cases) {
			t.Fatalf("log record with no case: %v", rec)
		}
		recs[i] = rec
	}
	docs, err := os.ReadFile("../../docs/diagnoses.md")
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ n, hit int }
	byCat := map[string]*tally{}
	var misses []string
	for i, c := range cases {
		rec := recs[i]
		want := kbCategory[c.Category]
		got := ""
		cause := ""
		if d, ok := rec["diagnosis"].(map[string]any); ok {
			got, _ = d["category"].(string)
			cause, _ = d["cause"].(string)
		}
		tl := byCat[want]
		if tl == nil {
			tl = &tally{}
			byCat[want] = tl
		}
		tl.n++
		if got == want {
			tl.hit++
		} else {
			misses = append(misses, fmt.Sprintf("%s: got %q (%s), want %q", c.ID, got, cause, want))
			if !strings.Contains(string(docs), c.ID) {
				t.Errorf("case %s: diagnosis category %q (cause %q), want %q, and docs/diagnoses.md does not explain it", c.ID, got, cause, want)
			}
		}
		// explain must answer the same for the same response.
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		label := flow.Label(c.Endpoint)
		switch c.Endpoint {
		case "any":
			label = flow.LabelToken
		case "resource":
			label = flow.LabelNone
		case "metadata":
			label = flow.LabelDiscovery
		}
		x := explainExchange(label, "", *c.Status, h, []byte(*c.Body))
		var ecat, ecause string
		if x.OAuth.Diagnosis != nil {
			ecat, ecause = string(x.OAuth.Diagnosis.Category), x.OAuth.Diagnosis.Cause
		}
		if ecat != got || ecause != cause {
			t.Errorf("case %s: explain says %s/%s, the proxy said %s/%s", c.ID, ecat, ecause, got, cause)
		}
	}
	cats := make([]string, 0, len(byCat))
	for k := range byCat {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	total, hits := 0, 0
	for _, k := range cats {
		t.Logf("%-14s %3d/%3d", k, byCat[k].hit, byCat[k].n)
		total += byCat[k].n
		hits += byCat[k].hit
	}
	t.Logf("through the proxy: %d/%d cases diagnosed with the expected category", hits, total)
	for _, m := range misses {
		t.Logf("miss (explained in docs/diagnoses.md): %s", m)
	}
}

// TestOrdinaryAPIsNoDiagnosis: successful responses and non-OAuth errors of
// ordinary APIs get no OAuth label, no findings and no diagnosis, except
// their refusals (401, 403): every one of those is diagnosed (issue 11),
// here with the info diagnosis that lists what is known.
func TestOrdinaryAPIsNoDiagnosis(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/items":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"items":[1,2,3]}`)
		case "/api/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"not_found","message":"no such item"}`)
		case "/api/broken":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			fmt.Fprint(w, `<html><body>Internal Server Error</body></html>`)
		case "/api/login":
			w.WriteHeader(403)
			fmt.Fprint(w, `{"error":"forbidden"}`)
		default:
			w.WriteHeader(401)
			fmt.Fprint(w, `unauthorized`)
		}
	}))
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger")
	client := p.client(t, dir)
	reqs := []*http.Request{}
	for _, path := range []string{"/api/items", "/api/missing", "/api/broken", "/api/other"} {
		r, _ := http.NewRequest("GET", up.URL+path, nil)
		reqs = append(reqs, r)
	}
	r, _ := http.NewRequest("POST", up.URL+"/api/login", strings.NewReader("username=alice&password=hunter2"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	reqs = append(reqs, r)
	r, _ = http.NewRequest("POST", up.URL+"/api/items", strings.NewReader(`{"name":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	reqs = append(reqs, r)
	for _, r := range reqs {
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, rec := range p.waitRecords(t, len(reqs)) {
		for _, k := range []string{"oauth", "findings", "diagnosis"} {
			v, ok := rec[k]
			if k == "diagnosis" && (rec["status"] == 401.0 || rec["status"] == 403.0) {
				if d, _ := v.(map[string]any); d["cause"] != "refusal-unexplained" || d["category"] != "info" {
					t.Errorf("%v %v (%v): got diagnosis %v, want info/refusal-unexplained", rec["method"], rec["url"], rec["status"], v)
				}
				continue
			}
			if ok {
				t.Errorf("%v %v: got %s=%v, want none", rec["method"], rec["url"], k, v)
			}
		}
	}
	if strings.Contains(p.stdout.String(), "hunter2") {
		t.Error("the password of a form POST appears in the log")
	}
}

// TestReasonPhraseThroughProxy: a gateway that says why it blocked a
// request only in its status line ("HTTP/1.1 403 Ip Forbidden", Azure App
// Service access restrictions) is diagnosed from it.
func TestReasonPhraseThroughProxy(t *testing.T) {
	up := newUpstream(t, http.NotFoundHandler())
	up.Close() // only its certificate and CA are used: a raw server answers
	l, err := tls.Listen("tcp", "127.0.0.1:0", up.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 403 Ip Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}
	req, _ := http.NewRequest("POST", "https://"+l.Addr().String()+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client(t, dir).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Status != "403 Ip Forbidden" {
		t.Errorf("client got status %q, want the upstream's reason phrase kept", resp.Status)
	}
	rec := p.waitRecords(t, 1)[0]
	d, _ := rec["diagnosis"].(map[string]any)
	if d["cause"] != "ip-not-allowlisted" || d["category"] != "network" {
		t.Errorf("diagnosis %v, want network/ip-not-allowlisted", d)
	}
}
