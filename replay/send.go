package replay

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// MaxBody caps the captured response body (decoded) at 1 MiB.
const MaxBody = 1 << 20

// Send prepares x (see Prepare), sends it, and returns a new exchange with
// the request as sent, the response (body capped at MaxBody, decoded), the
// timings and the connection facts. A refusal or a request that cannot be
// built is returned as err; a transport failure (refused connection, TLS
// error, timeout, cancelled ctx) is returned as the exchange's Error with a
// nil err, like the proxy records it. Redirects are not followed. The new
// exchange has a fresh ID, the captured Seq and no OAuth annotations: run
// the inspector over it.
func Send(ctx context.Context, x *flow.Exchange, opts Options) (*flow.Exchange, error) {
	req, err := Prepare(x, opts)
	if err != nil {
		return nil, err
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	var body []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			body, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	nx := &flow.Exchange{
		ID:    newID(),
		Seq:   x.Seq,
		Start: time.Now(),
		Request: flow.Request{
			Method: req.Method,
			URL:    cloneURL(req.URL),
			Proto:  "HTTP/1.1",
			Header: req.Header.Clone(),
			Body:   flow.Body{Data: body, Size: int64(len(body))},
		},
	}

	var (
		mu                 sync.Mutex
		dnsStart, conStart time.Time
		tlsStart, wrote    time.Time
	)
	trace := &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { mu.Lock(); dnsStart = time.Now(); mu.Unlock() },
		DNSDone: func(httptrace.DNSDoneInfo) {
			mu.Lock()
			if !dnsStart.IsZero() {
				nx.Timings.DNS = time.Since(dnsStart)
			}
			mu.Unlock()
		},
		ConnectStart: func(string, string) {
			mu.Lock()
			if conStart.IsZero() {
				conStart = time.Now()
			}
			mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			mu.Lock()
			if err == nil && !conStart.IsZero() && nx.Timings.Connect == 0 {
				nx.Timings.Connect = time.Since(conStart)
			}
			mu.Unlock()
		},
		TLSHandshakeStart: func() { mu.Lock(); tlsStart = time.Now(); mu.Unlock() },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			mu.Lock()
			if !tlsStart.IsZero() {
				nx.Timings.TLS = time.Since(tlsStart)
			}
			mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			defer mu.Unlock()
			if info.Conn != nil {
				nx.Conn.LocalAddr = info.Conn.LocalAddr().String()
				nx.Conn.ServerAddr = info.Conn.RemoteAddr().String()
			}
			nx.Conn.Reused = info.Reused
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { mu.Lock(); wrote = time.Now(); mu.Unlock() },
		GotFirstResponseByte: func() {
			mu.Lock()
			if !wrote.IsZero() {
				nx.Timings.Wait = time.Since(wrote)
			}
			mu.Unlock()
		},
	}
	if ctx == nil {
		ctx = context.Background()
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))

	resp, err := client.Do(req)
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		nx.Error = safeError(err)
		nx.Timings.Total = time.Since(nx.Start)
		return nx, nil
	}
	defer resp.Body.Close()
	readStart := time.Now()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	mu.Lock()
	defer mu.Unlock()
	nx.Timings.Receive = time.Since(readStart)
	nx.Timings.Total = time.Since(nx.Start)
	nx.Request.Proto = resp.Proto
	b := flow.Body{Size: int64(len(raw))}
	if len(raw) > MaxBody {
		raw, b.Truncated, b.Size = raw[:MaxBody], true, -1
	}
	if rerr != nil {
		nx.Error = "reading response body: " + safeError(rerr)
		b.Truncated = true
	}
	enc := resp.Header.Get("Content-Encoding")
	if resp.Uncompressed {
		enc = "" // the transport already removed it
	}
	b.Encoding = enc
	data, derr := content.Decode(enc, raw, MaxBody)
	if derr != nil {
		b.DecodeError = derr.Error()
		if errors.Is(derr, content.ErrTooLarge) {
			b.Truncated = true
		} else {
			data = raw
		}
	}
	b.Data = data
	nx.Response = &flow.Response{Status: resp.StatusCode, Reason: flow.ReasonOf(resp.Status, resp.StatusCode), Proto: resp.Proto, Header: resp.Header.Clone(), Body: b}
	if len(resp.Trailer) > 0 {
		nx.Response.Trailer = resp.Trailer.Clone()
	}
	if st := resp.TLS; st != nil {
		nx.Conn.TLSVersion = tls.VersionName(st.Version)
		nx.Conn.ALPN = st.NegotiatedProtocol
		nx.Conn.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
		nx.Conn.ServerName = st.ServerName
		if len(st.PeerCertificates) > 0 {
			leaf := st.PeerCertificates[0]
			nx.Conn.CertIssuer = leaf.Issuer.String()
			sum := sha256.Sum256(leaf.Raw)
			nx.Conn.CertSHA256 = hex.EncodeToString(sum[:])
		}
	}
	return nx, nil
}

// safeError renders a transport error without the request URL's secrets.
func safeError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		c := *ue
		c.URL = redact.URLString(ue.URL)
		return c.Error()
	}
	return err.Error()
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	if u.User != nil {
		uc := *u.User
		c.User = &uc
	}
	return &c
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("replay-%d", time.Now().UnixNano())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
