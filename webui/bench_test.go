package webui

import (
	"fmt"
	"github.com/oauthproxy/oauthproxy/flow"
	"testing"
)

// BenchmarkHandle is the UI's cost per exchange in the sink chain, with
// no page open and with pages following the event stream (each drained by
// a reader, as an open page's stream is).
func BenchmarkHandle(b *testing.B) {
	for _, pages := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			s := New(Options{MaxBytes: 16 << 20})
			defer s.Close()
			for i := 0; i < pages; i++ {
				sb := s.hub.subscribe()
				go func() {
					for {
						select {
						case <-sb.ch:
						case <-sb.done:
							return
						}
					}
				}()
			}
			xs := make([]*flow.Exchange, 64)
			for i := range xs {
				xs[i] = xchg("POST", "https://login.example.test/oauth2/token?x="+fmt.Sprint(i), 200,
					respJSON(`{"access_token":"a","token_type":"Bearer","expires_in":3600}`))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Handle(xs[i%len(xs)])
			}
		})
	}
}
