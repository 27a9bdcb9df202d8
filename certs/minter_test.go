package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifyLeaf checks that cert chains to ca for dnsName (a DNS name or IP
// literal, as crypto/x509 takes it) with ServerAuth.
func verifyLeaf(t testing.TB, ca *CA, cert *tls.Certificate, dnsName string) {
	t.Helper()
	if cert.Leaf == nil {
		t.Fatal("tls.Certificate.Leaf is nil")
	}
	if len(cert.Certificate) != 2 || string(cert.Certificate[1]) != string(ca.DER()) {
		t.Fatalf("got chain of %d certificates, want [leaf, CA]", len(cert.Certificate))
	}
	if string(cert.Certificate[0]) != string(cert.Leaf.Raw) {
		t.Fatal("Leaf does not match Certificate[0]")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := cert.Leaf.Verify(x509.VerifyOptions{
		DNSName:   dnsName,
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatalf("leaf does not verify for %q: %v", dnsName, err)
	}
}

func newTestMinter(t testing.TB, size int) (*Minter, *CA) {
	t.Helper()
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return NewMinter(ca, size), ca
}

func TestLeafHosts(t *testing.T) {
	m, ca := newTestMinter(t, 0)
	for _, tc := range []struct {
		host    string
		wantDNS string // expected DNS SAN, or
		wantIP  string // expected IP SAN
	}{
		{"api.example.com", "api.example.com", ""},
		{"API.Example.COM", "api.example.com", ""},
		{"api.example.com:443", "api.example.com", ""},
		{"api.example.com.", "api.example.com", ""},
		{"localhost", "localhost", ""},
		{"*.example.com", "*.example.com", ""},
		{"under_score.example", "under_score.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"127.0.0.1", "", "127.0.0.1"},
		{"127.0.0.1:8443", "", "127.0.0.1"},
		{"127.0.0.1.", "", "127.0.0.1"},
		{"::1", "", "::1"},
		{"[::1]", "", "::1"},
		{"[::1]:443", "", "::1"},
		{"[2001:DB8::1]:443", "", "2001:db8::1"},
		{"fe80::1%eth0", "", "fe80::1"},
		{"::ffff:10.0.0.1", "", "10.0.0.1"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			cert, err := m.Leaf(tc.host)
			if err != nil {
				t.Fatalf("Leaf(%q): %v", tc.host, err)
			}
			l := cert.Leaf
			var gotIPs []string
			for _, ip := range l.IPAddresses {
				gotIPs = append(gotIPs, ip.String())
			}
			if tc.wantDNS != "" {
				if !slices.Equal(l.DNSNames, []string{tc.wantDNS}) || len(gotIPs) != 0 {
					t.Fatalf("got DNS SANs %q, IP SANs %q, want DNS %q only", l.DNSNames, gotIPs, tc.wantDNS)
				}
				if !strings.Contains(tc.wantDNS, "*") {
					verifyLeaf(t, ca, cert, tc.wantDNS)
				}
			} else {
				if !slices.Equal(gotIPs, []string{tc.wantIP}) || len(l.DNSNames) != 0 {
					t.Fatalf("got DNS SANs %q, IP SANs %q, want IP %q only", l.DNSNames, gotIPs, tc.wantIP)
				}
				verifyLeaf(t, ca, cert, tc.wantIP)
			}
			if !slices.Equal(l.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("got ExtKeyUsage %v, want [ServerAuth]", l.ExtKeyUsage)
			}
			if l.IsCA {
				t.Error("leaf is a CA")
			}
			if pub, ok := l.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("got leaf key %T, want ECDSA P-256", l.PublicKey)
			}
			if n := l.SerialNumber.BitLen(); n < 100 || n > 128 {
				t.Errorf("got %d-bit serial, want a random 128-bit one", n)
			}
		})
	}
}

func TestLeafSameHostSameLeaf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
	}{
		{"case and port", []string{"example.com", "EXAMPLE.com:443", "Example.Com.", "example.com:8443"}},
		{"IPv6 forms", []string{"::1", "[::1]", "[::1]:443", "0:0:0:0:0:0:0:1"}},
		{"IPv4 forms", []string{"10.0.0.1", "10.0.0.1:443", "::ffff:10.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestMinter(t, 0)
			first, err := m.Leaf(tc.hosts[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.hosts[1:] {
				got, err := m.Leaf(h)
				if err != nil {
					t.Fatalf("Leaf(%q): %v", h, err)
				}
				if got != first {
					t.Errorf("Leaf(%q) minted a new leaf, want the cached one for %q", h, tc.hosts[0])
				}
			}
			if got := m.Minted(); got != 1 {
				t.Errorf("got Minted()=%d, want 1", got)
			}
		})
	}
}

func TestLeafInvalidHost(t *testing.T) {
	m, _ := newTestMinter(t, 0)
	for _, tc := range []struct {
		host    string
		wantMsg string
	}{
		{"", "empty name"},
		{":443", "empty name"},
		{".", "empty name"},
		{"[::1", "missing ']'"},
		{"[::1]x", "bad port"},
		{"example.com:https", "bad port"},
		{"exa mple.com", "printable ASCII"},
		{"a\x00b", "printable ASCII"},
		{"bücher.example", "punycode"},
		{"1:2:3", "not an IP address or DNS name"},
		{strings.Repeat("a", 300), "longer than 253"},
		{strings.Repeat("a.", 127) + "a", "longer than 253"},
	} {
		t.Run(strconv.Quote(tc.host), func(t *testing.T) {
			cert, err := m.Leaf(tc.host)
			if err == nil {
				t.Fatalf("got leaf for %v, want an error", cert.Leaf.DNSNames)
			}
			if !strings.HasPrefix(err.Error(), "certs: invalid host") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got error %q, want \"certs: invalid host ...%s...\"", err, tc.wantMsg)
			}
		})
	}
	if got := m.Minted(); got != 0 {
		t.Errorf("got Minted()=%d after invalid hosts, want 0", got)
	}
}

