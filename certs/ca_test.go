package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// rsaKey is generated once: RSA key generation is slow under -race.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func sec1(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

// writeFile writes data to dir/name with perm (chmod'ed, so umask does not matter).
func writeFile(t testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCA returns a CA for key valid from now-1h until notAfter.
func testCA(t testing.TB, key crypto.Signer, notAfter time.Time) *CA {
	t.Helper()
	ca, err := newCA(key, "oauthproxy test CA", time.Now().Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "oauthproxy")
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate (create): %v", err)
	}

	wantCert, wantKey := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	if ca.CertFile != wantCert || ca.KeyFile != wantKey {
		t.Errorf("got files %q, %q, want %q, %q", ca.CertFile, ca.KeyFile, wantCert, wantKey)
	}
	if runtime.GOOS != "windows" {
		for _, tc := range []struct {
			path string
			want os.FileMode
		}{{dir, 0o700}, {wantKey, 0o600}} {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("%s: got mode %04o, want %04o", tc.path, got, tc.want)
			}
		}
	}

	c := ca.Cert
	if !strings.HasPrefix(c.Subject.CommonName, "oauthproxy CA (") || !strings.Contains(c.Subject.CommonName, "@") {
		t.Errorf("got CN %q, want \"oauthproxy CA (<user>@<host>)\"", c.Subject.CommonName)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("got IsCA=%v BasicConstraintsValid=%v MaxPathLen=%d MaxPathLenZero=%v, want a CA with path length 0",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("got key usage %v, want %v", c.KeyUsage, want)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("got public key %T, want ECDSA P-256", c.PublicKey)
	}
	if years := c.NotAfter.Sub(c.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("got validity %.2f years, want 10", years)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if string(ca.DER()) != string(c.Raw) {
		t.Errorf("DER() differs from Cert.Raw")
	}

	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate (reload): %v", err)
	}
	if string(again.DER()) != string(ca.DER()) {
		t.Errorf("reload gave a different certificate")
	}
	if string(again.CertPEM) != string(ca.CertPEM) {
		t.Errorf("reload gave different CertPEM:\n%s\nwant\n%s", again.CertPEM, ca.CertPEM)
	}
	if !again.Key.Public().(*ecdsa.PublicKey).Equal(ca.Key.Public()) {
		t.Errorf("reload gave a different key")
	}
}

func TestLoadOrCreateHalfPair(t *testing.T) {
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		file    string
		data    []byte
		wantMsg string
	}{
		{"only certificate", CertFileName, ca.CertPEM, "exists but its key"},
		{"only key", KeyFileName, pkcs8(t, ca.Key), "exists but its certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, tc.file, tc.data, 0o600)
			// A leftover, not a concurrent first start still writing.
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantMsg)
			}
			got, rerr := os.ReadFile(p)
			if rerr != nil || string(got) != string(tc.data) {
				t.Errorf("existing %s was modified or removed (err %v)", tc.file, rerr)
			}
		})
	}
}

func TestLoadKeyPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not describe access on Windows")
	}
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode    os.FileMode
		wantErr bool
		wantMsg string
	}{
		{0o600, false, ""},
		{0o400, false, ""},
		{0o644, true, "is readable by group/others (mode 0644)"},
		{0o640, true, "is readable by group/others (mode 0640)"},
		{0o604, true, "is readable by group/others (mode 0604)"},
		{0o620, true, "is writable by group/others (mode 0620)"},
		{0o610, true, "is accessible by group/others (mode 0610)"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			certFile := writeFile(t, dir, CertFileName, ca.CertPEM, 0o644)
			keyFile := writeFile(t, dir, KeyFileName, pkcs8(t, ca.Key), tc.mode)
			_, err := Load(certFile, keyFile)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if !errors.Is(err, ErrKeyPermissions) {
				t.Fatalf("got error %v, want one wrapping ErrKeyPermissions", err)
			}
			want := "certs: CA key " + keyFile + " " + tc.wantMsg + "; run: chmod 600 " + keyFile
			if err.Error() != want {
				t.Errorf("got message %q, want %q", err.Error(), want)
			}
			// LoadOrCreate must refuse the same way, not regenerate.
			if _, err := LoadOrCreate(dir); !errors.Is(err, ErrKeyPermissions) {
				t.Errorf("LoadOrCreate: got error %v, want ErrKeyPermissions", err)
			}
		})
	}
}

