package webui

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
)

// filler sets every field it reaches to a distinct non-zero value, so a
// round trip through a record shows any field the encoding forgot.
type filler struct{ n int }

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Type() {
	case reflect.TypeOf(time.Time{}):
		v.Set(reflect.ValueOf(time.Unix(int64(1700000000+f.next()), int64(f.next())).UTC()))
		return
	case reflect.TypeOf(url.Userinfo{}):
		v.Set(reflect.ValueOf(*url.UserPassword(fmt.Sprint("user", f.next()), fmt.Sprint("pw", f.next()))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s#%d", path, f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(f.next()) * 1000003)
	case reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.25)
	case reflect.Uint8:
		v.SetUint(uint64(f.next() % 256))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			f.fill(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(t, k, path+".key")
			f.fill(t, e, path+".value")
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s: unexported field %s: the filler cannot set it", path, v.Type().Field(i).Name)
			}
			f.fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	default:
		t.Fatalf("%s: the filler does not know kind %s: teach it, and the record its encoding", path, v.Kind())
	}
}

// TestRecordRoundTrip: a record gives back the row and the exchange it
// was made of, every field of them (the filler sets each one, so a field
// added to flow.Exchange or Row and forgotten by the encoding fails
// here), and the zero values (nil stays nil, empty stays empty).
func TestRecordRoundTrip(t *testing.T) {
	var full flow.Exchange
	var row Row
	f := &filler{}
	f.fill(t, reflect.ValueOf(&full).Elem(), "Exchange")
	f.fill(t, reflect.ValueOf(&row).Elem(), "Row")
	empty := flow.Exchange{Request: flow.Request{URL: &url.URL{}, Header: http.Header{}, Body: flow.Body{Data: []byte{}}},
		Response: &flow.Response{Header: http.Header{"Empty": {}}, Trailer: http.Header{}}}
	empty.OAuth.Findings = []flow.Finding{}
	empty.OAuth.Diagnosis = &flow.Diagnosis{Evidence: []string{}, Fix: []string{""}}
	zones := full
	zones.Start = time.Date(2025, 3, 1, 12, 0, 0, 5, time.FixedZone("", 5*3600+1800))
	local := full
	local.Start = time.Unix(1741000000, 7)
	for _, tc := range []struct {
		name string
		x    *flow.Exchange
		r    *Row
	}{
		{"every field set", &full, &row},
		{"zero", &flow.Exchange{}, &Row{}},
		{"empty, not nil", &empty, &Row{Findings: []Brief{}, Badge: &Badge{}}},
		{"a fixed zone", &zones, &row},
		{"local time", &local, &row},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := appendRecord(nil, tc.r, tc.x, false)
			if got := recordRow(rec); !reflect.DeepEqual(got, *tc.r) {
				t.Errorf("row:\n got %+v\nwant %+v", got, *tc.r)
			}
			if got := recordExchange(rec); !reflect.DeepEqual(got, tc.x) {
				t.Errorf("exchange:\n got %+v\nwant %+v", got, tc.x)
			}
			if got, want := string(loginOf(rec)), tc.r.Login; got != want {
				t.Errorf("loginOf = %q, want %q", got, want)
			}
		})
	}
}

// TestRecordDropBodies: without bodies, a record keeps their sizes and
// says they were cut.
func TestRecordDropBodies(t *testing.T) {
	x := xchg("POST", "https://api.example.test/items", 200, respJSON(`{"v":1}`), form(url.Values{"a": {"b"}}))
	r := rowOf(x)
	got := recordExchange(appendRecord(nil, &r, x, true))
	for name, b := range map[string]flow.Body{"request": got.Request.Body, "response": got.Response.Body} {
		if b.Data != nil || !b.Truncated || b.Size == 0 {
			t.Errorf("%s body: data %q, truncated %v, size %d; want no data, truncated, the size kept", name, b.Data, b.Truncated, b.Size)
		}
	}
}

