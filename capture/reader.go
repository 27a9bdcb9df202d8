package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"container/heap"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// DefaultReorderWindow is the number of entries a Reader buffers to put
// entries back in startedDateTime order.
const DefaultReorderWindow = 1024

// DefaultReorderBytes bounds the body bytes (as flow.Weight counts them)
// of the entries a Reader buffers: 1024 entries of 1 MiB bodies would
// otherwise be 1 GiB. The window shrinks while big entries are buffered.
const DefaultReorderBytes = 32 << 20

// Reader streams exchanges out of a HAR file.
//
// Memory: the log header is read token by token and entries are decoded one
// at a time; at most the reorder window (DefaultReorderWindow entries, and
// DefaultReorderBytes of bodies) is held at once, whatever the file size.
//
// Order: exchanges come out sorted by startedDateTime, ties kept in file
// order, as long as no entry is more than the window away from its sorted
// place (exports are nearly sorted: Chrome orders by request start, proxies
// by completion). Beyond the window, order is "sorted within the window".
//
// Entry numbers in errors and Exchange.Seq are 0-based indexes into
// log.entries, as in jq's .log.entries[12].
//
// Tolerated: missing pages, postData with params only or text only,
// base64 bodies, HTTP/2 pseudo-headers (dropped from Header; :authority and
// :scheme complete a URL without a host), h2/h3 httpVersion spellings,
// private "_" fields (ignored), missing or -1 timings, numbers of the wrong
// type in optional fields, other tools' redaction markers (kept as is), a
// UTF-8 BOM, and gzip or zlib (mitmproxy .zhar) compressed files.
type Reader struct {
	dec     *json.Decoder
	creator Creator
	version string
	comment string

	state   int // 0 entries to read, 1 entries done, 2 eof
	index   int // next entry index
	window  int
	maxB    int64 // bound on pendB
	pending entryHeap
	pendB   int64 // flow.Weight of the pending exchanges
	err     error // error to return once pending is drained
	closer  io.Closer
}

const (
	stateEntries = iota
	stateTail
	stateDone
)

// NewReader reads the HAR header from r (up to "entries") and returns a
// Reader positioned at the first entry.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	src, err := unwrap(br)
	if err != nil {
		return nil, err
	}
	hr := &Reader{dec: json.NewDecoder(src), window: DefaultReorderWindow, maxB: DefaultReorderBytes}
	if err := hr.readHeader(); err != nil {
		return nil, err
	}
	return hr, nil
}

// unwrap skips a UTF-8 BOM and removes gzip or zlib compression.
func unwrap(br *bufio.Reader) (io.Reader, error) {
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xef, 0xbb, 0xbf}):
		br.Discard(3)
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: gzip: %w", err)
		}
		return bufio.NewReaderSize(zr, 256<<10), nil
	case len(head) >= 2 && head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: zlib: %w", err)
		}
		return bufio.NewReaderSize(zr, 256<<10), nil
	}
	return br, nil
}

// Open opens a HAR file for reading; close the Reader when done.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	r.closer = f
	return r, nil
}

// Close closes the file opened by Open; it is a no-op for NewReader.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// ReadAll reads every exchange of a HAR file. On a malformed or truncated
// file it returns the exchanges read before the problem and the error.
func ReadAll(path string) ([]*flow.Exchange, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []*flow.Exchange
	for {
		x, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, x)
	}
}

// Creator returns the writing application as "name version", e.g.
// "Chrome 120.0.6099.109" or "Fiddler 5.0.20204.45441" (as read before the
// entries; a creator after the entries is known only at io.EOF).
func (r *Reader) Creator() string {
	return strings.TrimSpace(r.creator.Name + " " + r.creator.Version)
}

// CreatorInfo returns log.creator as read.
func (r *Reader) CreatorInfo() Creator { return r.creator }

// Comment returns log.comment (oauthproxy writes the UNREDACTED warning there).
func (r *Reader) Comment() string { return r.comment }

