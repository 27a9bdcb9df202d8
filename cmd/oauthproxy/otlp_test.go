package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/otlpexport/otlptest"
)

// Canary secrets sent through the proxy in TestOTLPExport: in a query, a
// form body and Authorization headers. The collector must see none.
const (
	otlpCanaryCode     = "CANARY-otlp-code-41f2"
	otlpCanarySecret   = "CANARY-otlp-secret-9d0e"
	otlpCanaryVerifier = "CANARY-otlp-verifier-0123456789abcdefghijklmnopq"
	otlpCanaryBasic    = "CANARY-otlp-basic-77aa"
	otlpCanaryBearer   = "CANARY-otlp-bearer-c3d4"
	otlpCanaryQueryTok = "CANARY-otlp-query-token-5e6f"
)

// otlpSession sends, through the proxy, a callback with a code, a token
// request refused with invalid_grant (secrets in the form body and a
// Basic Authorization), an API call with a Bearer token and a token in
// its query, and a request to a port nothing listens on. It returns the
// number of requests sent.
func otlpSession(t *testing.T, c *http.Client, up *upstream, refused string) int {
	t.Helper()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(req *http.Request, want int) {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: got %d, want %d", req.Method, req.URL, resp.StatusCode, want)
		}
	}
	req, _ := http.NewRequest("GET", up.URL+"/cb?code="+otlpCanaryCode+"&state=st-1", nil)
	do(req, 200)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {otlpCanaryCode}, "redirect_uri": {up.URL + "/cb"},
		"client_secret": {otlpCanarySecret}, "code_verifier": {otlpCanaryVerifier}}
	req, _ = http.NewRequest("POST", up.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", otlpCanaryBasic)
	do(req, 400)
	req, _ = http.NewRequest("GET", up.URL+"/api/items?access_token="+otlpCanaryQueryTok, nil)
	req.Header.Set("Authorization", "Bearer "+otlpCanaryBearer)
	do(req, 200)
	req, _ = http.NewRequest("GET", "http://"+refused+"/token?client_secret="+otlpCanarySecret, nil)
	do(req, 502)
	return 4
}

