package webui

import (
	"encoding/binary"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// The ring keeps each exchange as one record of bytes in its arena (see
// arena.go), outside the collected heap: the row first (what the list
// and the search read), then the exchange (what detail, HAR, curl and
// re-send read). Strings and byte slices are a uvarint length and their
// bytes; integers are (u)varints; a nil slice, map or pointer is told from
// an empty one by a count of n+1 (0 for nil). The encoding is private to
// the process (never written to disk), so it has no version.
//
// A record is decoded from a copy taken under the store's lock: the
// decoded strings are substrings of one string (one allocation), and the
// arena's bytes can be reused as soon as the lock is released.
// TestRecordRoundTrip fills every field of Row and flow.Exchange with
// reflection, so a field added to either and forgotten here fails it.

// enc appends the encoding of values to a byte slice.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) bytes(p []byte) {
	if p == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(p)) + 1)
	e.b = append(e.b, p...)
}

func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// count writes n+1 for a non-nil slice or map of length n, 0 for nil.
func (e *enc) count(n int, isNil bool) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *enc) strs(ss []string) {
	e.count(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s)
	}
}

// Time zones of a recorded time.
const (
	tzZero  = iota // the zero time
	tzUTC          // time.UTC
	tzLocal        // time.Local
	tzOther        // any other location: MarshalBinary's form
)

func (e *enc) time(t time.Time) {
	switch loc := t.Location(); {
	case t.IsZero() && loc == time.UTC:
		e.b = append(e.b, tzZero)
	case loc == time.UTC || loc == time.Local:
		if loc == time.UTC {
			e.b = append(e.b, tzUTC)
		} else {
			e.b = append(e.b, tzLocal)
		}
		e.varint(t.Unix())
		e.uvarint(uint64(t.Nanosecond()))
	default:
		p, err := t.MarshalBinary()
		if err != nil { // an offset that is not whole minutes: keep the instant
			e.b = append(e.b, tzUTC)
			e.varint(t.Unix())
			e.uvarint(uint64(t.Nanosecond()))
			return
		}
		e.b = append(e.b, tzOther)
		e.bytes(p)
	}
}

// header writes h: its count, then each key and its values.
func (e *enc) header(h http.Header) {
	e.count(len(h), h == nil)
	for k, vs := range h {
		e.str(k)
		e.strs(vs)
	}
}

func (e *enc) body(b *flow.Body, drop bool) {
	if drop {
		e.bytes(nil)
		e.varint(b.Size)
		e.bool(true)
	} else {
		e.bytes(b.Data)
		e.varint(b.Size)
		e.bool(b.Truncated)
	}
	e.str(b.Encoding)
	e.str(b.DecodeError)
}

func (e *enc) url(u *url.URL) {
	if u == nil {
		e.bool(false)
		return
	}
	e.bool(true)
	for _, s := range []string{u.Scheme, u.Opaque, u.Host, u.Path, u.RawPath, u.RawQuery, u.Fragment, u.RawFragment} {
		e.str(s)
	}
	e.bool(u.OmitHost)
	e.bool(u.ForceQuery)
	switch {
	case u.User == nil:
		e.uvarint(0)
	default:
		p, ok := u.User.Password()
		if ok {
			e.uvarint(2)
			e.str(u.User.Username())
			e.str(p)
		} else {
			e.uvarint(1)
			e.str(u.User.Username())
		}
	}
}

// row writes r. Login comes first: eviction reads only that (loginOf).
func (e *enc) row(r *Row) {
	e.str(r.Login)
	e.str(r.ID)
	e.varint(int64(r.Seq))
	e.time(r.Time)
	for _, s := range []string{r.Method, r.URL, r.Host, r.Path} {
		e.str(s)
	}
	e.varint(int64(r.Status))
	e.str(r.Error)
	e.uvarint(math.Float64bits(r.DurationMS))
	for _, s := range []string{r.OAuth, r.GrantType, r.Issuer} {
		e.str(s)
	}
	e.bool(r.Failed)
	if r.Badge == nil {
		e.bool(false)
	} else {
		e.bool(true)
		e.str(r.Badge.Level)
		e.str(r.Badge.ID)
	}
	e.count(len(r.Findings), r.Findings == nil)
	for _, f := range r.Findings {
		e.str(f.ID)
		e.str(f.Severity)
	}
	e.str(r.Cause)
}

