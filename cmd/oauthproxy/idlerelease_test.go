package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestIdleReleaseEnv: OAUTHPROXY_IDLE_RELEASE_AFTER sets how long `run`
// waits idle before returning memory (the memory test shortens it); a bad
// value is a usage error naming the variable, and run --help lists it.
func TestIdleReleaseEnv(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 30 * time.Second, false},
		{"2s", 2 * time.Second, false},
		{"0", 0, false},
		{"soon", 0, true},
		{"-1s", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := idleReleaseAfter(tt.value)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("idleReleaseAfter(%q) = %v, %v; want %v, error %v", tt.value, got, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("run with a bad value", func(t *testing.T) {
		var out, errb syncBuffer
		e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv: func(k string) string {
				if k == idleReleaseEnv {
					return "soon"
				}
				return ""
			}}
		code := mainEnv(e, []string{"run", "--listen", freeAddr(t), "--data-dir", t.TempDir(), "--no-ledger"})
		if code != exitUsage || !strings.Contains(errb.String(), idleReleaseEnv+`="soon"`) {
			t.Errorf("exit %d, stderr %q; want %d and a message naming %s", code, errb.String(), exitUsage, idleReleaseEnv)
		}
	})
	t.Run("help", func(t *testing.T) {
		if _, stdout, stderr := run(t, "", "run", "--help"); !strings.Contains(stdout+stderr, idleReleaseEnv) {
			t.Errorf("run --help does not list %s:\n%s%s", idleReleaseEnv, stdout, stderr)
		}
	})
}
