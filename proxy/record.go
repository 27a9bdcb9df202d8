package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/google/uuid"

	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// recorder is the goproxy RoundTripper of every proxied request: it sends
// the request upstream, records the exchange, turns upstream failures into
// 502 responses and wraps the bodies so that they are teed while streamed.
type recorder struct{ s *Server }

// RoundTrip never returns an error: goproxy would drop an intercepted
// client connection on one, and answer 500 on a plain one.
func (rt recorder) RoundTrip(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Response, error) {
	s := rt.s
	var cc *clientConn
	intercepted := false
	if ti, ok := ctx.UserData.(*tunnelInfo); ok {
		intercepted = true
		cc = ti.conn
		if cc != nil {
			cc.activate()
		}
	} else {
		cc = connFrom(req.Context())
	}
	if s.isSelf(req.URL.Scheme, req.URL.Host) {
		if intercepted && cc != nil {
			cc.release()
		}
		return s.page.response(req), nil
	}

	e := &exchange{s: s, cc: cc, intercepted: intercepted, start: time.Now()}
	x := &flow.Exchange{ID: newID(), Seq: int(s.seq.Add(1)), Start: e.start}
	e.x = x
	s.inflight.Add(1)
	// req.URL is not modified by goproxy or the transport after this point.
	x.Request = flow.Request{Method: req.Method, URL: req.URL, Proto: req.Proto, Header: req.Header}
	x.Conn.ClientAddr = req.RemoteAddr
	x.Conn.Intercepted = intercepted
	if cc != nil {
		x.Conn.ConnectionID = cc.id
	}

	// goproxy's RemoveProxyHeaders is off (KeepHeader): the exchange keeps
	// the header as sent; the request sent upstream loses hop-by-hop fields.
	req.RequestURI = ""
	if hasHopHeaders(req.Header) {
		if _, ok := req.Header["Proxy-Authorization"]; ok {
			x.Request.Header = recordedHeader(req.Header) // a fingerprinted copy
		} else {
			x.Request.Header = req.Header.Clone()
		}
		removeHopHeaders(req.Header)
	}
	streamed := false // the request body is relayed while upstream reads it
	if req.Body != nil && req.Body != http.NoBody {
		e.reqb = reqBody{rc: req.Body, limit: s.bodyCap}
		e.req = &e.reqb
		if !intercepted && cc != nil {
			// A plain request's body is read under the idle timeout, as
			// in a tunnel (clientConn.beginBody).
			cc.beginBody()
			e.reqb.cc = cc
		}
		if n := req.ContentLength; n > 0 && n <= smallBody && !expectsContinue(req.Header) {
			// A small body is read before the request goes upstream, so
			// that net/http writes header and body in one go (it flushes
			// the header first for a body it cannot see in memory).
			buf, err := e.reqb.readAll(n)
			if err != nil {
				return e.clientBodyFailed(req, err, false), nil
			}
			req.Body = io.NopCloser(bytes.NewReader(buf))
		} else {
			req.Body = e.req
			streamed = true
		}
	}

	// DNS and connect hooks are added by Server.dial, only when a new
	// connection is dialled for this request: keep-alive requests do not
	// pay for them.
	e.trace = httptrace.ClientTrace{
		TLSHandshakeStart:    func() { e.mark(&e.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { e.mark(&e.tlsDone) },
		GotConn:              e.gotConn,
		WroteRequest:         func(httptrace.WroteRequestInfo) { e.mark(&e.wrote) },
		GotFirstResponseByte: func() { e.mark(&e.firstByte) },
	}
	octx := context.WithValue(req.Context(), exchangeKey{}, e)
	var watch *abortWatch
	if intercepted && cc != nil && !streamed && !expectsContinue(req.Header) {
		// Nothing else reads the client connection until the answer:
		// watch it, so that a client that gives up cancels the upstream
		// request (net/http does this for plain requests).
		var cancel context.CancelFunc
		octx, cancel = context.WithCancel(octx)
		watch = cc.watchAbort(cancel)
	}
	out := req.WithContext(httptrace.WithClientTrace(octx, &e.trace))
	resp, err := s.tr.RoundTrip(out)
	aborted := watch != nil && watch.stop()
	if err != nil && streamed {
		if cerr := e.reqb.clientErr(); isTimeout(cerr) {
			// The client stalled in its body: not the upstream's fault
			// (net/http also cancels a plain request's context then).
			return e.clientBodyFailed(req, cerr, true), nil
		}
	}
	if err != nil {
		reason, status := describeUpstreamError(err, s.opts.UpstreamTimeout)
		msg := "oauthproxy: upstream " + hostPort(req.URL) + ": " + reason
		if aborted || req.Context().Err() != nil {
			msg, status = flow.ClientAbortedPrefix+"the client closed the connection before "+hostPort(req.URL)+" answered; the upstream request was canceled", ""
		}
		x.Error, x.ErrorType = msg, status
		e.finish(nil, time.Time{})
		return errorResponse(req, http.StatusBadGateway, msg, status), nil
	}
	if aborted {
		// The answer came as the client left: it goes nowhere.
		_ = resp.Body.Close()
		x.Error = flow.ClientAbortedPrefix + "the client closed the connection before " + hostPort(req.URL) + " answered"
		e.finish(nil, time.Time{})
		return errorResponse(req, http.StatusBadGateway, x.Error, ""), nil
	}

	x.Response = &flow.Response{Status: resp.StatusCode, Reason: flow.ReasonOf(resp.Status, resp.StatusCode), Proto: resp.Proto, Header: resp.Header}
	if resp.TLS != nil {
		setTLSFacts(&x.Conn, resp.TLS)
	}
	e.resp = resp
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// goproxy relays the upgraded connection through resp.Body, which
		// must stay an io.ReadWriter: it is not wrapped, and the exchange
		// is the handshake.
		e.finish(nil, time.Time{})
		if intercepted && cc != nil {
			cc.upgrade()
		}
		return resp, nil
	case resp.Body == nil || resp.Body == http.NoBody:
		e.finish(nil, time.Time{})
	default:
		e.respb = respBody{rc: resp.Body, e: e}
		b := &e.respb
		if s.bodyCap > 0 && !skipCapture(resp.Header.Get("Content-Type"), resp.StatusCode) {
			b.limit = s.bodyCap
		}
		e.body = b
		cl := resp.ContentLength
		if intercepted && cc != nil && cl > 0 && cl <= smallBody && req.Method != http.MethodHead {
			// A small body is read now and relayed from memory, with the
			// head, in one write to the client (goproxy writes head and
			// body separately): one system call and one packet instead
			// of two, for the token responses and error pages this proxy
			// is about.
			body, err := b.readAll(cl, s.opts.UpstreamTimeout)
			_ = b.rc.Close()
			if err != nil {
				// Nothing was sent to the client yet: it gets a 502
				// that says what happened, instead of a cut response.
				reason, status := describeUpstreamError(err, 0)
				if errors.Is(err, errBodyStalled) {
					reason, status = fmt.Sprintf("the body stopped after %d of %d bytes (no more within %s, timeout)", b.size, cl, s.opts.UpstreamTimeout), "http_response_timeout"
				}
				msg := "oauthproxy: upstream " + hostPort(req.URL) + ": response body: " + reason
				if req.Context().Err() != nil {
					msg, status = flow.ClientAbortedPrefix+"the client closed the connection while "+hostPort(req.URL)+" sent the response body", ""
				}
				x.Error, x.ErrorType = msg, status
				e.finish(nil, time.Time{})
				return errorResponse(req, http.StatusBadGateway, msg, status), nil
			}
			mb := &memBody{e: e, cc: cc}
			mb.r.Reset(body)
			resp.Body = mb
			cc.cork()
		} else {
			if b.limit > 0 && cl > 0 && cl <= b.limit {
				b.buf = make([]byte, 0, cl)
			}
			b.idle = s.opts.UpstreamIdleTimeout
			resp.Body = b
		}
	}
	if intercepted && s.shutting.Load() {
		resp.Close = true
	}
	return resp, nil
}

// clientBodyFailed records and answers a request whose body could not be
// read from the client: 408 when the client stalled (also a line in the
// log: a stuck client is otherwise invisible), else 400; the connection is
// closed after the answer. upstream says whether the request had already
// gone upstream (it has been canceled).
func (e *exchange) clientBodyFailed(req *http.Request, err error, upstream bool) *http.Response {
	msg := "oauthproxy: reading the request body from the client: " + describeClientError(err, e.s.idle)
	status := http.StatusBadRequest
	if isTimeout(err) {
		status = http.StatusRequestTimeout
		what := "nothing was sent upstream"
		if upstream {
			what = "the upstream request was canceled"
		}
		e.s.warnStalled(req, hostPort(req.URL)+req.URL.Path, e.reqb.received(), what)
	}
	e.x.Error, e.x.ErrorType = msg, "http_request_error"
	e.finish(nil, time.Time{})
	resp := errorResponse(req, status, msg, "http_request_error")
	resp.Close = true
	return resp
}

// warnStalled logs a client that stopped sending its request body: the
// client's address, method, target (host and path) and the body bytes
// that did arrive; what says what became of the request.
func (s *Server) warnStalled(req *http.Request, target string, received int64, what string) {
	if ev := s.log.Warn(); ev != nil {
		ev.Str("component", "proxy").Str("client", req.RemoteAddr).Str("method", req.Method).
			Str("target", redact.Text(target)).Int64("body_bytes", received).
			Msgf("proxy: stalled client: it stopped sending the request body (nothing for %s, idle timeout); answered 408 and closed the connection, %s", s.idle, what)
	}
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// newID returns a random (version 4) UUID. IDs only need to be unique,
// not secret: they come from the runtime's per-thread ChaCha8 generator,
// without the system call crypto/rand costs per exchange.
func newID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// exchangeKey is the context key of the *exchange in upstream requests.
type exchangeKey struct{}

// dial is the transport's DialContext: it adds DNS and connect timing
// hooks for the exchange that caused the dial.
func (s *Server) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if e, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			DNSStart:     func(httptrace.DNSStartInfo) { e.mark(&e.dnsStart) },
			DNSDone:      func(httptrace.DNSDoneInfo) { e.mark(&e.dnsDone) },
			ConnectStart: func(string, string) { e.mark(&e.connStart) },
			ConnectDone:  func(string, string, error) { e.mark(&e.connDone) },
		})
	}
	c, err := s.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	u := newUpConn(c)
	u.open = &s.upstreamConns
	s.upstreamConns.Add(1)
	return u, nil
}