// handshake runs a real TLS handshake over loopback between a client using
// clientCfg and a server using m.TLSConfig(connectHost).
func handshake(t *testing.T, m *Minter, connectHost string, clientCfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer conn.Close()
		serverErr <- tls.Server(conn, m.TLSConfig(connectHost)).Handshake()
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := tls.Client(conn, clientCfg)
	cerr := client.Handshake()
	state := client.ConnectionState()
	client.Close()
	serr := <-serverErr
	if cerr == nil && serr != nil {
		t.Fatalf("client handshake succeeded but server failed: %v", serr)
	}
	return state, cerr
}

func TestTLSConfigHandshake(t *testing.T) {
	m, ca := newTestMinter(t, 0)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	otherCA, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(otherCA.Cert)

	for _, tc := range []struct {
		name        string
		connectHost string
		serverName  string // what the client verifies (and sends as SNI unless an IP)
		noSNI       bool   // send no SNI; verify serverName by hand
		roots       *x509.CertPool
		wantDNS     []string
		wantIPs     []string
		wantErr     string
	}{
		{name: "DNS host", connectHost: "api.example.com:443", serverName: "api.example.com", wantDNS: []string{"api.example.com"}},
		{name: "IP host has IP SAN", connectHost: "127.0.0.1:443", serverName: "127.0.0.1", wantIPs: []string{"127.0.0.1"}},
		{name: "IPv6 host", connectHost: "[::1]:443", serverName: "::1", wantIPs: []string{"::1"}},
		{name: "SNI overrides CONNECT host", connectHost: "10.9.8.7:443", serverName: "login.example.com", wantDNS: []string{"login.example.com"}},
		{name: "SNI overrides other name", connectHost: "proxy-target.example:443", serverName: "Token.Example.COM", wantDNS: []string{"token.example.com"}},
		{name: "no SNI falls back to CONNECT host", connectHost: "idp.example.org:443", serverName: "idp.example.org", noSNI: true, wantDNS: []string{"idp.example.org"}},
		{name: "client without the CA refuses", connectHost: "api.example.com:443", serverName: "api.example.com", roots: otherRoots, wantErr: "certificate signed by unknown authority"},
		{name: "no SNI and no CONNECT host", connectHost: "", serverName: "x.example", noSNI: true, wantErr: "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{
				RootCAs:    roots,
				ServerName: tc.serverName,
				NextProtos: []string{"h2", "http/1.1"},
			}
			if tc.roots != nil {
				cfg.RootCAs = tc.roots
			}
			if tc.noSNI {
				// Send no SNI, but still verify the chain and the name.
				cfg.ServerName = ""
				cfg.InsecureSkipVerify = true
				cfg.VerifyConnection = func(cs tls.ConnectionState) error {
					_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: tc.serverName, Roots: roots})
					return err
				}
			}
			state, err := handshake(t, m, tc.connectHost, cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			leaf := state.PeerCertificates[0]
			var gotIPs []string
			for _, ip := range leaf.IPAddresses {
				gotIPs = append(gotIPs, ip.String())
			}
			if !slices.Equal(leaf.DNSNames, tc.wantDNS) || !slices.Equal(gotIPs, tc.wantIPs) {
				t.Errorf("got DNS SANs %q IP SANs %q, want %q %q", leaf.DNSNames, gotIPs, tc.wantDNS, tc.wantIPs)
			}
			if !tc.noSNI && len(state.VerifiedChains) == 0 {
				t.Error("got no verified chain")
			}
			if state.NegotiatedProtocol != "http/1.1" {
				t.Errorf("got ALPN %q, want http/1.1", state.NegotiatedProtocol)
			}
			if state.Version < tls.VersionTLS12 {
				t.Errorf("got TLS version %x, want >= 1.2", state.Version)
			}
		})
	}
}

