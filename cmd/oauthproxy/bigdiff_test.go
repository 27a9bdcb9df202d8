package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	for _, side := range []struct {
		name, egress string
		status       int
	}{{"a.har", "10.0.0.1", 200}, {"b.har", "10.0.0.2", 403}} {
		if err := writeBigHAR(filepath.Join(dir, side.name), n, oauthPct, side.egress, side.status); err != nil {
			t.Fatal(err)
		}
	}
}

// rnd is a deterministic stand-in for a random credential (43 hex
// characters, like a real code or state): low-entropy test values such as
// "code-17" would be fingerprinted with argon2id (guessable), which real
// codes never are, and would dominate the run time being measured.
func rnd(kind string, i int) string {
	sum := sha256.Sum256([]byte(kind + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])[:43]
}

func writeBigHAR(path string, n, oauthPct int, egress string, tokenStatus int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"log":{"version":"1.2","creator":{"name":"oauthproxy-bigdiff","version":"1"},"entries":[`)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	apiBody := `{"items":[` + strings.Repeat(`{"id":"0123456789abcdef","name":"an item with a name","tags":["a","b","c"]},`, 12) + `{"id":"end"}]}`
	hdr := func(kv ...string) []map[string]string {
		var out []map[string]string
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, map[string]string{"name": kv[i], "value": kv[i+1]})
		}
		return out
	}
	for i := 0; i < n; i++ {
		unit := i % 20
		oauth := unit*100/20 < oauthPct
		start := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		var req, resp map[string]any
		status := 200
		switch {
		case oauth && unit%5 == 0:
			req = map[string]any{"method": "GET", "url": "https://idp.example.test/.well-known/openid-configuration", "headers": hdr("Accept", "application/json")}
			resp = map[string]any{"mimeType": "application/json", "text": `{"issuer":"https://idp.example.test","authorization_endpoint":"https://idp.example.test/authorize","token_endpoint":"https://idp.example.test/oauth2/token"}`}
		case oauth && unit%5 == 1:
			req = map[string]any{"method": "GET", "url": fmt.Sprintf("https://idp.example.test/authorize?client_id=app&response_type=code&redirect_uri=https%%3A%%2F%%2Fapp.example.test%%2Fcb&state=%s", rnd("state", i)), "headers": hdr()}
			resp = map[string]any{"mimeType": "text/html", "text": ""}
			status = 302
		case oauth && unit%5 == 2:
			req = map[string]any{"method": "GET", "url": fmt.Sprintf("https://app.example.test/cb?code=%s&state=%s", rnd("code"+egress, i), rnd("state", i-1)), "headers": hdr()}
			resp = map[string]any{"mimeType": "text/html", "text": "<html>ok</html>"}
		default:
			if oauth {
				body := fmt.Sprintf("grant_type=authorization_code&code=%s&redirect_uri=https%%3A%%2F%%2Fapp.example.test%%2Fcb&client_id=app&client_secret=s3cret", rnd("tokencode"+egress, i))
				req = map[string]any{"method": "POST", "url": "https://idp.example.test/oauth2/token", "headers": hdr("Content-Type", "application/x-www-form-urlencoded"),
					"postData": map[string]any{"mimeType": "application/x-www-form-urlencoded", "text": body}}
				status = tokenStatus
				if status == 200 {
					resp = map[string]any{"mimeType": "application/json", "text": fmt.Sprintf(`{"access_token":"%s","token_type":"Bearer","expires_in":3600}`, rnd("at", i))}
				} else {
					resp = map[string]any{"mimeType": "text/html", "text": "<html><body>Access denied: your IP is not allowed</body></html>"}
				}
				break
			}
			req = map[string]any{"method": "GET", "url": fmt.Sprintf("https://api.example.test/v1/items?page=%d", i%50), "headers": hdr("Authorization", "Bearer "+rnd("at", i-i%20))}
			resp = map[string]any{"mimeType": "application/json", "text": apiBody}
		}
		req["httpVersion"], req["cookies"], req["queryString"], req["headersSize"], req["bodySize"] = "HTTP/1.1", []any{}, []any{}, -1, -1
		text := resp["text"].(string)
		e := map[string]any{
			"startedDateTime": start.Format(time.RFC3339Nano), "time": 20, "request": req,
			"response": map[string]any{"status": status, "statusText": "", "httpVersion": "HTTP/1.1", "headers": hdr("Content-Type", resp["mimeType"].(string)), "cookies": []any{},
				"content": map[string]any{"size": len(text), "mimeType": resp["mimeType"], "text": text}, "redirectURL": "", "headersSize": -1, "bodySize": len(text)},
			"cache": map[string]any{}, "timings": map[string]any{"send": 1, "wait": 18, "receive": 1},
			"_oauthproxy": map[string]any{"conn": map[string]any{"local_addr": egress + ":50000"}},
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(b)
	}
	w.WriteString("\n]}}\n")
	return w.Flush()
}