// SetReorderWindow sets the number of entries buffered for reordering
// (minimum 1: no reordering). Call it before the first Next.
func (r *Reader) SetReorderWindow(n int) {
	if n < 1 {
		n = 1
	}
	r.window = n
}

// SetReorderBytes bounds the body bytes buffered for reordering (one
// entry is always read, however big). Call it before the first Next.
func (r *Reader) SetReorderBytes(n int64) {
	r.maxB = max(n, 1)
}

func (r *Reader) readHeader() error {
	if err := r.expectDelim('{', "top level"); err != nil {
		return err
	}
	for {
		key, err := r.key("top level")
		if err != nil {
			return err
		}
		if key == "" {
			return errors.New("capture: not a HAR file: no \"log\" object")
		}
		if key != "log" {
			if err := r.skip(key); err != nil {
				return err
			}
			continue
		}
		if err := r.expectDelim('{', "log"); err != nil {
			return err
		}
		return r.logMembers(true)
	}
}

// logMembers reads members of the log object until "entries" (when
// beforeEntries) or its end.
func (r *Reader) logMembers(beforeEntries bool) error {
	for {
		key, err := r.key("log")
		if err != nil {
			return err
		}
		switch key {
		case "":
			if beforeEntries {
				// No entries at all: an empty capture.
				r.state = stateDone
			}
			return nil
		case "entries":
			if !beforeEntries {
				return errors.New("capture: log: two \"entries\" arrays")
			}
			if err := r.expectDelim('[', "log.entries"); err != nil {
				return err
			}
			return nil
		case "creator":
			if err := r.dec.Decode(&r.creator); err != nil {
				return r.headerErr("log.creator", err)
			}
		case "version":
			if err := r.dec.Decode(&r.version); err != nil {
				return r.headerErr("log.version", err)
			}
		case "comment":
			if err := r.dec.Decode(&r.comment); err != nil {
				return r.headerErr("log.comment", err)
			}
		default:
			if err := r.skip("log." + key); err != nil {
				return err
			}
		}
	}
}

func (r *Reader) headerErr(where string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &truncatedError{where: where}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("capture: %s: invalid JSON at byte %d: %v", where, se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("capture: %s: %s is a JSON %s", where, orDefault(te.Field, "value"), te.Value)
	}
	return fmt.Errorf("capture: %s: %w", where, err)
}

type truncatedError struct{ where string }

func (e *truncatedError) Error() string { return "capture: truncated file in " + e.where }

func (r *Reader) skip(where string) error {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return r.headerErr(where, err)
	}
	return nil
}

func (r *Reader) expectDelim(d json.Delim, where string) error {
	tok, err := r.dec.Token()
	if err != nil {
		if where == "top level" && err == io.EOF {
			return errors.New("capture: empty file, not a HAR")
		}
		return r.headerErr(where, err)
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("capture: %s: want '%c', got %v", where, rune(d), tokenString(tok))
	}
	return nil
}

// key returns the next object key, or "" at the end of the object.
func (r *Reader) key(where string) (string, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return "", r.headerErr(where, err)
	}
	switch t := tok.(type) {
	case string:
		return t, nil
	case json.Delim:
		if t == '}' {
			return "", nil
		}
	}
	return "", fmt.Errorf("capture: %s: unexpected %v", where, tokenString(tok))
}

