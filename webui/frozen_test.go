package webui

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
)

// TestFreezeRoundTrip: what the ring hands back (detail, HAR, curl,
// re-send) is the exchange it was given, headers, trailers, URL and
// bodies included, for every realistic shape and for the edge cases of
// packing (nil and empty headers, several values, empty values, no
// response, a URL with user info).
func TestFreezeRoundTrip(t *testing.T) {
	in := inspect.New(inspect.Options{})
	type tc struct {
		name string
		x    *flow.Exchange
	}
	var cases []tc
	for i, sh := range memoryShapes {
		x := sh.make(i)
		in.Inspect(x)
		cases = append(cases, tc{sh.name, x})
	}
	odd := memoryShapes[0].make(99)
	odd.Request.URL = &url.URL{Scheme: "https", User: url.UserPassword("u", "p"), Host: "h.example.test", Path: "/a b", RawQuery: "q=1"}
	odd.Request.Header = http.Header{"X-Multi": {"a", "", "c"}, "x-not-canonical": {"v"}, "Empty": {}, "": {"no key"}}
	odd.Response.Header = http.Header{}
	odd.Response.Trailer = http.Header{"Grpc-Status": {"0"}}
	cases = append(cases, tc{"odd headers, trailer, user info", odd})
	bare := memoryShapes[0].make(100)
	bare.Request.URL, bare.Request.Header, bare.Response = nil, nil, nil
	bare.Error = "dial tcp: connection refused"
	cases = append(cases, tc{"no URL, no header, no response", bare})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e entry
			e.freeze(c.x)
			got := e.exchange()
			if !reflect.DeepEqual(got, c.x) {
				t.Errorf("thawed exchange differs:\n got %+v\nwant %+v", got, c.x)
			}
			if got.Request.URL != nil && got.Request.URL == c.x.Request.URL {
				t.Errorf("the thawed URL is the original's: a handler changing it would change the ring")
			}
		})
	}
}

// TestUnpackHeaderGarbage: a damaged packed header gives a header, not a
// crash (the ring only unpacks what it packed; this guards the decoder).
func TestUnpackHeaderGarbage(t *testing.T) {
	for _, p := range []string{"\x00", "\x05", "\xff", "\x01\x09ab", "\x01\x01a\x05\x01b", "\x02\x01a\x01\x01b\x01"} {
		t.Run(p, func(t *testing.T) {
			if h := unpackHeader(p); h == nil {
				t.Errorf("unpackHeader(%q) = nil, want a header", p)
			}
		})
	}
}
