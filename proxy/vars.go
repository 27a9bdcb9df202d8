package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"runtime"
)

// VarsPath is the path of the counters page on the proxy's own address
// (like expvar's /debug/vars): JSON, served to loopback clients only.
const VarsPath = "/debug/vars"

// Vars returns the proxy's counters: goroutines of the process, open
// client and upstream connections, exchanges recorded but not yet handed to
// the sink, open passthrough tunnels, the heap (allocated, and in spans in
// use: the difference is fragmentation), the times memory was
// returned to the system after a burst (Options.IdleRelease), plus
// Options.Vars.
func (s *Server) Vars() map[string]int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mu.Lock()
	clients := len(s.conns)
	s.mu.Unlock()
	v := map[string]int64{
		"goroutines":        int64(runtime.NumGoroutine()),
		"client_conns":      int64(clients),
		"upstream_conns":    s.upstreamConns.Load(),
		"inflight":          s.inflight.Load(),
		"tunnels":           s.tunnels.Load(),
		"heap_alloc_bytes":  int64(ms.HeapAlloc),
		"heap_inuse_bytes":  int64(ms.HeapInuse),
		"exchanges_started": s.seq.Load(),
		"idle_releases":     s.idleReleases.Load(),
	}
	if s.opts.Vars != nil {
		for k, n := range s.opts.Vars() {
			v[k] = n
		}
	}
	return v
}

// serveVars answers GET /debug/vars from a loopback client with Vars as
// JSON; anyone else gets 403 (the counters describe the user's traffic).
func (s *Server) serveVars(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "oauthproxy: "+VarsPath+" is served to loopback clients only", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "oauthproxy: only GET and HEAD are served here", http.StatusMethodNotAllowed)
		return
	}
	body, _ := json.MarshalIndent(s.Vars(), "", "  ")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