func tokenString(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return string(t)
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// Next returns the next exchange, io.EOF at the end. After an error, the
// exchanges already buffered are returned first, then the error, which is
// sticky.
func (r *Reader) Next() (*flow.Exchange, error) {
	for r.err == nil && r.state == stateEntries && len(r.pending) < r.window && (len(r.pending) == 0 || r.pendB < r.maxB) {
		r.fill()
	}
	if r.err == nil && r.state == stateTail {
		if err := r.logMembers(false); err != nil {
			var te *truncatedError
			if errors.As(err, &te) {
				err = r.truncated()
			}
			r.err = err
		}
		r.state = stateDone
	}
	if len(r.pending) > 0 {
		x := heap.Pop(&r.pending).(pending).x
		r.pendB -= flow.Weight(x)
		return x, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, io.EOF
}

// fill decodes one entry into the pending heap (or ends the entries).
func (r *Reader) fill() {
	if !r.dec.More() {
		// Consume ']' (or find out the file ends here).
		if _, err := r.dec.Token(); err != nil {
			r.err = r.truncated()
			return
		}
		r.state = stateTail
		return
	}
	i := r.index
	var e Entry
	if err := r.dec.Decode(&e); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			r.err = r.entryErr(i, err)
			return
		}
		if te.Field == "" {
			r.err = fmt.Errorf("capture: entry %d: want an object, got a JSON %s", i, te.Value)
			return
		}
		if essential(te.Field) {
			r.err = fmt.Errorf("capture: entry %d: %s: want a %s, got a JSON %s", i, te.Field, typeName(te), te.Value)
			return
		}
		// Decoding went on past an optional field of the wrong type; the rest is fine.
	}
	r.index++
	x, err := ExchangeFromEntry(&e, i)
	if err != nil {
		r.err = err
		return
	}
	heap.Push(&r.pending, pending{x: x, idx: i})
	r.pendB += flow.Weight(x)
}

func typeName(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "value"
	}
	return te.Type.String()
}

func essential(field string) bool {
	switch field {
	case "startedDateTime", "request", "request.method", "request.url", "response", "response.status", "_oauthproxy", "":
		return true
	}
	return false
}

func (r *Reader) truncated() error {
	if r.index == 0 {
		return errors.New("capture: truncated file before the first entry")
	}
	return fmt.Errorf("capture: truncated file after entry %d", r.index-1)
}

func (r *Reader) entryErr(i int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.truncated()
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("capture: entry %d: invalid JSON at byte %d of the file: %v", i, se.Offset, se)
	}
	return fmt.Errorf("capture: entry %d: %w", i, err)
}

// pending is a decoded exchange waiting in the reorder window.
type pending struct {
	x   *flow.Exchange
	idx int
}

type entryHeap []pending

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.x.Start.Equal(b.x.Start) {
		return a.x.Start.Before(b.x.Start)
	}
	return a.idx < b.idx
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(v any)   { *h = append(*h, v.(pending)) }
func (h *entryHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return v
}

