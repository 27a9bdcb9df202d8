package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/proxy/proxytest"
)

// BenchmarkRunKeepAliveParallel is the shared benchmark's phase (ii) in
// one process: 32 keep-alive connections POSTing the harness's refresh
// token request (so refresh-token-reused fires on every exchange after the
// first) to an upstream answering like the harness's, through bare goproxy
// set up like the harness's anchor, and through `oauthproxy run` with all
// of its wiring: the default sinks (inspection, the live log to /dev/null
// by its own goroutine, the web UI's store, the code ledger file), GOGC=200
// and the exchange queue; "run-no-ui" adds --no-ui. cpu-µs/op is the CPU
// of the whole process (client and upstream included) per request: the
// difference between two rows of one run is the proxy's (the harness
// measures the proxy's process alone, so its ratios are larger).
//
//	go test -run '^$' -bench RunKeepAliveParallel -benchtime 20000x -count 5 ./cmd/oauthproxy
func BenchmarkRunKeepAliveParallel(b *testing.B) {
	up := newUpstream(b, proxytest.TokenHandler())
	ca, err := certs.LoadOrCreate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	roots, err := certs.LoadPool(up.caFile)
	if err != nil {
		b.Fatal(err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	for _, bc := range []struct {
		name string
		args []string // nil: bare goproxy
	}{
		{"goproxy", nil},
		{"run", []string{}},
		{"run-no-ui", []string{"--no-ui"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var addr string
			if bc.args == nil {
				// `run` sets GOGC=200 for the whole process, client and
				// upstream included: the anchor row gets the same, so that
				// only the proxies differ between rows.
				defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
				addr = proxytest.Goproxy(b, ca, roots)
			} else {
				args := append([]string{"--data-dir", b.TempDir(), "--ca-cert", ca.CertFile, "--ca-key", ca.KeyFile, "--upstream-ca", up.caFile}, bc.args...)
				p := startProxyTo(b, devNull, args...)
				// Stopped here, not at the end of the whole benchmark, so
				// that the next row does not share the CPU with this one.
				defer p.halt(b)
				addr = p.addr
			}
			proxytest.KeepAliveParallel(b, addr, up.URL, ca.Cert, proxytest.RefreshForm)
		})
	}
}