// TestStoreRoundTrip: what the ring hands back (detail, HAR, curl,
// re-send) is the exchange it was given, headers, trailers, URL and
// bodies included, for every realistic shape and for the edge cases
// (odd headers, no response, a URL with user info), and a fresh copy
// each time: a handler changing it changes nothing in the ring.
func TestStoreRoundTrip(t *testing.T) {
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
	s := NewStore(0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row := s.Add(c.x)
			got, gotRow, ok := s.get(c.x.ID)
			if !ok {
				t.Fatalf("get(%s): not found", c.x.ID)
			}
			if !reflect.DeepEqual(got, c.x) {
				t.Errorf("exchange differs:\n got %+v\nwant %+v", got, c.x)
			}
			if !reflect.DeepEqual(gotRow, row) {
				t.Errorf("row differs:\n got %+v\nwant %+v", gotRow, row)
			}
			if got.Response != nil {
				got.Response.Body.Data = append(got.Response.Body.Data[:0], "changed"...)
				got.Response.Header.Set("X-Changed", "1")
			}
			if again, _, _ := s.get(c.x.ID); !reflect.DeepEqual(again, c.x) {
				t.Errorf("a change to the copy handed out reached the ring")
			}
		})
	}
}

// TestRecordGarbage: a damaged or cut record decodes to something, never
// a crash (the ring only decodes what it encoded; this guards the
// decoder), and so does every prefix of a real one.
func TestRecordGarbage(t *testing.T) {
	x := memoryShapes[1].make(1)
	inspect.New(inspect.Options{}).Inspect(x)
	r := rowOf(x)
	rec := appendRecord(nil, &r, x, false)
	for n := 0; n < len(rec); n += 1 + n/64 {
		recordRow(rec[:n])
		recordExchange(rec[:n])
		loginOf(rec[:n])
	}
	for _, p := range []string{"", "\x00", "\xff\xff\xff\xff", "\x05\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x00\x00\x00\x00" + strings.Repeat("\xff", 40)} {
		recordRow([]byte(p))
		recordExchange([]byte(p))
		loginOf([]byte(p))
	}
}

// FuzzRecord: any bytes decode without a crash, and a record made of
// any strings and body gives them back.
func FuzzRecord(f *testing.F) {
	x := memoryShapes[1].make(1)
	r := rowOf(x)
	f.Add(appendRecord(nil, &r, x, false), "GET", "https://h.example.test/p?q=1", "X-K", "v", []byte("body"))
	f.Add([]byte("\x00\x00\x00\x00"), "", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, garbage []byte, method, rawURL, k, v string, body []byte) {
		recordRow(garbage)
		recordExchange(garbage)
		loginOf(garbage)
		u, err := url.Parse(rawURL)
		if err != nil {
			u = nil
		}
		x := &flow.Exchange{ID: k + v, Request: flow.Request{Method: method, URL: u, Header: http.Header{k: {v, method}}, Body: flow.Body{Data: body, Size: int64(len(body))}},
			Response: &flow.Response{Status: len(body), Reason: v, Body: flow.Body{Data: body}}, Error: rawURL}
		x.OAuth.Login = v
		r := rowOf(x)
		rec := appendRecord(nil, &r, x, false)
		if got := recordExchange(rec); !reflect.DeepEqual(got, x) {
			t.Fatalf("exchange:\n got %+v\nwant %+v", got, x)
		}
		if got := recordRow(rec); !reflect.DeepEqual(got, r) {
			t.Fatalf("row:\n got %+v\nwant %+v", got, r)
		}
		if got := string(loginOf(rec)); got != r.Login {
			t.Fatalf("loginOf = %q, want %q", got, r.Login)
		}
	})
}

// TestStoreReleasedWhenUnreachable: the memory a store mapped is given
// back once the store is garbage (the collector does not own it).
func TestStoreReleasedWhenUnreachable(t *testing.T) {
	a := func() *arena {
		s := NewStore(1 << 20)
		fill(s, memoryShapes, 300)
		if got := s.mappedBytes(); got < 512<<10 {
			t.Fatalf("a full 1 MiB store maps %d bytes, want most of its bound", got)
		}
		return s.a
	}()
	for i := 0; i < 100 && !a.released.Load(); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	}
	if !a.released.Load() {
		t.Errorf("the store's chunks were not released after it became garbage")
	}
}
