// Package webui is oauthproxy's browser view: an embedded single page (plain
// HTML, CSS and JavaScript; no build step, no request to anywhere but the
// server that serves it) and the HTTP API behind it.
//
// A Server is a flow.Sink: placed in the same sink chain as the live log, it
// keeps recent exchanges in a ring bounded in bytes (Store) and streams a
// redacted row of each to the open pages over Server-Sent Events. A page
// that cannot keep up misses events (and is told so) instead of slowing the
// proxy. Filtering, search and paging happen on the server, so a page
// never holds the whole session. Exchanges are grouped by login
// (flow.OAuth.Login); those of no login form the "other" lane.
//
// Everything served is redacted as a HAR written by the proxy: the
// detail panel shows capture's HAR entry of the exchange, downloads are
// written by capture's converter, a copied curl command has placeholders
// for secrets. The same Server serves the live proxy (proxy.Options.Site)
// and `oauthproxy view FILE.har`. Guard restricts who may open it.
package webui

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/replay"
)

//go:embed assets
var assets embed.FS

// Defaults for Options.
const (
	// DefaultDocsBase is where finding and diagnosis documentation links point.
	DefaultDocsBase = "https://github.com/oauthproxy/oauthproxy/blob/main/docs/"
	// PageSize is the default number of rows per page; MaxPageSize the most
	// a request may ask for.
	PageSize    = 100
	MaxPageSize = 500
	// MaxLoginRows bounds the exchanges of one login that the diagram gets
	// (the most recent ones): a login has a dozen, the other lane may have
	// thousands.
	MaxLoginRows = 300
	// heartbeat keeps an idle event stream (and its proxies) open.
	heartbeat = 20 * time.Second
)

// Options configure a Server.
type Options struct {
	// MaxBytes bounds the ring (DefaultMaxBytes when 0).
	MaxBytes int64
	// Mode is "live" (the proxy) or "file" (oauthproxy view).
	Mode string
	// Title names the session: the proxy address or the file name.
	Title string
	// ProxyAddr is the proxy's address, for the empty state's instructions.
	ProxyAddr string
	// DocsBase prefixes documentation links (DefaultDocsBase when "").
	DocsBase string
	// Version is written to downloaded HARs as creator version.
	Version string
	// ReplayClient sends re-sent requests; nil disables re-sending.
	ReplayClient *http.Client
	// Replayed receives each re-sent exchange (the inspection pipeline, so
	// that it is checked and shows up like any other); may be nil.
	Replayed flow.Sink
}

// Server is the UI: a flow.Sink and an http.Handler.
type Server struct {
	mu    sync.Mutex // guards the opts that SetTitle and SetReplayed change
	opts  Options
	store *Store
	hub   *hub
	mux   *http.ServeMux
	ctx   context.Context
	stop  context.CancelFunc
}

// New returns a Server with an empty ring.
func New(opts Options) *Server {
	if opts.DocsBase == "" {
		opts.DocsBase = DefaultDocsBase
	}
	if opts.Mode == "" {
		opts.Mode = "live"
	}
	s := &Server{opts: opts, store: NewStore(opts.MaxBytes), hub: newHub(), mux: http.NewServeMux()}
	s.ctx, s.stop = context.WithCancel(context.Background())
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServer(http.FS(static))
	s.mux.Handle("GET /{$}", files)
	s.mux.Handle("GET /app.js", files)
	s.mux.Handle("GET /app.css", files)
	s.mux.HandleFunc("GET /api/state", s.serveState)
	s.mux.HandleFunc("GET /api/exchanges", s.serveRows)
	s.mux.HandleFunc("GET /api/logins", s.serveLogins)
	s.mux.HandleFunc("GET /api/login", s.serveLogin)
	s.mux.HandleFunc("GET /api/exchange", s.serveExchange)
	s.mux.HandleFunc("GET /api/curl", s.serveCurl)
	s.mux.HandleFunc("GET /api/har", s.serveHAR)
	s.mux.HandleFunc("GET /api/events", s.serveEvents)
	s.mux.HandleFunc("POST /api/resend", s.serveResend)
	return s
}

