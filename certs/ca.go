// Package certs owns oauthproxy's certificate authority and the leaf
// certificates minted from it for intercepted (MITM) TLS connections.
//
// The CA is created once per user (ECDSA P-256, ten years) under DefaultDir
// and reused on every start; the key file must be private to its owner.
// A Minter signs short-lived per-host leaves on demand, caches them in a
// bounded LRU and mints each host only once even under concurrent first
// requests. WriteTrustBundle and LoadPool build the trust material that
// clients (SSL_CERT_FILE, CURL_CA_BUNDLE...) and the proxy's upstream side
// need. goproxy's built-in CA is never used.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"time"

	"github.com/oauthproxy/oauthproxy/internal/filelock"
)

// File names inside the CA directory.
const (
	// CertFileName is the CA certificate (PEM) inside the CA directory.
	CertFileName = "ca.pem"
	// KeyFileName is the CA private key (PEM, PKCS#8) inside the CA directory.
	KeyFileName = "ca-key.pem"
	// LockFileName is the lock a first start holds while it writes the
	// CA (see LoadOrCreate); it stays in the directory, empty.
	LockFileName = "ca.lock"
	// TrustBundleFileName is the bundle written by WriteTrustBundle.
	TrustBundleFileName = "trust-bundle.pem"
)

// caValidity is the lifetime of a generated CA.
const caValidity = 10 * 365 * 24 * time.Hour

// ErrKeyPermissions is wrapped by the error Load and LoadOrCreate return
// when the CA key file is accessible by group or others. Test with errors.Is.
var ErrKeyPermissions = errors.New("certs: CA key is accessible by group/others")

// keyPermError is the error for a CA key file with too open permissions.
type keyPermError struct {
	path string
	mode fs.FileMode
}

func (e *keyPermError) Error() string {
	what := "accessible"
	switch {
	case e.mode&0o044 != 0:
		what = "readable"
	case e.mode&0o022 != 0:
		what = "writable"
	}
	return fmt.Sprintf("certs: CA key %s is %s by group/others (mode %04o); run: chmod 600 %s", e.path, what, e.mode.Perm(), e.path)
}

func (e *keyPermError) Unwrap() error { return ErrKeyPermissions }

// CA is a certificate authority used to mint leaves.
type CA struct {
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate
	// Key is the CA private key (ECDSA or RSA).
	Key crypto.Signer
	// CertPEM is Cert encoded as one PEM CERTIFICATE block.
	CertPEM []byte
	// CertFile and KeyFile are where the CA was loaded from or written to;
	// both are "" for an in-memory CA.
	CertFile, KeyFile string
}

// DER returns the DER encoding of the CA certificate.
func (ca *CA) DER() []byte { return ca.Cert.Raw }

// DefaultDir returns the directory holding the CA and the trust bundle:
// $OAUTHPROXY_HOME when set, else os.UserConfigDir()/oauthproxy.
func DefaultDir() (string, error) {
	if d := os.Getenv("OAUTHPROXY_HOME"); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("certs: no configuration directory (set OAUTHPROXY_HOME): %w", err)
	}
	return filepath.Join(cfg, "oauthproxy"), nil
}

// LoadOrCreate loads the CA from dir/ca.pem and dir/ca-key.pem. When neither
// file exists it creates dir (0700), generates a new CA and writes the
// certificate (0644) and the key (0600). When only one of the two files
// exists it refuses rather than overwrite anything. An empty dir means
// DefaultDir.
//
// Several first starts at once (two proxies, or a proxy and `oauthproxy
// env`) end with one CA that all of them use: the one that creates it holds
// an advisory lock on dir/ca.lock while it writes the two files, and the
// others wait for that lock (at most 10 s), then load what it wrote. A key
// without its certificate found while nobody holds the lock is a leftover,
// reported at once. Where the lock cannot be taken (no flock on the system,
// a file system without locks, a directory this process cannot write) a
// key or a PEM block cut short that was modified in the last 10 s is
// waited for instead, up to 10 s.
func LoadOrCreate(dir string) (*CA, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	certFile := filepath.Join(dir, CertFileName)
	keyFile := filepath.Join(dir, KeyFileName)
	// Every start but the first: no lock.
	if ca, err := Load(certFile, keyFile); err == nil || errors.Is(err, ErrKeyPermissions) {
		return ca, err
	}
	// The CA is missing, half there or unreadable: settle it under the
	// lock a first start holds while it writes the CA.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: create CA directory %s: %w", dir, err)
	}
	unlock, err := lockCA(dir, caWait)
	if errors.Is(err, errNoLock) {
		return settle(certFile, keyFile, false)
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	return settle(certFile, keyFile, true)
}