func TestTLSConfigRefusesOldTLS(t *testing.T) {
	m, ca := newTestMinter(t, 0)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := handshake(t, m, "api.example.com:443", &tls.Config{
		RootCAs: roots, ServerName: "api.example.com",
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
	})
	if err == nil {
		t.Fatal("got a TLS 1.1 handshake, want refusal")
	}
}

func TestLeafSingleFlight(t *testing.T) {
	m, ca := newTestMinter(t, 0)
	// Slow every mint down so that, without single-flight, the other
	// goroutines would all miss the cache and mint their own leaf.
	m.mintHook = func(string) { time.Sleep(20 * time.Millisecond) }

	const n = 50
	start := make(chan struct{})
	results := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = m.Leaf("new.example")
		}()
	}
	close(start)
	wg.Wait()

	if got := m.Minted(); got != 1 {
		t.Errorf("got Minted()=%d after %d concurrent first requests, want 1", got, n)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("goroutine %d got a different leaf", i)
		}
	}
	verifyLeaf(t, ca, results[0], "new.example")
}

func TestLeafErrorNotCached(t *testing.T) {
	m := NewMinter(nil, 0)
	for i := range 2 {
		if _, err := m.Leaf("a.example"); err == nil || !strings.Contains(err.Error(), "no CA") {
			t.Fatalf("attempt %d: got error %v, want \"no CA\"", i, err)
		}
	}
	if got := m.cache.len(); got != 0 {
		t.Errorf("got %d cached entries after failures, want 0", got)
	}
}