// upConn is an upstream connection whose addresses are formatted once,
// not on every exchange that reuses it.
type upConn struct {
	net.Conn
	remote, local *strAddr
	open          *atomic.Int64 // the Server's count of open upstream connections, or nil
	closed        atomic.Bool
}

// Close closes the connection and counts it closed once.
func (u *upConn) Close() error {
	if u.open != nil && u.closed.CompareAndSwap(false, true) {
		u.open.Add(-1)
	}
	return u.Conn.Close()
}

func newUpConn(c net.Conn) *upConn {
	u := &upConn{Conn: c, remote: &strAddr{}, local: &strAddr{}}
	if a := c.RemoteAddr(); a != nil {
		*u.remote = strAddr{a.Network(), a.String()}
	}
	if a := c.LocalAddr(); a != nil {
		*u.local = strAddr{a.Network(), a.String()}
	}
	return u
}

// RemoteAddr is the upstream address, formatted once.
func (u *upConn) RemoteAddr() net.Addr { return u.remote }

// LocalAddr is the local (egress) address, formatted once.
func (u *upConn) LocalAddr() net.Addr { return u.local }

// strAddr is a net.Addr with its string already made.
type strAddr struct{ net, s string }

func (a *strAddr) Network() string { return a.net }
func (a *strAddr) String() string  { return a.s }