func TestLoadKeyFormats(t *testing.T) {
	ec := newECKey(t)
	rk := rsaKey()
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		keyPEM []byte
	}{
		{"PKCS#8 ECDSA", ec, pkcs8(t, ec)},
		{"SEC1 EC", ec, sec1(t, ec)},
		{"SEC1 EC after EC PARAMETERS", ec, append(pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), sec1(t, ec)...)},
		{"PKCS#1 RSA", rk, pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk))},
		{"PKCS#8 RSA", rk, pkcs8(t, rk)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := testCA(t, tc.key, time.Now().Add(24*time.Hour))
			dir := t.TempDir()
			certFile := writeFile(t, dir, "ca.crt", want.CertPEM, 0o644)
			keyFile := writeFile(t, dir, "ca.key", tc.keyPEM, 0o600)
			ca, err := Load(certFile, keyFile)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if string(ca.DER()) != string(want.DER()) {
				t.Errorf("got a different certificate")
			}
			if ca.CertFile != certFile || ca.KeyFile != keyFile {
				t.Errorf("got files %q, %q, want %q, %q", ca.CertFile, ca.KeyFile, certFile, keyFile)
			}
			// The loaded key must really sign: mint a leaf and verify it.
			leaf, err := NewMinter(ca, 0).Leaf("api.example.com")
			if err != nil {
				t.Fatalf("Leaf: %v", err)
			}
			verifyLeaf(t, ca, leaf, "api.example.com")
		})
	}
}