// SetTitle names the live session by the address the proxy listens on,
// once it is known (the listen flag may say port 0).
func (s *Server) SetTitle(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Title, s.opts.ProxyAddr = addr, addr
}

// SetReplayed sets where re-sent exchanges go (see Options.Replayed); the
// pipeline that feeds the Server is built after it.
func (s *Server) SetReplayed(sink flow.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Replayed = sink
}

// Store returns the ring.
func (s *Server) Store() *Store { return s.store }

// Handle adds x to the ring and tells the open pages. It never waits for a page.
func (s *Server) Handle(x *flow.Exchange) {
	if x == nil {
		return
	}
	row := s.store.Add(x)
	s.hub.publish(&row)
}

// Close ends the event streams of open pages (so that a server shutdown
// does not wait for them) and cancels running re-sends.
func (s *Server) Close() {
	s.hub.close()
	s.stop()
}

// csp allows nothing but this server's own script, style and API.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServeHTTP serves the page and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// State is what the page asks first.
type State struct {
	Mode      string `json:"mode"`
	Title     string `json:"title"`
	ProxyAddr string `json:"proxy,omitempty"`
	Stats     Stats  `json:"stats"`
	Resend    bool   `json:"resend"`
	PageSize  int    `json:"page_size"`
}

func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := State{Mode: s.opts.Mode, Title: s.opts.Title, ProxyAddr: s.opts.ProxyAddr, Resend: s.opts.ReplayClient != nil, PageSize: PageSize}
	s.mu.Unlock()
	st.Stats = s.store.Stats()
	writeJSON(w, st)
}

// queryOf reads the filter parameters of a request.
func queryOf(r *http.Request) Query {
	v := r.URL.Query()
	return Query{
		Text:      strings.TrimSpace(v.Get("q")),
		Login:     v.Get("login"),
		Failed:    v.Get("failed") == "1",
		OAuth:     v.Get("oauth") == "1",
		HideOther: v.Get("hide_other") == "1",
	}
}

// paging reads offset and limit, bounded by MaxPageSize.
func paging(r *http.Request) (offset, limit int) {
	v := r.URL.Query()
	offset, _ = strconv.Atoi(v.Get("offset"))
	limit, _ = strconv.Atoi(v.Get("limit"))
	if offset < 0 {
		offset = 0
	}
	if limit <= 0 {
		limit = PageSize
	}
	return offset, min(limit, MaxPageSize)
}

func (s *Server) serveRows(w http.ResponseWriter, r *http.Request) {
	offset, limit := paging(r)
	writeJSON(w, s.store.Rows(queryOf(r), offset, limit))
}

// LoginPage is one page of the login list.
type LoginPage struct {
	Logins []LoginSummary `json:"logins"`
	Total  int            `json:"total"`
	Offset int            `json:"offset"`
	Limit  int            `json:"limit"`
}

func (s *Server) serveLogins(w http.ResponseWriter, r *http.Request) {
	offset, limit := paging(r)
	q := queryOf(r)
	q.Login = ""
	ls, total := s.store.Logins(q, offset, limit)
	writeJSON(w, LoginPage{Logins: ls, Total: total, Offset: offset, Limit: limit})
}

