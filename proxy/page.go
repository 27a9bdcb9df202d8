package proxy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/oauthproxy/oauthproxy/certs"
)

//go:embed assets/ca.html
var caHTML string

var caTemplate = template.Must(template.New("ca").Parse(caHTML))

// caPage serves the proxy's own page (like mitmproxy's mitm.it): trust
// instructions and the CA certificate as PEM and DER.
type caPage struct {
	pem, der []byte
	subject  string
	sha256   string
	// site is true when Options.Site serves "/": the trust page then lives
	// at /ca only and links back to it.
	site bool
}

// caPaths are the paths the CA page keeps when Options.Site serves the rest.
var caPaths = map[string]bool{"/ca": true, "/ca/": true, "/ca.pem": true, "/ca.der": true, "/ca.crt": true, "/ca.cer": true}

func newCAPage(ca *certs.CA) *caPage {
	sum := sha256.Sum256(ca.DER())
	var fp strings.Builder
	for i, b := range sum {
		if i > 0 {
			fp.WriteByte(':')
		}
		fmt.Fprintf(&fp, "%02X", b)
	}
	return &caPage{pem: ca.CertPEM, der: ca.DER(), subject: ca.Cert.Subject.CommonName, sha256: fp.String()}
}

// render returns the status, header and body for a request of method for
// path; host is the proxy address the client used.
func (p *caPage) render(method, path, host string) (int, http.Header, []byte) {
	h := http.Header{"Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}}
	if method != http.MethodGet && method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		return http.StatusMethodNotAllowed, h, []byte("oauthproxy: only GET and HEAD are served here\n")
	}
	if p.site && !caPaths[path] {
		path = "/ca"
	}
	switch path {
	case "/", "/index.html", "/ca", "/ca/":
		if host == "" {
			host = DefaultListen
		}
		hostOnly, port, err := net.SplitHostPort(host)
		if err != nil {
			hostOnly, port = host, "80"
		}
		var buf bytes.Buffer
		_ = caTemplate.Execute(&buf, map[string]any{
			"Subject": p.subject, "SHA256": p.sha256, "Proxy": host, "Host": hostOnly, "Port": port, "Site": p.site,
		})
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		return http.StatusOK, h, buf.Bytes()
	case "/ca.pem":
		h.Set("Content-Type", "application/x-pem-file")
		h.Set("Content-Disposition", `attachment; filename="oauthproxy-ca.pem"`)
		return http.StatusOK, h, p.pem
	case "/ca.der", "/ca.crt", "/ca.cer":
		h.Set("Content-Type", "application/x-x509-ca-cert")
		h.Set("Content-Disposition", `attachment; filename="oauthproxy-ca.der"`)
		return http.StatusOK, h, p.der
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return http.StatusNotFound, h, []byte("oauthproxy: this is a proxy; see / for its CA certificate\n")
}

// servePage answers a request addressed to the proxy itself: Options.Site
// when set (but for the CA paths), else the CA page.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	if cc := connFrom(r.Context()); cc != nil && cc.idle > 0 {
		// Each write gets IdleTimeout: a client that stops reading does
		// not hold the handler (clientConn.respWrite).
		// decided: no flush after each write, a page has its own.
		pw := &streamWriter{ResponseWriter: w, cc: cc, decided: true}
		defer pw.done()
		w = pw
	}
	if !s.ownBody(w, r) {
		return
	}
	if r.URL.Path == VarsPath {
		s.serveVars(w, r)
		return
	}
	if s.opts.Site != nil && !caPaths[r.URL.Path] {
		s.opts.Site.ServeHTTP(w, r)
		return
	}
	host := r.Host
	if r.URL.IsAbs() {
		host = r.URL.Host
	}
	status, h, body := s.page.render(r.Method, r.URL.Path, host)
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// response is the page as an *http.Response, for requests to the proxy
// that arrive inside an intercepted tunnel (always the CA page: the site is
// served on the proxy's plain address only).
func (p *caPage) response(req *http.Request) *http.Response {
	status, h, body := p.render(req.Method, req.URL.Path, req.URL.Host)
	return &http.Response{
		Status:        http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// maxOwnBody bounds the body of a request to the proxy itself: the web UI,
// the CA page and /debug/vars take none.
const maxOwnBody = 64 << 10

// ownBody reads the body of a request addressed to the proxy itself
// before its handler runs, under the idle deadline of a proxied request's
// body (clientConn.beginBody), and hands the handler the bytes. Without it
// a client that announces a body and sends none would hold its connection
// and a goroutine for ever: net/http drains an unread body after the
// handler with no deadline. It reports false when it has answered the
// request itself, closing the connection: 408 when the client stopped
// sending (logged as a stalled client), 413 past maxOwnBody, 400 for a
// body cut short or malformed.
func (s *Server) ownBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	cc := connFrom(r.Context())
	if cc != nil {
		// Also bounds what net/http still reads after a refusal below.
		cc.armBody()
	}
	refuse := func(status int, msg string) bool {
		w.Header().Set("Connection", "close") // the rest of the body is not read
		http.Error(w, msg, status)
		return false
	}
	if r.ContentLength > maxOwnBody {
		return refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("oauthproxy: a request to the proxy itself carries at most %d bytes of body, not %d", maxOwnBody, r.ContentLength))
	}
	b := reqBody{rc: r.Body, limit: maxOwnBody, cc: cc}
	if _, err := io.Copy(io.Discard, io.LimitReader(&b, maxOwnBody+1)); err != nil {
		msg := "oauthproxy: reading the request body from the client: " + describeClientError(err, s.idle)
		if isTimeout(err) {
			s.warnStalled(r, r.Host+r.URL.Path, b.received(), "a request to the proxy itself")
			return refuse(http.StatusRequestTimeout, msg)
		}
		return refuse(http.StatusBadRequest, msg)
	}
	if b.received() > maxOwnBody {
		return refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("oauthproxy: a request to the proxy itself carries at most %d bytes of body", maxOwnBody))
	}
	r.Body = io.NopCloser(bytes.NewReader(b.buf))
	return true
}