func TestLeafLRU(t *testing.T) {
	m, _ := newTestMinter(t, 2)
	leaf := func(h string) *tls.Certificate {
		t.Helper()
		c, err := m.Leaf(h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := leaf("a.example")
	b := leaf("b.example")
	if got := leaf("a.example"); got != a { // a becomes most recently used
		t.Fatal("a.example re-minted while cached")
	}
	leaf("c.example") // evicts b, the least recently used
	if got := m.cache.len(); got != 2 {
		t.Errorf("got cache length %d, want capacity 2", got)
	}
	if got := m.Minted(); got != 3 {
		t.Errorf("got Minted()=%d, want 3", got)
	}
	if got := leaf("a.example"); got != a {
		t.Error("a.example was evicted, want b.example evicted")
	}
	if got := m.Minted(); got != 3 {
		t.Errorf("got Minted()=%d after cached a.example, want 3", got)
	}
	if got := leaf("b.example"); got == b {
		t.Error("b.example still cached, want it evicted")
	}
	if got := m.Minted(); got != 4 {
		t.Errorf("got Minted()=%d after evicted b.example, want 4", got)
	}
}

func TestNewMinterDefaultSize(t *testing.T) {
	for _, size := range []int{0, -5} {
		if got := NewMinter(nil, size).cache.cap; got != DefaultCacheSize {
			t.Errorf("NewMinter(ca, %d): got capacity %d, want %d", size, got, DefaultCacheSize)
		}
	}
}

func TestLeafValidityAndExpiry(t *testing.T) {
	t0 := time.Now()
	ca, err := newCA(newECKey(t), "short CA", t0.Add(-time.Hour), t0.Add(2*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMinter(ca, 0)
	clock := t0
	m.now = func() time.Time { return clock }
	near := func(got, want time.Time) bool { return got.Sub(want).Abs() <= time.Second }

	first, err := m.Leaf("a.example")
	if err != nil {
		t.Fatal(err)
	}
	if l := first.Leaf; !near(l.NotBefore, t0.Add(-time.Hour)) || !near(l.NotAfter, t0.Add(397*24*time.Hour)) {
		t.Errorf("got validity %v..%v, want now-1h..now+397d", l.NotBefore, l.NotAfter)
	}

	steps := []struct {
		name       string
		at         time.Time
		wantReuse  bool
		wantMinted int64
	}{
		{"half way: cached", t0.Add(200 * 24 * time.Hour), true, 1},
		{"an hour before expiry: re-minted", first.Leaf.NotAfter.Add(-30 * time.Minute), false, 2},
	}
	prev := first
	for _, s := range steps {
		clock = s.at
		got, err := m.Leaf("a.example")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (got == prev) != s.wantReuse {
			t.Errorf("%s: got reuse=%v, want %v", s.name, got == prev, s.wantReuse)
		}
		if m.Minted() != s.wantMinted {
			t.Errorf("%s: got Minted()=%d, want %d", s.name, m.Minted(), s.wantMinted)
		}
		if !fresh(got, clock) {
			t.Errorf("%s: got a leaf valid %v..%v at %v", s.name, got.Leaf.NotBefore, got.Leaf.NotAfter, clock)
		}
		prev = got
	}
	// The second leaf would outlive the CA: capped at the CA's NotAfter.
	if got := prev.Leaf.NotAfter; !got.Equal(ca.Cert.NotAfter) {
		t.Errorf("got leaf NotAfter %v, want CA NotAfter %v", got, ca.Cert.NotAfter)
	}

	// A clock that went backwards before the leaf's NotBefore: re-mint.
	clock = t0.Add(-2 * time.Hour)
	if got, err := m.Leaf("a.example"); err != nil || got == prev {
		t.Errorf("clock before NotBefore: got reuse=%v err=%v, want a new leaf", got == prev, err)
	}

	// After the CA expired nothing can be minted.
	clock = ca.Cert.NotAfter.Add(time.Minute)
	if _, err := m.Leaf("b.example"); err == nil || !strings.Contains(err.Error(), "CA certificate expires") {
		t.Errorf("after CA expiry: got error %v, want \"CA certificate expires\"", err)
	}
}

// FuzzLeafHost checks that any host gives a clear error or a valid leaf
// with exactly one SAN, never a panic.
func FuzzLeafHost(f *testing.F) {
	ca, err := Generate()
	if err != nil {
		f.Fatal(err)
	}
	m := NewMinter(ca, 16)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, s := range []string{"example.com", "[::1]:443", "1.2.3.4:1", "*.x", "[", "]:", "a:b:c", "%", "[fe80::1%25en0]:443", ":::", "x:99999", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		cert, err := m.Leaf(host)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "certs: ") {
				t.Fatalf("got error %q without package prefix", err)
			}
			return
		}
		l := cert.Leaf
		if len(l.DNSNames)+len(l.IPAddresses) != 1 {
			t.Fatalf("got SANs %q %v, want exactly one", l.DNSNames, l.IPAddresses)
		}
		if _, err := l.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
			t.Fatalf("leaf for %q does not chain to the CA: %v", host, err)
		}
	})
}

func BenchmarkLeafCached(b *testing.B) {
	m, _ := newTestMinter(b, 0)
	if _, err := m.Leaf("bench.example"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Leaf("bench.example"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafNew(b *testing.B) {
	m, _ := newTestMinter(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := m.Leaf("h" + strconv.Itoa(i) + ".example"); err != nil {
			b.Fatal(err)
		}
	}
}