// exchange writes x; drop leaves its bodies out (marked truncated).
func (e *enc) exchange(x *flow.Exchange, drop bool) {
	e.str(x.ID)
	e.varint(int64(x.Seq))
	e.time(x.Start)
	q := &x.Request
	e.str(q.Method)
	e.url(q.URL)
	e.str(q.Proto)
	e.header(q.Header)
	e.body(&q.Body, drop)
	if r := x.Response; r == nil {
		e.bool(false)
	} else {
		e.bool(true)
		e.varint(int64(r.Status))
		e.str(r.Reason)
		e.str(r.Proto)
		e.header(r.Header)
		e.header(r.Trailer)
		e.body(&r.Body, drop)
	}
	e.str(x.Error)
	e.str(x.ErrorType)
	t := &x.Timings
	for _, d := range []time.Duration{t.DNS, t.Connect, t.TLS, t.Send, t.Wait, t.Receive, t.Total} {
		e.varint(int64(d))
	}
	c := &x.Conn
	for _, s := range []string{c.ClientAddr, c.ServerAddr, c.LocalAddr} {
		e.str(s)
	}
	e.bool(c.Reused)
	for _, s := range []string{c.TLSVersion, c.ALPN, c.CipherSuite, c.ServerName, c.CertIssuer, c.CertSHA256} {
		e.str(s)
	}
	e.bool(c.Intercepted)
	e.str(c.ConnectionID)
	o := &x.OAuth
	for _, s := range []string{string(o.Label), o.GrantType, o.Issuer, o.Login, o.LoginLink, o.LoginTrace} {
		e.str(s)
	}
	e.count(len(o.Findings), o.Findings == nil)
	for i := range o.Findings {
		f := &o.Findings[i]
		for _, s := range []string{f.ID, string(f.Severity), string(f.Category), f.Message, f.Fix} {
			e.str(s)
		}
	}
	if d := o.Diagnosis; d == nil {
		e.bool(false)
	} else {
		e.bool(true)
		for _, s := range []string{string(d.Category), d.Cause, d.Summary} {
			e.str(s)
		}
		e.strs(d.Evidence)
		e.strs(d.Fix)
		e.str(d.Confidence)
		e.str(d.Source)
	}
}

// appendRecord appends the record of r and x to b: the row's length, the
// row, then the exchange (without its bodies when drop is set).
func appendRecord(b []byte, r *Row, x *flow.Exchange, drop bool) []byte {
	e := enc{b: b}
	start := len(e.b)
	e.b = append(e.b, 0, 0, 0, 0) // the row's length, filled in below
	e.row(r)
	binary.LittleEndian.PutUint32(e.b[start:], uint32(len(e.b)-start-4))
	e.exchange(x, drop)
	return e.b
}

// dec reads values from a record copied out of the arena. A damaged or
// short record reads as zero values (bad is set), never a panic.
type dec struct {
	p   string
	bad bool
}

func (d *dec) uvarint() uint64 {
	var v uint64
	var shift uint
	for i := 0; i < len(d.p) && i < binary.MaxVarintLen64; i++ {
		c := d.p[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.p = d.p[i+1:]
			return v
		}
		shift += 7
	}
	d.p, d.bad = "", true
	return 0
}

func (d *dec) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *dec) str() string {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.p, d.bad = "", true
		return ""
	}
	s := d.p[:n]
	d.p = d.p[n:]
	return s
}

// bytes reads a byte slice: a copy (its own array, so a handler that
// appends to it or changes it touches nothing else).
func (d *dec) bytes() []byte {
	n := d.count()
	if n < 0 {
		return nil
	}
	if n > len(d.p) {
		d.p, d.bad = "", true
		return nil
	}
	b := []byte(d.p[:n])
	d.p = d.p[n:]
	return b
}

func (d *dec) bool() bool {
	if d.p == "" {
		d.bad = true
		return false
	}
	v := d.p[0] != 0
	d.p = d.p[1:]
	return v
}

// count reads a count written by enc.count: -1 for nil.
func (d *dec) count() int {
	n := d.uvarint()
	if n == 0 {
		return -1
	}
	if n-1 > uint64(len(d.p)) { // every element takes at least a byte
		d.p, d.bad = "", true
		return -1
	}
	return int(n - 1)
}

