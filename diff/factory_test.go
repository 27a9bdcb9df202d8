package diff

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Small factories for exchanges, in the spirit of mitmproxy's tflow.

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type opt func(*flow.Exchange)

func exchange(seq int, method, rawURL string, opts ...opt) *flow.Exchange {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	x := &flow.Exchange{
		ID:      fmt.Sprintf("%08x-1111-4222-8333-444455556666", seq+0xa0),
		Seq:     seq,
		Start:   t0.Add(time.Duration(seq) * time.Second),
		Request: flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Timings: flow.Timings{Total: 80 * time.Millisecond},
		Conn: flow.Conn{
			LocalAddr:  "127.0.0.1:50000",
			ServerAddr: "127.0.0.1:8443",
			TLSVersion: "TLS 1.3", ALPN: "h2", CipherSuite: "TLS_AES_128_GCM_SHA256",
			CertIssuer: "CN=Test CA", CertSHA256: "aa11",
		},
	}
	for _, o := range opts {
		o(x)
	}
	return x
}

// tokenReq is a token POST with a form body built from k, v pairs.
func tokenReq(seq int, grant string, opts ...opt) *flow.Exchange {
	all := append([]opt{
		labelled(flow.LabelToken, grant),
		header("User-Agent", "app/1.0"),
		basic("my-client", "s3cr3t-value"),
		form("grant_type", grant, "scope", "api"),
	}, opts...)
	return exchange(seq, "POST", "https://idp.test/oauth2/token", all...)
}

func labelled(l flow.Label, grant string) opt {
	return func(x *flow.Exchange) { x.OAuth.Label, x.OAuth.GrantType = l, grant }
}

func header(k, v string) opt {
	return func(x *flow.Exchange) { x.Request.Header.Set(k, v) }
}

func noHeader(k string) opt {
	return func(x *flow.Exchange) { x.Request.Header.Del(k) }
}

func basic(id, secret string) opt {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

func form(kv ...string) opt {
	return func(x *flow.Exchange) {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		x.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		x.Request.Body = flow.Body{Data: []byte(v.Encode()), Size: int64(len(v.Encode()))}
	}
}

func jsonReq(body string) opt {
	return func(x *flow.Exchange) {
		x.Request.Header.Set("Content-Type", "application/json")
		x.Request.Body = flow.Body{Data: []byte(body), Size: int64(len(body))}
	}
}

// respond sets a response whose Date header is skew away from the start.
func respond(status int, ct, body string, skew time.Duration) opt {
	return func(x *flow.Exchange) {
		h := http.Header{}
		h.Set("Content-Type", ct)
		h.Set("Date", x.Start.Add(skew).UTC().Format(http.TimeFormat))
		h.Set("X-Request-Id", fmt.Sprintf("req-%d", x.Seq))
		x.Response = &flow.Response{Status: status, Proto: "HTTP/1.1", Header: h, Body: flow.Body{Data: []byte(body), Size: int64(len(body))}}
	}
}

func ok() opt {
	return respond(200, "application/json", `{"access_token":"at-123456","token_type":"Bearer","expires_in":3600}`, 0)
}

func egress(ip string) opt {
	return func(x *flow.Exchange) { x.Conn.LocalAddr = ip + ":50000" }
}

func diagnosed(cat flow.Category, cause, summary string) opt {
	return func(x *flow.Exchange) {
		x.OAuth.Diagnosis = &flow.Diagnosis{Category: cat, Cause: cause, Summary: summary, Confidence: "high"}
	}
}

func conn(f func(c *flow.Conn)) opt {
	return func(x *flow.Exchange) { f(&x.Conn) }
}