// exchange is the recording state of one request.
type exchange struct {
	s           *Server
	x           *flow.Exchange
	cc          *clientConn
	intercepted bool
	start       time.Time
	req         *reqBody
	resp        *http.Response
	body        *respBody
	done        atomic.Bool
	trace       httptrace.ClientTrace
	reqb        reqBody  // e.req points here when there is a request body
	respb       respBody // e.body points here when there is a response body

	// Trace hooks may run on the transport's goroutines, even after
	// RoundTrip returned (a dial this request started may finish later):
	// each event is the first time it was seen, as an offset from start
	// plus one (0: not seen), set atomically.
	dnsStart, dnsDone   atomic.Int64
	connStart, connDone atomic.Int64
	tlsStart, tlsDone   atomic.Int64
	gotConnAt, wrote    atomic.Int64
	firstByte           atomic.Int64
	// Set by the first GotConn before it stores gotConnAt.
	reused        bool
	remote, local net.Addr
}

// mark records the first occurrence of an event.
func (e *exchange) mark(t *atomic.Int64) {
	t.CompareAndSwap(0, int64(time.Since(e.start))+1)
}

func (e *exchange) gotConn(info httptrace.GotConnInfo) {
	if e.gotConnAt.Load() != 0 {
		return
	}
	// GotConn comes once per request, on the goroutine running RoundTrip.
	e.reused = info.Reused
	if info.Conn != nil {
		e.remote, e.local = info.Conn.RemoteAddr(), info.Conn.LocalAddr()
	}
	e.mark(&e.gotConnAt)
}