func otlpUpstream(t *testing.T) *upstream {
	return newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"code already used"}`)
			return
		}
		io.WriteString(w, "ok")
	}))
}

// TestOTLPExport: `run --otlp` against a real OTLP/HTTP receiver decoding
// protobuf: every exchange arrives with the standard and oauth.*
// attributes, its url.full is the log's url, and none of the canary
// secrets is in the bytes the receiver got (nor in the proxy's output).
func TestOTLPExport(t *testing.T) {
	rcv := otlptest.Start(t)
	up := otlpUpstream(t)
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger",
		"--token-endpoint", up.URL+"/token", "--otlp", rcv.URL(), "--otlp-header", "X-Scope-OrgID=fleet-7")
	refused := freeAddr(t)
	n := otlpSession(t, p.client(t, dir), up, refused)
	logged := p.waitRecords(t, n)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d: %s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "exporting to the OpenTelemetry collector "+rcv.URL()+"/v1/logs") {
		t.Errorf("banner does not name the collector: %s", p.stderr.String())
	}
	// Stopping flushed the sink: every exchange is there now.
	recs := rcv.Records()
	if len(recs) != len(logged) {
		t.Fatalf("collector got %d records, the log has %d (receiver errors: %v)", len(recs), len(logged), rcv.Errors())
	}
	byFlow := map[string]otlptest.Record{}
	for _, r := range recs {
		byFlow[fmt.Sprint(r.Attrs["oauth.exchange_id"])] = r
	}
	upHost, upPort, _ := strings.Cut(strings.TrimPrefix(up.URL, "https://"), ":")
	upPortN, _ := strconv.ParseInt(upPort, 10, 64)
	refHost, refPort, _ := strings.Cut(refused, ":")
	refPortN, _ := strconv.ParseInt(refPort, 10, 64)
	for _, l := range logged {
		u := fmt.Sprint(l["url"])
		t.Run(u, func(t *testing.T) {
			r, ok := byFlow[fmt.Sprint(l["flow"])]
			if !ok {
				t.Fatalf("no record for the log's flow %v", l["flow"])
			}
			want := map[string]any{"http.request.method": l["method"], "url.full": l["url"]}
			switch {
			case strings.Contains(u, "/token") && strings.HasPrefix(u, "https://"):
				want["http.response.status_code"] = int64(400)
				want["server.address"], want["server.port"] = upHost, upPortN
				want["oauth.label"], want["oauth.grant_type"] = "token", "authorization_code"
				want["oauth.diagnosis.category"] = "grant"
			case strings.Contains(u, "/token"):
				want["error.type"] = "connection_refused"
				want["server.address"], want["server.port"] = refHost, refPortN
			default:
				want["http.response.status_code"] = int64(200)
				want["server.address"], want["server.port"] = upHost, upPortN
			}
			for k, v := range want {
				if fmt.Sprint(r.Attrs[k]) != fmt.Sprint(v) {
					t.Errorf("%s: got %v, want %v", k, r.Attrs[k], v)
				}
			}
			if want["oauth.label"] == "token" && r.Attrs["oauth.diagnosis.cause"] == nil {
				t.Errorf("oauth.diagnosis.cause missing: %v", r.Attrs)
			}
			if r.Resource["service.name"] != "oauthproxy" || r.Resource["service.version"] != version || r.Resource["host.name"] == "" {
				t.Errorf("resource: got %v", r.Resource)
			}
			if r.Body == "" || !strings.HasPrefix(r.Body, fmt.Sprint(l["method"])+" ") {
				t.Errorf("body: got %q, want the one-line summary", r.Body)
			}
		})
	}
	raw := rcv.Raw()
	if !bytes.Contains(raw, []byte("X-Scope-Orgid: fleet-7")) {
		t.Errorf("the --otlp-header did not reach the collector")
	}
	out := p.stdout.String() + p.stderr.String()
	for _, c := range []string{otlpCanaryCode, otlpCanarySecret, otlpCanaryVerifier, otlpCanaryBasic, otlpCanaryBearer, otlpCanaryQueryTok,
		base64.StdEncoding.EncodeToString([]byte("app:" + otlpCanaryBasic))} {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("the collector received the canary %s", c)
		}
		if strings.Contains(out, c) {
			t.Errorf("the proxy printed the canary %s", c)
		}
	}
	if want := fmt.Sprintf("oauthproxy: otlp: exported %d of %d exchanges; 0 dropped (queue full or collector down), 0 lost in failed exports, 0 unsent\n", n, n); !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
	}
}

var otlpSummary = regexp.MustCompile(`oauthproxy: otlp: exported (\d+) of (\d+) exchanges; (\d+) dropped \(queue full or collector down\), (\d+) lost in failed exports, (\d+) unsent`)

// TestOTLPCollectorUnavailable: with the collector refusing connections,
// or accepting them and never answering, the proxy keeps serving every
// request, shuts down, and counts every exchange as lost.
func TestOTLPCollectorUnavailable(t *testing.T) {
	silent := otlptest.StartSilent(t)
	tests := []struct {
		name     string
		endpoint string
		dropped  bool // the queue must have overflowed
	}{
		{"connection refused", "http://" + freeAddr(t), false},
		{"never answers", "http://" + silent.Addr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := otlpUpstream(t)
			dir := t.TempDir()
			p := startProxy(t, "--data-dir", dir, "--upstream-ca", up.caFile, "--log-format", "json", "--no-ledger",
				"--otlp", tt.endpoint, "--otlp-queue", "4", "--otlp-timeout", "300ms")
			c := p.client(t, dir)
			const rounds = 5
			sent := 0
			for i := 0; i < rounds; i++ {
				sent += otlpSession(t, c, up, freeAddr(t))
			}
			logged := p.waitRecords(t, sent)
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit code %d: %s", code, p.stderr.String())
			}
			m := otlpSummary.FindStringSubmatch(p.stderr.String())
			if m == nil {
				t.Fatalf("no otlp summary in stderr:\n%s", p.stderr.String())
			}
			num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
			exported, handled, dropped, failed, unsent := num(1), num(2), num(3), num(4), num(5)
			if exported != 0 || handled != len(logged) || dropped+failed+unsent != handled || dropped+failed == 0 {
				t.Errorf("summary %q: want 0 exported, %d handled, all of them dropped, failed or unsent", m[0], len(logged))
			}
			t.Log(m[0])
			if tt.dropped && dropped == 0 {
				t.Errorf("summary %q: want records dropped while the collector holds the first batch", m[0])
			}
		})
	}
}

func TestOTLPUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not a URL", []string{"--otlp", "127.0.0.1:4318"}, "--otlp \"127.0.0.1:4318\": want an http:// or https://"},
		{"grpc scheme", []string{"--otlp", "grpc://127.0.0.1:4317"}, "want an http:// or https://"},
		{"header without otlp", []string{"--otlp-header", "A=b"}, "--otlp-header needs --otlp URL"},
		{"header without =", []string{"--otlp", "http://127.0.0.1:4318", "--otlp-header", "Authorization"}, "--otlp-header: want K=V"},
		{"queue zero", []string{"--otlp", "http://127.0.0.1:4318", "--otlp-queue", "0"}, "--otlp-queue 0"},
		{"timeout zero", []string{"--otlp", "http://127.0.0.1:4318", "--otlp-timeout", "0s"}, "--otlp-timeout 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"run", "--data-dir", dir}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}