// timeLayouts are the startedDateTime spellings seen in the wild: RFC 3339
// with or without fraction (Go accepts 0-9 digits, .NET writes 7), offsets
// with or without colon, a space instead of T, and no zone (taken as UTC).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// ParseTime parses a HAR startedDateTime.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	var firstErr error
	for _, l := range timeLayouts {
		t, err := time.Parse(l, s)
		if err == nil {
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if strings.HasSuffix(s, "z") {
		return ParseTime(strings.TrimSuffix(s, "z") + "Z")
	}
	return time.Time{}, firstErr
}

// ExchangeFromEntry converts a HAR entry into an exchange; index is the
// entry's position (Seq, and named in errors).
func ExchangeFromEntry(e *Entry, index int) (*flow.Exchange, error) {
	fail := func(field string, err error) error {
		// The message may quote the value (a malformed URL with ?code=...):
		// never repeat a secret from the file.
		return fmt.Errorf("capture: entry %d: %s: %s", index, field, redact.Text(err.Error()))
	}
	start, err := ParseTime(e.StartedDateTime)
	if err != nil {
		return nil, fail("startedDateTime", err)
	}
	x := &flow.Exchange{Seq: index, Start: start}

	// Request line and headers.
	rq := &e.Request
	x.Request.Method = strings.ToUpper(strings.TrimSpace(rq.Method))
	x.Request.Proto = normProto(rq.HTTPVersion)
	h, pseudo := harHeaders(rq.Headers)
	x.Request.Header = h
	if x.Request.Method == "" {
		x.Request.Method = strings.ToUpper(pseudo[":method"])
	}
	if x.Request.Method == "" {
		return nil, fail("request.method", errors.New("missing"))
	}
	if rq.URL == "" {
		if p := pseudo[":path"]; p != "" {
			rq.URL = p
		} else {
			return nil, fail("request.url", errors.New("missing"))
		}
	}
	var u *url.URL
	if x.Request.Method == http.MethodConnect && !strings.Contains(rq.URL, "/") {
		// Authority form ("host:443"), as Fiddler writes tunnels.
		u = &url.URL{Scheme: "https", Host: rq.URL}
		if !strings.HasSuffix(rq.URL, ":443") {
			u.Scheme = "http"
		}
	} else if u, err = url.Parse(rq.URL); err != nil {
		return nil, fail("request.url", err)
	}
	// A custom-scheme URL (com.example.app:/oauth2redirect?code=...), as
	// DevTools record a native app's redirect URI, has no host to find.
	if u.Host == "" && (u.Scheme == "" || webScheme(u.Scheme)) {
		host := pseudo[":authority"]
		if host == "" {
			host = h.Get("Host")
		}
		if host == "" {
			return nil, fail("request.url", fmt.Errorf("%q is not absolute and there is no :authority or Host header", rq.URL))
		}
		scheme := orDefault(u.Scheme, pseudo[":scheme"])
		if scheme == "" {
			scheme = "https"
			if x.Request.Proto == "HTTP/1.1" || x.Request.Proto == "HTTP/1.0" {
				scheme = "http"
			}
		}
		u.Scheme, u.Host = strings.ToLower(scheme), host
	}
	if u.Scheme == "" {
		return nil, fail("request.url", fmt.Errorf("%q has no scheme", rq.URL))
	}
	if u.RawQuery == "" && !u.ForceQuery && len(rq.QueryString) > 0 {
		q := make([]string, 0, len(rq.QueryString))
		for _, p := range rq.QueryString {
			q = append(q, url.QueryEscape(p.Name)+"="+url.QueryEscape(p.Value))
		}
		u.RawQuery = strings.Join(q, "&")
	}
	x.Request.URL = u

	// Request body.
	x.Request.Body.Size = rq.BodySize
	x.Request.Body.Encoding = strings.ToLower(h.Get("Content-Encoding"))
	if pd := rq.PostData; pd != nil {
		switch {
		case pd.Text != "":
			data, derr := decodeText(pd.Text, pd.Encoding)
			x.Request.Body.Data = data
			if derr != nil {
				x.Request.Body.DecodeError = "postData.text: " + derr.Error()
			}
		case len(pd.Params) > 0:
			var b strings.Builder
			for i, p := range pd.Params {
				if i > 0 {
					b.WriteByte('&')
				}
				b.WriteString(url.QueryEscape(p.Name))
				b.WriteByte('=')
				b.WriteString(url.QueryEscape(p.Value))
			}
			x.Request.Body.Data = []byte(b.String())
		}
		if x.Request.Header.Get("Content-Type") == "" && pd.MimeType != "" {
			x.Request.Header.Set("Content-Type", pd.MimeType)
		}
		x.Request.Body.Truncated = strings.Contains(pd.Comment, "truncated")
	}
	if x.Request.Body.Size < 0 {
		x.Request.Body.Size = int64(len(x.Request.Body.Data))
	}

	// Response.
	ext := e.OAuthProxy
	rs := &e.Response
	if rs.Status > 0 || len(rs.Headers) > 0 {
		resp := &flow.Response{Status: rs.Status, Reason: flow.ReasonOf(fmt.Sprint(rs.Status)+" "+rs.StatusText, rs.Status), Proto: normProto(rs.HTTPVersion)}
		rh, rp := harHeaders(rs.Headers)
		resp.Header = rh
		if resp.Status == 0 {
			if st := rp[":status"]; st != "" {
				fmt.Sscan(st, &resp.Status)
			}
		}
		resp.Body.Size = rs.BodySize
		if resp.Body.Size < 0 {
			resp.Body.Size = -1
		}
		data, derr := decodeText(rs.Content.Text, rs.Content.Encoding)
		resp.Body.Data = data
		if derr != nil {
			resp.Body.DecodeError = "content.text: " + derr.Error()
		}
		resp.Body.Encoding = strings.ToLower(rh.Get("Content-Encoding"))
		resp.Body.Truncated = strings.Contains(rs.Content.Comment, "truncated")
		if rs.Content.Text == "" && rs.Content.Size > 0 {
			// The tool left the body out (too large or binary).
			resp.Body.Truncated = true
		}
		if ext != nil {
			resp.Body.DecodeError = orDefault(ext.ResponseDecodeError, resp.Body.DecodeError)
			resp.Body.Encoding = orDefault(ext.ResponseEncoding, resp.Body.Encoding)
			if ext.Truncated != nil && ext.Truncated.Response {
				resp.Body.Truncated = true
			}
		}
		x.Response = resp
		if rs.Error == "net::ERR_ABORTED" {
			// Chrome: the browser stopped reading the body (a navigation
			// went on, the tab closed); the server's answer stands.
			x.Error = flow.ClientAbortedPrefix + "the browser stopped reading the response (net::ERR_ABORTED)"
		}
	} else {
		x.Error = orDefault(browserError(u, rs.Error, e.ResourceType), orDefault(firefoxError(e), orDefault(rs.Error, orDefault(rs.StatusText, "no response"))))
	}
	if rs.Error != "" && x.Error == "" && x.Response == nil {
		x.Error = rs.Error
	}

	// Timings: HAR connect includes ssl.
	t := e.Timings
	x.Timings = flow.Timings{
		DNS:     dur(t.DNS),
		Connect: dur(t.Connect),
		TLS:     dur(t.SSL),
		Send:    dur(t.Send),
		Wait:    dur(t.Wait),
		Receive: dur(t.Receive),
		Total:   dur(e.Time),
	}
	if x.Timings.TLS > 0 && x.Timings.Connect >= x.Timings.TLS {
		x.Timings.Connect -= x.Timings.TLS
	}

	// Connection.
	x.Conn.ConnectionID = string(e.Connection)
	if ip := strings.Trim(strings.TrimSpace(e.ServerIPAddress), "[]"); ip != "" {
		port := u.Port()
		if port == "" {
			switch u.Scheme {
			case "https", "wss":
				port = "443"
			case "http", "ws":
				port = "80"
			}
		}
		if port != "" {
			x.Conn.ServerAddr = net.JoinHostPort(ip, port)
		} else {
			x.Conn.ServerAddr = ip
		}
	}

	// oauthproxy's own extension.
	if ext != nil {
		x.ID = ext.Flow
		x.OAuth = flow.OAuth{Label: ext.Label, GrantType: ext.GrantType, Issuer: ext.Issuer, Findings: ext.Findings, Diagnosis: ext.Diagnosis,
			LoginLink: ext.LoginLink, LoginTrace: ext.LoginTrace}
		if ext.Conn != nil {
			c := *ext.Conn
			if c.ServerAddr == "" {
				c.ServerAddr = x.Conn.ServerAddr
			}
			if c.ConnectionID == "" {
				c.ConnectionID = x.Conn.ConnectionID
			}
			x.Conn = c
		}
		if ext.Error != "" {
			x.Error = ext.Error
		}
		x.Request.Body.Encoding = orDefault(ext.RequestEncoding, x.Request.Body.Encoding)
		if ext.RequestDecodeError != "" {
			x.Request.Body.DecodeError = ext.RequestDecodeError
		}
		if ext.Truncated != nil && ext.Truncated.Request {
			x.Request.Body.Truncated = true
		}
	}
	// The login id is an entry field of its own ("_login"), kept even when
	// another tool dropped "_oauthproxy".
	x.OAuth.Login = e.Login
	if x.ID == "" {
		x.ID = newUUID()
	}
	return x, nil
}

// webScheme reports whether a URL scheme is one a browser loads itself.
func webScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "http", "https", "ws", "wss":
		return true
	}
	return false
}

