package certs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/internal/filelock"
)

// countPauses replaces pause for the test: every wait for another
// process is counted (and sent on the returned channel, when not full)
// instead of slept, but for a short real sleep so a poll loop does not spin.
func countPauses(t *testing.T) (*atomic.Int64, <-chan struct{}) {
	t.Helper()
	var n atomic.Int64
	ch := make(chan struct{}, 1)
	old := pause
	pause = func(time.Duration) {
		n.Add(1)
		select {
		case ch <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() { pause = old })
	return &n, ch
}

// holdLock takes dir's CA lock as another first start would; the returned
// function releases it.
func holdLock(t *testing.T, dir string) func() {
	t.Helper()
	if !filelock.Supported {
		t.Skip("no flock on this system: LoadOrCreate falls back to waiting on the files' age")
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := filelock.TryLock(f)
	if err != nil || !ok {
		t.Fatalf("lock %s: %v %v", f.Name(), ok, err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			filelock.Unlock(f)
			f.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// TestLoadOrCreateOrphanKey: a CA key without its certificate, written a
// moment ago by a process that is gone (nobody holds the lock), is
// reported at once, without waiting for a certificate that cannot come.
// Before, any key modified in the last 10 s made LoadOrCreate poll for
// 10 s first.
func TestLoadOrCreateOrphanKey(t *testing.T) {
	if !filelock.Supported {
		t.Skip("no flock on this system: a fresh key is still waited for (LoadOrCreate's doc)")
	}
	pauses, _ := countPauses(t)
	dir := t.TempDir()
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, KeyFileName, pkcs8(t, ca.Key), 0o600) // modified now
	_, err = LoadOrCreate(dir)
	if err == nil || !strings.Contains(err.Error(), "exists but its certificate") {
		t.Errorf("got %v, want the key without its certificate reported", err)
	}
	if n := pauses.Load(); n != 0 {
		t.Errorf("LoadOrCreate waited %d times for a certificate nobody was writing; want 0", n)
	}
	if _, err := os.Stat(filepath.Join(dir, CertFileName)); err == nil {
		t.Errorf("a certificate was written next to the orphan key")
	}
}

// TestLoadOrCreateWaitsForLockHolder: while another first start holds the
// lock, with the key written and the certificate not yet, LoadOrCreate
// waits; it loads the CA as soon as the lock is released, not after a
// fixed delay.
func TestLoadOrCreateWaitsForLockHolder(t *testing.T) {
	pauses, paused := countPauses(t)
	dir := t.TempDir()
	release := holdLock(t, dir)
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, KeyFileName, pkcs8(t, ca.Key), 0o600)
	type result struct {
		ca  *CA
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := LoadOrCreate(dir)
		done <- result{got, err}
	}()
	// It is waiting for the lock: seen pausing, and no answer yet.
	for i := 0; i < 3; i++ {
		<-paused
	}
	select {
	case r := <-done:
		t.Fatalf("LoadOrCreate returned while the lock was held: %v, %v", r.ca, r.err)
	default:
	}
	writeFile(t, dir, CertFileName, ca.CertPEM, 0o644)
	release()
	var r result
	select {
	case r = <-done:
	case <-time.After(caWait * 3):
		t.Fatalf("LoadOrCreate still waiting %s after the lock was released", caWait*3)
	}
	if r.err != nil {
		t.Fatalf("LoadOrCreate: %v", r.err)
	}
	if string(r.ca.CertPEM) != string(ca.CertPEM) {
		t.Errorf("got another CA than the lock holder wrote")
	}
	t.Logf("%d pauses of the poll while the lock was held", pauses.Load())
}

// TestLockCATimeout: a lock holder that never finishes is reported after
// the wait, naming the directory and the lock file, and is not taken for a
// system without locks.
func TestLockCATimeout(t *testing.T) {
	countPauses(t)
	dir := t.TempDir()
	holdLock(t, dir)
	_, err := lockCA(dir, 50*time.Millisecond)
	lock := filepath.Join(dir, LockFileName)
	if err == nil || errors.Is(err, errNoLock) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), lock) {
		t.Errorf("got %v, want an error naming %s and %s", err, dir, lock)
	}
}

// TestLoadOrCreateConcurrent: several first starts on one fresh directory at
// the same moment all get the same CA, the one on disk: with the lock
// (goroutines: each opens the lock file itself, so they exclude each
// other as processes do) and with the fallback for systems without locks.
func TestLoadOrCreateConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name string
		load func(dir string) (*CA, error)
	}{
		{"locked", LoadOrCreate},
		{"without lock", func(dir string) (*CA, error) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			return settle(filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName), false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 10; round++ {
				dir := filepath.Join(t.TempDir(), "ca")
				const n = 4
				cas := make([]*CA, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cas[i], errs[i] = tc.load(dir)
					}()
				}
				wg.Wait()
				checkOneCA(t, dir, fmt.Sprintf("round %d", round), func(i int) (string, error) {
					if errs[i] != nil {
						return "", errs[i]
					}
					return string(cas[i].CertPEM), nil
				}, n)
			}
		})
	}
}

