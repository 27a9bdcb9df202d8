package certs

import (
	"container/list"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultCacheSize is the leaf cache capacity used when NewMinter is
	// given a size <= 0.
	DefaultCacheSize = 1024
	// leafValidity is the longest leaf lifetime; clients (Apple, Chrome)
	// reject server certificates valid for more than 398 days.
	leafValidity = 397 * 24 * time.Hour
	// leafBackdate covers clients whose clock is a little behind.
	leafBackdate = time.Hour
	// leafRenewBefore: a cached leaf this close to expiry is minted again.
	leafRenewBefore = time.Hour
	// maxHostLen is the longest DNS name accepted (RFC 1035).
	maxHostLen = 253
)

// Minter mints leaf certificates signed by a CA, one per host, and keeps
// them in a bounded LRU cache. It is safe for concurrent use. Create it
// with NewMinter.
type Minter struct {
	ca *CA

	// now is the clock; tests replace it.
	now func() time.Time
	// mintHook, when set, runs at the start of every mint (tests only).
	mintHook func(name string)

	mu       sync.Mutex
	cache    *lru
	inflight map[string]*mintCall

	minted atomic.Int64
}

// mintCall is one in-flight mint that concurrent callers for the same host wait on.
type mintCall struct {
	done chan struct{}
	cert *tls.Certificate
	err  error
}

// NewMinter returns a Minter signing with ca and caching up to cacheSize
// leaves (DefaultCacheSize when cacheSize <= 0).
func NewMinter(ca *CA, cacheSize int) *Minter {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	return &Minter{
		ca:       ca,
		now:      time.Now,
		cache:    newLRU(cacheSize),
		inflight: make(map[string]*mintCall),
	}
}

// Leaf returns the leaf certificate for host: a DNS name or an IP literal,
// optionally with a port ("example.com:443", "[::1]:8443") and in any case.
// IP literals get an IP SAN, anything else exactly that DNS SAN (wildcard
// or odd names included). The result chains to the CA
// (Certificate[1] is the CA certificate) and has Leaf set; it is shared
// between callers and must not be modified.
//
// Leaves are cached; a cached leaf is reused only while it is at least an
// hour away from expiry. Concurrent first requests for one host wait for a
// single mint.
func (m *Minter) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := normalizeHost(host)
	if err != nil {
		return nil, err
	}
	now := m.now()

	m.mu.Lock()
	if cert, ok := m.cache.get(name); ok {
		if fresh(cert, now) {
			m.mu.Unlock()
			return cert, nil
		}
		m.cache.remove(name)
	}
	if c, ok := m.inflight[name]; ok {
		m.mu.Unlock()
		<-c.done
		return c.cert, c.err
	}
	c := &mintCall{done: make(chan struct{})}
	m.inflight[name] = c
	m.mu.Unlock()

	defer func() {
		m.mu.Lock()
		delete(m.inflight, name)
		if c.err == nil && c.cert != nil {
			m.cache.add(name, c.cert)
		}
		m.mu.Unlock()
		close(c.done)
	}()
	c.cert, c.err = m.mint(name, ip, now)
	return c.cert, c.err
}

// TLSConfig returns the server configuration for a client connection
// intercepted after "CONNECT connectHost": the leaf is chosen by the SNI of
// the ClientHello when present (the name the client will verify), else by
// connectHost (IP connections carry no SNI). TLS 1.2 minimum; only HTTP/1.1
// is offered by ALPN.
func (m *Minter) TLSConfig(connectHost string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			host := hello.ServerName
			if host == "" {
				host = connectHost
			}
			return m.Leaf(host)
		},
	}
}

// Minted returns the number of leaves minted so far.
func (m *Minter) Minted() int64 { return m.minted.Load() }

// fresh reports whether a cached leaf may still be served at now.
func fresh(cert *tls.Certificate, now time.Time) bool {
	l := cert.Leaf
	return l != nil && !now.Before(l.NotBefore) && now.Add(leafRenewBefore).Before(l.NotAfter)
}