// finish completes the exchange once, when the proxy is done relaying it:
// the response body was closed after EOF (bodyErr io.EOF), after a read
// error, or early (errClosedEarly); or there was no body or no response.
// end is when the body ended (zero: now). It hands the exchange to the sink.
func (e *exchange) finish(bodyErr error, end time.Time) {
	if !e.done.CompareAndSwap(false, true) {
		return
	}
	if end.IsZero() {
		end = time.Now()
	}
	x := e.x
	t := &x.Timings
	at := func(v *atomic.Int64) (time.Duration, bool) {
		n := v.Load()
		return time.Duration(n - 1), n != 0
	}
	span := func(a, b *atomic.Int64) time.Duration {
		from, ok1 := at(a)
		to, ok2 := at(b)
		if !ok1 || !ok2 {
			return 0
		}
		return nonNeg(to - from)
	}
	t.DNS = span(&e.dnsStart, &e.dnsDone)
	t.Connect = span(&e.connStart, &e.connDone)
	t.TLS = span(&e.tlsStart, &e.tlsDone)
	total := end.Sub(e.start)
	sendFrom, _ := at(&e.gotConnAt)
	first, hasFirst := at(&e.firstByte)
	if wrote, ok := at(&e.wrote); ok {
		// HTTP/2 may report the request written after the response came.
		if hasFirst && wrote > first {
			wrote = first
		}
		wrote = min(wrote, total)
		t.Send = nonNeg(wrote - sendFrom)
		if hasFirst {
			t.Wait = nonNeg(first - wrote)
		}
	}
	if hasFirst && x.Response != nil {
		t.Receive = nonNeg(total - first)
	}
	t.Total = total
	if e.gotConnAt.Load() != 0 {
		x.Conn.Reused = e.reused
		if e.remote != nil {
			x.Conn.ServerAddr = e.remote.String()
		}
		if e.local != nil {
			x.Conn.LocalAddr = e.local.String()
		}
	}

	if e.req != nil {
		x.Request.Body = e.req.snapshot(x.Request.Header.Get("Content-Encoding"), e.s.bodyCap)
	}
	if r := x.Response; r != nil && e.body != nil {
		b := e.body
		r.Body = makeBody(b.buf, b.size, b.truncated || bodyErr != io.EOF, e.resp.Header.Get("Content-Encoding"), e.s.bodyCap)
		if len(e.resp.Trailer) > 0 {
			r.Trailer = e.resp.Trailer
		}
		switch {
		case bodyErr == errClosedEarly && !e.s.shutting.Load(), bodyErr != nil && bodyErr != io.EOF && clientGone(e.resp):
			// The relay stopped because writing to the client failed: the
			// client left mid-download. Closing the body closed the
			// upstream response; the exchange says whose doing it was.
			what := "the client closed the connection"
			if e.cc != nil && e.cc.stalledReader.Load() {
				what = "the client stopped reading the response (nothing went out for " + e.s.idle.String() + ", idle timeout)"
			}
			x.Error = flow.ClientAbortedPrefix + what + " while " + hostPort(x.Request.URL) + " sent the response body; the upstream response was closed"
		case bodyErr != nil && bodyErr != io.EOF && bodyErr != errClosedEarly:
			reason, status := describeUpstreamError(bodyErr, 0)
			x.Error = "oauthproxy: upstream " + hostPort(x.Request.URL) + ": response body: " + reason
			x.ErrorType = status
		}
	}
	if e.intercepted && e.cc != nil {
		e.cc.release()
	}
	e.s.emit(x)
	e.s.inflight.Add(-1)
}

