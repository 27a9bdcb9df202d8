package e2e

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthproxy/oauthproxy/redact"
)

// TestCodeReuseAfterRestart: a code redeemed through one proxy process is
// reported as reused by the next process on the same --data-dir, and the
// data dir holds the code only as a fingerprint.
func TestCodeReuseAfterRestart(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	p := newIDP(t, ca)
	dataDir := t.TempDir()

	px1 := startProxy(t, ca, proxyOpts{DataDir: dataDir})
	s1 := newSession(t, p, px1)
	ac := s1.authorize()
	tok, err := s1.exchange(ac)
	if err != nil {
		t.Fatalf("first Exchange: %v", err)
	}
	first := px1.waitFor(t, "first token exchange", isToken)
	if _, ok := first.finding("code-reused"); ok {
		t.Errorf("first token exchange: got code-reused, want it only after the restart")
	}
	px1.Stop(t)

	px2 := startProxy(t, ca, proxyOpts{DataDir: dataDir})
	s2 := newSession(t, p, px2)
	s2.discover()
	_, err = s2.exchange(ac)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("Exchange after restart: got %v, want the OP's invalid_grant", err)
	}
	e := px2.waitFor(t, "token exchange after restart", isToken)
	if _, ok := e.finding("code-reused"); !ok {
		t.Errorf("token exchange after restart: got findings %v, want code-reused (ledger persisted in %s)", e.findingIDs(), dataDir)
	}
	px2.Stop(t)

	secrets := map[string]string{
		"code":          ac.Code,
		"code_verifier": ac.Verifier,
		"client_secret": p.ClientSecret,
		"access_token":  tok.AccessToken,
		"refresh_token": tok.RefreshToken,
	}
	// The ledger must know the code, by fingerprint: the 12 hex digits of
	// redact.Fingerprint (shorter forms print the same digits).
	fp := redact.Fingerprint(ac.Code)
	_, fpHex, _ := strings.Cut(redact.Short(fp), ":") // scheme:12 hex digits
	files, fpFiles := 0, 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(fpHex)) {
			fpFiles++
		}
		for name, v := range secrets {
			if v != "" && bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds the raw %s", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk data dir: %v", err)
	}
	if files == 0 {
		t.Errorf("data dir %s is empty; want the CA and the ledger there", dataDir)
	}
	if fpFiles == 0 {
		t.Errorf("no file in the data dir holds the code's fingerprint %s; want the ledger to record it", fp)
	}
}
