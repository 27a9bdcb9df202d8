package capture

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
)

var bench struct {
	once sync.Once
	dir  string
	path string
	size int64
	n    int
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchHAR writes (once per process) a capture of about
// OAUTHPROXY_BENCH_HAR_MB megabytes (default 8) of OAuth-like exchanges with
// JSON, HTML and binary bodies.
func benchHAR(b *testing.B) (string, int64, int) {
	bench.once.Do(func() {
		mb := 8
		if v := os.Getenv("OAUTHPROXY_BENCH_HAR_MB"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				mb = n
			}
		}
		bench.dir, bench.err = os.MkdirTemp("", "capture-bench-")
		if bench.err != nil {
			return
		}
		bench.path = filepath.Join(bench.dir, "big.har")
		w, err := NewWriter(bench.path, WriterOptions{Unredacted: true, BodyCap: -1})
		if err != nil {
			bench.err = err
			return
		}
		base := sampleFlow(b)
		bigJSON := bytes.Repeat([]byte(`{"kid":"k1","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"},`), 8)
		bin := make([]byte, 1500)
		for i := range bin {
			bin[i] = byte(i * 7)
		}
		target := int64(mb) << 20
		for i := 0; ; i++ {
			x := *base[i%len(base)]
			x.ID = ""
			x.Start = t0.Add(time.Duration(i) * time.Millisecond)
			if x.Response != nil {
				r := *x.Response
				switch i % 3 {
				case 0:
					r.Body = flow.Body{Data: append(append([]byte(`{"keys":[`), bigJSON...), `{}]}`...), Size: 3000}
				case 1:
					r.Body = flow.Body{Data: bin, Size: int64(len(bin))}
				}
				x.Response = &r
			}
			w.Handle(&x)
			if i%256 == 0 {
				if fi, err := os.Stat(bench.path + JournalSuffix); err == nil && fi.Size() >= target {
					break
				}
			}
		}
		bench.n = w.Count()
		if bench.err = w.Close(); bench.err != nil {
			return
		}
		fi, err := os.Stat(bench.path)
		if err != nil {
			bench.err = err
			return
		}
		bench.size = fi.Size()
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.path, bench.size, bench.n
}

// BenchmarkRead streams the generated capture through Reader.Next and
// reports throughput (MB/s), allocations, and the peak live heap.
func BenchmarkRead(b *testing.B) {
	benchStream(b, func() func(*flow.Exchange) { return func(*flow.Exchange) {} })
}

// benchStream reads the generated capture b.N times, handing each exchange
// to the function perRun returns (one per pass), and reports throughput,
// allocations and the peak live heap sampled during the first pass.
func benchStream(b *testing.B, perRun func() func(*flow.Exchange)) {
	path, size, n := benchHAR(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		handle := perRun()
		got := 0
		for {
			x, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			handle(x)
			got++
			if i == 0 && got%(n/8+1) == 0 {
				b.StopTimer()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
				b.StartTimer()
			}
		}
		r.Close()
		if got != n {
			b.Fatalf("read %d exchanges, want %d", got, n)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "live-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "file-MB")
}

// BenchmarkPlainDecode decodes the same file with encoding/json into a
// minimal struct, in one go: the yardstick for BenchmarkRead.
func BenchmarkPlainDecode(b *testing.B) {
	path, size, n := benchHAR(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var doc struct {
			Log struct {
				Entries []struct {
					StartedDateTime string `json:"startedDateTime"`
					Request         struct {
						Method string `json:"method"`
						URL    string `json:"url"`
					} `json:"request"`
					Response struct {
						Status int `json:"status"`
					} `json:"response"`
				} `json:"entries"`
			} `json:"log"`
		}
		if err := json.NewDecoder(f).Decode(&doc); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if len(doc.Log.Entries) != n {
			b.Fatalf("decoded %d entries, want %d", len(doc.Log.Entries), n)
		}
	}
}

// BenchmarkAnalyze is what `oauthproxy analyze` does per file: stream the
// capture and run the inspector (recognition, checks, correlation,
// diagnosis) over every exchange.
func BenchmarkAnalyze(b *testing.B) {
	benchStream(b, func() func(*flow.Exchange) { return inspect.New(inspect.Options{}).Inspect })
}
