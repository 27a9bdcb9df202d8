package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/redact"
)

// TestFingerprintKey: --fingerprint-key, its environment variable and the
// key file in the data directory key every fingerprint of the output; a
// key too short to be a key is a usage error.
func TestFingerprintKey(t *testing.T) {
	defer redact.SetKey(nil)
	har := filepath.Join("..", "..", "capture", "testdata", "chrome.har")
	keyFile := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(keyFile, []byte("a-key-from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, fingerprintKeyFile), []byte("a-key-from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileID := redact.SetKey([]byte("a-key-from-a-file-0123456789"))
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string // in stdout (or stderr for errors)
	}{
		{"flag", nil, []string{"--fingerprint-key", "a-key-from-a-flag-0123456789"}, 0, "hmac-"},
		{"flag @file", nil, []string{"--fingerprint-key", "@" + keyFile}, 0, "hmac-" + fileID + ":"},
		{"environment", map[string]string{"OAUTHPROXY_FINGERPRINT_KEY": "@" + keyFile}, nil, 0, "hmac-" + fileID + ":"},
		{"data directory file", map[string]string{"OAUTHPROXY_HOME": home}, nil, 0, "hmac-" + fileID + ":"},
		{"no key", map[string]string{"OAUTHPROXY_HOME": t.TempDir()}, nil, 0, "sha256:"},
		{"short key", nil, []string{"--fingerprint-key", "short"}, 2, "at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if _, ok := tt.env["OAUTHPROXY_HOME"]; !ok {
				dir := t.TempDir()
				getenv = func(k string) string {
					if k == "OAUTHPROXY_HOME" {
						return dir
					}
					return tt.env[k]
				}
			}
			var out, errb syncBuffer
			e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv}
			code := mainEnv(e, append(append([]string{"analyze", "--quiet", "--format", "json"}, tt.args...), har))
			stderr := errb.String()
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(out.String()+stderr, tt.want) {
				t.Errorf("output does not contain %q:\n%s%s", tt.want, out.String(), stderr)
			}
		})
	}
}
