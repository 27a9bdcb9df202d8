package capture

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
	"github.com/oauthproxy/oauthproxy/redact"
)

type wantX struct {
	method, url string
	status      int
	reqBody     string // substring of the request body
	respBody    string // substring of the decoded response body
}

func TestReadToolExports(t *testing.T) {
	tests := []struct {
		file, creator string
		want          []wantX
		check         func(t *testing.T, r *Reader, xs []*xchg)
	}{
		{"chrome.har", "WebInspector 537.36", []wantX{
			{"GET", "https://login.example.com/.well-known/openid-configuration", 200, "", `"token_endpoint"`},
			{"GET", "https://login.example.com/oauth2/authorize?response_type=code&client_id=spa-client", 302, "", ""},
			{"GET", "https://app.example.com/callback?code=Xk3mP9qL2wRt7yZv&state=st-8842", 200, "", "<!doctype html>"},
			{"POST", "https://login.example.com/oauth2/token", 200, "code=Xk3mP9qL2wRt7yZv", `"access_token"`},
			{"POST", "https://login.example.com/oauth2/token", 400, "code=Xk3mP9qL2wRt7yZv", "already been used"},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			if got := xs[0].Request.Proto; got != "HTTP/3.0" {
				t.Errorf("h3 entry proto: got %q, want HTTP/3.0", got)
			}
			if got := xs[0].Conn.ServerAddr; got != "[2606:4700::6810:84e5]:443" {
				t.Errorf("bracketed IPv6 serverIPAddress: got %q", got)
			}
			h := xs[1].Request.Header
			for k := range h {
				if strings.HasPrefix(k, ":") {
					t.Errorf("pseudo-header %q kept in Header", k)
				}
			}
			if got := h.Get("Cookie"); got != "idp_session=s3ss10n-idp-77aa" {
				t.Errorf("lower-case h2 header not canonical: Cookie = %q", got)
			}
			if got := xs[1].Conn.ConnectionID; got != "123456" {
				t.Errorf("connection: got %q, want 123456", got)
			}
			if got := xs[1].Response.Header.Get("Location"); !strings.Contains(got, "code=Xk3mP9qL2wRt7yZv") {
				t.Errorf("Location: got %q", got)
			}
			if got, want := xs[3].Timings.Wait, 115300*time.Microsecond; got != want {
				t.Errorf("wait: got %v, want %v", got, want)
			}
		}},
		{"firefox.har", "Firefox 123.0", []wantX{
			{"GET", "https://auth.example.org/realms/demo/protocol/openid-connect/auth?client_id=webapp", 200, "", "kc-form-login"},
			{"POST", "https://auth.example.org/realms/demo/login-actions/authenticate?session_code=sc1", 302, "password=Tr0ub4dor%263", ""},
			{"GET", "https://shop.example.org/oidc/callback?state=ffstate1&session_state=5d9f&code=ff-AUTHCODE-5521", 200, "", "Signing in"},
			{"GET", "https://shop.example.org/static/logo.png", 200, "", "\x89PNG"},
			{"POST", "https://auth.example.org/realms/demo/protocol/openid-connect/token", 400, "redirect_uri=https%3A%2F%2Fshop.example.org%2Foidc%2Fcallback%2F&client_id=webapp&client_secret=ff-client-secret-9", "Incorrect redirect_uri"},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			if got, want := xs[0].Start, time.Date(2024, 3, 5, 10, 20, 1, 330e6, time.UTC); !got.Equal(want) {
				t.Errorf("start with +01:00 offset: got %v, want %v", got, want)
			}
			if got := xs[1].Conn.ServerAddr; got != "203.0.113.10:443" {
				t.Errorf("server addr: got %q", got)
			}
		}},
		{"fiddler.har", "Fiddler 5.0.20211.51073", []wantX{
			{"CONNECT", "https://login.microsoftonline.com:443", 200, "", "CONNECT Tunnel"},
			{"GET", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=04b07795", 302, "", ""},
			{"GET", "http://localhost:51234/?code=0.AXoA-fiddler-code-abc123&state=fdl-st", 200, "", "Authentication complete"},
			{"POST", "https://login.microsoftonline.com/common/oauth2/v2.0/token", 200, "code=0.AXoA-fiddler-code-abc123", `"access_token"`},
			{"POST", "https://login.microsoftonline.com/common/oauth2/v2.0/token", 400, "code=0.AXoA-fiddler-code-abc123", "AADSTS54005"},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			if got, want := xs[1].Start, time.Date(2024, 3, 5, 9, 41, 12, 471821100, time.UTC); !got.Equal(want) {
				t.Errorf("7-digit fraction: got %v, want %v", got, want)
			}
		}},
		{"charles.har", "Charles Proxy 4.6.6", []wantX{
			{"GET", "https://github.com/login/oauth/authorize?response_type=code&client_id=Ov23liQ8kT3nX5wZ7pYb&scope=read:user&state=lMvnPeb4djYOha4SPmeqWflT_e5UqoJmokC6YeMCyZs%3D&redirect_uri=https://intranet.corp.example/login/oauth2/code/github", 302, "", ""},
			{"GET", "https://intranet.corp.example/login/oauth2/code/github?code=4b1e7734a9f2c05d8e16&state=lMvnPeb4djYOha4SPmeqWflT_e5UqoJmokC6YeMCyZs%3D", 302, "", ""},
			// GitHub reports the error with HTTP 200.
			{"POST", "https://github.com/login/oauth/access_token", 200, "code=4b1e7734a9f2c05d8e16", `"error":"incorrect_client_credentials"`},
			{"GET", "https://intranet.corp.example/favicon.ico", 200, "", "\x00\x00\x01\x00"},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			// Sorted by startedDateTime; Seq keeps the file position.
			if xs[1].Seq != 2 || xs[2].Seq != 1 {
				t.Errorf("Seq: got %d,%d, want 2,1 (file positions)", xs[1].Seq, xs[2].Seq)
			}
			if xs[0].Timings != (flowTimings{Send: time.Millisecond, Wait: 120 * time.Millisecond, Receive: 3 * time.Millisecond, Total: 124 * time.Millisecond}) {
				t.Errorf("timings with -1: got %+v", xs[0].Timings)
			}
		}},
		{"mitmproxy.har", "mitmproxy exporthar 0.1", []wantX{
			{"GET", "https://oauth.example.net/authorize?response_type=code&client_id=cli-tool", 302, "", ""},
			{"GET", "http://127.0.0.1:8400/callback?code=mitm_code_Q2xpZW50&state=mst", 200, "", "close this window"},
			{"POST", "https://oauth.example.net/token", 200, "code=mitm_code_Q2xpZW50", `"mitm-at-1"`},
			{"POST", "https://oauth.example.net/token", 400, "code=mitm_code_Q2xpZW50", "invalid_grant"},
			{"GET", "https://api.example.net/v1/me", 0, "", ""},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			if xs[4].Response != nil || xs[4].Error != "Connection killed." {
				t.Errorf("failed flow: got response %v, error %q; want nil, the _error text", xs[4].Response, xs[4].Error)
			}
			if got, want := xs[0].Timings.Connect, 12300*time.Microsecond; got != want {
				t.Errorf("connect: got %v, want %v", got, want)
			}
			if got := xs[1].Conn.ServerAddr; got != "127.0.0.1:8400" {
				t.Errorf("server addr with URL port: got %q", got)
			}
		}},
		{"httptoolkit.har", "HTTP Toolkit 1.14.11", []wantX{
			{"GET", "https://id.northwind.example/oauth2/default/v1/authorize?client_id=0oa8f3k2q9XyZ1aBc5d7", 302, "", ""},
			{"GET", "https://localhost:3000/login/callback?code=htk.CODE.55aa&state=htkst", 200, "", "loading"},
			{"POST", "https://id.northwind.example/oauth2/default/v1/token", 403, "code=htk.CODE.55aa", "<title>Attention Required! | Cloudflare</title>"},
			{"POST", "https://localhost:3000/api/client-log", 0, `"level":"error"`, ""},
		}, func(t *testing.T, r *Reader, xs []*xchg) {
			if xs[3].Error == "" {
				t.Errorf("aborted request: got no Error")
			}
			if got := xs[0].Request.Header.Get("Cookie"); got != "idx=htk-idx-cookie; DT=dt-1" {
				t.Errorf("Cookie: got %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var xs []*xchg
			for {
				x, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d exchanges: %v", len(xs), err)
				}
				xs = append(xs, x)
			}
			if got := r.Creator(); got != tt.creator {
				t.Errorf("Creator: got %q, want %q", got, tt.creator)
			}
			if len(xs) != len(tt.want) {
				t.Fatalf("got %d exchanges, want %d", len(xs), len(tt.want))
			}
			ids := map[string]bool{}
			for i, w := range tt.want {
				x := xs[i]
				if x.Request.Method != w.method {
					t.Errorf("%d method: got %q, want %q", i, x.Request.Method, w.method)
				}
				if !x.Request.URL.IsAbs() || x.Request.URL.Host == "" {
					t.Errorf("%d URL %q is not absolute", i, x.Request.URLString())
				}
				if !strings.HasPrefix(x.Request.URLString(), w.url) {
					t.Errorf("%d URL: got %q, want prefix %q", i, x.Request.URLString(), w.url)
				}
				status := 0
				if x.Response != nil {
					status = x.Response.Status
					if !strings.Contains(string(x.Response.Body.Data), w.respBody) {
						t.Errorf("%d response body: got %.80q, want it to contain %q", i, x.Response.Body.Data, w.respBody)
					}
				}
				if status != w.status {
					t.Errorf("%d status: got %d, want %d", i, status, w.status)
				}
				if !strings.Contains(string(x.Request.Body.Data), w.reqBody) {
					t.Errorf("%d request body: got %.80q, want it to contain %q", i, x.Request.Body.Data, w.reqBody)
				}
				if x.Start.IsZero() || ids[x.ID] || len(x.ID) != 36 {
					t.Errorf("%d: start %v, id %q: want a time and a new unique uuid", i, x.Start, x.ID)
				}
				ids[x.ID] = true
				if i > 0 && x.Start.Before(xs[i-1].Start) {
					t.Errorf("%d: out of order (%v before %v)", i, x.Start, xs[i-1].Start)
				}
			}
			if tt.check != nil {
				tt.check(t, r, xs)
			}
		})
	}
}

func TestRedactToolExports(t *testing.T) {
	// Secrets planted in the fixtures by their tools' users.
	secrets := map[string][]string{
		"chrome.har":      {"Xk3mP9qL2wRt7yZv", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "at-chrome-0001", "rt-chrome-0001", "s3ss10n-idp-77aa"},
		"firefox.har":     {"ff-AUTHCODE-5521", "Tr0ub4dor", "ff-client-secret-9", "kid-secret-1", "as-991", "shop-sess-3"},
		"fiddler.har":     {"0.AXoA-fiddler-code-abc123", "fdlVerifier-kJ3nP0qRs8TuVwXyZ1a2b3c4d5e6f7g8h9i0jkl", "0.AXoA-fiddler-refresh", "ests-persist-xyz", "ests-auth-cookie-1"},
		"charles.har":     {"4b1e7734a9f2c05d8e16", "3f9c1a7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f0a", "gh-usess-1", "ch-jsession-9"},
		"mitmproxy.har":   {"mitm_code_Q2xpZW50", "mitmVerifier_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZYXWVUTSRQ", "mitm-at-1", "mitm-rt-1"},
		"httptoolkit.har": {"htk.CODE.55aa", "htkVerifier-0123456789abcdefghijklmnopqrstuvwxyzABC", "htk-idx-cookie", "htk-sid-1"},
	}
	for file, ss := range secrets {
		t.Run(file, func(t *testing.T) {
			raw := readFile(t, filepath.Join("testdata", file))
			var out bytes.Buffer
			if err := Redact(bytes.NewReader(raw), &out); err != nil {
				t.Fatal(err)
			}
			plain := plainText(t, raw)
			for _, s := range ss {
				if !strings.Contains(plain, s) {
					t.Fatalf("fixture lacks %q: test is stale", s)
				}
				for _, form := range []string{s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s))} {
					if bytes.Contains(out.Bytes(), []byte(form)) {
						t.Errorf("redacted output still contains %s", redact.Fingerprint(s))
					}
				}
			}
			if errs := validateHAR(out.Bytes()); len(errs) > 0 {
				t.Errorf("redacted output is not valid HAR: %v", errs)
			}
			r, err := NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := NewReader(bytes.NewReader(raw))
			n := 0
			for {
				x, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				o, _ := orig.Next()
				if x.Request.Method != o.Request.Method || x.Request.URL.Host != o.Request.URL.Host {
					t.Errorf("%d: got %s %s, want %s %s", n, x.Request.Method, x.Request.URL.Host, o.Request.Method, o.Request.URL.Host)
				}
				n++
			}
			if !strings.Contains(r.CreatorInfo().Comment, "redacted by oauthproxy") {
				t.Errorf("creator comment: got %q", r.CreatorInfo().Comment)
			}
			// Redacting twice changes nothing more (fingerprints are idempotent).
			var again bytes.Buffer
			if err := Redact(bytes.NewReader(out.Bytes()), &again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Errorf("second redaction changed the file")
			}
		})
	}
}

