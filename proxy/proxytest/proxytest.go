// Package proxytest holds the pieces of the keep-alive benchmarks that
// more than one package runs: bare goproxy set up like the shared
// benchmark's anchor, an upstream answering token requests like the shared
// benchmark's, and the 32-connection client of its phase (ii). It is
// imported by tests and benchmarks only, so goproxy stays out of the
// product's other packages.
package proxytest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/internal/cputime"
)

// Goproxy starts bare goproxy configured like the shared benchmark's
// anchor (../shared/bench/cmd/goproxy-mitm): MITM for every CONNECT with
// leaves from ca (cached), upstream verified against roots, no recording.
// It returns the listen address; the server stops when tb's test ends.
func Goproxy(tb testing.TB, ca *certs.CA, roots *x509.CertPool) string {
	tb.Helper()
	m := certs.NewMinter(ca, 0)
	p := goproxy.NewProxyHttpServer()
	p.Logger = log.New(io.Discard, "", 0)
	p.KeepAcceptEncoding = true
	p.Tr = &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true,
		ResponseHeaderTimeout: 60 * time.Second,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	mitm := &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: func(host string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
		return m.TLSConfig(host), nil
	}}
	p.OnRequest().HandleConnectFunc(func(host string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) { return mitm, host })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxytest: listen: %v", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// RefreshForm is the shared benchmark's token request body: a
// refresh_token grant with the same refresh token every time.
var RefreshForm = "grant_type=refresh_token&refresh_token=rt." + strings.Repeat("r", 120) +
	"&client_id=proxybench-client&scope=openid+profile+email+offline_access"

// TokenHandler answers POST /token like the shared benchmark's upstream:
// 400 without grant_type, else a 1024-byte JSON token response with a
// rotated refresh token, Cache-Control no-store and Pragma no-cache.
func TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		gt := r.PostForm.Get("grant_type")
		if gt == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_request"}`)
			return
		}
		body := tokenBody(gt)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.Write(body)
	})
}

// tokenBody is the shared benchmark upstream's 1024-byte token response.
func tokenBody(grantType string) []byte {
	resp := map[string]any{
		"token_type":    "Bearer",
		"expires_in":    3600,
		"scope":         "openid profile email offline_access",
		"grant_type":    grantType,
		"refresh_token": "rt." + strings.Repeat("R", 120),
		"access_token":  "",
	}
	base, _ := json.Marshal(resp)
	resp["access_token"] = "at." + strings.Repeat("A", max(0, 1024-len(base)-len("at.")))
	b, _ := json.Marshal(resp)
	return b
}

// conns is the number of client connections of KeepAliveParallel.
const conns = 32

// KeepAliveParallel POSTs form to upURL+"/token" through the proxy at
// proxyAddr from 32 keep-alive connections (16 goroutines per
// GOMAXPROCS on 2 cores, as the shared benchmark's phase (ii) runs 32),
// trusting only caCert, and reports cpu-µs/op: the CPU time of the whole
// process (client, upstream and proxy) per request, so compare two rows of
// one run, not absolute values. gc-cpu-µs/op is the garbage collector's
// share of it (runtime/metrics), gcs the collections during the run,
// faults/op the minor page faults per request (a growing heap's first
// touches).
func KeepAliveParallel(b *testing.B, proxyAddr, upURL string, caCert *x509.Certificate, form string) {
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	tr := &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 64,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	post := func() error {
		resp, err := c.Post(upURL+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("proxytest: status %d, want 200", resp.StatusCode)
		}
		return nil
	}
	// Warm-up, untimed, as the harness does: the 32 connections (CONNECT,
	// TLS handshakes, leaf minting) are opened before the clock starts.
	errs := make(chan error, conns)
	for range conns {
		go func() { errs <- post() }()
	}
	for range conns {
		if err := <-errs; err != nil {
			b.Fatalf("proxytest: warm-up: %v", err)
		}
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	gc := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(gc)
	gcCPU0, cycles0 := gc[0].Value.Float64(), gc[1].Value.Uint64()
	cpu0, faults0 := cputime.Self(), cputime.MinorFaults()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := post(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if cpu := cputime.Self() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
	metrics.Read(gc)
	b.ReportMetric((gc[0].Value.Float64()-gcCPU0)*1e6/float64(b.N), "gc-cpu-µs/op")
	b.ReportMetric(float64(gc[1].Value.Uint64()-cycles0), "gcs")
	b.ReportMetric(float64(cputime.MinorFaults()-faults0)/float64(b.N), "faults/op")
}
