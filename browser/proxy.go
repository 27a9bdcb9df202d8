package browser

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// NormalizeAddr turns a --proxy value (host:port, :port, or an http:// URL)
// into the host:port a browser dials; an unspecified host (0.0.0.0, ::, "")
// becomes 127.0.0.1.
func NormalizeAddr(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "http://"), "/")
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return "", fmt.Errorf("browser: proxy address %q: want HOST:PORT like 127.0.0.1:8080", s)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// FetchCA checks that an oauthproxy listens on addr and returns its CA
// certificate, read from the proxy's own page (GET /ca.pem).
func FetchCA(ctx context.Context, addr string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ca.pem", nil)
	if err != nil {
		return nil, fmt.Errorf("browser: proxy address %q: %w", addr, err)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}} // never through $HTTP_PROXY
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("browser: no proxy listens on %s (connection refused): start it first with 'oauthproxy' in another terminal, or pass --proxy ADDR", addr)
		}
		return nil, fmt.Errorf("browser: the proxy at %s does not answer: %w; start it with 'oauthproxy', or pass --proxy ADDR", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("browser: read the CA from %s: %w", addr, err)
	}
	notOurs := fmt.Sprintf("browser: %s answered GET /ca.pem with status %d and no certificate; is it oauthproxy? (for another proxy pass --ca-cert FILE)", addr, resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(notOurs)
	}
	cert, err := parseCA(body)
	if errors.Is(err, errNoPEM) {
		return nil, errors.New(notOurs)
	}
	if err != nil {
		return nil, fmt.Errorf("browser: the CA served by %s: %w", addr, err)
	}
	return cert, nil
}

// ReadCAFile reads a CA certificate from a PEM file (--ca-cert).
func ReadCAFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("browser: read CA: %w", err)
	}
	cert, err := parseCA(b)
	if err != nil {
		return nil, fmt.Errorf("browser: CA %s: %w", path, err)
	}
	return cert, nil
}

var errNoPEM = errors.New("no PEM CERTIFICATE block")

// parseCA parses the first PEM CERTIFICATE block of b.
func parseCA(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errNoPEM
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// CheckListening checks that something accepts connections on addr.
func CheckListening(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("browser: no proxy listens on %s (%v): start it first with 'oauthproxy', or pass --proxy ADDR", addr, err)
	}
	return c.Close()
}
