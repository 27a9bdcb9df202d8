package proxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// TestClientAbortCancelsUpstream: a client that gives up while the proxy
// waits for upstream cancels the upstream request at once (before, an
// intercepted one held its connections until the upstream timeout), and
// the exchange is recorded as a client abort, not an upstream failure. The
// upstream timeout is an hour: only the abort can end the upstream request.
func TestClientAbortCancelsUpstream(t *testing.T) {
	arrived := make(chan struct{}, 4)
	canceled := make(chan struct{}, 4)
	stop := make(chan struct{}) // lets the handlers go when the test failed
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			w.Write([]byte("ok"))
			return
		}
		arrived <- struct{}{}
		select {
		case <-r.Context().Done(): // the proxy closed or reset the upstream request
			canceled <- struct{}{}
		case <-stop:
		}
	})
	tlsUp := newUpstream(t, h, false)
	plainUp := newPlainUpstream(t, h)
	t.Cleanup(func() { close(stop) }) // runs before the upstreams close
	p := startProxy(t, Options{RootCAs: rootsOf(tlsUp), UpstreamTimeout: time.Hour})
	for _, tc := range []struct{ name, url string }{
		{"intercepted", tlsUp.URL + "/slow"},
		{"plain", plainUp.URL + "/slow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.sink.all())
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", tc.url, nil)
			c := p.client(t)
			errc := make(chan error, 1)
			go func() {
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			select {
			case <-arrived:
			case <-time.After(waitLimit):
				t.Fatal("the request never reached upstream")
			}
			cancel() // the client gives up: its connection to the proxy closes
			if err := <-errc; err == nil {
				t.Fatal("client: got a response; want its cancellation error")
			}
			select {
			case <-canceled:
			case <-time.After(waitLimit):
				t.Fatal("upstream request still open after the client went away (held until the upstream timeout)")
			}
			x := p.sink.wait(t, before+1)[before]
			if !x.ClientAborted() || strings.Contains(x.Error, "timeout") {
				t.Errorf("exchange error %q; want a client abort (%q...)", x.Error, flow.ClientAbortedPrefix)
			}
		})
	}
	// The proxy keeps serving.
	if resp, _ := get(t, p.client(t), tlsUp.URL+"/after"); resp.StatusCode != http.StatusOK {
		t.Errorf("after: status %d", resp.StatusCode)
	}
}
