package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestVarsPage: the counters page answers loopback clients with JSON
// counters, including those of Options.Vars, and refuses anyone else.
func TestVarsPage(t *testing.T) {
	p := startProxy(t, Options{Vars: func() map[string]int64 { return map[string]int64{"queue_depth": 7} }})
	tests := []struct {
		name, remote, method string
		want                 int
	}{
		{"loopback v4", "127.0.0.1:5555", "GET", http.StatusOK},
		{"loopback v6", "[::1]:5555", "GET", http.StatusOK},
		{"other address", "192.0.2.10:5555", "GET", http.StatusForbidden},
		{"post", "127.0.0.1:5555", "POST", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, VarsPath, nil)
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			p.Server.servePage(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want != http.StatusOK {
				return
			}
			var v map[string]int64
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			for _, k := range []string{"goroutines", "client_conns", "upstream_conns", "inflight", "heap_alloc_bytes", "heap_inuse_bytes", "idle_releases"} {
				if _, ok := v[k]; !ok {
					t.Errorf("no %q in %v", k, v)
				}
			}
			if v["queue_depth"] != 7 || v["goroutines"] <= 0 {
				t.Errorf("got %v, want queue_depth 7 and goroutines > 0", v)
			}
		})
	}
	// Through the real listener, as a loopback client.
	if v := readVars(t, p.addr); v["client_conns"] != 1 {
		t.Errorf("client_conns = %d while serving the page, want 1", v["client_conns"])
	}
}
