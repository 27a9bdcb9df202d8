// Package inspect recognises OAuth 2.0 / OpenID Connect exchanges, checks
// token requests, correlates authorize requests, callbacks and token
// exchanges, and attaches findings and a diagnosis to each exchange.
//
// It is pure: no I/O, no goroutines, no wall clock (times come from the
// exchanges). The same Inspector runs behind the live proxy and over an
// imported capture. An Inspector is safe for concurrent use, but exchanges
// should be fed in the order they happened for correlation to make sense.
package inspect

import "time"

// Options configure an Inspector. The zero value is usable.
type Options struct {
	// TokenEndpoints are URLs to treat as token endpoints (--token-endpoint),
	// after endpoints learned from discovery documents and before heuristics.
	TokenEndpoints []string
	// Ledger remembers which codes and refresh tokens were already sent.
	// Nil means an in-memory ledger.
	Ledger Ledger
	// CodeLifetime is the age after which an authorization code is reported
	// as stale (code-stale). Zero means 5 minutes.
	CodeLifetime time.Duration
}

// Ledger remembers single-use credentials (authorization codes, refresh
// tokens) by fingerprint only, never raw. Implementations must be safe for
// concurrent use; the in-memory one is MemoryLedger, the persistent one lives
// in package ledger.
type Ledger interface {
	// Lookup returns the first recorded use of the credential with this
	// kind and fingerprint.
	Lookup(kind Kind, fingerprint string) (Use, bool)
	// Record stores a use. The first use of a fingerprint wins; later
	// records of the same fingerprint may update Rotated.
	Record(u Use)
}

// Kind is the kind of single-use credential a ledger entry is about.
type Kind string

// Kinds of ledger entries.
const (
	KindCode         Kind = "code"
	KindRefreshToken Kind = "refresh_token"
)

// Use is one use of a single-use credential at a token endpoint.
type Use struct {
	Kind        Kind      `json:"kind"`
	Fingerprint string    `json:"fp"`
	Time        time.Time `json:"time"`
	Flow        string    `json:"flow"`
	Issuer      string    `json:"issuer,omitempty"`
	Status      int       `json:"status"`
	// Result is the outcome: "ok" or the OAuth error code of the answer.
	Result string `json:"result"`
	// Rotated is true for a refresh token whose use returned a new refresh token.
	Rotated bool `json:"rotated,omitempty"`
}
