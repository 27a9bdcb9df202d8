package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/redact"
)

// TestJSONSecretEchoNeverRaw: a token request that sends its client_secret
// in a JSON body, answered by a server that quotes the secret back in its
// error_description (JSON) or plain-text error. The secret must leave as a
// fingerprint only: in the console and JSON analysis (findings, diagnosis
// evidence) and in a redacted HAR (the echoing response body).
func TestJSONSecretEchoNeverRaw(t *testing.T) {
	const canary = "CanaryJsonSecret-7f3a9c" // planted in testdata/echo/json-secret-echo.har
	in := filepath.Join("testdata", "echo", "json-secret-echo.har")
	out := filepath.Join(t.TempDir(), "safe.har")
	tests := []struct {
		name string
		args []string
		file string // output file to check besides stdout/stderr
		want string // must still be in the output (the evidence was not just dropped)
	}{
		{"analyze console", []string{"analyze", in}, "", "invalid_client"},
		{"analyze json", []string{"analyze", "--format", "json", in}, "", "invalid_client"},
		{"har redact", []string{"har", "redact", in, out}, out, redact.Param("client_secret", canary)}, // the echo reads as the parameter does,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tt.args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", tt.args, code, stderr)
			}
			got := stdout + stderr
			if tt.file != "" {
				b, err := os.ReadFile(tt.file)
				if err != nil {
					t.Fatal(err)
				}
				got += string(b)
			}
			if strings.Contains(got, canary) {
				i := strings.Index(got, canary)
				t.Errorf("%v: raw secret in output: ...%s...", tt.args, got[max(0, i-120):min(len(got), i+40)])
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, tt.want, got)
			}
		})
	}
}