func nonNeg(d time.Duration) time.Duration { return max(d, 0) }

// clientGone reports whether the request's client went away (its context
// was canceled), which makes body read errors the client's, not upstream's.
func clientGone(resp *http.Response) bool {
	return resp.Request != nil && resp.Request.Context().Err() != nil
}

// errClosedEarly is what finish gets when the response body was closed
// before EOF (client gone, or relay stopped).
var errClosedEarly = errors.New("response body closed before EOF")

// respBody tees the upstream response body into a bounded capture while
// the proxy relays it, and finishes the exchange when the relay closes it
// (goproxy closes every response body once it has written it or failed).
type respBody struct {
	rc        io.ReadCloser
	e         *exchange
	limit     int64 // 0: count only
	buf       []byte
	size      int64
	truncated bool
	endErr    error // first read error (io.EOF at the end)
	endAt     time.Time

	// With Options.UpstreamIdleTimeout: timer, running only during a
	// Read, fires stall when no bytes came for idle. (readAll uses stall
	// and stalled with its own timer.)
	idle    time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

// stall cuts a body that stopped arriving: closing it makes the blocked
// Read return.
func (b *respBody) stall() {
	b.stalled.Store(true)
	_ = b.rc.Close()
}

func (b *respBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		// The bound runs only while waiting for upstream bytes, not while
		// the relay writes them to a slow client.
		if b.timer == nil {
			b.timer = time.AfterFunc(b.idle, b.stall)
		} else {
			b.timer.Reset(b.idle)
		}
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
		if err != nil && b.stalled.Load() {
			err = fmt.Errorf("%w: no bytes for %s (--upstream-idle-timeout)", errBodyStalled, b.idle)
		}
	}
	if n > 0 {
		b.size += int64(n)
		if b.limit > 0 {
			b.buf, b.truncated = keep(b.buf, p[:n], b.limit, b.truncated)
		} else {
			b.truncated = true
		}
	}
	if err != nil && b.endErr == nil {
		b.endErr, b.endAt = err, time.Now()
	}
	return n, err
}

func (b *respBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	if b.endErr == nil {
		b.e.finish(errClosedEarly, time.Time{})
	} else {
		b.e.finish(b.endErr, b.endAt)
	}
	return err
}

// smallBody is the largest body (by Content-Length) that is read whole
// before it is relayed, so that it travels with its header in one write.
const smallBody = 16 << 10

// errBodyStalled is readAll's error when the upstream stopped sending.
var errBodyStalled = errors.New("stalled")

// readAll reads a whole response body of Content-Length n, up to its EOF
// (which lets net/http reuse the connection), and captures it as Read
// would have. The body must arrive within timeout (none when <= 0), else
// it is closed and the error is errBodyStalled.
func (b *respBody) readAll(n int64, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, 0, n+1)
	var (
		err   error
		timer *time.Timer
	)
	if timeout > 0 {
		timer = time.AfterFunc(timeout, b.stall)
	}
	for {
		var m int
		m, err = b.rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			break
		}
		if len(buf) == cap(buf) {
			err = fmt.Errorf("more than the %d bytes of Content-Length", n)
			break
		}
	}
	if timer != nil && !timer.Stop() && b.stalled.Load() && err != io.EOF {
		err = errBodyStalled
	}
	b.size, b.endErr, b.endAt = int64(len(buf)), err, time.Now()
	switch {
	case b.limit <= 0:
		b.truncated = len(buf) > 0
	case int64(len(buf)) > b.limit:
		b.buf, b.truncated = buf[:b.limit:b.limit], true
	default:
		b.buf = buf[:len(buf):len(buf)]
	}
	if err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// memBody relays a small response body that readAll read in full; closing
// it finishes the exchange and sends what the client connection held back.
type memBody struct {
	r  bytes.Reader
	e  *exchange
	cc *clientConn
}

func (m *memBody) Read(p []byte) (int, error) { return m.r.Read(p) }

