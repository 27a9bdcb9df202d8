package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client connection modes. While net/http owns a connection (modeServer)
// its own ReadHeaderTimeout and IdleTimeout apply. Once goproxy has hijacked
// it for interception the connection manages its read deadlines itself,
// request by request: idle between requests, header from the first byte of
// a request (TLS handshake included) until the recorder sees the request,
// active while the exchange is relayed. An upgraded (WebSocket) connection
// has no deadlines.
const (
	modeServer  int32 = iota // net/http owns deadlines
	modePending              // CONNECT being intercepted, until goproxy writes its 200
	modeIdle                 // between requests in an intercepted tunnel
	modeHeader               // reading a request header in an intercepted tunnel
	modeActive               // an exchange in progress in an intercepted tunnel
	modeRaw                  // upgraded: bytes relayed without deadlines
)

// listener wraps accepted connections in clientConn and tracks them for Shutdown.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	cc := &clientConn{
		Conn:   c,
		s:      s,
		id:     "c" + strconv.FormatUint(s.connSeq.Add(1), 10),
		idle:   s.idle,
		header: s.header,
	}
	s.mu.Lock()
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
	return cc, nil
}

// clientConn is a client connection accepted by the proxy.
type clientConn struct {
	net.Conn
	s      *Server
	id     string
	idle   time.Duration
	header time.Duration

	mode atomic.Int32
	// rdl and wdl are the read and write deadlines last set in managed
	// modes (unix ns; 0 none known, -1 cleared). Only the goroutine reading
	// (writing) an intercepted tunnel touches rdl (wdl).
	rdl, wdl  int64
	hdl       int64 // header deadline of the request being read (unix ns, 0 none)
	closeOnce sync.Once
	closeErr  error

	// While corked, writes (TLS records) are held in pending and sent in
	// one system call by uncork. The goroutine relaying the tunnel corks
	// and uncorks; wmu also orders them with a write from elsewhere (a
	// close_notify at shutdown).
	wmu     sync.Mutex
	corked  bool
	pending []byte

	// Read ahead by an abort watch, returned by the next Reads; only the
	// goroutine reading the tunnel (or the watch it waits for) touches them.
	stash    []byte
	stashErr error
	// watch is the abort watch of the exchange waiting for upstream.
	watch abortWatch

	// stalledReader is set when a write to the client timed out: it
	// stopped reading (a dead connection from then on).
	stalledReader atomic.Bool
	// respWDL is the write deadline respWrite last set (unix ns, 0 none).
	respWDL int64

	// The request body of a plain (non-CONNECT) request: see beginBody.
	bodyMu sync.Mutex
	bodyOn atomic.Bool // set and cleared under bodyMu
	bodyDL int64       // the deadline bodyRead last set (unix ns), under bodyMu
}

// corkMax bounds what a corked connection holds back: past it, writes go
// out at once.
const corkMax = 64 << 10

// cork holds back writes until uncork (or the next read, or corkMax).
func (c *clientConn) cork() {
	c.wmu.Lock()
	c.corked = true
	c.wmu.Unlock()
}

// uncork sends what was held back, in one write.
func (c *clientConn) uncork() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flush()
}

// flush uncorks and writes what was held back; wmu is held.
func (c *clientConn) flush() error {
	c.corked = false
	if len(c.pending) == 0 {
		return nil
	}
	p := c.pending
	c.pending = c.pending[:0]
	_, err := c.write(p)
	if cap(c.pending) > corkMax {
		c.pending = nil
	}
	return err
}

// connKey is the context key of the *clientConn in request contexts.
type connKey struct{}

// connFrom returns the client connection a request arrived on, or nil.
func connFrom(ctx context.Context) *clientConn {
	cc, _ := ctx.Value(connKey{}).(*clientConn)
	return cc
}

// tunnelInfo is goproxy's per-CONNECT UserData for intercepted tunnels.
type tunnelInfo struct {
	conn *clientConn
}

