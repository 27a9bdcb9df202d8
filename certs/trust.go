package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// systemBundlePaths are the usual locations of the system root bundle, in
// the order they are tried.
var systemBundlePaths = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Arch, Gentoo
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7+
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
	"/usr/local/etc/openssl/cert.pem",                   // macOS Homebrew
}

// SystemBundle returns the PEM file holding the system roots that
// WriteTrustBundle copies: $SSL_CERT_FILE when set, else the first of the
// usual Debian/RHEL/Alpine/macOS paths that exists; "" when there is none.
func SystemBundle() string {
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		return f
	}
	return firstExisting(systemBundlePaths)
}

func firstExisting(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// WriteTrustBundle writes dir/trust-bundle.pem: the system roots (see
// SystemBundle) followed by the CA certificate, and returns its path. Point
// SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS at
// it so clients trust both real servers and the proxy. Copies of the CA
// already in the source are dropped, so regenerating the bundle while
// SSL_CERT_FILE points at it does not grow it. When no system bundle exists
// the file holds the CA alone.
func WriteTrustBundle(dir string, ca *CA) (string, error) {
	if ca == nil || ca.Cert == nil {
		return "", errors.New("certs: write trust bundle: no CA")
	}
	out := filepath.Join(dir, TrustBundleFileName)
	src := SystemBundle()
	if src != "" && sameFile(src, out) {
		// SSL_CERT_FILE is our own bundle (set by `oauthproxy env`): take
		// fresh system roots instead, keeping the current file as fallback.
		if sys := firstExisting(systemBundlePaths); sys != "" {
			src = sys
		}
	}

	var buf bytes.Buffer
	if src != "" {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("certs: write trust bundle: read system roots %s: %w", src, err)
		}
		if err := copyWithoutCert(&buf, data, ca.DER()); err != nil {
			return "", fmt.Errorf("certs: write trust bundle: system roots %s: %w", src, err)
		}
		if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	fmt.Fprintf(&buf, "# %s\n", printable(ca.Cert.Subject.CommonName))
	if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: ca.DER()}); err != nil {
		return "", fmt.Errorf("certs: write trust bundle: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("certs: write trust bundle: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".trust-bundle-*.pem")
	if err != nil {
		return "", fmt.Errorf("certs: write trust bundle: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return "", fmt.Errorf("certs: write trust bundle %s: %w", out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("certs: write trust bundle %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("certs: write trust bundle %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("certs: write trust bundle %s: %w", out, err)
	}
	return out, nil
}

// copyWithoutCert writes data to buf unchanged when it does not contain the
// certificate skip; otherwise it writes its PEM blocks re-encoded, minus
// every copy of skip (text between blocks is dropped in that case).
func copyWithoutCert(buf *bytes.Buffer, data, skip []byte) error {
	found := false
	for _, der := range pemCertificates(data) {
		if bytes.Equal(der, skip) {
			found = true
			break
		}
	}
	if !found {
		buf.Write(data)
		return nil
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" && bytes.Equal(b.Bytes, skip) {
			continue
		}
		if err := pem.Encode(buf, b); err != nil {
			return err
		}
	}
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// LoadPool returns the system roots plus the certificates in files (PEM, or
// a single DER certificate), as used for --upstream-ca. A file that cannot
// be read, holds no certificate or holds a malformed one is an error naming
// the file.
func LoadPool(files ...string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("certs: load CA file %s: %w", f, err)
		}
		certs, err := parseCertFile(data)
		if err != nil {
			return nil, fmt.Errorf("certs: load CA file %s: %w", f, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// parseCertFile parses every CERTIFICATE block of a PEM file, or the file
// as one DER certificate when it holds no PEM at all.
func parseCertFile(data []byte) ([]*x509.Certificate, error) {
	ders := pemCertificates(data)
	if len(ders) == 0 {
		if b, _ := pem.Decode(data); b == nil && len(data) > 0 {
			if c, err := x509.ParseCertificate(data); err == nil {
				return []*x509.Certificate{c}, nil
			}
		}
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// printable drops control characters so a name fits on one comment line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
