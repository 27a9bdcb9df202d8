package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Memory of the real program: these tests run the oauthproxy binary built
// WITHOUT -race. Under -race (as the README's test command runs) the race
// runtime keeps shadow memory for every byte of the heap (several times
// its size) and its own bookkeeping per goroutine, so the resident set of
// a race-built process says little about the program users run. The test
// process itself may be race-built: it only generates input and load.

// plainBin is the binary plainBinary builds, once per test binary.
var plainBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// plainBinary returns the path of cmd/oauthproxy built without -race (go
// build from this package's directory, into a temporary directory that
// TestMain removes), building it on first use.
func plainBinary(t *testing.T) string {
	t.Helper()
	plainBin.once.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "oauthproxy-plain-")
		if err != nil {
			plainBin.err = err
			return
		}
		plainBin.dir = dir
		out := filepath.Join(dir, "oauthproxy")
		cmd := exec.Command(goTool(), "build", "-o", out, ".")
		if b, err := cmd.CombinedOutput(); err != nil {
			plainBin.err = fmt.Errorf("go build -o %s .: %v\n%s", out, err, b)
			return
		}
		// GOFLAGS=-race in the environment would give a race build: the
		// figures would be meaningless, so refuse it.
		info, err := buildinfo.ReadFile(out)
		if err != nil {
			plainBin.err = err
			return
		}
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				plainBin.err = fmt.Errorf("go build gave a -race binary (GOFLAGS=%q): memory figures need a plain build", os.Getenv("GOFLAGS"))
				return
			}
		}
		plainBin.path = out
		fmt.Fprintf(os.Stderr, "built %s without -race in %s\n", out, time.Since(start).Round(100*time.Millisecond))
	})
	if plainBin.err != nil {
		t.Fatalf("build the plain binary: %v", plainBin.err)
	}
	return plainBin.path
}

// removePlainBinary removes what plainBinary built (TestMain calls it).
func removePlainBinary() {
	if plainBin.dir != "" {
		os.RemoveAll(plainBin.dir)
	}
}

// goTool is the go command: from PATH, else from this toolchain's GOROOT.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if out, err := exec.Command(filepath.Join(os.Getenv("GOROOT"), "bin", "go"), "env", "GOROOT").Output(); err == nil {
		return filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
	}
	return "go"
}

// mib formats n bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// countWriter counts what is written to it and keeps the first bytes.
type countWriter struct {
	n    int64
	head bytes.Buffer
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if room := 64<<10 - w.head.Len(); room > 0 {
		w.head.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// maxDiffRSS is the acceptance bound of issue 14: `diff` of two
// 100k-entry captures stays under 200 MiB peak RSS.
const maxDiffRSS = 200 << 20

// TestDiffPeakRSS: `oauthproxy diff A B` of two captures of 100 000
// entries each (30% OAuth: logins with discovery, authorize, callback and
// token requests, the rest API calls with 1 KB JSON bodies; secrets as the
// proxy's fingerprints; B from another egress address, its token requests
// refused with 403) peaks under 200 MiB resident, measured by the kernel
// (the child's rusage maxrss). It also checks the report names the
// refusal, so a diff that read nothing cannot pass.
func TestDiffPeakRSS(t *testing.T) {
	bin := plainBinary(t)
	dir := t.TempDir()
	const n = 100000
	start := time.Now()
	var files []string
	var size int64
	for _, side := range bigSides {
		p := filepath.Join(dir, side.name)
		if err := writeBigHAR(p, n, 30, side.egress, side.status, true); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
		files = append(files, p)
	}
	gen := time.Since(start)

	out := &countWriter{}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "diff", files[0], files[1])
	cmd.Stdout, cmd.Stderr = out, &stderr
	start = time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("oauthproxy diff: %v\nstderr:\n%s\nstdout (start):\n%s", err, stderr.String(), out.head.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("no rusage for the child (%T)", cmd.ProcessState.SysUsage())
	}
	peak := ru.Maxrss * 1024 // KiB on Linux
	report := out.head.String()
	t.Logf("2 x %d entries (%s on disk, generated in %s): diff peak RSS %s (%d KiB), wall %s, user CPU %s, %d bytes of report",
		n, mib(size), gen.Round(100*time.Millisecond), mib(peak), ru.Maxrss, wall.Round(100*time.Millisecond),
		time.Duration(ru.Utime.Nano()).Round(100*time.Millisecond), out.n)
	for _, want := range []string{"A: 100000 exchanges", "B: 100000 exchanges", "403"} {
		if !strings.Contains(report, want) {
			t.Errorf("report does not say %q; start of it:\n%s", want, report[:min(len(report), 2000)])
		}
	}
	if peak >= maxDiffRSS {
		t.Errorf("diff peak RSS %s, want under %s", mib(peak), mib(maxDiffRSS))
	}
}