// manage marks the connection as about to be intercepted. Deadlines are
// taken over at goproxy's first write (its "200 OK"), which comes after
// net/http has finished with the connection (hijack aborts net/http's
// background read by moving the read deadline; taking over earlier would
// race with that).
func (c *clientConn) manage() { c.mode.Store(modePending) }

// activate marks the start of an exchange read from an intercepted tunnel.
func (c *clientConn) activate() {
	m := c.mode.Load()
	if m == modeIdle || m == modeHeader {
		c.mode.CompareAndSwap(m, modeActive)
	}
}

// release marks the end of an exchange in an intercepted tunnel.
func (c *clientConn) release() {
	c.mode.CompareAndSwap(modeActive, modeIdle)
}

// upgrade switches an intercepted tunnel to raw relaying (WebSocket).
func (c *clientConn) upgrade() {
	if m := c.mode.Load(); m != modeServer {
		c.mode.Store(modeRaw)
		_ = c.Conn.SetDeadline(time.Time{})
	}
}

// SetReadDeadline passes through and forgets the managed read deadline.
// A call from net/http also ends a plain request body's deadline
// (beginBody): net/http has taken the connection back.
func (c *clientConn) SetReadDeadline(t time.Time) error {
	if c.bodyOn.Load() {
		c.bodyMu.Lock()
		c.bodyOn.Store(false)
		c.bodyMu.Unlock()
	}
	c.rdl = 0
	return c.Conn.SetReadDeadline(t)
}

// Plain requests' bodies. net/http clears the read deadline once it has
// read a request header (ReadTimeout is not used: it would also bound the
// wait for upstream), so a client that announces a body and then stops
// sending it, without closing, would hold its request and the upstream
// request for ever. While the proxy reads such a body, the connection gets
// the policy of an exchange in an intercepted tunnel (modeActive): no byte
// for IdleTimeout ends the read with a timeout. beginBody starts it,
// bodyRead moves the deadline before each read, endBody clears it once the
// body is done; net/http's own SetReadDeadline (its background read
// starting at the body's end or being aborted, the next request's header)
// ends it too, under bodyMu, so a late endBody never clears a deadline
// net/http set, and the wait for upstream after the body is not bounded.

// beginBody starts the idle deadline of a plain request's body.
func (c *clientConn) beginBody() {
	if c.idle <= 0 || c.mode.Load() != modeServer {
		return
	}
	c.bodyMu.Lock()
	c.bodyOn.Store(true)
	c.bodyDL = 0
	c.bodyMu.Unlock()
}

// armBody starts the idle deadline of a request body the proxy does not
// read itself (a request it refuses): net/http's own reads of it (the
// discard of an unread body after the handler, at most 256 KiB) then end
// within IdleTimeout instead of waiting for ever for a client that
// stopped. The deadline is not moved by those reads; net/http clears it
// when the body ends or the next request begins.
func (c *clientConn) armBody() {
	c.beginBody()
	c.bodyRead()
}

// Answers written by net/http to a client that stops reading them (a
// plain proxied response, a page of the web UI): net/http has no write
// deadline (WriteTimeout would also cut event streams and long-polls), so
// the writer would block for as long as the client keeps the connection
// open, holding the exchange and its upstream request. While an answer is
// written (streamWriter), each write gets about IdleTimeout to go out
// (respWrite, coarsely like idleReadDeadline); the deadline is renewed for
// net/http's last flush after the handler (respDone) and cleared when the
// connection's next request begins (respReset), so a quiet stream is never
// cut, only a stalled reader. Only the goroutine serving the connection's
// request touches respWDL.

// respWrite moves the write deadline to about IdleTimeout from now before
// a write of an answer.
func (c *clientConn) respWrite() {
	if c.idle <= 0 || c.mode.Load() != modeServer {
		return
	}
	now := time.Now()
	if c.respWDL-now.UnixNano() > int64(c.idle)*3/4 {
		return
	}
	dl := now.Add(c.idle)
	c.respWDL = dl.UnixNano()
	_ = c.Conn.SetWriteDeadline(dl)
}

// respDone gives net/http's flush of the rest of an answer at least 3/4
// of IdleTimeout.
func (c *clientConn) respDone() {
	if c.respWDL != 0 {
		c.respWrite()
	}
}