// LoginView is what the diagram of one login needs.
type LoginView struct {
	ID string `json:"id"`
	// Rows are the login's exchanges, oldest first (at most MaxLoginRows,
	// the most recent ones).
	Rows []Row `json:"rows"`
	// Total counts the login's exchanges in the ring.
	Total      int         `json:"total"`
	Comparison *Comparison `json:"comparison,omitempty"`
}

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		httpError(w, http.StatusBadRequest, "webui: want ?id=LOGIN (or id=other)")
		return
	}
	q := queryOf(r)
	q.Login = id
	p := s.store.Rows(q, 0, MaxLoginRows)
	rows := p.Rows
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	v := LoginView{ID: id, Rows: rows, Total: p.Total}
	if id != OtherLane || p.Total > 0 {
		v.Comparison = compare(s.store.exchanges(Query{Login: id}, 0))
	}
	writeJSON(w, v)
}

func (s *Server) serveExchange(w http.ResponseWriter, r *http.Request) {
	x, row, ok := s.store.get(r.URL.Query().Get("id"))
	if !ok {
		httpError(w, http.StatusNotFound, "webui: no such exchange (it may have left the ring)")
		return
	}
	d := s.detail(x, row)
	if row.Login != "" {
		// The nonce of an ID token is checked against its login's authorize request.
		nonceChecks(&d, s.store.exchanges(Query{Login: row.Login}, MaxLoginRows))
	}
	writeJSON(w, d)
}

func (s *Server) serveCurl(w http.ResponseWriter, r *http.Request) {
	x, _, ok := s.store.get(r.URL.Query().Get("id"))
	if !ok {
		httpError(w, http.StatusNotFound, "webui: no such exchange (it may have left the ring)")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, Curl(x))
}

// serveHAR downloads the session, or one login (?login=ID), as a redacted HAR.
func (s *Server) serveHAR(w http.ResponseWriter, r *http.Request) {
	q := Query{Login: r.URL.Query().Get("login")}
	xs := s.store.exchanges(q, 0)
	name := "oauthproxy-session.har"
	if q.Login != "" {
		name = "oauthproxy-login-" + safeName(q.Login) + ".har"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if err := WriteHAR(w, xs, s.opts.Version); err != nil {
		// Headers are gone; the truncated file fails to parse, which says enough.
		return
	}
}

// WriteHAR writes xs as a redacted HAR 1.2 document, converted by capture.
func WriteHAR(w interface{ Write([]byte) (int, error) }, xs []*flow.Exchange, version string) error {
	h := capture.HAR{Log: capture.Log{Version: "1.2", Creator: capture.Creator{Name: "oauthproxy", Version: orDefault(version, "dev"), Comment: "downloaded from the oauthproxy web UI; secrets redacted"}}}
	h.Log.Entries = make([]capture.Entry, 0, len(xs))
	for _, x := range xs {
		h.Log.Entries = append(h.Log.Entries, capture.EntryFromExchange(x, capture.WriterOptions{Creator: version}))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(h)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// eventLinger is how long an event stream lets rows gather after the
// first one arrives before it writes them: under load a page then costs
// one wake-up and a few write syscalls per batch instead of per exchange
// (issue 12: a page open must not cost the proxy more than 5% CPU). The
// page reloads its lists at most every 400 ms anyway.
const eventLinger = 100 * time.Millisecond

// serveEvents streams "x" events (one redacted row each), "missed" events
// when this page fell behind (with how many it missed), and heartbeats.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sb := s.hub.subscribe()
	if sb == nil {
		httpError(w, http.StatusServiceUnavailable, "webui: shutting down")
		return
	}
	defer s.hub.unsubscribe(sb)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\nevent: hello\ndata: %d\n\n", s.store.Stats().Seen)
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	var buf []byte
	for {
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return
		case <-sb.done:
			return
		case <-tick.C:
			buf = append(buf, ": heartbeat\n\n"...)
		case b := <-sb.ch:
			time.Sleep(eventLinger)
			buf = appendEvent(buf, b)
			for more := true; more; {
				select {
				case b := <-sb.ch:
					buf = appendEvent(buf, b)
				default:
					more = false
				}
			}
		}
		if n := sb.missed.Swap(0); n > 0 {
			buf = append(buf, "event: missed\ndata: "...)
			buf = strconv.AppendInt(buf, n, 10)
			buf = append(buf, "\n\n"...)
		}
		if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
			return
		}
		if cap(buf) > 1<<20 {
			buf = nil // a burst's buffer is not kept for the page's lifetime
		}
	}
}