// plainText is everything a reader of a capture can see: URLs, headers
// (Basic credentials decoded), and decoded bodies.
func plainText(t *testing.T, har []byte) string {
	r, err := NewReader(bytes.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		x, err := r.Next()
		if err != nil {
			break
		}
		b.WriteString(x.Request.URLString() + "\n")
		for _, h := range []http.Header{x.Request.Header, responseHeader(x)} {
			for k, vs := range h {
				for _, v := range vs {
					b.WriteString(k + ": " + v + "\n")
					if id, secret, ok := redact.Basic(v); ok {
						b.WriteString(id + ":" + secret + "\n")
					}
				}
			}
		}
		b.Write(x.Request.Body.Data)
		if x.Response != nil {
			b.Write(x.Response.Body.Data)
		}
	}
	return b.String()
}

func responseHeader(x *xchg) http.Header {
	if x.Response == nil {
		return nil
	}
	return x.Response.Header
}

func TestReaderMalformed(t *testing.T) {
	const okEntry = `{"startedDateTime":"2024-03-05T10:00:00Z","time":1,"request":{"method":"GET","url":"https://a.example/x","httpVersion":"HTTP/1.1","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":""}},"timings":{"send":0,"wait":0,"receive":0}}`
	entries := func(es ...string) string {
		return `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[` + strings.Join(es, ",") + `]}}`
	}
	bad := func(field, value string) string {
		return strings.Replace(okEntry, field, value, 1)
	}
	tests := []struct {
		name, in, want string
		before         int // exchanges returned before the error
	}{
		{"empty file", "", "capture: empty file, not a HAR", 0},
		{"not json", "<html>", "capture: top level: invalid JSON", 0},
		{"array", "[]", `capture: top level: want '{', got [`, 0},
		{"no log", `{"foo":1}`, `capture: not a HAR file: no "log" object`, 0},
		{"entries not array", `{"log":{"entries":{}}}`, `capture: log.entries: want '[', got {`, 0},
		{"bad url", entries(okEntry, okEntry, bad(`"https://a.example/x"`, `"::"`)), `capture: entry 2: request.url: parse "::": missing protocol scheme`, 2},
		{"relative url without host", entries(bad(`"https://a.example/x"`, `"/x"`)), `capture: entry 0: request.url: "/x" is not absolute and there is no :authority or Host header`, 0},
		{"bad date", entries(okEntry, bad(`"2024-03-05T10:00:00Z"`, `"05/03/2024 10:00"`)), `capture: entry 1: startedDateTime: parsing time "05/03/2024 10:00"`, 1},
		{"missing date", entries(bad(`"startedDateTime":"2024-03-05T10:00:00Z",`, ``)), `capture: entry 0: startedDateTime: missing`, 0},
		{"missing method", entries(bad(`"method":"GET",`, ``)), `capture: entry 0: request.method: missing`, 0},
		{"status is a string", entries(bad(`"status":200`, `"status":"200"`)), `capture: entry 0: response.status: want a int, got a JSON string`, 0},
		{"entry not object", entries(okEntry, `42`), `capture: entry 1: want an object, got a JSON number`, 1},
		{"truncated inside entry", entries(okEntry, okEntry, okEntry)[:len(entries(okEntry, okEntry, okEntry))-40], `capture: truncated file after entry 1`, 2},
		{"truncated after entries", strings.TrimSuffix(entries(okEntry), "]}}"), `capture: truncated file after entry 0`, 1},
		{"truncated in header", `{"log":{"version":"1.2","creator":{"name":"t"`, `capture: truncated file in log.creator`, 0},
		{"truncated before first entry", `{"log":{"entries":[`, `capture: truncated file before the first entry`, 0},
		{"garbage between entries", entries(okEntry, okEntry) + "x", "", 2},
		{"syntax error in entry", entries(okEntry, `{"startedDateTime":"2024-03-05T10:00:00Z",,}`), `capture: entry 1: invalid JSON at byte`, 1},
		{"bad gzip header", "\x1f\x8b\x63\x00\x00\x00\x00\x00\x00\x00", "capture: gzip: ", 0},
		{"corrupt gzip body", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00garbage", "capture: ", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := readAllFrom(strings.NewReader(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got error %v, want prefix %q", err, tt.want)
			}
			if n != tt.before {
				t.Errorf("got %d exchanges before the error, want %d", n, tt.before)
			}
		})
	}
}

