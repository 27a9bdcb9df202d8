package webui

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/http"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// The ring keeps each exchange frozen, in a shape that is cheap for the
// garbage collector, which marks the whole ring (thousands of exchanges)
// on every cycle: the exchange, its response and its URL live by value in
// the ring's entry (one object instead of four), and each header set is
// packed into one string (an object without pointers, which the collector
// never scans) instead of a map with a slice and strings per header. An
// http.Header of 16 headers is ~35 heap objects; packed it is one. The
// handlers that need the exchange (detail, HAR, curl, re-send) get a
// fresh copy, unpacked on demand.

// freeze stores x in e: by value, its bodies trimmed to their length when
// their arrays are much larger (a body read into a growing buffer keeps up
// to twice its length alive), its headers packed. x itself is not
// changed: other sinks share it.
func (e *entry) freeze(x *flow.Exchange) {
	e.x = *x
	e.x.Request.URL, e.x.Request.Header, e.x.Response = nil, nil, nil
	if u := x.Request.URL; u != nil {
		e.url, e.hasURL = *u, true
	}
	e.reqH = packHeader(x.Request.Header)
	if r := x.Response; r != nil {
		e.resp, e.hasResp = *r, true
		e.resp.Header, e.resp.Trailer = nil, nil
		e.respH, e.trailer = packHeader(r.Header), packHeader(r.Trailer)
	}
	for _, b := range []*[]byte{&e.x.Request.Body.Data, &e.resp.Body.Data} {
		if wasteful(*b) {
			*b = bytes.Clone(*b)
		}
	}
}

// dropBodies drops e's bodies (marked truncated): for an exchange larger
// than the whole ring, so that it still shows in the list.
func (e *entry) dropBodies() {
	e.x.Request.Body.Data, e.x.Request.Body.Truncated = nil, true
	if e.hasResp {
		e.resp.Body.Data, e.resp.Body.Truncated = nil, true
	}
}

// exchange returns a copy of the exchange e holds, its headers unpacked.
// The bodies, findings and diagnosis are shared (read-only).
func (e *entry) exchange() *flow.Exchange {
	x := e.x
	if e.hasURL {
		u := e.url
		x.Request.URL = &u
	}
	x.Request.Header = unpackHeader(e.reqH)
	if e.hasResp {
		r := e.resp
		r.Header, r.Trailer = unpackHeader(e.respH), unpackHeader(e.trailer)
		x.Response = &r
	}
	return &x
}

// packHeader packs h into one string: the count of keys, then each key
// (in map order) with the count of its values and the values, each
// string preceded by its length (uvarints). A nil header packs to "", an
// empty one to "\x00".
func packHeader(h http.Header) string {
	if h == nil {
		return ""
	}
	n := varintLen(len(h))
	for k, vs := range h {
		n += varintLen(len(k)) + len(k) + varintLen(len(vs))
		for _, v := range vs {
			n += varintLen(len(v)) + len(v)
		}
	}
	var b strings.Builder // one allocation, kept as the string
	b.Grow(n)
	putUvarint(&b, uint64(len(h)))
	for k, vs := range h {
		putUvarint(&b, uint64(len(k)))
		b.WriteString(k)
		putUvarint(&b, uint64(len(vs)))
		for _, v := range vs {
			putUvarint(&b, uint64(len(v)))
			b.WriteString(v)
		}
	}
	return b.String()
}

// varintLen is the length of v as a uvarint.
func varintLen(v int) int { return (bits.Len64(uint64(v)|1) + 6) / 7 }

func putUvarint(b *strings.Builder, v uint64) {
	for v >= 0x80 {
		b.WriteByte(byte(v) | 0x80)
		v >>= 7
	}
	b.WriteByte(byte(v))
}

// unpackHeader is the inverse of packHeader. The strings it returns are
// slices of p (no copies).
func unpackHeader(p string) http.Header {
	if p == "" {
		return nil
	}
	nk, p := uvarint(p)
	h := make(http.Header, nk)
	for i := uint64(0); i < nk && p != ""; i++ {
		var k string
		k, p = lenString(p)
		var nv uint64
		nv, p = uvarint(p)
		vs := make([]string, 0, min(nv, uint64(len(p))))
		for j := uint64(0); j < nv && p != ""; j++ {
			var v string
			v, p = lenString(p)
			vs = append(vs, v)
		}
		h[k] = vs
	}
	return h
}

// uvarint reads a uvarint from the front of p (0 when p holds none).
func uvarint(p string) (uint64, string) {
	var v uint64
	var shift uint
	for i := 0; i < len(p) && i < binary.MaxVarintLen64; i++ {
		c := p[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, p[i+1:]
		}
		shift += 7
	}
	return 0, ""
}

// lenString reads a length-prefixed string from the front of p.
func lenString(p string) (string, string) {
	n, p := uvarint(p)
	if n > uint64(len(p)) {
		return p, ""
	}
	return p[:n], p[n:]
}
