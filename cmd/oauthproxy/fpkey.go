package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/redact"
)

// fingerprintKeyFile is the key file looked for in the data directory; copy
// it to the other machine to compare captures made on both.
const fingerprintKeyFile = "fingerprint.key"

// fingerprintKeyHelp is the flag's help text.
const fingerprintKeyHelp = "key every secret's fingerprint with this shared key (HMAC) so shared captures cannot be checked against guesses; compare only captures made with the same key (default $OAUTHPROXY_FINGERPRINT_KEY, else the file " + fingerprintKeyFile + " in the data directory; @FILE reads the key from FILE)"

// keyFlag is the --fingerprint-key flag of the commands that fingerprint
// secrets (run, analyze, diff, replay, har).
type keyFlag struct{ value string }

func (k *keyFlag) register(f *flag.FlagSet) {
	f.StringVar(&k.value, "fingerprint-key", "", fingerprintKeyHelp)
}

// apply sets the fingerprint key from the flag, the environment or the key
// file in dataDir ("" for the default data directory), in that order, and
// returns where it came from ("" when no key is set).
func (k *keyFlag) apply(e *env, dataDir string) (string, error) {
	key, from := k.value, "--fingerprint-key"
	if key == "" {
		key, from = e.getenv("OAUTHPROXY_FINGERPRINT_KEY"), "$OAUTHPROXY_FINGERPRINT_KEY"
	}
	if file, ok := strings.CutPrefix(key, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("%s: read key file: %v", from, err)
		}
		key, from = string(b), file
	}
	if key == "" {
		dir := dataDir
		if dir == "" {
			dir = e.getenv("OAUTHPROXY_HOME")
		}
		if dir == "" {
			dir, _ = certs.DefaultDir()
		}
		if dir != "" {
			p := filepath.Join(dir, fingerprintKeyFile)
			b, err := os.ReadFile(p)
			switch {
			case err == nil:
				key, from = string(b), p
			case !errors.Is(err, fs.ErrNotExist):
				return "", fmt.Errorf("read fingerprint key %s: %w", p, err)
			}
		}
	}
	key = strings.TrimSpace(key)
	if key == "" {
		redact.SetKey(nil)
		return "", nil
	}
	if len(key) < 16 {
		return "", usagef("%s: the fingerprint key is %d characters; use at least 16 random ones (e.g. head -c 32 /dev/urandom | base64)", from, len(key))
	}
	id := redact.SetKey([]byte(key))
	return "key " + id + " from " + from, nil
}