func readAllFrom(in io.Reader) (int, error) {
	r, err := NewReader(in)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			// The error is sticky.
			if _, err2 := r.Next(); !errors.Is(err2, err) && err2.Error() != err.Error() {
				return n, errors.New("error not sticky: " + err2.Error())
			}
			return n, err
		}
		n++
	}
}

func TestReaderTolerance(t *testing.T) {
	tests := []struct {
		name, entry string
		check       func(t *testing.T, x *xchg)
	}{
		{"h2 pseudo-headers complete a relative url", `{"startedDateTime":"2024-03-05T10:00:00.5+02:00","request":{"method":"","url":"/token?x=1","httpVersion":"h2","headers":[{"name":":method","value":"POST"},{"name":":authority","value":"idp.example:8443"},{"name":":scheme","value":"https"},{"name":":path","value":"/token?x=1"},{"name":"content-type","value":"application/json"}]},"response":{"status":0,"headers":[{"name":":status","value":"201"}]}}`,
			func(t *testing.T, x *xchg) {
				if got := x.Request.URLString(); got != "https://idp.example:8443/token?x=1" {
					t.Errorf("URL: got %q", got)
				}
				if x.Request.Method != "POST" || x.Request.Proto != "HTTP/2.0" || x.Response.Status != 201 {
					t.Errorf("got %s %s %d, want POST HTTP/2.0 201", x.Request.Method, x.Request.Proto, x.Response.Status)
				}
				if len(x.Request.Header) != 1 || x.Request.Header.Get("Content-Type") != "application/json" {
					t.Errorf("header: got %v, want only Content-Type", x.Request.Header)
				}
			}},
		{"params only, null and -1 fields, wrong-typed optional fields", `{"startedDateTime":"2024-03-05 10:00:00Z","time":null,"connection":12,"request":{"method":"post","url":"http://h/t","httpVersion":"HTTP/3","headersSize":"big","bodySize":-1,"headers":null,"postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"grant_type","value":"client_credentials"},{"name":"scope","value":"a b"}]}},"response":{"status":200,"content":{"size":-1,"compression":"x"}},"timings":{"send":-1,"wait":"?","receive":null,"_blocked_queueing":3}}`,
			func(t *testing.T, x *xchg) {
				if got := string(x.Request.Body.Data); got != "grant_type=client_credentials&scope=a+b" {
					t.Errorf("body from params: got %q", got)
				}
				if x.Request.Method != "POST" || x.Request.Proto != "HTTP/3.0" || x.Conn.ConnectionID != "12" {
					t.Errorf("got %s %s conn %q", x.Request.Method, x.Request.Proto, x.Conn.ConnectionID)
				}
				if got := x.Request.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type from postData.mimeType: got %q", got)
				}
			}},
		{"base64 request and response bodies", `{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"PUT","url":"https://h/","postData":{"mimeType":"application/octet-stream","text":"AAEC","encoding":"base64"}},"response":{"status":200,"content":{"mimeType":"image/gif","text":"R0lGODlh","encoding":"base64"}}}`,
			func(t *testing.T, x *xchg) {
				if !bytes.Equal(x.Request.Body.Data, []byte{0, 1, 2}) || string(x.Response.Body.Data) != "GIF89a" {
					t.Errorf("got %q / %q", x.Request.Body.Data, x.Response.Body.Data)
				}
			}},
		{"invalid base64 kept with a decode error", `{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"GET","url":"https://h/"},"response":{"status":200,"content":{"text":"not base64!","encoding":"base64"}}}`,
			func(t *testing.T, x *xchg) {
				if string(x.Response.Body.Data) != "not base64!" || x.Response.Body.DecodeError == "" {
					t.Errorf("got %q, decode error %q", x.Response.Body.Data, x.Response.Body.DecodeError)
				}
			}},
		{"other tools' redaction markers are kept", `{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"POST","url":"https://h/token","headers":[{"name":"Authorization","value":"[REDACTED]"}],"postData":{"mimeType":"application/x-www-form-urlencoded","text":"code=***&client_secret=_sanitized_"}},"response":{"status":400}}`,
			func(t *testing.T, x *xchg) {
				if got := x.Request.Header.Get("Authorization"); !redact.IsRedacted(got) {
					t.Errorf("Authorization: got %q, want a marker IsRedacted recognises", got)
				}
				if string(x.Request.Body.Data) != "code=***&client_secret=_sanitized_" {
					t.Errorf("body: got %q", x.Request.Body.Data)
				}
			}},
		{"queryString rebuilds a URL without query", `{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"GET","url":"https://h/cb","queryString":[{"name":"code","value":"a b"}]},"response":{"status":200}}`,
			func(t *testing.T, x *xchg) {
				if got := x.Request.URL.Query().Get("code"); got != "a b" {
					t.Errorf("code: got %q", got)
				}
			}},
		{"time without zone is UTC, lower-case z", `{"startedDateTime":"2024-03-05T10:00:00.123","request":{"method":"GET","url":"https://h/"},"response":{"status":204}}`,
			func(t *testing.T, x *xchg) {
				if want := time.Date(2024, 3, 5, 10, 0, 0, 123e6, time.UTC); !x.Start.Equal(want) {
					t.Errorf("start: got %v, want %v", x.Start, want)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `{"log":{"entries":[` + tt.entry + `],"creator":{"name":"late","version":"0"}}}`
			r, err := NewReader(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			x, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, x)
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("second Next: got %v, want io.EOF", err)
			}
			if got := r.Creator(); got != "late 0" {
				t.Errorf("creator after entries: got %q", got)
			}
		})
	}
}

