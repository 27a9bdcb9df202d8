package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/redact"
)

// TestGenerateBigHARs writes two large captures of the same app for
// measuring `oauthproxy diff` memory (docs/benchmarks.md): it runs only
// when OAUTHPROXY_BIG_HAR_DIR names a directory. OAUTHPROXY_BIG_HAR_N sets
// the entries per file (default 100000); OAUTHPROXY_BIG_HAR_OAUTH the share
// of OAuth exchanges in percent (default 30: per login a discovery, an
// authorize, a callback, code and refresh token requests, then API calls;
// codes, states and tokens are random-looking, as in real traffic).
//
//	OAUTHPROXY_BIG_HAR_DIR=/tmp/big go test -run TestGenerateBigHARs ./cmd/oauthproxy
//	/usr/bin/time -v oauthproxy diff /tmp/big/a.har /tmp/big/b.har > /dev/null
func TestGenerateBigHARs(t *testing.T) {
	dir := os.Getenv("OAUTHPROXY_BIG_HAR_DIR")
	if dir == "" {
		t.Skip("set OAUTHPROXY_BIG_HAR_DIR to generate the big captures")
	}
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("OAUTHPROXY_BIG_HAR_N")); err == nil && v > 0 {
		n = v
	}
	oauthPct := 30
	if v, err := strconv.Atoi(os.Getenv("OAUTHPROXY_BIG_HAR_OAUTH")); err == nil && v >= 0 && v <= 100 {
		oauthPct = v
	}
	for _, side := range bigSides {
		if err := writeBigHAR(filepath.Join(dir, side.name), n, oauthPct, side.egress, side.status, false); err != nil {
			t.Fatal(err)
		}
	}
}

// bigSides are the two captures of the same app: A on a laptop whose
// token requests succeed, B on a server (another egress address) whose
// token requests a gateway refuses with 403.
var bigSides = []struct {
	name, egress string
	status       int
}{{"a.har", "10.0.0.1", 200}, {"b.har", "10.0.0.2", 403}}

// rnd is a deterministic stand-in for a random credential (43 hex
// characters, like a real code or state): low-entropy test values such as
// "code-17" would be fingerprinted with argon2id (guessable), which real
// codes never are, and would dominate the run time being measured.
func rnd(kind string, i int) string {
	sum := sha256.Sum256([]byte(kind + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])[:43]
}

// bigEntry is one generated HAR entry.
type bigEntry struct {
	start              time.Time
	method, url        string
	headers            []string // name, value pairs
	postMime, postText string   // no postData when postMime is ""
	status             int
	respMime, respText string
}

