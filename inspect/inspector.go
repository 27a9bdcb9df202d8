package inspect

import "github.com/oauthproxy/oauthproxy/flow"

// Inspector holds what correlation needs across exchanges: discovery
// metadata per issuer, authorize requests by state, and the code ledger.
type Inspector struct {
	opts Options
}

// New returns an Inspector configured by opts.
func New(opts Options) *Inspector {
	return &Inspector{opts: opts}
}

// Inspect labels x and fills x.OAuth (findings, diagnosis).
// NOT DONE: skeleton; the recognition and checks are being written.
func (in *Inspector) Inspect(x *flow.Exchange) {}

// Handle implements flow.Sink by calling Inspect.
func (in *Inspector) Handle(x *flow.Exchange) { in.Inspect(x) }