func TestLoadErrors(t *testing.T) {
	ec := newECKey(t)
	good := testCA(t, ec, time.Now().Add(24*time.Hour))
	other := testCA(t, newECKey(t), time.Now().Add(24*time.Hour))
	expired, err := newCA(ec, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := NewMinter(good, 0).Leaf("not-a-ca.example")
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pkcs8(t, ec)

	for _, tc := range []struct {
		name    string
		certPEM []byte // nil: file missing
		keyPEM  []byte // nil: file missing
		wantMsg string // with {cert} and {key} replaced by the file paths
	}{
		{"empty certificate", []byte{}, keyPEM, "certs: load CA certificate {cert}: no PEM CERTIFICATE block"},
		{"garbage certificate", []byte("hello\x00world"), keyPEM, "certs: load CA certificate {cert}: no PEM CERTIFICATE block"},
		{"key instead of certificate", keyPEM, keyPEM, "certs: load CA certificate {cert}: no PEM CERTIFICATE block"},
		{"corrupt certificate", pemBlock("CERTIFICATE", []byte("not DER")), keyPEM, "certs: load CA certificate {cert}: parse certificate:"},
		{"missing certificate", nil, keyPEM, "certs: load CA certificate {cert}:"},
		{"leaf certificate", pemBlock("CERTIFICATE", leaf.Certificate[0]), keyPEM, "certs: CA certificate {cert}: not a CA certificate"},
		{"expired CA", expired.CertPEM, keyPEM, "certs: CA certificate {cert}: expired on"},
		{"empty key", good.CertPEM, []byte{}, "certs: load CA key {key}: no PEM private key block"},
		{"garbage key", good.CertPEM, []byte("-----BEGIN NOTHING\nxx"), "certs: load CA key {key}: no PEM private key block"},
		{"certificate instead of key", good.CertPEM, good.CertPEM, "certs: load CA key {key}: no PEM private key block (PRIVATE KEY"},
		{"corrupt key", good.CertPEM, pemBlock("EC PRIVATE KEY", []byte("junk")), "certs: load CA key {key}: parse EC PRIVATE KEY block:"},
		{"encrypted key", good.CertPEM, pemBlock("ENCRYPTED PRIVATE KEY", []byte("junk")), "certs: load CA key {key}: encrypted keys are not supported"},
		{"ed25519 key", good.CertPEM, pkcs8(t, edKey), "certs: load CA key {key}: unsupported key type Ed25519"},
		{"missing key", good.CertPEM, nil, "certs: load CA key {key}:"},
		{"mismatched key", other.CertPEM, keyPEM, "certs: CA key does not match certificate {cert}"},
		{"RSA key for EC certificate", good.CertPEM, pkcs8(t, rsaKey()), "certs: CA key does not match certificate {cert}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
			if tc.certPEM != nil {
				writeFile(t, dir, "ca.pem", tc.certPEM, 0o644)
			}
			if tc.keyPEM != nil {
				writeFile(t, dir, "ca-key.pem", tc.keyPEM, 0o600)
			}
			ca, err := Load(certFile, keyFile)
			if err == nil {
				t.Fatalf("got CA %v, want an error", ca.Cert.Subject)
			}
			want := strings.NewReplacer("{cert}", certFile, "{key}", keyFile).Replace(tc.wantMsg)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got error %q, want prefix %q", err, want)
			}
			if errors.Is(err, ErrKeyPermissions) {
				t.Errorf("got ErrKeyPermissions for %s", tc.name)
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("OAUTHPROXY_HOME", home)
	if got, err := DefaultDir(); err != nil || got != home {
		t.Errorf("with OAUTHPROXY_HOME: got %q, %v, want %q", got, err, home)
	}

	t.Setenv("OAUTHPROXY_HOME", "")
	cfg, err := os.UserConfigDir()
	if err != nil {
		t.Skipf("no user config dir here: %v", err)
	}
	want := filepath.Join(cfg, "oauthproxy")
	if got, err := DefaultDir(); err != nil || got != want {
		t.Errorf("without OAUTHPROXY_HOME: got %q, %v, want %q", got, err, want)
	}
}

// FuzzParseKeyPEM checks that arbitrary key files give an error, never a panic.
func FuzzParseKeyPEM(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkcs8(f, ec))
	f.Add(sec1(f, ec))
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add(pemBlock("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseKeyPEM(data)
		if (k == nil) == (err == nil) {
			t.Fatalf("got key %v and error %v, want exactly one", k, err)
		}
	})
}

// TestAwaitCATimeout: a key without a certificate that never completes is
// reported, naming the directory, once the wait is over.
func TestAwaitCATimeout(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, KeyFileName)
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := awaitCA(filepath.Join(dir, CertFileName), keyFile, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "another process") || !strings.Contains(err.Error(), dir) {
		t.Errorf("got %v, want an error naming the unfinished CA in %s", err, dir)
	}
}

// TestLoadOrCreateCorruptRecent: a CA file that is complete but corrupt
// (edited a moment ago) is reported at once, naming the file, instead of
// being waited for as if another process were still writing it (before:
// a 10 s stall, then "another process ... did not finish"). A file cut
// short (a PEM block begun, not ended) is still waited for.
func TestLoadOrCreateCorruptRecent(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, CertFileName)
	corrupt := "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(certFile, []byte(corrupt), 0o644); err != nil { // modified now
		t.Fatal(err)
	}
	_, err := LoadOrCreate(dir)
	if err == nil || strings.Contains(err.Error(), "another process") || !strings.Contains(err.Error(), certFile) {
		t.Errorf("corrupt %s: got %v; want an error naming the file, not blaming another process", certFile, err)
	}
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"", true},
		{"-----BEGIN CERTIFICATE-----\nMIIB", true},
		{corrupt, false},
		{"garbage", false},
		{corrupt + "-----BEGIN PRIVATE KEY-----\n", true},
	} {
		p := filepath.Join(t.TempDir(), "f.pem")
		if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := partlyWritten(p); got != tc.want {
			t.Errorf("partlyWritten(%q) = %v; want %v", tc.data, got, tc.want)
		}
	}
}