// browserError words the error Chrome's DevTools export ("_error", its
// net error name) gives a request that got no answer, so that inspection
// treats it as the live proxy treats the same event: a request the browser
// canceled (a navigation that replaced it, a prefetch dropped, a
// custom-scheme URL handed to an app) is flow.BrowserCanceledPrefix and no
// failure; a fetch or XHR the page aborted is a client abort before the
// answer (its timeout, like a live client's); any other net error is the
// browser's own failure to get an answer. "" when err is not a Chrome net
// error.
func browserError(u *url.URL, err, resourceType string) string {
	name := strings.TrimSpace(err)
	if !strings.HasPrefix(name, "net::ERR_") || strings.ContainsAny(name, " \t") {
		return ""
	}
	switch {
	case !webScheme(u.Scheme):
		return flow.BrowserCanceledPrefix + "loading a " + strings.ToLower(u.Scheme) + ": URL (" + name + "): a browser does not load that scheme itself; the app registered for it, if any, gets the URL"
	case name != "net::ERR_ABORTED":
		return flow.BrowserReportedPrefix + name + " (no answer)"
	case resourceType == "fetch" || resourceType == "xhr":
		return flow.ClientAbortedPrefix + "the page's script aborted the request, or the browser gave up on it, before any answer (net::ERR_ABORTED)"
	}
	return flow.BrowserCanceledPrefix + "the request before any answer (net::ERR_ABORTED): a navigation replaced it, or the page that wanted it went away"
}

