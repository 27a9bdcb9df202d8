// Package diagnose explains failed OAuth exchanges: it reads the status,
// headers and body of a response (standard OAuth errors, provider envelopes,
// WAF/CDN/gateway signatures, generic text) together with the request-side
// findings, and returns a category, a stable cause id, evidence and fix
// steps. Its knowledge is data: a table of rules, each with its source.
// It is pure: no I/O, no goroutines.
package diagnose