// respReset clears an answer's write deadline at the start of the
// connection's next request.
func (c *clientConn) respReset() {
	if c.respWDL != 0 {
		c.respWDL = 0
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
}

// bodyRead moves the read deadline to about IdleTimeout from now before a
// read of the body, coarsely like idleReadDeadline.
func (c *clientConn) bodyRead() {
	if !c.bodyOn.Load() {
		return
	}
	c.bodyMu.Lock()
	if c.bodyOn.Load() {
		now := time.Now()
		if c.bodyDL-now.UnixNano() <= int64(c.idle)*3/4 {
			dl := now.Add(c.idle)
			c.bodyDL = dl.UnixNano()
			_ = c.Conn.SetReadDeadline(dl)
		}
	}
	c.bodyMu.Unlock()
}

// endBody clears the body's deadline, unless net/http has set one since.
func (c *clientConn) endBody() {
	if !c.bodyOn.Load() {
		return
	}
	c.bodyMu.Lock()
	if c.bodyOn.Load() {
		c.bodyOn.Store(false)
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	c.bodyMu.Unlock()
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.stash != nil || c.stashErr != nil {
		return c.readStash(p)
	}
	c.wmu.Lock()
	var err error
	if c.corked || len(c.pending) > 0 {
		// Never wait for the client with its answer held back.
		err = c.flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	switch c.mode.Load() {
	case modeIdle:
		c.idleReadDeadline()
		n, err := c.Conn.Read(p)
		if n > 0 && c.mode.CompareAndSwap(modeIdle, modeHeader) {
			// The header deadline runs from the first byte. It is armed
			// only if the header needs another read: usually the whole
			// header came in this one, and no timer is touched.
			c.hdl = 0
			if c.header > 0 {
				c.hdl = time.Now().Add(c.header).UnixNano()
			}
		}
		return n, err
	case modeHeader:
		if c.rdl != c.hdl {
			c.rdl = c.hdl
			if c.hdl == 0 {
				_ = c.Conn.SetReadDeadline(time.Time{})
			} else {
				_ = c.Conn.SetReadDeadline(time.Unix(0, c.hdl))
			}
		}
	case modeActive:
		c.idleReadDeadline()
	}
	return c.Conn.Read(p)
}

// idleReadDeadline moves the read deadline to about IdleTimeout from now.
// Deadlines are coarse: one still more than 3/4 of IdleTimeout away is
// kept, which saves a timer update on most reads.
func (c *clientConn) idleReadDeadline() {
	if c.idle <= 0 {
		if c.rdl != -1 {
			c.rdl = -1
			_ = c.Conn.SetReadDeadline(time.Time{})
		}
		return
	}
	now := time.Now()
	if c.rdl > 0 && c.rdl != c.hdl && c.rdl-now.UnixNano() > int64(c.idle)*3/4 {
		return
	}
	dl := now.Add(c.idle)
	c.rdl = dl.UnixNano()
	_ = c.Conn.SetReadDeadline(dl)
}

func (c *clientConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.corked && len(c.pending) == 0 {
		return c.write(p)
	}
	c.pending = append(c.pending, p...)
	if c.corked && len(c.pending) <= corkMax {
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// write writes p with the managed write deadline.
func (c *clientConn) write(p []byte) (int, error) {
	switch c.mode.Load() {
	case modePending:
		c.mode.CompareAndSwap(modePending, modeIdle)
		fallthrough
	case modeIdle, modeHeader, modeActive:
		if c.idle > 0 {
			// Coarse, like idleReadDeadline.
			now := time.Now()
			if c.wdl-now.UnixNano() <= int64(c.idle)*3/4 {
				dl := now.Add(c.idle)
				c.wdl = dl.UnixNano()
				_ = c.Conn.SetWriteDeadline(dl)
			}
		}
	}
	n, err := c.Conn.Write(p)
	if err != nil && isTimeout(err) {
		c.stalledReader.Store(true)
	}
	return n, err
}

// Close closes the connection once and forgets it.
func (c *clientConn) Close() error {
	c.closeOnce.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *clientConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

// checkBasic reports whether header is "Basic base64(want)", comparing the
// credential in constant time.
func checkBasic(header string, want []byte) bool {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Client abort detection in intercepted tunnels. net/http cancels a
// request's context when the client closes the connection of a plain
// proxied request (its background read sees the EOF); a hijacked,
// intercepted connection has no such read, so a client that gave up would
// hold its upstream request (and two descriptors) until the upstream
// timeout. While an exchange waits for upstream, watchAbort reads the
// client connection in the background: EOF or a reset cancels the
// upstream request. Bytes that arrive meanwhile (a TLS close_notify, a
// pipelined request) are kept for the next Read.

// abortWatchDelay is how long an exchange waits for upstream before its
// client connection is watched: most answers come sooner, and then no
// goroutine is started.
const abortWatchDelay = 100 * time.Millisecond

// maxStash bounds the bytes read ahead while watching; past it the watch
// stops (the client is alive and talking).
const maxStash = 16 << 10

// abortWatch is the background read of a client connection while one of
// its exchanges waits for upstream. A connection has one, reused by its
// exchanges (one at a time on an intercepted tunnel): arming it is a timer
// Reset, not a new timer, goroutine closure and channel per exchange.
type abortWatch struct {
	c     *clientConn
	timer *time.Timer // calls start; made by the first watchAbort

	mu      sync.Mutex
	cancel  context.CancelFunc
	armed   bool          // between watchAbort and stop
	started bool          // the background read runs (or ran) for this arming
	done    chan struct{} // closed when that read ends
	aborted atomic.Bool
}

// watchAbort arranges for cancel to be called if the client closes the
// connection before stop is called. The connection must not be read by
// anyone else until stop returns.
func (c *clientConn) watchAbort(cancel context.CancelFunc) *abortWatch {
	w := &c.watch
	w.mu.Lock()
	w.c, w.cancel = c, cancel
	w.armed, w.started, w.done = true, false, nil
	w.aborted.Store(false)
	if w.timer == nil {
		w.timer = time.AfterFunc(abortWatchDelay, w.start)
	} else {
		w.timer.Reset(abortWatchDelay)
	}
	w.mu.Unlock()
	return w
}

// start begins the background read. A firing that comes late, after its
// exchange's stop, finds the watch disarmed and does nothing; one that
// comes after the next exchange armed it starts that watch a little early,
// which is harmless: until its stop nothing else reads the connection.
func (w *abortWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed || w.started {
		return
	}
	w.started = true
	w.done = make(chan struct{})
	go w.read(w.cancel, w.done)
}

func (w *abortWatch) read(cancel context.CancelFunc, done chan struct{}) {
	defer close(done)
	c := w.c
	buf := make([]byte, 2048)
	for {
		n, err := c.Conn.Read(buf)
		if n > 0 {
			c.stash = append(c.stash, buf[:n]...)
			if len(c.stash) >= maxStash {
				return
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return // stop moved the deadline, or the idle timeout: not an abort
		}
		// EOF or a reset: the client is gone.
		c.stashErr = err
		w.aborted.Store(true)
		cancel()
		return
	}
}

// stop ends the watch and waits for the background read to end. It
// reports whether the client aborted.
func (w *abortWatch) stop() bool {
	w.mu.Lock()
	w.armed = false
	started, done := w.started, w.done
	w.mu.Unlock()
	w.timer.Stop()
	if started {
		_ = w.c.Conn.SetReadDeadline(time.Unix(1, 0)) // unblock the read
		<-done
		w.c.rdl = 0 // the next Read sets its deadline again
	}
	return w.aborted.Load()
}

// readStash returns bytes (or the error) read ahead by an abort watch.
func (c *clientConn) readStash(p []byte) (int, error) {
	if len(c.stash) > 0 {
		n := copy(p, c.stash)
		c.stash = c.stash[n:]
		if len(c.stash) == 0 {
			c.stash = nil
		}
		return n, nil
	}
	err := c.stashErr
	c.stashErr = nil
	return 0, err
}