// firefoxError words what Firefox's HAR export says of a request that got
// no answer. Firefox writes no error text for it (status 0, statusText "",
// no headers: devtools/client/netmonitor/src/har/har-builder.js), so a
// refused connection, a DNS failure, a blocked or a canceled request all
// look alike and stay "no response". The one failure it does tell is a TLS
// one: the entry's "_securityState" is "broken" only when the connection
// failed with an NSS (TLS or certificate) error code
// (devtools/shared/network-observer/NetworkHelper.sys.mjs,
// getSecurityInfo). "" when e is not such an entry.
func firefoxError(e *Entry) string {
	if e.SecurityState != "broken" || e.Response.Error != "" {
		return ""
	}
	return flow.BrowserReportedPrefix + "a failed TLS connection (Firefox's _securityState \"broken\": a certificate or TLS handshake error) (no answer)"
}

// harHeaders converts a HAR header list into an http.Header, dropping
// HTTP/2 and HTTP/3 pseudo-headers (returned separately, keyed with colon).
func harHeaders(list []NameValue) (http.Header, map[string]string) {
	h := make(http.Header, len(list))
	var pseudo map[string]string
	for _, nv := range list {
		if strings.HasPrefix(nv.Name, ":") {
			if pseudo == nil {
				pseudo = make(map[string]string, 4)
			}
			pseudo[strings.ToLower(nv.Name)] = nv.Value
			continue
		}
		if nv.Name == "" {
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(nv.Name)
		h[k] = append(h[k], nv.Value)
	}
	return h, pseudo
}

// normProto spells HTTP versions the way net/http does.
func normProto(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return ""
	case "http/1.1", "http/1.1.0":
		return "HTTP/1.1"
	case "http/1.0":
		return "HTTP/1.0"
	case "h2", "h2c", "http/2", "http/2.0", "http2":
		return "HTTP/2.0"
	case "h3", "http/3", "http/3.0", "http3", "h3-29", "quic":
		return "HTTP/3.0"
	}
	return v
}

// decodeText returns the bytes of a HAR text field; base64 when encoding
// says so (standard, unpadded and URL alphabets accepted).
func decodeText(text, encoding string) ([]byte, error) {
	if text == "" {
		return nil, nil
	}
	if !strings.EqualFold(strings.TrimSpace(encoding), "base64") {
		return []byte(text), nil
	}
	s := strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), "")); err == nil {
		return b, nil
	}
	return []byte(text), errors.New("invalid base64, kept as text")
}

func dur(ms float64) time.Duration {
	if ms <= 0 || ms != ms || ms > 1e12 {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