func (m *memBody) Close() error {
	err := m.cc.uncork() // the client first
	b := &m.e.respb
	if m.r.Len() > 0 {
		m.e.finish(errClosedEarly, time.Time{})
	} else {
		m.e.finish(b.endErr, b.endAt)
	}
	return err
}

// keep appends p to buf without growing it past limit.
func keep(buf, p []byte, limit int64, truncated bool) ([]byte, bool) {
	room := limit - int64(len(buf))
	if room <= 0 {
		return buf, true
	}
	if int64(len(p)) > room {
		p = p[:room]
		truncated = true
	}
	return append(buf, p...), truncated
}

// reqBody tees the client's request body as the transport reads it (on
// its own goroutine, hence the lock).
type reqBody struct {
	rc    io.ReadCloser
	limit int64
	cc    *clientConn // set for a plain request: its body's idle deadline (beginBody)

	mu        sync.Mutex
	buf       []byte
	size      int64
	truncated bool
	eof       bool
	sealed    bool
	err       error // the first read error other than io.EOF
}

func (b *reqBody) Read(p []byte) (int, error) {
	if b.cc != nil {
		b.cc.bodyRead()
	}
	n, err := b.rc.Read(p)
	b.mu.Lock()
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	if !b.sealed {
		if n > 0 {
			b.size += int64(n)
			if b.limit > 0 {
				b.buf, b.truncated = keep(b.buf, p[:n], b.limit, b.truncated)
			} else {
				b.truncated = true
			}
		}
		if err == io.EOF {
			b.eof = true
		}
	}
	b.mu.Unlock()
	if err == io.EOF && b.cc != nil {
		b.cc.endBody()
	}
	return n, err
}

// Close closes the client's body; for a plain request, then ends the idle
// deadline (after: net/http's Close may read what is left of the body).
func (b *reqBody) Close() error {
	err := b.rc.Close()
	if b.cc != nil {
		b.cc.endBody()
	}
	return err
}

// clientErr is the first error reading the body from the client, other
// than its end.
func (b *reqBody) clientErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// received is how many body bytes came from the client.
func (b *reqBody) received() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
}

// readAll reads the whole body of Content-Length n from the client,
// captures it, and closes the client's body.
func (b *reqBody) readAll(n int64) ([]byte, error) {
	buf := make([]byte, n)
	got, err := 0, error(nil)
	for got < len(buf) && err == nil { // io.ReadFull, with the idle deadline moved per read
		if b.cc != nil {
			b.cc.bodyRead()
		}
		var m int
		m, err = b.rc.Read(buf[got:])
		got += m
	}
	switch {
	case got == len(buf):
		err = nil
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	_ = b.Close()
	if err != nil {
		// Keep what did arrive, for the exchange.
		b.mu.Lock()
		b.size, b.err = int64(got), err
		if b.limit > 0 {
			b.buf, b.truncated = keep(nil, buf[:got], b.limit, false)
		}
		b.mu.Unlock()
		return nil, err
	}
	b.mu.Lock()
	b.size, b.eof = n, true
	switch {
	case b.limit <= 0:
		b.truncated = true
	case n > b.limit:
		b.buf, b.truncated = buf[:b.limit], true
	default:
		b.buf = buf
	}
	b.mu.Unlock()
	return buf, nil
}

// expectsContinue reports whether the client waits for "100 Continue"
// before it sends the body: the body must then not be read early.
func expectsContinue(h http.Header) bool {
	return hasToken(h["Expect"], "100-continue")
}

// snapshot seals the capture and returns it as a flow.Body.
func (b *reqBody) snapshot(encoding string, limit int64) flow.Body {
	b.mu.Lock()
	b.sealed = true
	buf, size, trunc := b.buf, b.size, b.truncated || !b.eof
	b.mu.Unlock()
	return makeBody(buf, size, trunc, encoding, limit)
}

// makeBody builds a flow.Body from captured wire bytes, removing the
// Content-Encoding only when there is something to decode.
func makeBody(raw []byte, size int64, truncated bool, encoding string, limit int64) flow.Body {
	b := flow.Body{Size: size, Truncated: truncated, Encoding: encoding}
	if len(raw) == 0 || encoding == "" || strings.EqualFold(encoding, "identity") {
		b.Data = raw
		return b
	}
	data, err := content.Decode(encoding, raw, limit)
	b.Data = data
	if err != nil {
		b.DecodeError = err.Error()
		if errors.Is(err, content.ErrTooLarge) {
			b.Truncated = true
		}
	}
	return b
}

// skipCapture reports whether a response body is obviously large binary
// media whose bytes are not worth keeping (its size is still counted).
func skipCapture(contentType string, status int) bool {
	if status >= 400 || contentType == "" {
		return false
	}
	for _, p := range [...]string{"image/", "video/", "audio/", "application/octet-stream", "application/zip"} {
		if len(contentType) >= len(p) && strings.EqualFold(contentType[:len(p)], p) {
			return true
		}
	}
	return false
}

// hopHeaders are request headers meant for the proxy alone.
var hopHeaders = [...]string{"Connection", "Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "Te"}

func hasHopHeaders(h http.Header) bool {
	for _, k := range hopHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// removeHopHeaders deletes hop-by-hop fields (and those named by
// Connection) except what a WebSocket upgrade needs; "TE: trailers" stays.
func removeHopHeaders(h http.Header) {
	ws := isWebSocket(h)
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" || (ws && strings.EqualFold(tok, "upgrade")) {
				continue
			}
			h.Del(tok)
		}
	}
	if !ws {
		h.Del("Connection")
	} else {
		h["Connection"] = []string{"Upgrade"}
	}
	h.Del("Proxy-Connection")
	h.Del("Proxy-Authorization")
	h.Del("Keep-Alive")
	if te := h["Te"]; len(te) > 0 {
		if hasToken(te, "trailers") {
			h["Te"] = []string{"trailers"}
		} else {
			h.Del("Te")
		}
	}
}