// appendEvent appends an "x" event carrying the encoded row b.
func appendEvent(buf, b []byte) []byte {
	buf = append(buf, "event: x\ndata: "...)
	buf = append(buf, b...)
	return append(buf, "\n\n"...)
}

// ResendResult is the answer to a re-send.
type ResendResult struct {
	// ID is the new exchange (also in the ring and the event stream).
	ID     string `json:"id"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Changes lists what differs from the original response.
	Changes []replay.Change `json:"changes,omitempty"`
}

// resendInfo says whether x can be re-sent as is, only when confirmed, or not.
func (s *Server) resendInfo(x *flow.Exchange) ResendInfo {
	if s.opts.ReplayClient == nil {
		return ResendInfo{}
	}
	ri := ResendInfo{Available: true}
	if _, err := replay.Prepare(x, replay.Options{}); err != nil {
		if _, ferr := replay.Prepare(x, replay.Options{Force: true}); ferr == nil {
			ri.Confirm = err.Error()
		} else {
			ri.Refused = ferr.Error()
		}
	}
	return ri
}

// serveResend re-sends one exchange through the replay package. A request
// carrying a single-use credential is refused (409) unless confirm=1. The
// page must send the X-Oauthproxy header: a cross-site form cannot, so
// another site open in the browser cannot make the proxy re-send.
func (s *Server) serveResend(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Oauthproxy") != "1" || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		httpError(w, http.StatusForbidden, "webui: re-send needs the page's X-Oauthproxy header")
		return
	}
	if s.opts.ReplayClient == nil {
		httpError(w, http.StatusNotImplemented, "webui: re-sending is available in the live proxy only")
		return
	}
	x, _, ok := s.store.get(r.URL.Query().Get("id"))
	if !ok {
		httpError(w, http.StatusNotFound, "webui: no such exchange (it may have left the ring)")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	nx, err := replay.Send(ctx, x, replay.Options{Force: r.URL.Query().Get("confirm") == "1", Client: s.opts.ReplayClient})
	var refused *replay.RefusedError
	switch {
	case errors.As(err, &refused):
		httpError(w, http.StatusConflict, refused.Error())
		return
	case err != nil:
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The answer is built before nx goes down the pipeline: inspection
	// annotates it there, on another goroutine.
	res := ResendResult{ID: nx.ID, Error: redact.Text(nx.Error), Changes: replay.Compare(x, nx)}
	if nx.Response != nil {
		res.Status = nx.Response.Status
	}
	s.mu.Lock()
	next := s.opts.Replayed
	s.mu.Unlock()
	if next != nil {
		next.Handle(nx)
	} else {
		s.Handle(nx)
	}
	writeJSON(w, res)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// Guard lets only the right people open h. With auth "" (no proxy
// credentials set) only loopback clients that name the server by a
// loopback address or "localhost" get in, which also defeats DNS
// rebinding; with auth "user:pass" every request needs those Basic
// credentials (the browser asks for them).
func Guard(h http.Handler, auth string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != "" {
			got := ""
			if v := r.Header.Get("Authorization"); len(v) > 6 && strings.EqualFold(v[:6], "basic ") {
				if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:])); err == nil {
					got = string(b)
				}
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(auth)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="oauthproxy", charset="UTF-8"`)
				httpError(w, http.StatusUnauthorized, "webui: the UI needs the proxy credentials (--proxy-auth)")
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if !loopbackAddr(r.RemoteAddr) || !loopbackHost(r.Host) {
			httpError(w, http.StatusForbidden, "webui: the UI is served to loopback clients at a loopback address only (set --proxy-auth and --allow-remote to open it remotely)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