// settle loads the CA, or creates it when neither file exists. locked
// says whether this process holds the CA lock: then no other first start
// is writing and what is on disk is final; without it, a file modified in
// the last caWait may be another first start's work in progress and is
// waited for.
func settle(certFile, keyFile string, locked bool) (*CA, error) {
	certExists, err := exists(certFile)
	if err != nil {
		return nil, err
	}
	keyExists, err := exists(keyFile)
	if err != nil {
		return nil, err
	}
	switch {
	case certExists && keyExists:
		ca, err := Load(certFile, keyFile)
		if err != nil && !locked && !errors.Is(err, ErrKeyPermissions) && justWritten(certFile, keyFile) {
			if partlyWritten(certFile) || partlyWritten(keyFile) {
				// Another first start may still be writing the
				// certificate. A file that is complete but wrong (edited,
				// corrupt) is reported at once: waiting would not mend it.
				return awaitCA(certFile, keyFile, caWait)
			}
			// It may have been completed between Load and that look.
			if again, err2 := Load(certFile, keyFile); err2 == nil {
				return again, nil
			}
		}
		return ca, err
	case certExists:
		return nil, fmt.Errorf("certs: CA certificate %s exists but its key %s does not; restore the key or remove the certificate to create a new CA", certFile, keyFile)
	case keyExists:
		if !locked && justWritten(keyFile) {
			// Another first start may have written the key and be about to
			// write the certificate.
			if ca, err := awaitCA(certFile, keyFile, caWait); err == nil {
				return ca, nil
			}
		}
		return nil, fmt.Errorf("certs: CA key %s exists but its certificate %s does not; restore the certificate or remove the key to create a new CA", keyFile, certFile)
	}
	return create(certFile, keyFile)
}

// create generates a CA and writes it, the key first and exclusively: of
// two first starts that do not lock (one on a system without flock, or an
// older oauthproxy) one writes the CA and the other waits for it and loads
// it.
func create(certFile, keyFile string) (*CA, error) {
	ca, err := Generate()
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: encode CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeExclusive(keyFile, keyPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return awaitCA(certFile, keyFile, caWait)
		}
		return nil, fmt.Errorf("certs: write CA key %s: %w", keyFile, err)
	}
	afterKeyWritten()
	if err := writeExclusive(certFile, ca.CertPEM, 0o644); err != nil {
		_ = os.Remove(keyFile)
		return nil, fmt.Errorf("certs: write CA certificate %s: %w", certFile, err)
	}
	ca.CertFile, ca.KeyFile = certFile, keyFile
	return ca, nil
}

// caWait bounds how long a first start waits for the CA another process is
// writing.
const caWait = 10 * time.Second

// pause waits between two looks at a CA another process is writing
// (time.Sleep; tests count the calls).
var pause = time.Sleep

// afterKeyWritten runs between the two writes of create (tests widen the
// window in which the key exists without its certificate).
var afterKeyWritten = func() {}

// errNoLock is returned by lockCA when the lock cannot be used at all.
var errNoLock = errors.New("certs: no CA lock")

// lockCA takes the advisory lock on dir/ca.lock, waiting up to limit for
// another process that holds it. The lock file is never removed (removing
// it would let two processes lock two different files). It returns an
// error wrapping errNoLock when the system or the file system has no lock
// or the file cannot be opened.
func lockCA(dir string, limit time.Duration) (unlock func(), err error) {
	if !filelock.Supported {
		return nil, errNoLock
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoLock, err)
	}
	deadline := time.Now().Add(limit)
	for {
		ok, err := filelock.TryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: lock %s: %w", errNoLock, path, err)
		}
		if ok {
			return func() {
				_ = filelock.Unlock(f)
				_ = f.Close()
			}, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("certs: another process has been creating the CA in %s for more than %s and still holds %s; is another oauthproxy stuck starting? (lsof %s names it)", dir, limit, path, path)
		}
		pause(20 * time.Millisecond)
	}
}

// justWritten reports whether one of files was modified less than caWait
// ago: then a concurrent first start may still be writing the CA.
func justWritten(files ...string) bool {
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && time.Since(fi.ModTime()) < caWait {
			return true
		}
	}
	return false
}

// partlyWritten reports whether file looks cut short, as while another
// process writes it: empty, or a PEM block begun and not ended.
func partlyWritten(file string) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return true
	}
	begin := bytes.LastIndex(data, []byte("-----BEGIN "))
	return begin >= 0 && !bytes.Contains(data[begin:], []byte("-----END "))
}

