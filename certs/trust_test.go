package certs

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bundleCerts returns the DER of every certificate in the PEM file at path.
func bundleCerts(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pemCertificates(data)
}

func count(ders [][]byte, der []byte) int {
	n := 0
	for _, d := range ders {
		if bytes.Equal(d, der) {
			n++
		}
	}
	return n
}

func TestWriteTrustBundle(t *testing.T) {
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	sysRoot, err := Generate() // stands in for a system root
	if err != nil {
		t.Fatal(err)
	}
	sysFile := writeFile(t, t.TempDir(), "roots.pem", append([]byte("# system roots\n"), bytes.TrimRight(sysRoot.CertPEM, "\n")...), 0o644)
	dir := filepath.Join(t.TempDir(), "home")
	wantPath := filepath.Join(dir, TrustBundleFileName)

	t.Run("SSL_CERT_FILE plus CA", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", sysFile)
		path, err := WriteTrustBundle(dir, ca)
		if err != nil {
			t.Fatalf("WriteTrustBundle: %v", err)
		}
		if path != wantPath {
			t.Errorf("got path %q, want %q", path, wantPath)
		}
		got := bundleCerts(t, path)
		if len(got) != 2 || count(got, sysRoot.DER()) != 1 || count(got, ca.DER()) != 1 {
			t.Errorf("got %d certificates (system root %d times, CA %d times), want each once",
				len(got), count(got, sysRoot.DER()), count(got, ca.DER()))
		}
		data, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(data), "# system roots\n") {
			t.Errorf("system bundle not copied verbatim; got start %q", data[:min(len(data), 40)])
		}
		// The bundle is usable as a pool: both roots verify.
		pool, err := LoadPool(path)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := NewMinter(ca, 0).Leaf("api.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: pool}); err != nil {
			t.Errorf("leaf does not verify against the bundle: %v", err)
		}
	})

	t.Run("SSL_CERT_FILE is the bundle itself", func(t *testing.T) {
		// After `eval $(oauthproxy env)`, SSL_CERT_FILE points at the bundle:
		// regenerating must not add the CA again.
		t.Setenv("SSL_CERT_FILE", wantPath)
		for i := range 3 {
			if _, err := WriteTrustBundle(dir, ca); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		got := bundleCerts(t, wantPath)
		if n := count(got, ca.DER()); n != 1 {
			t.Errorf("got the CA %d times, want once", n)
		}
	})

	t.Run("system bundle already holds the CA", func(t *testing.T) {
		both := writeFile(t, t.TempDir(), "both.pem", append(append([]byte{}, ca.CertPEM...), sysRoot.CertPEM...), 0o644)
		t.Setenv("SSL_CERT_FILE", both)
		path, err := WriteTrustBundle(dir, ca)
		if err != nil {
			t.Fatal(err)
		}
		got := bundleCerts(t, path)
		if count(got, ca.DER()) != 1 || count(got, sysRoot.DER()) != 1 {
			t.Errorf("got CA %d times, system root %d times, want each once", count(got, ca.DER()), count(got, sysRoot.DER()))
		}
	})

	t.Run("default system paths", func(t *testing.T) {
		t.Setenv("SSL_CERT_FILE", "")
		path, err := WriteTrustBundle(dir, ca)
		if err != nil {
			t.Fatal(err)
		}
		got := bundleCerts(t, path)
		if count(got, ca.DER()) != 1 {
			t.Errorf("got the CA %d times, want once", count(got, ca.DER()))
		}
		if sys := SystemBundle(); sys != "" {
			if n := len(pemCertificates(mustRead(t, sys))); len(got) < n {
				t.Errorf("got %d certificates, want the %d of %s plus the CA", len(got), n, sys)
			}
		}
	})

	t.Run("unreadable SSL_CERT_FILE", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.pem")
		t.Setenv("SSL_CERT_FILE", missing)
		_, err := WriteTrustBundle(dir, ca)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("got error %v, want one naming %s", err, missing)
		}
	})

	t.Run("no CA", func(t *testing.T) {
		if _, err := WriteTrustBundle(dir, nil); err == nil {
			t.Error("got no error for a nil CA")
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadPool(t *testing.T) {
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := NewMinter(ca, 0).Leaf("upstream.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemFile := writeFile(t, dir, "ca.pem", ca.CertPEM, 0o644)
	derFile := writeFile(t, dir, "ca.der", ca.DER(), 0o644)
	withKey := writeFile(t, dir, "with-key.pem", append(pkcs8(t, newECKey(t)), ca.CertPEM...), 0o644)
	empty := writeFile(t, dir, "empty.pem", nil, 0o644)
	garbage := writeFile(t, dir, "garbage.pem", []byte("not a certificate\n"), 0o644)
	keyOnly := writeFile(t, dir, "key.pem", pkcs8(t, newECKey(t)), 0o644)
	corrupt := writeFile(t, dir, "corrupt.pem", pemBlock("CERTIFICATE", []byte("junk")), 0o644)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name       string
		files      []string
		wantVerify bool
		wantErr    string
	}{
		{name: "no files: system roots only", files: nil, wantVerify: false},
		{name: "PEM file", files: []string{pemFile}, wantVerify: true},
		{name: "DER file", files: []string{derFile}, wantVerify: true},
		{name: "PEM with a key block first", files: []string{withKey}, wantVerify: true},
		{name: "empty file", files: []string{pemFile, empty}, wantErr: "certs: load CA file " + empty + ": no PEM CERTIFICATE block"},
		{name: "garbage", files: []string{garbage}, wantErr: "certs: load CA file " + garbage + ": no PEM CERTIFICATE block"},
		{name: "key only", files: []string{keyOnly}, wantErr: "certs: load CA file " + keyOnly + ": no PEM CERTIFICATE block"},
		{name: "corrupt certificate", files: []string{corrupt}, wantErr: "certs: load CA file " + corrupt + ": certificate 1:"},
		{name: "missing file", files: []string{missing}, wantErr: "certs: load CA file " + missing + ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := LoadPool(tc.files...)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadPool: %v", err)
			}
			_, verr := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "upstream.example", Roots: pool})
			if (verr == nil) != tc.wantVerify {
				t.Errorf("got verify error %v, want success=%v", verr, tc.wantVerify)
			}
		})
	}
}