func isWebSocket(h http.Header) bool {
	return hasToken(h["Connection"], "upgrade") && hasToken(h["Upgrade"], "websocket")
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// hostPort is u's host with the scheme's default port added when missing.
func hostPort(u *url.URL) string {
	h := u.Host
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	port := "80"
	if u.Scheme == "https" || u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), port)
}

// certFacts caches the issuer and fingerprint of upstream leaves: the TLS
// stack shares one parsed *x509.Certificate between the connections that
// presented it, so keep-alive requests pay for neither.
var (
	certFacts      sync.Map // *x509.Certificate -> *leafFacts
	certFactsCount atomic.Int64
)

type leafFacts struct{ issuer, sha string }

func setTLSFacts(c *flow.Conn, st *tls.ConnectionState) {
	c.TLSVersion = tls.VersionName(st.Version)
	c.ALPN = st.NegotiatedProtocol
	c.CipherSuite = cipherName(st.CipherSuite)
	c.ServerName = st.ServerName
	if len(st.PeerCertificates) == 0 {
		return
	}
	leaf := st.PeerCertificates[0]
	f := factsOf(leaf)
	c.CertIssuer, c.CertSHA256 = f.issuer, f.sha
}

// cipherNames caches tls.CipherSuiteName, which builds the suite list on
// every call.
var cipherNames = func() map[uint16]string {
	m := map[uint16]string{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		m[cs.ID] = cs.Name
	}
	return m
}()

func cipherName(id uint16) string {
	if n, ok := cipherNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

func factsOf(leaf *x509.Certificate) *leafFacts {
	if v, ok := certFacts.Load(leaf); ok {
		return v.(*leafFacts)
	}
	sum := sha256.Sum256(leaf.Raw)
	f := &leafFacts{issuer: leaf.Issuer.String(), sha: hex.EncodeToString(sum[:])}
	if certFactsCount.Add(1) > 4096 {
		certFacts.Clear()
		certFactsCount.Store(0)
	}
	certFacts.Store(leaf, f)
	return f
}

// errorResponse is the proxy's own short plain-text response.
func errorResponse(req *http.Request, status int, msg, proxyStatus string) *http.Response {
	body := msg + "\n"
	h := http.Header{
		"Content-Type":           {"text/plain; charset=utf-8"},
		"X-Content-Type-Options": {"nosniff"},
		"Cache-Control":          {"no-store"},
	}
	if proxyStatus != "" {
		// RFC 9209 Proxy-Status names the failure for machines.
		h["Proxy-Status"] = []string{"oauthproxy; error=" + proxyStatus}
	}
	return &http.Response{
		Status:        http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
