package otlpexport

import (
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/otlpexport/otlptest"
)

// BenchmarkHandle is the sink's own cost per exchange on the proxy's
// inspection goroutine (a diagnosed token exchange), with the collector
// refusing connections and with a real receiver. The exporter goroutine's
// work (protobuf, gzip, HTTP) is not in ns/op; BenchmarkSinkChain in
// cmd/oauthproxy measures the whole process's CPU.
func BenchmarkHandle(b *testing.B) {
	rcv := otlptest.Start(b)
	for _, bc := range []struct{ name, endpoint string }{
		{"collector-down", "http://" + otlptest.Refused(b)},
		{"collector-up", rcv.URL()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := New(Options{Endpoint: bc.endpoint})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(time.Second)
			x := exchanges()[1]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Handle(x)
			}
			b.StopTimer()
			b.ReportMetric(float64(s.Stats().Dropped)/float64(b.N), "dropped/op")
		})
	}
}
