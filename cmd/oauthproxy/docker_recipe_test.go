package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerEntrypoint returns the ENTRYPOINT of the Dockerfile, as argv.
func dockerEntrypoint(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("ENTRYPOINT is not exec form: %q: %v", rest, err)
			}
			return argv
		}
	}
	t.Fatal("the Dockerfile has no ENTRYPOINT")
	return nil
}

// TestDockerRecipe runs the README's Docker recipe without a Docker daemon:
// the image's ENTRYPOINT arguments (plus the README's --har) against this
// binary, with the README's OAUTHPROXY_PROXY_AUTH; the CA copied out as
// `docker exec oauthproxy /oauthproxy ca --data-dir /data` would; then an app
// on the host set up by `eval "$(oauthproxy env --ca ... --proxy-auth ...)"`
// gets its token through it, and the HAR holds the exchange after shutdown.
func TestDockerRecipe(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	idp := newTokenIdP(t)
	entry := dockerEntrypoint(t)
	if entry[0] != "/oauthproxy" {
		t.Fatalf("ENTRYPOINT starts with %q, want /oauthproxy", entry[0])
	}
	data := t.TempDir() // the container's /data volume
	_, port, _ := net.SplitHostPort(freeAddr(t))
	var args []string
	for _, a := range entry[1:] {
		switch {
		case a == "/data":
			a = data
		case strings.HasSuffix(a, ":8080"):
			a = strings.TrimSuffix(a, "8080") + port // -p 127.0.0.1:8080:8080, on a free port
		}
		args = append(args, a)
	}
	har := filepath.Join(data, "server.har")
	args = append(args, "--har", har, "--upstream-ca", idp.caFile) // the README's CMD; the test IdP's CA

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	getenv := func(k string) string {
		if k == "OAUTHPROXY_PROXY_AUTH" {
			return "debug:change-me"
		}
		return ""
	}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv}
	done := make(chan int, 1)
	go func() { done <- mainEnv(e, args) }()
	addr := "127.0.0.1:" + port
	waitListening(t, addr, done, &errb)

	// docker exec oauthproxy /oauthproxy ca --data-dir /data > oauthproxy-ca.pem
	code, caPEM, stderr := run(t, "", "ca", "--data-dir", data)
	if code != 0 {
		t.Fatalf("ca: exit %d: %s", code, stderr)
	}
	caFile := filepath.Join(t.TempDir(), "oauthproxy-ca.pem")
	if err := os.WriteFile(caFile, []byte(caPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	hostData := t.TempDir()
	// client runs a shell command after eval "$(oauthproxy env ...)".
	client := func(t *testing.T, auth bool, runtime, command, url string) (string, error) {
		envArgs := []string{"env", "--data-dir", hostData, "--ca", caFile, "--listen", addr, "--runtime", runtime}
		if auth {
			envArgs = append(envArgs, "--proxy-auth", "debug:change-me")
		}
		code, exports, stderr := run(t, "", envArgs...)
		if code != 0 {
			t.Fatalf("env: exit %d: %s", code, stderr)
		}
		script := filepath.Join(t.TempDir(), "env.sh")
		os.WriteFile(script, []byte(exports), 0o600)
		cmd := exec.Command("bash", "-c", `eval "$(cat "$0")" && `+command, script, url)
		cmd.Env = childEnv(t)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	const curlCmd = `exec curl -sS --fail -d grant_type=client_credentials -d client_secret="$CANARY_SECRET" "$1"`
	if got, err := client(t, false, "curl", curlCmd, idp.base+"/noauth/token"); err == nil {
		t.Errorf("without the proxy credentials curl succeeded: %s", got)
	}
	urls := []string{idp.base + "/docker/token"}
	got, err := client(t, true, "curl", curlCmd, urls[0])
	if err != nil || !strings.Contains(got, "access_token") {
		t.Fatalf("curl through the recipe's proxy: %v: %s\nproxy stderr:\n%s", err, got, errb.String())
	}
	// Node's preload (or NODE_USE_ENV_PROXY) sends the credentials of the proxy URL.
	if _, err := exec.LookPath("node"); err == nil {
		for _, lib := range []string{"fetch", "https"} {
			u := idp.base + "/docker-node-" + lib + "/token"
			got, err := client(t, true, "node", `exec node testdata/exec/token_client.js `+lib+` "$1"`, u)
			if err != nil || !strings.Contains(got, "status=200 token=true") {
				t.Errorf("node %s through the recipe's proxy: %v: %s", lib, err, got)
			}
			urls = append(urls, u)
		}
	} else {
		t.Log("node is not installed: the Node part of the recipe is not checked")
	}

	// docker stop oauthproxy && docker cp oauthproxy:/data/server.har .
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("proxy exit code %d, want 0: %s", code, errb.String())
	}
	recs := parseLog(t, out.String())
	checkTokenRecords(t, recs, urls, out.String(), errb.String())
	h, err := os.ReadFile(har)
	if err != nil || !strings.Contains(string(h), idp.base+"/docker/token") {
		t.Errorf("the HAR %s lacks the exchange (%v)", har, err)
	}
	if strings.Contains(string(h), canarySecret) || strings.Contains(string(h), canaryToken) {
		t.Error("a canary secret leaked into the HAR")
	}
}

// TestDockerEnvArgs checks `env --docker` without a daemon: the -e
// variables, with the -v mounts mapped back to the host files and
// host.docker.internal to the loopback address --add-host would give a
// container, let curl get its token through the proxy. It proves the flags
// agree with each other; that a container reaches host-gateway is Docker's.
func TestDockerEnvArgs(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	idp := newTokenIdP(t)
	dir := t.TempDir()
	p := startProxy(t, "--data-dir", dir, "--upstream-ca", idp.caFile, "--log-format", "json")
	code, out, stderr := run(t, "", "env", "--docker", "--data-dir", dir, "--listen", p.addr, "--runtime", "curl")
	if code != 0 {
		t.Fatalf("env --docker: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "--add-host host.docker.internal:host-gateway") {
		t.Errorf("no --add-host: %s", out)
	}
	// Undo the shell quoting with the shell itself, as the README's
	// eval "docker run $(oauthproxy env --docker) IMAGE" does.
	words, err := exec.Command("bash", "-c", `eval "set -- $0" && printf '%s\n' "$@"`, strings.TrimSpace(out)).Output()
	if err != nil {
		t.Fatalf("bash could not read the args: %v: %s", err, out)
	}
	args := strings.Split(strings.TrimSpace(string(words)), "\n")
	mounts := map[string]string{}
	var vars []string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-v":
			parts := strings.Split(args[i+1], ":")
			if len(parts) != 3 || parts[2] != "ro" {
				t.Errorf("mount %q is not HOST:CONTAINER:ro", args[i+1])
				continue
			}
			mounts[parts[1]] = parts[0]
		case "-e":
			vars = append(vars, args[i+1])
		}
	}
	environ := childEnv(t)
	for _, v := range vars {
		name, val, _ := strings.Cut(v, "=")
		if strings.HasPrefix(val, "/etc/oauthproxy/") {
			host, ok := mounts[val]
			if !ok {
				t.Errorf("%s points at %s, which no -v mounts", name, val)
			}
			val = host
		}
		val = strings.ReplaceAll(val, "host.docker.internal", "127.0.0.1")
		environ = append(environ, name+"="+val)
	}
	url := idp.base + "/container/token"
	cmd := exec.Command("curl", "-sS", "--fail", "-d", "grant_type=client_credentials", "-d", "client_secret="+canarySecret, url)
	cmd.Env = environ
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl with the container's variables: %v: %s", err, got)
	}
	checkTokenRecords(t, p.waitRecords(t, 1), []string{url}, p.stdout.String())
}

// waitListening waits until addr accepts connections or the proxy exits.
func waitListening(t *testing.T, addr string, done chan int, errb *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		select {
		case code := <-done:
			t.Fatalf("proxy exited with %d before listening: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not listen on %s: %s", addr, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
