package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/internal/cputime"
	"github.com/oauthproxy/oauthproxy/proxy/proxytest"
)

// tokenHandler answers POST /token like the shared benchmark upstream: a
// 1024-byte JSON body.
func tokenHandler() http.Handler {
	body := `{"access_token":"` + strings.Repeat("a", 1024-len(`{"access_token":"","token_type":"Bearer"}`)) + `","token_type":"Bearer"}`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, body)
	})
}

// BenchmarkKeepAlive: POST /token through an intercepted keep-alive
// tunnel, for oauthproxy (recording every exchange into a sink that drops
// it) and for bare goproxy configured like the shared benchmark's anchor.
// Compare the two ns/op (client and upstream run in-process too, so the
// ratio understates the proxy's own difference).
func BenchmarkKeepAlive(b *testing.B) {
	up := newUpstream(b, tokenHandler(), false)
	ca := proxyCA(b)
	form := "grant_type=client_credentials&client_id=bench&client_secret=s3cret"
	run := func(b *testing.B, proxyAddr string) {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		tr := &http.Transport{
			Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cputime.Self()
		for i := 0; i < b.N; i++ {
			resp, err := c.Post(up.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		b.ReportMetric(float64((cputime.Self()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	b.Run("oauthproxy", func(b *testing.B) {
		var n int64
		var mu sync.Mutex
		p := startProxy(b, Options{RootCAs: rootsOf(up), Sink: flow.SinkFunc(func(*flow.Exchange) { mu.Lock(); n++; mu.Unlock() })})
		run(b, p.addr)
		b.StopTimer()
		// The last exchange reaches the sink when the proxy closes its
		// body, which may be just after the client read it.
		got := func() int64 { mu.Lock(); defer mu.Unlock(); return n }
		for deadline := time.Now().Add(waitLimit); got() < int64(b.N) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if got() != int64(b.N) {
			b.Errorf("sink got %d exchanges, want %d", got(), b.N)
		}
	})
	b.Run("goproxy", func(b *testing.B) { run(b, proxytest.Goproxy(b, ca, rootsOf(up))) })
}

// BenchmarkKeepAliveParallel: like BenchmarkKeepAlive with 32 client
// connections at once (the shared benchmark's phase ii).
func BenchmarkKeepAliveParallel(b *testing.B) {
	up := newUpstream(b, tokenHandler(), false)
	ca := proxyCA(b)
	form := "grant_type=client_credentials&client_id=bench&client_secret=s3cret"
	b.Run("oauthproxy", func(b *testing.B) {
		p := startProxy(b, Options{RootCAs: rootsOf(up), Sink: nopSink{}})
		proxytest.KeepAliveParallel(b, p.addr, up.URL, ca.Cert, form)
	})
	b.Run("goproxy", func(b *testing.B) {
		proxytest.KeepAliveParallel(b, proxytest.Goproxy(b, ca, rootsOf(up)), up.URL, ca.Cert, form)
	})
}

// nopSink drops exchanges.
type nopSink struct{}

func (nopSink) Handle(*flow.Exchange) {}

// BenchmarkNewConn: one new client connection per request (TCP + CONNECT
// + TLS handshake with the proxy, leaf cached).
func BenchmarkNewConn(b *testing.B) {
	up := newUpstream(b, tokenHandler(), false)
	p := startProxy(b, Options{RootCAs: rootsOf(up), Sink: flow.SinkFunc(func(*flow.Exchange) {})})
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr := &http.Transport{Proxy: http.ProxyURL(p.url), TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr}).Get(up.URL + "/small")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkNewHost: the first request to a never-seen host (a new leaf is
// minted): hosts are loopback addresses 127.0.0.2.. served by one upstream.
// The proxy is restarted, untimed, when the hosts run out.
func BenchmarkNewHost(b *testing.B) {
	const hosts = 64
	upCA, err := certs.Generate()
	if err != nil {
		b.Fatal(err)
	}
	upMinter := certs.NewMinter(upCA, hosts+1)
	srv := &http.Server{Handler: tokenHandler(), ErrorLog: quietLog()}
	tlsConf := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return upMinter.Leaf(h.Conn.LocalAddr().(*net.TCPAddr).IP.String())
	}}
	var addrs []string
	for i := 0; i < hosts; i++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+2))
		if err != nil {
			b.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		go srv.Serve(tls.NewListener(l, tlsConf))
	}
	b.Cleanup(func() { srv.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(upCA.Cert)

	var p *testProxy
	var stop func()
	start := func() {
		s, err := New(Options{CA: proxyCA(b), RootCAs: roots, Listen: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go s.Serve(l)
		p = &testProxy{Server: s, addr: l.Addr().String(), url: &url.URL{Scheme: "http", Host: l.Addr().String()}, ca: proxyCA(b)}
		stop = func() { s.Shutdown(b.Context()) }
	}
	start()
	pool := x509.NewCertPool()
	pool.AddCert(proxyCA(b).Cert)
	minted := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%hosts == 0 {
			b.StopTimer()
			minted += p.Minter().Minted()
			stop()
			start()
			b.StartTimer()
		}
		tr := &http.Transport{Proxy: http.ProxyURL(p.url), TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addrs[i%hosts] + "/small")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	minted += p.Minter().Minted()
	stop()
	b.ReportMetric(float64(minted)/float64(b.N), "mints/op")
}

// BenchmarkAbortWatch: arming and stopping the client-abort watch, as
// every intercepted exchange with a small request body does while it
// waits for upstream (the answer comes before the watch's delay).
func BenchmarkAbortWatch(b *testing.B) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	cc := &clientConn{Conn: server}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if cc.watchAbort(func() {}).stop() {
			b.Fatal("watch reported an abort")
		}
	}
}
