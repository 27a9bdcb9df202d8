package webui

import (
	"net/url"
	"unsafe"

	"github.com/oauthproxy/oauthproxy/flow"
)

// The ring's charge for an entry is what the entry keeps alive on the
// heap, counted the way the Go runtime allocates it: every object is
// rounded up to its size class, slices count their capacity (headers
// are packed into one string each, see frozen.go).
// TestRingHeapWithinBound checks the sum against the live heap a full
// ring really holds.

// sizeClasses are the Go runtime's small object sizes, as of Go 1.26
// (internal/runtime/gc/sizeclasses.go); larger objects take whole 8 KiB
// pages. Should a later runtime change them (or its maps),
// TestRingHeapWithinBound says so.
var sizeClasses = [...]int32{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// classOf8 maps (n+7)/8 to the index of the smallest class holding n, for n <= 1024.
var classOf8 = func() (t [129]uint8) {
	c := 0
	for i := range t {
		for int(sizeClasses[c]) < i*8 {
			c++
		}
		t[i] = uint8(c)
	}
	return t
}()

// allocSize is the heap an allocation of n bytes takes.
func allocSize(n int) int64 {
	switch {
	case n <= 0:
		return 0
	case n <= 1024:
		return int64(sizeClasses[classOf8[(n+7)/8]])
	case n <= 32768:
		// Binary search the classes above 1 KiB.
		lo, hi := 31, len(sizeClasses)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if int(sizeClasses[mid]) >= n {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return int64(sizeClasses[lo])
	}
	return int64((n + 8191) &^ 8191)
}

// strSize is the heap a string's bytes take. Strings shorter than 16
// bytes share 16-byte blocks (the runtime's tiny allocator), so they
// count their length.
func strSize(s string) int64 {
	if len(s) < 16 {
		return int64(len(s))
	}
	return allocSize(len(s))
}

// bytesSize is the heap a byte slice's array takes (its capacity).
func bytesSize(b []byte) int64 {
	if cap(b) < 16 {
		return int64(cap(b))
	}
	return allocSize(cap(b))
}

// urlSize is the heap u's strings keep (u itself is inside its entry).
func urlSize(u *url.URL) int64 {
	var n int64
	for _, s := range []string{u.Scheme, u.Opaque, u.Host, u.Path, u.RawPath, u.RawQuery, u.Fragment, u.RawFragment} {
		n += strSize(s)
	}
	if u.User != nil {
		n += allocSize(int(unsafe.Sizeof(*u.User))) + strSize(u.User.Username())
		if p, ok := u.User.Password(); ok {
			n += strSize(p)
		}
	}
	return n
}

// heldSize is the heap an entry's frozen exchange keeps beyond the entry
// itself (which holds the exchange, its response and URL by value).
// Strings that are usually constants (method, proto, labels, severities,
// TLS names) are not counted.
func heldSize(e *entry) int64 {
	x := &e.x
	n := strSize(x.ID) + strSize(x.Error)
	c := &x.Conn
	for _, s := range []string{c.ClientAddr, c.ServerAddr, c.LocalAddr, c.ServerName, c.CertIssuer, c.CertSHA256, c.ConnectionID} {
		n += strSize(s)
	}
	n += urlSize(&e.url) + strSize(e.reqH) + bodySize(&x.Request.Body)
	n += strSize(e.resp.Reason) + strSize(e.respH) + strSize(e.trailer) + bodySize(&e.resp.Body)
	o := &x.OAuth
	n += strSize(o.GrantType) + strSize(o.Issuer) + strSize(o.Login) + strSize(o.LoginTrace)
	n += allocSize(cap(o.Findings) * int(unsafe.Sizeof(flow.Finding{})))
	for _, f := range o.Findings {
		n += strSize(f.Message) + strSize(f.Fix)
	}
	if d := o.Diagnosis; d != nil {
		n += allocSize(int(unsafe.Sizeof(*d))) + strSize(d.Summary)
		n += allocSize(cap(d.Evidence)*int(unsafe.Sizeof(""))) + allocSize(cap(d.Fix)*int(unsafe.Sizeof("")))
		for _, s := range d.Evidence {
			n += strSize(s)
		}
		for _, s := range d.Fix {
			n += strSize(s)
		}
	}
	return n
}

func bodySize(b *flow.Body) int64 { return bytesSize(b.Data) + strSize(b.DecodeError) }

// rowSize is the heap a row keeps beyond the exchange it summarises (the
// row itself is inside its entry). Host and Path are slices of URL; ID,
// Login, OAuth, GrantType and Issuer are the exchange's strings.
func rowSize(r *Row) int64 {
	n := strSize(r.URL) + strSize(r.Cause) + allocSize(cap(r.Findings)*int(unsafe.Sizeof(Brief{})))
	if r.Error != "" {
		n += strSize(r.Error) // a redacted copy when the error held a secret
	}
	if r.Badge != nil {
		n += allocSize(int(unsafe.Sizeof(*r.Badge)))
	}
	return n
}

// indexSize is what the ring's own structures spend per entry: the entry
// pointer in the ring and in its lane (slices that grow by doubling) and
// the slot of the id index (a map filled to between 7/16 and 7/8).
const indexSize = 2*8 + 2*(16+8) + 2*8

// sizeOf is the heap an entry keeps alive: the entry itself (with its
// exchange), what the exchange and the row point to and its place in the ring's index.
func sizeOf(e *entry) int64 {
	return allocSize(int(unsafe.Sizeof(*e))) + heldSize(e) + rowSize(&e.row) + indexSize
}
