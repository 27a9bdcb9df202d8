package trustenv

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/oauthproxy/oauthproxy/certs"
)

// File names inside the data directory.
const (
	// NodePreloadFileName is the Node preload written by Prepare.
	NodePreloadFileName = "node-preload.cjs"
	// JavaTrustStoreFileName is the PKCS#12 trust store written by Prepare.
	JavaTrustStoreFileName = "java-truststore.p12"
	// PHPIniDirName is the directory of the PHP ini file written by Prepare.
	PHPIniDirName = "php"
	// JavaTrustStorePassword opens the trust store. It is not a secret: a
	// trust store holds only public certificates, and Java requires a
	// password to check its integrity.
	JavaTrustStorePassword = "oauthproxy"
)

//go:embed assets/node-preload.cjs
var nodePreload []byte

// NodePreload returns the preload script's source.
func NodePreload() []byte { return bytes.Clone(nodePreload) }

func writeNodePreload(dir string) (string, error) {
	p := filepath.Join(dir, NodePreloadFileName)
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, nodePreload) {
		return p, nil
	}
	if err := writeAtomic(p, nodePreload, 0o644); err != nil {
		return "", fmt.Errorf("trustenv: write node preload: %w", err)
	}
	return p, nil
}

func writeCA(dir string, ca *certs.CA) (string, error) {
	p := filepath.Join(dir, certs.CertFileName)
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.DER()})
	if err := writeAtomic(p, data, 0o644); err != nil {
		return "", fmt.Errorf("trustenv: write CA: %w", err)
	}
	return p, nil
}

// writeJavaTrustStore writes every certificate of the bundle (system roots
// plus the CA) as a PKCS#12 trust store that Java 8+ reads with
// -Djavax.net.ssl.trustStoreType=PKCS12: no keytool, no root, no change
// to the JDK's cacerts.
func writeJavaTrustStore(dir, bundle string) (string, error) {
	data, err := os.ReadFile(bundle)
	if err != nil {
		return "", fmt.Errorf("trustenv: java trust store: %w", err)
	}
	var entries []pkcs12.TrustStoreEntry
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue // a system bundle may hold a certificate Go cannot parse; Java would not use it either
		}
		// Unique aliases: Java keeps one entry per alias.
		entries = append(entries, pkcs12.TrustStoreEntry{Cert: c, FriendlyName: fmt.Sprintf("%03d %s", len(entries), c.Subject.CommonName)})
	}
	if len(entries) == 0 {
		return "", fmt.Errorf("trustenv: java trust store: no certificate in %s", bundle)
	}
	// LegacyDES: read by every Java from 8 on (PBES2/AES stores need 11.0.12+).
	pfx, err := pkcs12.LegacyDES.EncodeTrustStoreEntries(entries, JavaTrustStorePassword)
	if err != nil {
		return "", fmt.Errorf("trustenv: java trust store: %w", err)
	}
	p := filepath.Join(dir, JavaTrustStoreFileName)
	if err := writeAtomic(p, pfx, 0o644); err != nil {
		return "", fmt.Errorf("trustenv: java trust store: %w", err)
	}
	return p, nil
}

// writePHPIni writes dir/php/oauthproxy.ini, which PHP reads through
// PHP_INI_SCAN_DIR: curl.cainfo for the curl extension (libcurl has its
// own compiled-in CA file and ignores SSL_CERT_FILE and CURL_CA_BUNDLE) and
// openssl.cafile for https:// streams.
func writePHPIni(dir, bundle string) (string, error) {
	phpDir := filepath.Join(dir, PHPIniDirName)
	q := strings.ReplaceAll(bundle, `"`, "")
	ini := fmt.Sprintf("; written by oauthproxy: trust its CA (the system roots + the CA) in PHP\ncurl.cainfo = \"%s\"\nopenssl.cafile = \"%s\"\n", q, q)
	if err := writeAtomic(filepath.Join(phpDir, "oauthproxy.ini"), []byte(ini), 0o644); err != nil {
		return "", fmt.Errorf("trustenv: php ini: %w", err)
	}
	return phpDir, nil
}

// writeAtomic writes data to path through a temporary file and a rename, so
// a process reading it never sees half a file.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
