// Package diagnose explains failed OAuth exchanges: it reads the status,
// headers and body of a response (standard OAuth errors, provider envelopes,
// WAF/CDN/gateway signatures, generic text) together with the request-side
// findings, and returns a category, a stable cause id, evidence and fix
// steps. Its knowledge is data: a table of rules, each with its source.
// It is pure: no I/O, no goroutines.
package diagnose

import "github.com/oauthproxy/oauthproxy/flow"

// Diagnose explains x if it is a failed OAuth exchange (or a 200 that is
// really an error), using x.OAuth.Label and x.OAuth.Findings already set by
// inspection. It returns nil for successes and for exchanges that are not
// OAuth. It never panics on malformed input.
// NOT DONE: skeleton; the rules are being written.
func Diagnose(x *flow.Exchange) *flow.Diagnosis { return nil }
