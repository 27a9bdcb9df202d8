package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDockerBuild builds the image where a Docker daemon answers, and says
// why it skipped otherwise (a Docker client without a daemon is common on CI
// machines and in sandboxes).
func TestDockerBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: docker build skipped")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker build not run: no docker client on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("docker build not run: no Docker daemon answers (docker info: %s)", strings.TrimSpace(string(out)))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "build", "-t", "oauthproxy:test", "../..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker build failed: %v\n%s", err, out)
	}
}
