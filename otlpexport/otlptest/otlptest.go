// Package otlptest is an OTLP/HTTP log receiver for tests: a plain-HTTP
// server on loopback that decodes each protobuf ExportLogsServiceRequest
// (gzip or not) with the OpenTelemetry protocol's own Go types, and keeps
// the raw bytes it received so that tests can look for leaked secrets.
// It is used by the tests of otlpexport and of `oauthproxy run --otlp`.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Record is one decoded log record with its resource's attributes.
type Record struct {
	Resource     map[string]any
	Scope        string
	EventName    string
	TimeUnixNano uint64
	Severity     int32
	SeverityText string
	Body         string
	Attrs        map[string]any
}

// Receiver is a running OTLP/HTTP logs receiver.
type Receiver struct {
	*httptest.Server
	mu      sync.Mutex
	records []Record
	raw     bytes.Buffer // every request as received: headers and (compressed) body
	decoded bytes.Buffer // every body after gzip was removed
	errs    []string
}

// Start starts a receiver on 127.0.0.1; it is closed when the test ends.
func Start(t testing.TB) *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// URL is the receiver's base URL (http://127.0.0.1:PORT); the logs path is /v1/logs.
func (r *Receiver) URL() string { return r.Server.URL }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	head, _ := httputil.DumpRequest(req, false)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw.Write(head)
	r.raw.Write(body)
	if req.URL.Path != "/v1/logs" || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.errs = append(r.errs, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type"))
		http.Error(w, "want POST /v1/logs application/x-protobuf", http.StatusBadRequest)
		return
	}
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			r.errs = append(r.errs, "gzip: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	r.decoded.Write(body)
	var msg collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		r.errs = append(r.errs, "protobuf: "+err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rl := range msg.GetResourceLogs() {
		res := attrs(rl.GetResource().GetAttributes())
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				r.records = append(r.records, Record{
					Resource:     res,
					Scope:        sl.GetScope().GetName(),
					EventName:    lr.GetEventName(),
					TimeUnixNano: lr.GetTimeUnixNano(),
					Severity:     int32(lr.GetSeverityNumber()),
					SeverityText: lr.GetSeverityText(),
					Body:         lr.GetBody().GetStringValue(),
					Attrs:        attrs(lr.GetAttributes()),
				})
			}
		}
	}
	out, _ := proto.Marshal(&collogspb.ExportLogsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// attrs turns OTLP attributes into Go values: string, int64, float64,
// bool or []any for arrays.
func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

func value(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, value(e))
		}
		return out
	}
	return nil
}

// Records returns the records received so far.
func (r *Receiver) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// Wait waits until at least n records were received, at most 10s, and
// returns them.
func (r *Receiver) Wait(t testing.TB, n int) []Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs := r.Records()
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("otlptest: got %d records, want %d", len(rs), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Raw returns every request the receiver got, headers and body as they
// came on the wire, followed by the bodies after gzip was removed.
func (r *Receiver) Raw() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]byte(nil), r.raw.Bytes()...)
	return append(out, r.decoded.Bytes()...)
}

// Errors returns the requests the receiver refused (wrong path, type,
// encoding or protobuf), as short descriptions.
func (r *Receiver) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// Silent is a collector that accepts connections and reads them, never
// answering. It is closed when the test ends.
type Silent struct {
	// Addr is its 127.0.0.1:PORT address.
	Addr     string
	accepted atomic.Int32
}

// Accepted is the number of connections it accepted so far.
func (s *Silent) Accepted() int { return int(s.accepted.Load()) }

// StartSilent starts a Silent collector on 127.0.0.1.
func StartSilent(t testing.TB) *Silent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Silent{Addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return s
}

// Refused returns a loopback address where nothing listens: a collector
// that is down (connection refused).
func Refused(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