func (d *dec) strs() []string {
	n := d.count()
	if n < 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

func (d *dec) time() time.Time {
	if d.p == "" {
		d.bad = true
		return time.Time{}
	}
	tz := d.p[0]
	d.p = d.p[1:]
	switch tz {
	case tzZero:
		return time.Time{}
	case tzUTC, tzLocal:
		sec := d.varint()
		nsec := int64(d.uvarint())
		t := time.Unix(sec, nsec)
		if tz == tzUTC {
			return t.UTC()
		}
		return t
	case tzOther:
		var t time.Time
		if t.UnmarshalBinary(d.bytes()) != nil {
			d.bad = true
		}
		return t
	}
	d.p, d.bad = "", true
	return time.Time{}
}

func (d *dec) header() http.Header {
	n := d.count()
	if n < 0 {
		return nil
	}
	h := make(http.Header, n)
	for i := 0; i < n && !d.bad; i++ {
		k := d.str()
		h[k] = d.strs()
	}
	return h
}

func (d *dec) body() flow.Body {
	return flow.Body{Data: d.bytes(), Size: d.varint(), Truncated: d.bool(), Encoding: d.str(), DecodeError: d.str()}
}

func (d *dec) url() *url.URL {
	if !d.bool() {
		return nil
	}
	u := &url.URL{Scheme: d.str(), Opaque: d.str(), Host: d.str(), Path: d.str(), RawPath: d.str(), RawQuery: d.str(), Fragment: d.str(), RawFragment: d.str()}
	u.OmitHost = d.bool()
	u.ForceQuery = d.bool()
	switch d.uvarint() {
	case 1:
		u.User = url.User(d.str())
	case 2:
		name := d.str()
		u.User = url.UserPassword(name, d.str())
	}
	return u
}

func (d *dec) row() Row {
	var r Row
	r.Login = d.str()
	r.ID = d.str()
	r.Seq = int(d.varint())
	r.Time = d.time()
	r.Method, r.URL, r.Host, r.Path = d.str(), d.str(), d.str(), d.str()
	r.Status = int(d.varint())
	r.Error = d.str()
	r.DurationMS = math.Float64frombits(d.uvarint())
	r.OAuth, r.GrantType, r.Issuer = d.str(), d.str(), d.str()
	r.Failed = d.bool()
	if d.bool() {
		r.Badge = &Badge{Level: d.str(), ID: d.str()}
	}
	if n := d.count(); n >= 0 {
		r.Findings = make([]Brief, n)
		for i := range r.Findings {
			r.Findings[i] = Brief{ID: d.str(), Severity: d.str()}
		}
	}
	r.Cause = d.str()
	return r
}

func (d *dec) exchange() *flow.Exchange {
	x := &flow.Exchange{ID: d.str(), Seq: int(d.varint()), Start: d.time()}
	q := &x.Request
	q.Method = d.str()
	q.URL = d.url()
	q.Proto = d.str()
	q.Header = d.header()
	q.Body = d.body()
	if d.bool() {
		r := &flow.Response{Status: int(d.varint()), Reason: d.str(), Proto: d.str()}
		r.Header = d.header()
		r.Trailer = d.header()
		r.Body = d.body()
		x.Response = r
	}
	x.Error, x.ErrorType = d.str(), d.str()
	t := &x.Timings
	for _, p := range []*time.Duration{&t.DNS, &t.Connect, &t.TLS, &t.Send, &t.Wait, &t.Receive, &t.Total} {
		*p = time.Duration(d.varint())
	}
	c := &x.Conn
	c.ClientAddr, c.ServerAddr, c.LocalAddr = d.str(), d.str(), d.str()
	c.Reused = d.bool()
	c.TLSVersion, c.ALPN, c.CipherSuite, c.ServerName, c.CertIssuer, c.CertSHA256 = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	c.Intercepted = d.bool()
	c.ConnectionID = d.str()
	o := &x.OAuth
	o.Label = flow.Label(d.str())
	o.GrantType, o.Issuer, o.Login, o.LoginLink, o.LoginTrace = d.str(), d.str(), d.str(), d.str(), d.str()
	if n := d.count(); n >= 0 {
		o.Findings = make([]flow.Finding, n)
		for i := range o.Findings {
			o.Findings[i] = flow.Finding{ID: d.str(), Severity: flow.Severity(d.str()), Category: flow.Category(d.str()), Message: d.str(), Fix: d.str()}
		}
	}
	if d.bool() {
		g := &flow.Diagnosis{Category: flow.Category(d.str()), Cause: d.str(), Summary: d.str()}
		g.Evidence = d.strs()
		g.Fix = d.strs()
		g.Confidence = d.str()
		g.Source = d.str()
		o.Diagnosis = g
	}
	return x
}

// rowPart is the row's part of a record, empty when the record is too
// short for the length it gives.
func rowPart(rec []byte) []byte {
	if len(rec) < 4 {
		return nil
	}
	n := binary.LittleEndian.Uint32(rec)
	if uint64(n) > uint64(len(rec)-4) {
		return nil
	}
	return rec[4 : 4+n]
}

// recordRow decodes the row of a record. It copies what it needs out of
// rec (one string), so rec may be reused as soon as it returns.
func recordRow(rec []byte) Row {
	d := dec{p: string(rowPart(rec))}
	return d.row()
}

// recordExchange decodes the exchange of a record, copied out of rec as
// recordRow is.
func recordExchange(rec []byte) *flow.Exchange {
	n := 4 + len(rowPart(rec))
	d := dec{p: string(rec[min(n, len(rec)):])}
	return d.exchange()
}

// loginOf reads the login of a record's row (a slice of rec) without
// decoding the rest: eviction needs only that to find the lane.
func loginOf(rec []byte) []byte {
	r := rowPart(rec)
	n, k := binary.Uvarint(r)
	if k <= 0 || n > uint64(len(r)-k) {
		return nil
	}
	return r[k : k+int(n)]
}