func TestReaderCompressedAndBOM(t *testing.T) {
	raw := readFile(t, "testdata/chrome.har")
	var gz, zl bytes.Buffer
	g := gzip.NewWriter(&gz)
	g.Write(raw)
	g.Close()
	z := zlib.NewWriter(&zl)
	z.Write(raw)
	z.Close()
	for name, in := range map[string][]byte{"gzip": gz.Bytes(), "zlib (mitmproxy .zhar)": zl.Bytes(), "BOM": append([]byte("\xef\xbb\xbf"), raw...)} {
		t.Run(name, func(t *testing.T) {
			n, err := readAllFrom(bytes.NewReader(in))
			if err != nil || n != 5 {
				t.Errorf("got %d, %v; want 5 exchanges", n, err)
			}
		})
	}
}

func TestReorderWindow(t *testing.T) {
	// Entries at seconds 3,1,2,0,5,4 with ties: sorted by time, ties by file order.
	secs := []int{3, 1, 2, 0, 5, 4, 1}
	var es []string
	for i, s := range secs {
		es = append(es, `{"startedDateTime":"2024-03-05T10:00:0`+string(rune('0'+s))+`Z","request":{"method":"GET","url":"https://h/`+string(rune('a'+i))+`"},"response":{"status":200}}`)
	}
	in := `{"log":{"entries":[` + strings.Join(es, ",") + `]}}`
	for _, tt := range []struct {
		window int
		want   string
	}{
		{DefaultReorderWindow, "dbgcafe"},
		{1, "abcdefg"},
		{3, "bdcagfe"}, // a window of 3 sorts only what it holds
	} {
		r, err := NewReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		r.SetReorderWindow(tt.window)
		var got strings.Builder
		for {
			x, err := r.Next()
			if err != nil {
				break
			}
			got.WriteString(x.Request.URL.Path[1:])
		}
		if got.String() != tt.want {
			t.Errorf("window %d: got order %s, want %s", tt.window, got.String(), tt.want)
		}
	}
}