// checkOneCA checks that each of n starts got (the PEM or the SHA-256 of
// the PEM of) the CA on disk in dir.
func checkOneCA(t *testing.T, dir, what string, got func(i int) (string, error), n int) {
	t.Helper()
	onDisk, err := Load(filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatalf("%s: the CA on disk: %v", what, err)
	}
	sum := sha256.Sum256(onDisk.CertPEM)
	for i := 0; i < n; i++ {
		pem, err := got(i)
		if err != nil {
			t.Fatalf("%s, start %d: %v", what, i, err)
		}
		if pem != string(onDisk.CertPEM) && pem != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: start %d got another CA than the one on disk", what, i)
		}
	}
}

// childDirEnv names the CA directory of a child process of
// TestLoadOrCreateProcesses.
const childDirEnv = "OAUTHPROXY_CERTS_TEST_CHILD_DIR"

// TestLoadOrCreateProcesses: several processes starting at the same
// moment on one fresh directory (this test binary, re-run as children that
// all wait for the parent to close their stdin, then call LoadOrCreate)
// end with one CA, the one on disk, which every one of them loaded, even
// when the one that creates it is slow between writing the key and the
// certificate.
func TestLoadOrCreateProcesses(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		io.Copy(io.Discard, os.Stdin) // the start signal: EOF
		// A slow first start: the others find the key without its
		// certificate for a while.
		afterKeyWritten = func() { time.Sleep(200 * time.Millisecond) }
		ca, err := LoadOrCreate(dir)
		if err != nil {
			fmt.Printf("CA error: %v\n", err)
			os.Exit(1)
		}
		sum := sha256.Sum256(ca.CertPEM)
		fmt.Printf("CA %s\n", hex.EncodeToString(sum[:]))
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot re-run the test binary: %v", err)
	}
	const n = 4
	for round := 0; round < 3; round++ {
		dir := filepath.Join(t.TempDir(), "ca")
		cmds := make([]*exec.Cmd, n)
		outs := make([]strings.Builder, n)
		stdins := make([]io.WriteCloser, n)
		for i := range cmds {
			cmd := exec.Command(exe, "-test.run=^TestLoadOrCreateProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
			cmd.Stdout = &outs[i]
			cmd.Stderr = &outs[i]
			if stdins[i], err = cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = cmd
		}
		for _, w := range stdins { // go
			w.Close()
		}
		sums := make([]string, n)
		for i, cmd := range cmds {
			err := cmd.Wait()
			out := outs[i].String()
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				if s, ok := strings.CutPrefix(sc.Text(), "CA "); ok {
					sums[i] = s
				}
			}
			if err != nil || sums[i] == "" || strings.HasPrefix(sums[i], "error:") {
				t.Fatalf("round %d, process %d: %v\n%s", round, i, err, out)
			}
		}
		checkOneCA(t, dir, fmt.Sprintf("round %d", round), func(i int) (string, error) { return sums[i], nil }, n)
	}
}
