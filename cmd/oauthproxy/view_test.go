package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/webui"
)

// viewProc is an `oauthproxy view` inside the test process.
type viewProc struct {
	base   string
	cancel context.CancelFunc
	done   chan int
}

// startView runs `oauthproxy view FILE` and waits for the URL it prints.
func startView(t *testing.T, path string) *viewProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errb := &syncBuffer{}
	v := &viewProc{cancel: cancel, done: make(chan int, 1)}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: outW, stderr: errb, getenv: func(string) string { return "" }}
	go func() {
		code := mainEnv(e, []string{"view", path})
		outW.Close()
		v.done <- code
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("view %s printed no URL: %v; stderr: %s", path, err, errb.String())
	}
	go io.Copy(io.Discard, outR)
	v.base = strings.TrimSuffix(strings.TrimSpace(line), "/")
	t.Cleanup(func() {
		cancel()
		select {
		case <-v.done:
		case <-time.After(10 * time.Second):
			t.Errorf("view did not stop")
		}
	})
	return v
}

func (v *viewProc) get(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := http.Get(v.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// rows pages through the UI's exchange list and returns it oldest first.
func (v *viewProc) rows(t *testing.T) []webui.Row {
	t.Helper()
	var all []webui.Row
	for off := 0; ; off += webui.MaxPageSize {
		var p webui.Page
		v.get(t, fmt.Sprintf("/api/exchanges?offset=%d&limit=%d", off, webui.MaxPageSize), &p)
		all = append(all, p.Rows...)
		if len(p.Rows) < webui.MaxPageSize {
			break
		}
		if len(p.Rows) > webui.MaxPageSize {
			t.Fatalf("a page of %d rows, more than %d", len(p.Rows), webui.MaxPageSize)
		}
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// canonical names login ids by order of first appearance ("login1",
// "login2"...): ids are random per run, the grouping is what must agree.
type canonical map[string]string

func (c canonical) name(id string) string {
	if id == "" {
		return ""
	}
	if n, ok := c[id]; ok {
		return n
	}
	c[id] = fmt.Sprintf("login%d", len(c)+1)
	return c[id]
}

// recordVerdict is what both outputs must agree on for one exchange.
func recordVerdict(rec map[string]any, logins canonical) string {
	var fs []string
	if list, ok := rec["findings"].([]any); ok {
		for _, f := range list {
			m := f.(map[string]any)
			fs = append(fs, fmt.Sprint(m["id"], "/", m["severity"]))
		}
	}
	cause := ""
	if d, ok := rec["diagnosis"].(map[string]any); ok {
		cause = fmt.Sprint(d["category"], "/", d["cause"])
	}
	login, _ := rec["login"].(string)
	login = logins.name(login)
	status := 0
	if s, ok := rec["status"].(float64); ok {
		status = int(s)
	}
	oauth, _ := rec["oauth"].(string)
	return fmt.Sprintf("%s %s %d %s login=%s findings=%s diagnosis=%s", rec["method"], rec["url"], status, oauth, login, strings.Join(fs, ","), cause)
}

func rowVerdict(r webui.Row, logins canonical) string {
	var fs []string
	for _, f := range r.Findings {
		fs = append(fs, f.ID+"/"+f.Severity)
	}
	return fmt.Sprintf("%s %s %d %s login=%s findings=%s diagnosis=%s", r.Method, r.URL, r.Status, r.OAuth, logins.name(r.Login), strings.Join(fs, ","), r.Cause)
}

// kbHAR writes a HAR built from the knowledge base: one exchange per case
// with a response (the request as TestKnowledgeBaseThroughProxy sends it).
func kbHAR(t *testing.T) string {
	t.Helper()
	var xs []*flow.Exchange
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, c := range loadCases(t) {
		req := caseRequest("https://kb.example.test", i, c)
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
		}
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		xs = append(xs, &flow.Exchange{
			ID: fmt.Sprintf("kb-%04d", i), Seq: i + 1, Start: start.Add(time.Duration(i) * time.Second),
			Request:  flow.Request{Method: req.Method, URL: req.URL, Proto: "HTTP/1.1", Header: req.Header, Body: flow.Body{Data: body, Size: int64(len(body))}},
			Response: &flow.Response{Status: *c.Status, Proto: "HTTP/1.1", Header: h, Body: flow.Body{Data: []byte(*c.Body), Size: int64(len(*c.Body))}},
		})
	}
	path := filepath.Join(t.TempDir(), "kb.har")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := webui.WriteHAR(f, xs, "test"); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestViewMatchesAnalyze: `oauthproxy view` shows the same exchanges,
// logins, findings and diagnoses as `analyze --format json` prints, for
// the knowledge-base HAR, a DevTools export and the other tools' HARs.
func TestViewMatchesAnalyze(t *testing.T) {
	files := map[string]string{"knowledge base": kbHAR(t)}
	for _, name := range []string{"chrome", "firefox", "fiddler", "charles", "mitmproxy", "httptoolkit"} {
		files[name] = filepath.Join("..", "..", "capture", "testdata", name+".har")
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := files[name]
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(t, "", "analyze", "--format", "json", "--quiet", path)
			if code != 0 {
				t.Fatalf("analyze: exit %d: %s", code, errOut)
			}
			var want []string
			recLogins, rowLogins := canonical{}, canonical{}
			findings := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("analyze line %q: %v", line, err)
				}
				want = append(want, recordVerdict(rec, recLogins))
				if rec["findings"] != nil || rec["diagnosis"] != nil {
					findings++
				}
			}
			if findings == 0 {
				t.Fatalf("analyze found nothing in %s: the comparison would prove little", path)
			}
			v := startView(t, path)
			rows := v.rows(t)
			if len(rows) != len(want) {
				t.Fatalf("view shows %d exchanges, analyze printed %d", len(rows), len(want))
			}
			for i, r := range rows {
				if got := rowVerdict(r, rowLogins); got != want[i] {
					t.Errorf("exchange %d:\n view    %s\n analyze %s", i+1, got, want[i])
				}
			}
			// The login list has the logins the rows have (same count as
			// analyze's, by the verdicts above), each with its rows.
			var lp webui.LoginPage
			v.get(t, "/api/logins?limit=500", &lp)
			n := 0
			for _, l := range lp.Logins {
				if l.ID == webui.OtherLane {
					continue
				}
				n++
				if _, ok := rowLogins[l.ID]; !ok {
					t.Errorf("login %s is listed but no row has it", l.ID)
				}
			}
			if n != len(recLogins) {
				t.Errorf("view lists %d logins, analyze printed %d", n, len(recLogins))
			}
		})
	}
}

