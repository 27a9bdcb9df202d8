package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCert(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadCert(ca.CertFile)
	if err != nil {
		t.Fatalf("LoadCert(%s): %v", ca.CertFile, err)
	}
	if !got.Cert.Equal(ca.Cert) || got.Key != nil || got.CertFile != ca.CertFile {
		t.Errorf("LoadCert = cert equal %v, key %v, file %q; want the CA, no key, %q", got.Cert.Equal(ca.Cert), got.Key, got.CertFile, ca.CertFile)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not PEM"), 0o644)
	leafPEM := filepath.Join(dir, "leaf.pem")
	leaf, err := NewMinter(ca, 0).Leaf("example.test")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(leafPEM, pemBlock("CERTIFICATE", leaf.Certificate[0]), 0o644)
	for _, tt := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "nope.pem"), "certs: load CA certificate"},
		{"not PEM", bad, "certs: load CA certificate"},
		{"not a CA", leafPEM, "certs: CA certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCert(tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.file) {
				t.Errorf("LoadCert(%s) error = %v, want %q naming the file", tt.file, err, tt.want)
			}
		})
	}
}