// mint creates and signs a new leaf for name (ip is set for IP literals).
func (m *Minter) mint(name string, ip net.IP, now time.Time) (*tls.Certificate, error) {
	if m.mintHook != nil {
		m.mintHook(name)
	}
	ca := m.ca
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("certs: minter has no CA")
	}
	notAfter := now.Add(leafValidity)
	if ca.Cert.NotAfter.Before(notAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !now.Add(leafRenewBefore).Before(notAfter) {
		return nil, fmt.Errorf("certs: mint leaf for %q: CA certificate expires %s; remove the CA files to create a new CA", name, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: mint leaf for %q: generate key: %w", name, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	if len(name) <= 64 { // X.520 upper bound for commonName
		tmpl.Subject = pkix.Name{CommonName: name, Organization: []string{"oauthproxy"}}
	} else {
		tmpl.Subject = pkix.Name{Organization: []string{"oauthproxy"}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: mint leaf for %q: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: mint leaf for %q: parse: %w", name, err)
	}
	m.minted.Add(1)
	return &tls.Certificate{
		Certificate: [][]byte{der, ca.Cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// normalizeHost turns a CONNECT host or SNI name into the cache key and
// SAN: port and IPv6 brackets stripped, IPv6 zone dropped, IPv4-mapped
// addresses unmapped, names lower-cased without a trailing dot. ip is
// non-nil for IP literals.
func normalizeHost(host string) (name string, ip net.IP, err error) {
	h := host
	if len(h) > maxHostLen+16 {
		return "", nil, fmt.Errorf("certs: invalid host %.40q...: longer than %d characters", h, maxHostLen)
	}
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", nil, fmt.Errorf("certs: invalid host %q: missing ']'", host)
		}
		if rest := h[end+1:]; rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
			return "", nil, fmt.Errorf("certs: invalid host %q: bad port", host)
		}
		h = h[1:end]
	case strings.Count(h, ":") == 1:
		i := strings.IndexByte(h, ':')
		if !isPort(h[i+1:]) {
			return "", nil, fmt.Errorf("certs: invalid host %q: bad port", host)
		}
		h = h[:i]
	}
	if !strings.Contains(h, ":") {
		h = strings.TrimSuffix(h, ".")
	}
	if mayBeIP(h) {
		if addr, perr := netip.ParseAddr(h); perr == nil {
			addr = addr.WithZone("").Unmap()
			return addr.String(), net.IP(addr.AsSlice()), nil
		}
	}
	if strings.Contains(h, ":") {
		return "", nil, fmt.Errorf("certs: invalid host %q: not an IP address or DNS name", host)
	}
	h = strings.ToLower(h)
	if h == "" {
		return "", nil, fmt.Errorf("certs: invalid host %q: empty name", host)
	}
	if len(h) > maxHostLen {
		return "", nil, fmt.Errorf("certs: invalid host %.40q...: longer than %d characters", h, maxHostLen)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f {
			return "", nil, fmt.Errorf("certs: invalid host %q: only printable ASCII without spaces allowed (use the punycode form of international names)", host)
		}
	}
	return h, nil, nil
}

// mayBeIP reports whether h could be an IP literal (saves the parse, and
// its error allocation, for ordinary names).
func mayBeIP(h string) bool {
	return h != "" && (strings.IndexByte(h, ':') >= 0 || (h[len(h)-1] >= '0' && h[len(h)-1] <= '9'))
}

// isPort reports whether s is empty or a decimal port number.
func isPort(s string) bool {
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lru is a fixed-capacity least-recently-used cache of leaves. It is not
// safe for concurrent use; Minter guards it with its mutex.
type lru struct {
	cap   int
	order *list.List // front = most recently used; values are *lruEntry
	items map[string]*list.Element
}

type lruEntry struct {
	key  string
	cert *tls.Certificate
}

func newLRU(capacity int) *lru {
	return &lru{cap: capacity, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) get(key string) (*tls.Certificate, bool) {
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).cert, true
}

func (c *lru) add(key string, cert *tls.Certificate) {
	if e, ok := c.items[key]; ok {
		e.Value.(*lruEntry).cert = cert
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, cert: cert})
	for c.order.Len() > c.cap {
		c.remove(c.order.Back().Value.(*lruEntry).key)
	}
}

func (c *lru) remove(key string) {
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
		delete(c.items, key)
	}
}

func (c *lru) len() int { return c.order.Len() }