func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.har")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:len(b)-10])
	}
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2024-03-05T10:00:00Z","request":{"method":"CONNECT","url":"h:1"},"response":{"status":0}}]}}`))
	f.Add([]byte(`{"log":{"entries":[null,{}]}}`))
	fuzzmode.EnableIfFuzzing() // argon2id would dominate the run
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "capture: ") {
				t.Errorf("error without prefix: %v", err)
			}
			return
		}
		for i := 0; i < 10000; i++ {
			x, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "capture: ") {
					t.Errorf("error without prefix: %v", err)
				}
				return
			}
			if x.Request.URL == nil || x.Request.Method == "" || x.ID == "" {
				t.Errorf("exchange without URL, method or id: %+v", x)
			}
			// Whatever was read must be writable.
			EntryFromExchange(x, WriterOptions{})
		}
		t.Errorf("reader did not end")
	})
}

func TestReaderErrorsDoNotQuoteSecrets(t *testing.T) {
	const canary = "CANARYcode12345"
	in := `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"2024-03-05T10:00:00Z","time":1,` +
		`"request":{"method":"GET","url":"https://app.example:port/cb?code=` + canary + `&x=1","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},` +
		`"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":0,"mimeType":""},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{},"timings":{"send":0,"wait":0,"receive":0}}]}}`
	r, err := NewReader(strings.NewReader(in))
	if err == nil {
		_, err = r.Next()
	}
	if err == nil {
		t.Fatal("a malformed URL was accepted")
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("error quotes the code: %v", err)
	}
	if !strings.Contains(err.Error(), "entry 0: request.url") {
		t.Errorf("error does not name the entry and field: %v", err)
	}
}
