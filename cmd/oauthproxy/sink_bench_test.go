package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/internal/cputime"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/otlpexport"
	"github.com/oauthproxy/oauthproxy/webui"
)

// BenchmarkSinkChain is what the live proxy does after each exchange of
// the shared benchmark (a refresh_token grant answered with a rotated
// token, so refresh-token-reused fires from the second one on): inspection
// plus the console log line, as wired by `run` (without the HAR writer);
// console+ui adds the web UI's sink, as `run` has by default.
func BenchmarkSinkChain(b *testing.B) {
	u, _ := url.Parse("https://127.0.0.1:8443/token")
	reqBody := []byte("grant_type=refresh_token&refresh_token=rt." + strings.Repeat("r", 120) + "&client_id=proxybench-client&scope=openid+profile+email+offline_access")
	respBody := []byte(`{"access_token":"at.` + strings.Repeat("A", 800) + `","expires_in":3600,"grant_type":"refresh_token","refresh_token":"rt.` + strings.Repeat("R", 120) + `","scope":"openid profile email offline_access","token_type":"Bearer"}`)
	// console+otlp-down adds the --otlp sink with its collector refusing
	// connections: it must cost under 5% more CPU per exchange than
	// console. console+otlp-up sends to a collector that reads each request
	// and answers 200 without decoding it. cpu-ns/op is the process's CPU
	// time (all goroutines, the exporter's included) per exchange.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer up.Close()
	for _, bc := range []struct {
		name   string
		format livelog.Format
		otlp   string // collector: "", "down" or "up"
		ui     bool   // also the web UI's sink, on by default in `run`
	}{
		{"console", livelog.FormatConsole, "", false},
		{"console+ui", livelog.FormatConsole, "", true},
		{"json", livelog.FormatJSON, "", false},
		{"console+otlp-down", livelog.FormatConsole, "down", false},
		{"console+otlp-up", livelog.FormatConsole, "up", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			insp := inspect.New(inspect.Options{})
			live := livelog.New(livelog.Options{Out: io.Discard, Format: bc.format})
			chain := flow.Chain{insp, live}
			if bc.ui {
				ui := webui.New(webui.Options{})
				defer ui.Close()
				chain = append(chain, ui)
			}
			if bc.otlp != "" {
				endpoint := up.URL
				if bc.otlp == "down" {
					l, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						b.Fatal(err)
					}
					endpoint = "http://" + l.Addr().String()
					l.Close()
				}
				s, err := otlpexport.New(otlpexport.Options{Endpoint: endpoint})
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					s.Close(time.Second)
					b.Logf("otlp: %s", s.Stats())
				}()
				chain = append(chain, s)
			}
			t0 := time.Now()
			b.ReportAllocs()
			cpu0 := cputime.Self()
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
			b.StopTimer()
			if cpu := cputime.Self() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
