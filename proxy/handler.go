package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"

	"github.com/oauthproxy/oauthproxy/redact"
)

// serveHTTP is the entry point of every request read by the HTTP server.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	cc := connFrom(r.Context())
	if cc != nil {
		cc.respReset()
	}
	if r.Method == http.MethodConnect {
		s.serveConnect(w, r)
		return
	}
	if !r.URL.IsAbs() {
		// Origin-form: a request to the proxy itself, not through it.
		s.servePage(w, r)
		return
	}
	if !s.authorized(r) {
		s.requireAuth(w, r)
		return
	}
	if s.isSelf(r.URL.Scheme, r.URL.Host) {
		s.servePage(w, r)
		return
	}
	sw := &streamWriter{ResponseWriter: w, cc: cc}
	s.gp.ServeHTTP(sw, r)
	sw.done()
}

// streamWriter writes the answers net/http sends on the proxy's listener:
// goproxy's plain-HTTP relay and the proxy's own pages.
//
// It makes goproxy's relay stream a body of unknown length (chunked from
// upstream): goproxy flushes only for event streams, so without this
// net/http would hold the response head and first chunks in its buffer.
// Known-length bodies are left to net/http's buffering.
//
// With cc set, each write gets IdleTimeout to go out
// (clientConn.respWrite): a client that stops reading is cut off instead
// of holding the exchange and its upstream request for as long as it
// keeps the connection open.
type streamWriter struct {
	http.ResponseWriter
	cc             *clientConn
	decided, flush bool
	hijacked       bool
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if !w.decided {
		w.decided = true
		_, known := w.Header()["Content-Length"]
		w.flush = !known
	}
	if w.cc != nil {
		w.cc.respWrite()
	}
	n, err := w.ResponseWriter.Write(p)
	if w.flush && err == nil {
		err = http.NewResponseController(w.ResponseWriter).Flush()
	}
	return n, err
}

// FlushError sends buffered data to the client, for http.ResponseController.
func (w *streamWriter) FlushError() error {
	if w.cc != nil {
		w.cc.respWrite()
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush sends buffered data to the client.
func (w *streamWriter) Flush() { _ = w.FlushError() }

// Hijack lets goproxy take over the connection (WebSocket upgrades).
func (w *streamWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// done gives net/http's flush of the rest of the answer, after the
// handler, a whole IdleTimeout; a hijacked connection is left alone.
func (w *streamWriter) done() {
	if w.cc != nil && !w.hijacked {
		w.cc.respDone()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serveConnect decides between interception (goproxy MITM) and a plain tunnel.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.requireAuth(w, r)
		return
	}
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	hostname, _, err := net.SplitHostPort(host)
	if err != nil || hostname == "" {
		if cc := connFrom(r.Context()); cc != nil && r.Body != http.NoBody {
			cc.armBody()
		}
		http.Error(w, "oauthproxy: CONNECT needs host:port, got "+fmt.Sprintf("%q", host), http.StatusBadRequest)
		return
	}
	if !s.isSelf("https", host) && s.tunnelled(strings.ToLower(hostname)) {
		s.tunnel(w, r, host)
		return
	}
	if cc := connFrom(r.Context()); cc != nil {
		cc.manage()
	}
	s.gp.ServeHTTP(w, r)
}

// tunnelled reports whether CONNECTs to hostname are relayed untouched.
func (s *Server) tunnelled(hostname string) bool {
	hostname = strings.TrimSuffix(hostname, ".")
	if strings.HasPrefix(hostname, "[") {
		hostname = strings.Trim(hostname, "[]")
	}
	if matchAny(s.passthrough, hostname) {
		return true
	}
	return len(s.intercept) > 0 && !matchAny(s.intercept, hostname)
}

func matchAny(globs []string, host string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, host); ok {
			return true
		}
	}
	return false
}

// authorized checks Basic Proxy-Authorization in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.auth == nil {
		return true
	}
	return checkBasic(r.Header.Get("Proxy-Authorization"), s.auth)
}

func (s *Server) requireAuth(w http.ResponseWriter, r *http.Request) {
	if cc := connFrom(r.Context()); cc != nil && r.Body != http.NoBody {
		// The body is not wanted; net/http drains it under the idle
		// timeout (a stalled client is answered and closed).
		cc.armBody()
	}
	// A line in the log: a client that is refused should not be a mystery
	// (the credential itself is never logged).
	why := "no Proxy-Authorization"
	if v := r.Header.Get("Proxy-Authorization"); v != "" {
		why = "wrong credential"
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); !strings.EqualFold(scheme, "basic") {
			why = "not Basic authentication"
		}
	}
	target := r.Host
	if r.URL != nil && r.URL.Host != "" {
		target = r.URL.Host
	}
	if e := s.log.Warn(); e != nil {
		e.Str("component", "proxy").Str("client", r.RemoteAddr).Str("method", r.Method).Str("target", redact.Text(target)).
			Msgf("proxy: 407 proxy authentication failed (%s); the client needs --proxy-user / Proxy-Authorization: Basic", why)
	}
	h := w.Header()
	h.Set("Proxy-Authenticate", `Basic realm="oauthproxy"`)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusProxyAuthRequired)
	_, _ = io.WriteString(w, "oauthproxy: proxy authentication required (Basic; curl --proxy-user user:pass)\n")
}

// isSelf reports whether scheme://host addresses this proxy's listener.
func (s *Server) isSelf(scheme, host string) bool {
	sa := s.self.Load()
	if sa == nil {
		return false
	}
	return sa.match(scheme, host)
}

// selfAddrs are the host:port forms under which the proxy can be reached.
type selfAddrs struct {
	port  string
	hosts map[string]bool
}

func newSelfAddrs(a net.Addr) *selfAddrs {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	sa := &selfAddrs{port: fmt.Sprint(ta.Port), hosts: map[string]bool{}}
	add := func(ip net.IP) {
		sa.hosts[ip.String()] = true
		if ip4 := ip.To4(); ip4 != nil {
			sa.hosts[ip4.String()] = true
		}
	}
	if ta.IP == nil || ta.IP.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range addrs {
				if n, ok := ia.(*net.IPNet); ok {
					add(n.IP)
				}
			}
		}
		add(net.IPv4(127, 0, 0, 1))
		add(net.IPv6loopback)
		sa.hosts["localhost"] = true
	} else {
		add(ta.IP)
		if ta.IP.IsLoopback() {
			sa.hosts["localhost"] = true
		}
	}
	return sa
}

func (sa *selfAddrs) match(scheme, hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
		port = "80"
		if scheme == "https" || scheme == "wss" {
			port = "443"
		}
	}
	if port != sa.port {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if sa.hosts[host] {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return sa.hosts[ip.String()]
	}
	return false
}
