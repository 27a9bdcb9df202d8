package capture

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

func TestWriterOutputIsHAR12(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts WriterOptions
	}{
		{"redacted", WriterOptions{}},
		{"unredacted", WriterOptions{Unredacted: true}},
		{"tiny body cap", WriterOptions{BodyCap: 8}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeHAR(t, sampleFlow(t), tt.opts)
			if errs := validateHAR(readFile(t, path)); len(errs) > 0 {
				t.Errorf("got %d HAR 1.2 violations, want none:\n%s", len(errs), strings.Join(errs, "\n"))
			}
		})
	}
	t.Run("empty capture", func(t *testing.T) {
		path := writeHAR(t, nil, WriterOptions{})
		if errs := validateHAR(readFile(t, path)); len(errs) > 0 {
			t.Errorf("got violations %v, want none", errs)
		}
	})
}

func TestValidateHARCatchesViolations(t *testing.T) {
	// The checker itself must fail on broken files, or the test above proves nothing.
	tests := []struct{ name, in, want string }{
		{"no creator", `{"log":{"version":"1.2","entries":[]}}`, "log.creator: missing"},
		{"bad version", `{"log":{"version":"1.1","creator":{"name":"x","version":"1"},"entries":[]}}`, "log.version"},
		{"no request url", `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"2024-01-01T00:00:00Z","time":1,"request":{"method":"GET","httpVersion":"","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":-1},"response":{},"cache":{},"timings":{"send":0,"wait":0,"receive":0}}]}}`, "log.entries[0].request.url: missing"},
		{"bad date", `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"yesterday"}]}}`, "is not ISO 8601"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := strings.Join(validateHAR([]byte(tt.in)), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Errorf("got violations %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestHARValidatorNPM validates writer output with the npm har-validator
// package. CI runs `npm ci` in testdata/harvalidator; elsewhere the test is
// skipped unless node and those modules (or HAR_VALIDATOR_DIR) are there.
func TestHARValidatorNPM(t *testing.T) {
	dir := os.Getenv("HAR_VALIDATOR_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "harvalidator")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator")); err != nil {
		t.Skipf("har-validator not installed (run `npm ci` in %s or set HAR_VALIDATOR_DIR): %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found in PATH")
	}
	files := []string{
		writeHAR(t, sampleFlow(t), WriterOptions{}),
		writeHAR(t, sampleFlow(t), WriterOptions{Unredacted: true}),
		writeHAR(t, nil, WriterOptions{}),
	}
	// A capture rewritten by Redact from each tool's export must validate too.
	fixtures, _ := filepath.Glob("testdata/*.har")
	for _, f := range fixtures {
		out := filepath.Join(t.TempDir(), filepath.Base(f))
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Redact(in, &buf); err != nil {
			t.Fatalf("Redact %s: %v", f, err)
		}
		in.Close()
		os.WriteFile(out, buf.Bytes(), 0o600)
		files = append(files, out)
	}
	abs, _ := filepath.Abs(dir)
	cmd := exec.Command(node, append([]string{filepath.Join(abs, "validate.js")}, files...)...)
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("har-validator rejected a capture: %v\n%s", err, out)
	}
	// The validator must be able to fail: a broken file is rejected.
	broken := filepath.Join(t.TempDir(), "broken.har")
	os.WriteFile(broken, []byte(`{"log":{"version":"1.2","creator":{"name":"x"},"entries":[]}}`), 0o600)
	if err := exec.Command(node, filepath.Join(abs, "validate.js"), broken).Run(); err == nil {
		t.Errorf("har-validator accepted a HAR without creator.version")
	}
}

func TestRedactionCanaries(t *testing.T) {
	forms := func(c string) map[string]string {
		return map[string]string{
			"raw":         c,
			"base64":      base64.StdEncoding.EncodeToString([]byte(c)),
			"url-encoded": url.QueryEscape(c),
			"path-escape": url.PathEscape(c),
		}
	}
	t.Run("default capture has none", func(t *testing.T) {
		path := writeHAR(t, sampleFlow(t), WriterOptions{})
		data := readFile(t, path)
		for _, c := range canaries {
			for form, v := range forms(c) {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("capture contains canary %s in %s form", redact.Fingerprint(c), form)
				}
			}
		}
		if bytes.Contains(data, []byte("UNREDACTED")) {
			t.Errorf("redacted capture says UNREDACTED")
		}
	})
	t.Run("journal has none while capturing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.har")
		w, err := NewWriter(path, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for _, x := range sampleFlow(t) {
			w.Handle(x)
		}
		data := readFile(t, path+JournalSuffix)
		for _, c := range canaries {
			if bytes.Contains(data, []byte(c)) {
				t.Errorf("journal contains canary %s", redact.Fingerprint(c))
			}
		}
	})
	t.Run("unredacted capture has all and says so", func(t *testing.T) {
		path := writeHAR(t, sampleFlow(t), WriterOptions{Unredacted: true})
		data := readFile(t, path)
		for _, c := range canaries {
			if c == canaryBasicSecret {
				continue // only inside the base64 of the Basic credential, which is a canary too
			}
			if !bytes.Contains(data, []byte(c)) && !bytes.Contains(data, []byte(url.QueryEscape(c))) {
				t.Errorf("unredacted capture lacks canary %q", c)
			}
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if !strings.HasPrefix(r.CreatorInfo().Comment, "UNREDACTED: this file contains secrets") {
			t.Errorf("got creator comment %q, want the UNREDACTED warning", r.CreatorInfo().Comment)
		}
		if !strings.HasPrefix(r.Comment(), "UNREDACTED") {
			t.Errorf("got log comment %q, want the UNREDACTED warning", r.Comment())
		}
	})
}

func TestRedactedFingerprintsCorrelate(t *testing.T) {
	path := writeHAR(t, sampleFlow(t), WriterOptions{})
	xs, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	want := redact.Fingerprint(canaryCode)
	loc, err := url.Parse(xs[0].Response.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	token1, _ := url.ParseQuery(string(xs[3].Request.Body.Data))
	token2, _ := url.ParseQuery(string(xs[4].Request.Body.Data))
	got := map[string]string{
		"Location code":       loc.Query().Get("code"),
		"callback URL code":   xs[2].Request.URL.Query().Get("code"),
		"token request code":  token1.Get("code"),
		"reused token code":   token2.Get("code"),
		"form_post HTML code": between(string(xs[1].Response.Body.Data), `name="code" value="`, `"`),
	}
	for where, v := range got {
		if v != want {
			t.Errorf("%s: got %q, want %q", where, v, want)
		}
	}
	if got, want := token1.Get("client_secret"), redact.Param("client_secret", canaryClientSecret); got != want {
		t.Errorf("client_secret: got %q, want %q", got, want)
	}
	if got := xs[3].Request.Header.Get("Authorization"); !strings.HasPrefix(got, "Basic "+redact.SlowPrefix) {
		t.Errorf("Authorization: got %q, want Basic + fingerprint", got)
	}
	if got, want := xs[0].Request.Header.Get("Cookie"), "idp="+redact.Fingerprint(canaryCookie)+"; lang="+redact.Fingerprint("en"); got != want {
		t.Errorf("Cookie: got %q, want %q", got, want)
	}
	// The HAR cookies arrays are redacted too.
	data := readFile(t, path)
	if !bytes.Contains(data, []byte(`"name":"sess","value":"`+redact.Fingerprint(canarySetCookie)+`"`)) {
		t.Errorf("response cookies array lacks the Set-Cookie fingerprint")
	}
	if !bytes.Contains(data, []byte(`{"name":"code","value":"`+want+`"}`)) {
		t.Errorf("postData.params lacks the code fingerprint")
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func TestRoundTrip(t *testing.T) {
	in := sampleFlow(t)
	for _, x := range in {
		if x.Response != nil && x.Response.Status == 400 {
			x.Response.Reason = "Bad Request From Gateway" // a non-standard reason phrase survives
		}
	}
	path := writeHAR(t, in, WriterOptions{Unredacted: true})
	out, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d exchanges, want %d", len(out), len(in))
	}
	for i := range in {
		a, b := in[i], out[i]
		t.Run(a.ID[len(a.ID)-1:], func(t *testing.T) {
			check := func(field string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %#v, want %#v", field, got, want)
				}
			}
			check("ID", b.ID, a.ID)
			check("Seq", b.Seq, i)
			check("Start", b.Start.Equal(a.Start), true)
			check("Method", b.Request.Method, a.Request.Method)
			check("URL", b.Request.URLString(), a.Request.URLString())
			check("Proto", b.Request.Proto, a.Request.Proto)
			check("request header", b.Request.Header, a.Request.Header)
			check("request body", string(b.Request.Body.Data), string(a.Request.Body.Data))
			check("error", b.Error, a.Error)
			check("OAuth", b.OAuth, a.OAuth)
			check("Conn", b.Conn, a.Conn)
			check("Timings", b.Timings, a.Timings)
			if (a.Response == nil) != (b.Response == nil) {
				t.Fatalf("response: got %v, want %v", b.Response, a.Response)
			}
			if a.Response != nil {
				check("status", b.Response.Status, a.Response.Status)
				check("reason", b.Response.Reason, a.Response.Reason)
				check("response proto", b.Response.Proto, a.Response.Proto)
				check("response header", b.Response.Header, a.Response.Header)
				check("response body", string(b.Response.Body.Data), string(a.Response.Body.Data))
				check("response size", b.Response.Body.Size, a.Response.Body.Size)
				check("response encoding", b.Response.Body.Encoding, a.Response.Body.Encoding)
			}
		})
	}
	t.Run("redacted", func(t *testing.T) {
		out, err := ReadAll(writeHAR(t, in, WriterOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			want := redactExchange(in[i])
			if got, w := out[i].Request.URLString(), want.Request.URLString(); got != w {
				t.Errorf("%d URL: got %q, want %q", i, got, w)
			}
			if got, w := string(out[i].Request.Body.Data), string(want.Request.Body.Data); got != w {
				t.Errorf("%d request body: got %q, want %q", i, got, w)
			}
			if !reflect.DeepEqual(out[i].Request.Header, want.Request.Header) {
				t.Errorf("%d request header: got %v, want %v", i, out[i].Request.Header, want.Request.Header)
			}
			if !reflect.DeepEqual(out[i].OAuth, in[i].OAuth) {
				t.Errorf("%d OAuth: got %+v, want %+v", i, out[i].OAuth, in[i].OAuth)
			}
		}
	})
}

// TestLoginField: the login id is the entry's "_login" member, and the
// reader takes it from there even without "_oauthproxy".
func TestLoginField(t *testing.T) {
	xs := sampleFlow(t)
	e := EntryFromExchange(xs[3], WriterOptions{})
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"_login":"` + xs[3].OAuth.Login + `"`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("entry JSON: want it to contain %s; got %.300s", want, b)
	}
	e.OAuthProxy = nil
	x, err := ExchangeFromEntry(&e, 3)
	if err != nil {
		t.Fatal(err)
	}
	if x.OAuth.Login != xs[3].OAuth.Login {
		t.Errorf("read back: got login %q, want %q", x.OAuth.Login, xs[3].OAuth.Login)
	}
}

func TestBodyCap(t *testing.T) {
	big := bytes.Repeat([]byte("abcdefghij"), 100)
	x := &flow.Exchange{ID: "cap", Start: t0,
		Request:  flow.Request{Method: "POST", URL: mustURL(t, "https://h/x"), Header: http.Header{"Content-Type": {"text/plain"}}, Body: flow.Body{Data: big, Size: 1000}},
		Response: &flow.Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: flow.Body{Data: big, Size: 1000}}}
	e := EntryFromExchange(x, WriterOptions{BodyCap: 100})
	if got := len(e.Response.Content.Text); got != 100 {
		t.Errorf("response text: got %d bytes, want 100", got)
	}
	if got := len(e.Request.PostData.Text); got != 100 {
		t.Errorf("request text: got %d bytes, want 100", got)
	}
	if tr := e.OAuthProxy.Truncated; tr == nil || !tr.Request || !tr.Response || tr.ResponseSize != 1000 {
		t.Errorf("_oauthproxy.truncated: got %+v, want both sides, response_size 1000", tr)
	}
	if !strings.Contains(e.Response.Content.Comment, "kept 100 of 1000 bytes") {
		t.Errorf("content.comment: got %q", e.Response.Content.Comment)
	}
	path := writeHAR(t, []*flow.Exchange{x}, WriterOptions{BodyCap: 100})
	xs, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if !xs[0].Response.Body.Truncated || !xs[0].Request.Body.Truncated {
		t.Errorf("read back: got truncated %v/%v, want true/true", xs[0].Request.Body.Truncated, xs[0].Response.Body.Truncated)
	}
	if e := EntryFromExchange(x, WriterOptions{BodyCap: -1}); len(e.Response.Content.Text) != 1000 || e.OAuthProxy.Truncated != nil {
		t.Errorf("no cap: got %d bytes, truncated %+v; want 1000, nil", len(e.Response.Content.Text), e.OAuthProxy.Truncated)
	}
}

func TestScopeOAuth(t *testing.T) {
	xs := sampleFlow(t)
	path := filepath.Join(t.TempDir(), "c.har")
	w, err := NewWriter(path, WriterOptions{Scope: ScopeOAuth})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, x := range xs {
		w.Handle(x)
		if x.OAuth.Label != "" {
			want++
		}
	}
	if got := w.Count(); got != want {
		t.Errorf("Count: got %d, want %d", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(path)
	if err != nil || len(got) != want {
		t.Errorf("got %d exchanges (%v), want %d", len(got), err, want)
	}
}

func TestConcurrentHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.har")
	w, err := NewWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xs := sampleFlow(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				w.Handle(xs[i%len(xs)])
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(path)
	if err != nil || len(got) != 200 {
		t.Fatalf("got %d exchanges (%v), want 200", len(got), err)
	}
	if _, err := os.Stat(path + JournalSuffix); !os.IsNotExist(err) {
		t.Errorf("journal still there after Close: %v", err)
	}
	w.Handle(xs[0])
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

func TestNewWriterRefusesLeftoverJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.har")
	w, err := NewWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle(sampleFlow(t)[0])
	// Simulate a crash: the journal stays, no Close.
	w.f.Close()
	_, err = NewWriter(path, WriterOptions{})
	if err == nil || !strings.Contains(err.Error(), "oauthproxy har recover "+path) {
		t.Fatalf("got %v, want an error telling to run oauthproxy har recover", err)
	}
	n, err := Recover(path)
	if err != nil || n != 1 {
		t.Fatalf("Recover: got %d, %v; want 1, nil", n, err)
	}
	if _, err := Recover(path); err == nil || !strings.Contains(err.Error(), "nothing to recover") {
		t.Errorf("second Recover: got %v, want nothing to recover", err)
	}
	w2, err := NewWriter(path, WriterOptions{Existing: Overwrite})
	if err != nil {
		t.Fatalf("NewWriter after Recover: %v", err)
	}
	w2.Close()
}

func TestRecoverTornJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.har")
	w, err := NewWriter(path, WriterOptions{Creator: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range sampleFlow(t)[:3] {
		w.Handle(x)
	}
	w.f.Close()
	j, _ := os.OpenFile(path+JournalSuffix, os.O_APPEND|os.O_WRONLY, 0)
	j.WriteString(`{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"GE`)
	j.Close()
	res, err := RecoverFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 3 || res.Dropped != 1 {
		t.Errorf("got %+v, want 3 entries, 1 dropped", res)
	}
	data := readFile(t, path)
	if errs := validateHAR(data); len(errs) > 0 {
		t.Errorf("recovered file is not valid HAR: %v", errs)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Creator(); got != "oauthproxy 1.2.3" {
		t.Errorf("creator: got %q, want oauthproxy 1.2.3", got)
	}
}

// TestCrashKill9 re-runs the test binary as a capturing process that
// prints one line per recorded exchange and then blocks; it is killed with
// SIGKILL and Recover must give back every exchange it reported.
func TestCrashKill9(t *testing.T) {
	if path := os.Getenv("CAPTURE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.har")
	const n = 25
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill9$")
	cmd.Env = append(os.Environ(), "CAPTURE_CRASH_CHILD="+path, "CAPTURE_CRASH_N="+strconv.Itoa(n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	handled := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "handled ") {
			handled++
		}
		if handled == n {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	cmd.Wait()
	if handled != n {
		t.Fatalf("child reported %d exchanges, want %d", handled, n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("capture file exists before Recover: %v", err)
	}
	got, err := Recover(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("Recover: got %d entries, want %d", got, n)
	}
	if errs := validateHAR(readFile(t, path)); len(errs) > 0 {
		t.Errorf("recovered capture is not valid HAR: %v", errs)
	}
	xs, err := ReadAll(path)
	if err != nil || len(xs) != n {
		t.Errorf("ReadAll: got %d, %v; want %d, nil", len(xs), err, n)
	}
}

func crashChild(path string) {
	n, _ := strconv.Atoi(os.Getenv("CAPTURE_CRASH_N"))
	w, err := NewWriter(path, WriterOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	xs := sampleFlow(&testing.T{})
	for i := 0; i < n; i++ {
		x := *xs[i%len(xs)]
		x.ID = fmt.Sprintf("crash-%d", i)
		x.Start = t0.Add(time.Duration(i) * time.Second)
		w.Handle(&x)
		fmt.Printf("handled %d\n", i)
	}
	select {} // wait for SIGKILL
}
