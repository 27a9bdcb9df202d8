package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/livelog"
)

// BenchmarkSinkChain is what the live proxy does after each exchange of
// the shared benchmark (a refresh_token grant answered with a rotated
// token, so refresh-token-reused fires from the second one on): inspection
// plus the console log line, as wired by `run` (without the HAR writer).
func BenchmarkSinkChain(b *testing.B) {
	u, _ := url.Parse("https://127.0.0.1:8443/token")
	reqBody := []byte("grant_type=refresh_token&refresh_token=rt." + strings.Repeat("r", 120) + "&client_id=proxybench-client&scope=openid+profile+email+offline_access")
	respBody := []byte(`{"access_token":"at.` + strings.Repeat("A", 800) + `","expires_in":3600,"grant_type":"refresh_token","refresh_token":"rt.` + strings.Repeat("R", 120) + `","scope":"openid profile email offline_access","token_type":"Bearer"}`)
	for _, format := range []livelog.Format{livelog.FormatConsole, livelog.FormatJSON} {
		b.Run(string(format), func(b *testing.B) {
			insp := inspect.New(inspect.Options{})
			live := livelog.New(livelog.Options{Out: io.Discard, Format: format})
			chain := flow.Chain{insp, live}
			t0 := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x := &flow.Exchange{
					ID:    uuid.NewString(),
					Start: t0.Add(time.Duration(i) * time.Millisecond),
					Request: flow.Request{Method: "POST", URL: u, Proto: "HTTP/1.1",
						Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Go-http-client/1.1"}},
						Body:   flow.Body{Data: reqBody, Size: int64(len(reqBody))}},
					Response: &flow.Response{Status: 200, Proto: "HTTP/1.1",
						Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
						Body:   flow.Body{Data: respBody, Size: int64(len(respBody))}},
					Timings: flow.Timings{Total: 500 * time.Microsecond},
				}
				chain.Handle(x)
			}
		})
	}
}