// awaitCA loads the CA that another process is writing: its key file may
// still be partly written and its certificate missing for a moment.
func awaitCA(certFile, keyFile string, limit time.Duration) (*CA, error) {
	deadline := time.Now().Add(limit)
	for {
		ca, err := Load(certFile, keyFile)
		if err == nil {
			return ca, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("certs: another process began creating the CA in %s and did not finish within %s: %w", filepath.Dir(keyFile), limit, err)
		}
		pause(20 * time.Millisecond)
	}
}

// Load loads an existing CA: a PEM certificate and a PEM private key
// (PKCS#8, PKCS#1 for RSA or SEC1 for EC; ECDSA or RSA). It checks that the
// key file is private to its owner (see ErrKeyPermissions), that the key
// matches the certificate and that the certificate is a CA able to sign
// certificates and still valid.
func Load(certFile, keyFile string) (*CA, error) {
	ca, err := LoadCert(certFile)
	if err != nil {
		return nil, err
	}
	if err := checkKeyPerm(keyFile); err != nil {
		return nil, err
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA key %s: %w", keyFile, err)
	}
	key, err := parseKeyPEM(keyData)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA key %s: %w", keyFile, err)
	}
	pub, ok := ca.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("certs: CA key does not match certificate %s (key %s)", certFile, keyFile)
	}
	ca.Key, ca.KeyFile = key, keyFile
	return ca, nil
}

// LoadCert loads a CA certificate without its key, for trusting it only
// (a trust bundle, `oauthproxy env --ca` for a proxy running elsewhere):
// the CA it returns has no Key and cannot sign.
func LoadCert(certFile string) (*CA, error) {
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA certificate %s: %w", certFile, err)
	}
	cert, err := parseCertPEM(certData)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA certificate %s: %w", certFile, err)
	}
	if err := checkCA(cert, time.Now()); err != nil {
		return nil, fmt.Errorf("certs: CA certificate %s: %w", certFile, err)
	}
	return &CA{
		Cert:     cert,
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		CertFile: certFile,
	}, nil
}

// Generate returns a new in-memory CA (ECDSA P-256, ten years). It is what
// LoadOrCreate writes on first start; tests and benchmarks use it directly.
func Generate() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate CA key: %w", err)
	}
	now := time.Now()
	return newCA(key, caName(), now.Add(-time.Hour), now.Add(caValidity))
}

// newCA self-signs a CA certificate for key.
func newCA(key crypto.Signer, cn string, notBefore, notAfter time.Time) (*CA, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"oauthproxy"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse new CA certificate: %w", err)
	}
	return &CA{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// caName is "oauthproxy CA (<user>@<host>)", so that a user who finds the
// CA in a trust store knows where it came from.
func caName() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "user"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("oauthproxy CA (%s@%s)", name, host)
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("certs: serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// parseCertPEM returns the first CERTIFICATE block of data, parsed.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		return cert, nil
	}
}

// checkCA reports why cert cannot be used to sign leaves at now.
func checkCA(cert *x509.Certificate, now time.Time) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("not a CA certificate (basic constraints CA:FALSE or missing)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("not a CA certificate (key usage lacks certificate signing)")
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("expired on %s; remove the CA files to create a new CA (and trust it again)", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseKeyPEM parses the private key in data: the first PEM block that is a
// key (PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE
// KEY"). An "EC PARAMETERS" block, as written by `openssl ecparam -genkey`,
// is skipped. Errors never contain key material.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	sawPEM := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		sawPEM = true
		var (
			key any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			if _, encrypted := b.Headers["DEK-Info"]; encrypted {
				return nil, errors.New("encrypted keys are not supported; decrypt it first (openssl rsa -in KEY -out KEY)")
			}
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted keys are not supported; decrypt it first (openssl pkcs8 -in KEY -out KEY)")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s block: %w", b.Type, err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return nil, errors.New("unsupported key type Ed25519 (use ECDSA or RSA)")
		default:
			return nil, fmt.Errorf("unsupported key type %T (use ECDSA or RSA)", key)
		}
	}
	if sawPEM {
		return nil, errors.New("no PEM private key block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
	}
	return nil, errors.New("no PEM private key block")
}

// checkKeyPerm refuses a key file that group or others may access. It is a
// no-op on Windows, where mode bits do not describe access.
func checkKeyPerm(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("certs: load CA key %s: %w", path, err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &keyPermError{path: path, mode: fi.Mode().Perm()}
	}
	return nil
}

// exists reports whether path exists; errors other than "not exist" are returned.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("certs: %w", err)
	}
}

// writeExclusive creates path with perm and writes data; it fails if path exists.
func writeExclusive(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		_ = os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// pemCertificates returns the DER of every CERTIFICATE block in data.
func pemCertificates(data []byte) [][]byte {
	var out [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
}