// TestLiveView: the running proxy serves the UI at its own address with
// the exchanges it relayed, and the CA page at /ca; --no-ui gives the CA
// page at / as before.
func TestLiveView(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_client"}`)
	}))
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger")
	client := p.client(t, dir)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"CANARY-live-secret"}}
	resp, err := client.PostForm(up.URL+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p.waitRecords(t, 1)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, `src="app.js"`) {
		t.Errorf("/: %d, want the UI page", code)
	}
	if code, body := get("/ca"); code != 200 || !strings.Contains(body, "ca.pem") {
		t.Errorf("/ca: %d, want the CA page", code)
	}
	// The exchange reaches the UI through the queue: wait for it.
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, body = get("/api/exchanges"); strings.Contains(body, "invalid-client") || strings.Contains(body, "client-config/") {
			break
		}
	}
	var page webui.Page
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Rows) != 1 || page.Rows[0].Cause == "" {
		t.Fatalf("/api/exchanges: %v %s, want the diagnosed token request", err, body)
	}
	if strings.Contains(body, "CANARY") {
		t.Errorf("the API leaks the client secret: %s", body)
	}

	// Re-send from the UI: straight upstream (trusting --upstream-ca), and
	// the new exchange comes back through the pipeline into the UI.
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/api/resend?id="+page.Rows[0].ID, nil)
	req.Header.Set("X-Oauthproxy", "1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(rb), `"status":400`) || strings.Contains(string(rb), "CANARY") {
		t.Fatalf("re-send: %d %s, want 200 with the upstream's 400 and no secret", resp.StatusCode, rb)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body = get("/api/exchanges")
		if err := json.Unmarshal([]byte(body), &page); err == nil && len(page.Rows) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the re-sent exchange did not reach the UI: %s", body)
		}
	}
	p.waitRecords(t, 2) // and the live log

	q := startProxy(t, "--data-dir", dir, "--no-ui", "--no-ledger")
	resp, err = http.Get("http://" + q.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "ca.pem") || strings.Contains(string(b), "app.js") {
		t.Errorf("--no-ui: / is not the CA page")
	}
}

// TestLiveViewAuth: with --proxy-auth the UI asks for those credentials
// (the CA page does not: it is what a new client needs first).
func TestLiveViewAuth(t *testing.T) {
	p := startProxy(t, "--data-dir", t.TempDir(), "--proxy-auth", "alice:s3cret-pass", "--no-ledger")
	tests := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"no credentials", "/", "", "", http.StatusUnauthorized},
		{"wrong password", "/api/exchanges", "alice", "nope", http.StatusUnauthorized},
		{"the proxy credentials", "/api/exchanges", "alice", "s3cret-pass", http.StatusOK},
		{"CA page without credentials", "/ca.pem", "", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+p.addr+tt.path, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestViewStalledBody: a client of `view` that announces a request body
// and sends none is answered and its connection closed once the read
// timeout is over (30 s, 300 ms here); the view keeps serving. Before,
// net/http waited for the body for ever after the handler's answer.
func TestViewStalledBody(t *testing.T) {
	old := viewReadTimeout
	viewReadTimeout = 300 * time.Millisecond
	t.Cleanup(func() { viewReadTimeout = old })
	v := startView(t, filepath.Join("..", "..", "capture", "testdata", "chrome.har"))
	host := strings.TrimPrefix(v.base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /api/state HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n{", host)
	// Generous bound: it only keeps a regression from hanging the test.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatalf("stalled client: no answer: %v", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Errorf("stalled client's connection: got %v, want it closed", err)
	}
	var st webui.State
	v.get(t, "/api/state", &st)
	if st.Mode != "file" {
		t.Errorf("after the stalled client: mode %q, want file", st.Mode)
	}
}