// writeBigHAR streams a capture of n entries to path, one entry at a time
// (never the whole capture in memory), with a hand-written encoder: the
// tests run it under -race, where encoding/json of 200 000 entries took
// half a minute. With redacted, secrets are fingerprinted by package redact
// as the proxy's own HAR has them (codes, client secret, access tokens,
// bearer credentials); without, they are raw, as in a browser's export.
func writeBigHAR(path string, n, oauthPct int, egress string, tokenStatus int, redacted bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"log":{"version":"1.2","creator":{"name":"oauthproxy-bigdiff","version":"1"},"entries":[`)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	apiBody := `{"items":[` + strings.Repeat(`{"id":"0123456789abcdef","name":"an item with a name","tags":["a","b","c"]},`, 12) + `{"id":"end"}]}`
	ext := []byte(`,"_oauthproxy":{"conn":{"local_addr":` + strconv.Quote(egress+":50000") + `}}}`)
	var buf []byte
	for i := 0; i < n; i++ {
		unit := i % 20
		oauth := unit*100/20 < oauthPct
		e := bigEntry{start: t0.Add(time.Duration(i) * 10 * time.Millisecond), method: "GET", status: 200}
		switch {
		case oauth && unit%5 == 0:
			e.url, e.headers = "https://idp.example.test/.well-known/openid-configuration", []string{"Accept", "application/json"}
			e.respMime, e.respText = "application/json", `{"issuer":"https://idp.example.test","authorization_endpoint":"https://idp.example.test/authorize","token_endpoint":"https://idp.example.test/oauth2/token"}`
		case oauth && unit%5 == 1:
			e.url = "https://idp.example.test/authorize?client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcb&state=" + rnd("state", i)
			e.respMime, e.status = "text/html", 302
		case oauth && unit%5 == 2:
			e.url = "https://app.example.test/cb?code=" + rnd("code"+egress, i) + "&state=" + rnd("state", i-1)
			e.respMime, e.respText = "text/html", "<html>ok</html>"
		case oauth:
			e.method, e.url = "POST", "https://idp.example.test/oauth2/token"
			e.headers = []string{"Content-Type", "application/x-www-form-urlencoded"}
			e.postMime = "application/x-www-form-urlencoded"
			e.postText = "grant_type=authorization_code&code=" + rnd("tokencode"+egress, i) + "&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcb&client_id=app&client_secret=s3cret"
			e.status = tokenStatus
			if e.status == 200 {
				e.respMime, e.respText = "application/json", `{"access_token":"`+rnd("at", i)+`","token_type":"Bearer","expires_in":3600}`
			} else {
				e.respMime, e.respText = "text/html", "<html><body>Access denied: your IP is not allowed</body></html>"
			}
		default:
			e.url = "https://api.example.test/v1/items?page=" + strconv.Itoa(i%50)
			e.headers = []string{"Authorization", "Bearer " + rnd("at", i-i%20)}
			e.respMime, e.respText = "application/json", apiBody
		}
		if redacted {
			e.redact()
		}
		buf = e.appendJSON(buf[:0])
		buf = append(buf, ext...)
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(buf)
	}
	w.WriteString("\n]}}\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// redact replaces the secrets of a generated entry with what package
// redact makes of them in the proxy's HAR: the URL (code, tokens in the
// query), the request headers (Authorization), the form body and a JSON
// token response (code, client_secret, access_token). The API responses
// carry no secret; they are left as they are.
func (e *bigEntry) redact() {
	e.url = redact.URLString(e.url)
	for i := 0; i+1 < len(e.headers); i += 2 {
		e.headers[i+1] = redact.Header(e.headers[i], e.headers[i+1])
	}
	if e.postMime != "" {
		e.postText = string(redact.Body(e.postMime, []byte(e.postText)))
	}
	if e.respMime == "application/json" && strings.Contains(e.respText, "access_token") {
		e.respText = string(redact.Body(e.respMime, []byte(e.respText)))
	}
}

// appendJSON appends e as a HAR entry object without its closing brace.
func (e *bigEntry) appendJSON(b []byte) []byte {
	b = append(b, `{"startedDateTime":`...)
	b = appendJSONString(b, e.start.Format(time.RFC3339Nano))
	b = append(b, `,"time":20,"request":{"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, e.url)
	b = append(b, `,"httpVersion":"HTTP/1.1","cookies":[],"queryString":[],"headers":`...)
	b = appendHeaders(b, e.headers)
	if e.postMime != "" {
		b = append(b, `,"postData":{"mimeType":`...)
		b = appendJSONString(b, e.postMime)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, e.postText)
		b = append(b, '}')
	}
	b = append(b, `,"headersSize":-1,"bodySize":-1},"response":{"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"statusText":"","httpVersion":"HTTP/1.1","headers":`...)
	b = appendHeaders(b, []string{"Content-Type", e.respMime})
	b = append(b, `,"cookies":[],"content":{"size":`...)
	b = strconv.AppendInt(b, int64(len(e.respText)), 10)
	b = append(b, `,"mimeType":`...)
	b = appendJSONString(b, e.respMime)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, e.respText)
	b = append(b, `},"redirectURL":"","headersSize":-1,"bodySize":`...)
	b = strconv.AppendInt(b, int64(len(e.respText)), 10)
	b = append(b, `},"cache":{},"timings":{"send":1,"wait":18,"receive":1}`...)
	return b
}

func appendHeaders(b []byte, kv []string) []byte {
	b = append(b, '[')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, kv[i])
		b = append(b, `,"value":`...)
		b = appendJSONString(b, kv[i+1])
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, fmt.Sprintf("\\u%04x", c)...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
