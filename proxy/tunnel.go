package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// tunnel relays a CONNECT to host untouched (passthrough). A failed dial
// is answered with 502; the tunnel becomes one CONNECT exchange when it
// closes (Request.Body.Size: bytes client to server, Response.Body.Size:
// bytes server to client).
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request, host string) {
	s.tunnels.Add(1)
	defer s.tunnels.Add(-1)
	start := time.Now()
	x := &flow.Exchange{ID: uuid.NewString(), Seq: int(s.seq.Add(1)), Start: start}
	x.Request = flow.Request{Method: http.MethodConnect, URL: &url.URL{Host: host}, Proto: r.Proto, Header: recordedHeader(r.Header)}
	x.Conn.ClientAddr = r.RemoteAddr
	if cc := connFrom(r.Context()); cc != nil {
		x.Conn.ConnectionID = cc.id
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.opts.DialTimeout)
	up, err := s.dialTunnel(ctx, host)
	cancel()
	x.Timings.Connect = time.Since(start)
	if err != nil {
		reason, status := describeUpstreamError(err, 0)
		msg := "oauthproxy: upstream " + host + ": " + reason
		x.Error, x.ErrorType = msg, status
		x.Timings.Total = time.Since(start)
		s.emit(x)
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Proxy-Status", "oauthproxy; error="+status)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, msg+"\n")
		return
	}
	x.Conn.ServerAddr = up.RemoteAddr().String()
	x.Conn.LocalAddr = up.LocalAddr().String()

	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "oauthproxy: cannot tunnel on this connection", http.StatusInternalServerError)
		return
	}
	client, brw, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		s.log.Warn().Err(err).Str("host", host).Msg("proxy: hijack for tunnel failed")
		return
	}
	var toUp, toClient int64
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err == nil {
		// Bytes the client sent right after its CONNECT (a ClientHello
		// sent early) are in the server's read buffer.
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			m, _ := up.Write(b)
			toUp += int64(m)
		}
		a, b := relay(client, up, s.idle)
		toUp += a
		toClient = b
	}
	_ = client.Close()
	_ = up.Close()
	x.Response = &flow.Response{Status: http.StatusOK, Proto: "HTTP/1.1", Header: http.Header{}, Body: flow.Body{Size: toClient, Truncated: toClient > 0}}
	x.Request.Body = flow.Body{Size: toUp, Truncated: toUp > 0}
	x.Timings.Total = time.Since(start)
	s.emit(x)
}

// emit hands a finished exchange to the sink. A panicking sink is logged
// and does not take the relay (or the process) down with it.
func (s *Server) emit(x *flow.Exchange) {
	if s.sink == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			s.log.Error().Str("exchange", x.ID).Str("panic", redact.Text(fmt.Sprint(v))).Msg("proxy: sink panicked")
		}
	}()
	s.sink.Handle(x)
}

// recordedHeader is the client's header as recorded in an exchange: the
// credential for this proxy is replaced by its fingerprint.
func recordedHeader(h http.Header) http.Header {
	pa, ok := h["Proxy-Authorization"]
	if !ok {
		return h
	}
	c := h.Clone()
	vals := make([]string, len(pa))
	for i, v := range pa {
		vals[i] = redact.Header("Proxy-Authorization", v)
	}
	c["Proxy-Authorization"] = vals
	return c
}

// relay copies both ways until both directions ended, half-closing as each
// side finishes. A direction is cut only when neither moved a byte for idle.
func relay(client, up net.Conn, idle time.Duration) (toUp, toClient int64) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan int64, 1)
	go func() { done <- pipe(up, client, &last, idle) }()
	toClient = pipe(client, up, &last, idle)
	toUp = <-done
	return toUp, toClient
}

func pipe(dst, src net.Conn, last *atomic.Int64, idle time.Duration) int64 {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		if idle > 0 {
			_ = src.SetReadDeadline(time.Now().Add(idle))
		}
		nr, err := src.Read(buf)
		if nr > 0 {
			last.Store(time.Now().UnixNano())
			if idle > 0 {
				_ = dst.SetWriteDeadline(time.Now().Add(idle))
			}
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				_ = src.Close()
				_ = dst.Close()
				return n
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && idle > 0 && time.Since(time.Unix(0, last.Load())) < idle {
			continue // the other direction is busy
		}
		if errors.Is(err, io.EOF) {
			if hc, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = hc.CloseWrite()
			} else {
				_ = dst.Close()
			}
			return n
		}
		_ = src.Close()
		_ = dst.Close()
		return n
	}
}

// dialTunnel connects to host:port directly or through the upstream proxy.
func (s *Server) dialTunnel(ctx context.Context, host string) (net.Conn, error) {
	u := s.opts.UpstreamProxy
	if u == nil {
		return s.dialer.DialContext(ctx, "tcp", host)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	c, err := s.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if u.Scheme == "https" {
		tc := tls.Client(c, &tls.Config{ServerName: u.Hostname(), RootCAs: s.opts.RootCAs, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		c = tc
	}
	req := "CONNECT " + host + " HTTP/1.1\r\nHost: " + host + "\r\n"
	if s.upProxyAuth != "" {
		req += "Proxy-Authorization: " + s.upProxyAuth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		_ = c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("upstream proxy %s: reading CONNECT response: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = c.Close()
		return nil, fmt.Errorf("upstream proxy %s answered CONNECT with %s", addr, resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads what a bufio.Reader already holds before the conn.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
