// Package diff compares two captures of the same OAuth 2.0 / OIDC flow taken
// on different machines ("works on my laptop, 403 on the server") and ranks
// the differences by how likely they explain the failure.
//
// It works from flow.Exchange values alone. Exchanges are expected to have
// been inspected (x.OAuth.Label, GrantType, Issuer, Diagnosis set), but empty
// OAuth fields are handled: a request carrying a grant_type parameter is
// treated as a token request, everything else is aligned by method, host and
// path. Values are compared by redact.Fingerprint, so a raw capture and a
// redacted one (or two redacted ones) give the same report, and the report
// itself never contains a raw secret.
package diff

import (
	"sort"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Options configure Compare.
type Options struct {
	// NameA and NameB name the captures in the report (file names, usually).
	// Empty means "A" and "B".
	NameA, NameB string
}

// Report is the result of Compare. It marshals to JSON with stable field
// names; slices are never null.
type Report struct {
	// A and B summarise each capture.
	A Summary `json:"a"`
	B Summary `json:"b"`
	// Headline is one line saying what failed, or "no failure to explain".
	Headline string `json:"headline"`
	// Failure is true when at least one compared exchange failed.
	Failure bool `json:"failure"`
	// Verdict lists the differences, most likely explanation first.
	Verdict []Reason `json:"verdict"`
	// Pairs are the aligned exchanges and their differences, in A's order.
	Pairs []Pair `json:"pairs"`
	// UnmatchedA and UnmatchedB are exchanges with no counterpart.
	UnmatchedA []ExchangeRef `json:"unmatched_a"`
	UnmatchedB []ExchangeRef `json:"unmatched_b"`
	// Notes are remarks about the input (empty capture, nothing comparable...).
	Notes []string `json:"notes"`
}

// Summary describes one capture.
type Summary struct {
	Name string `json:"name"`
	// Exchanges is the number of exchanges in the capture (nil entries ignored).
	Exchanges int `json:"exchanges"`
	// OAuth is the number of exchanges with an OAuth label (or a grant_type).
	OAuth int `json:"oauth"`
	// Failed counts exchanges that failed (error, status >= 400, or a diagnosis).
	Failed int `json:"failed"`
	// Uncompared counts non-OAuth exchanges that were only counted, not
	// aligned (there were too many of them).
	Uncompared int `json:"uncompared"`
	// Egress lists the distinct local (egress) IPs, in order of appearance.
	Egress []string `json:"egress"`
	// ClockSkewSeconds is the largest difference, in seconds, between a
	// response Date header and the local time the exchange started
	// (positive: the server clock is ahead of the local one). Nil if unknown.
	ClockSkewSeconds *int64 `json:"clock_skew_s,omitempty"`
}

// Reason is one ranked difference in the verdict.
type Reason struct {
	// Rank is 1 for the most likely explanation.
	Rank int `json:"rank"`
	// Score is 1..100; higher explains the failure better.
	Score int `json:"score"`
	// Category says who has to act (network, client-config, request...).
	Category flow.Category `json:"category"`
	// Kind is a stable id: egress-ip, resolved-ip, tls, server-cert,
	// clock-skew, header-removed, header-added, header-changed,
	// content-type, auth-method, endpoint-url, param-value, param-missing,
	// param-shape, param-location, param-incomparable, status, diagnosis,
	// unmatched.
	Kind string `json:"kind"`
	// Field is the header or parameter name the reason is about, if any.
	Field string `json:"field,omitempty"`
	// Summary is one line, secret-free.
	Summary string `json:"summary"`
	// Detail explains why this matters and what to check.
	Detail string `json:"detail,omitempty"`
	// Pairs are the 1-based pair indexes the difference was seen in.
	Pairs []int `json:"pairs,omitempty"`
}

// Pair is one exchange of A aligned with one exchange of B.
type Pair struct {
	// Index is 1-based.
	Index int         `json:"index"`
	A     ExchangeRef `json:"a"`
	B     ExchangeRef `json:"b"`
	// Differences found between the two, in a fixed order (outcome,
	// endpoint, request body, headers, connection).
	Differences []Difference `json:"differences"`
}

// Difference is one field that differs inside a pair. A and B are display
// values: secrets appear only as fingerprints or shapes.
type Difference struct {
	Kind string `json:"kind"`
	// Where is "request", "response", "conn" or "exchange".
	Where string `json:"where"`
	Field string `json:"field,omitempty"`
	A     string `json:"a"`
	B     string `json:"b"`
	// Score and Category as in the verdict (before de-duplication).
	Score    int           `json:"score"`
	Category flow.Category `json:"category"`
}

// ExchangeRef identifies an exchange in the report without its secrets.
type ExchangeRef struct {
	Seq       int             `json:"seq"`
	ID        string          `json:"id,omitempty"`
	Method    string          `json:"method"`
	URL       string          `json:"url"`
	Label     flow.Label      `json:"label,omitempty"`
	GrantType string          `json:"grant_type,omitempty"`
	Issuer    string          `json:"issuer,omitempty"`
	Status    int             `json:"status"`
	Error     string          `json:"error,omitempty"`
	Failed    bool            `json:"failed"`
	Diagnosis *flow.Diagnosis `json:"diagnosis,omitempty"`
}

// maxAlignedOther is the number of non-OAuth exchanges per side above which
// they are only counted, not aligned.
const maxAlignedOther = 50

// Compare aligns the OAuth flows of captures a and b and reports what
// differs, ranked by how likely it explains a failure. Nil entries are
// ignored; empty or unrelated captures give a report that says so.
func Compare(a, b []*flow.Exchange, opts Options) *Report {
	nameA, nameB := opts.NameA, opts.NameB
	if nameA == "" {
		nameA = "A"
	}
	if nameB == "" {
		nameB = "B"
	}
	ca, cb := NewCapture(nameA), NewCapture(nameB)
	for _, x := range a {
		ca.Add(x)
	}
	for _, x := range b {
		cb.Add(x)
	}
	return CompareCaptures(ca, cb)
}

// Capture is one capture being read for CompareCaptures, exchange by
// exchange, keeping only what the comparison uses: for every OAuth exchange
// and for the other exchanges while they are few enough to be aligned
// (beyond that they are only counted), a compact summary of exactly the
// fields diff compares (no bodies, headers already normalised and
// fingerprinted, repeated strings shared). Memory then grows with the
// OAuth exchanges, a few hundred bytes each, not with the capture.
type Capture struct {
	name   string
	sum    summer
	kept   []*side
	others int // non-OAuth exchanges seen
	sorted bool
	in     *interner
}

// NewCapture starts a capture named name ("A"/"B" when empty is left to
// the caller: the name appears in the report as given).
func NewCapture(name string) *Capture { return &Capture{name: name, in: newInterner()} }

// Add adds an exchange (nil is ignored). Exchanges should come in Seq
// order, inspected. Add keeps a compact summary of what it needs: x
// itself is not modified nor kept.
func (c *Capture) Add(x *flow.Exchange) {
	if x == nil {
		return
	}
	if c.in == nil {
		c.in = newInterner()
	}
	s := newSide(x, c.in)
	c.sum.add(s)
	if !s.oauth() {
		c.others++
		if c.others > maxAlignedOther {
			// Counted only: its response body is not even read.
			if c.others == maxAlignedOther+1 {
				// Too many to align: they are only counted from now on.
				k := c.kept[:0]
				for _, e := range c.kept {
					if e.oauth() {
						k = append(k, e)
					}
				}
				clear(c.kept[len(k):])
				c.kept = k
			}
			return
		}
	}
	if x.Response != nil {
		// The "error" member, read once: the body is not kept.
		s.respErr = c.in.str(oauthError(x.Response, c.in))
	}
	c.kept = append(c.kept, s)
}

// sides returns the kept exchanges in Seq order.
func (c *Capture) sides() []*side {
	if !c.sorted {
		sort.SliceStable(c.kept, func(i, j int) bool { return c.kept[i].seq < c.kept[j].seq })
		c.sorted = true
	}
	return c.kept
}

// CompareCaptures is Compare for captures read with a Capture each.
func CompareCaptures(ca, cb *Capture) *Report {
	nameA, nameB := ca.name, cb.name
	if nameA == "" {
		nameA = "A"
	}
	if nameB == "" {
		nameB = "B"
	}
	sa, sb := ca.sides(), cb.sides()
	// The interners are only needed while exchanges are added.
	ca.in, cb.in = nil, nil
	r := &Report{
		A:          ca.sum.summary(nameA),
		B:          cb.sum.summary(nameB),
		Verdict:    []Reason{},
		Pairs:      []Pair{},
		UnmatchedA: []ExchangeRef{},
		UnmatchedB: []ExchangeRef{},
		Notes:      []string{},
	}
	if ca.sum.n == 0 {
		r.Notes = append(r.Notes, "capture A has no exchanges")
	}
	if cb.sum.n == 0 {
		r.Notes = append(r.Notes, "capture B has no exchanges")
	}

	pairs, ua, ub, uncA, uncB := alignCounted(sa, sb, ca.others, cb.others)
	r.A.Uncompared, r.B.Uncompared = uncA, uncB
	if uncA > 0 || uncB > 0 {
		r.Notes = append(r.Notes, "too many non-OAuth exchanges to align: they are counted, not compared")
	}
	if r.A.Exchanges > 0 && r.B.Exchanges > 0 && r.A.OAuth == 0 && r.B.OAuth == 0 {
		r.Notes = append(r.Notes, "neither capture contains a recognised OAuth exchange: exchanges were aligned by method, host and path")
	} else if r.A.Exchanges > 0 && r.B.Exchanges > 0 && (r.A.OAuth == 0 || r.B.OAuth == 0) {
		r.Notes = append(r.Notes, "only one capture contains OAuth exchanges: the captures may not be of the same flow")
	}
	if r.A.Exchanges > 0 && r.B.Exchanges > 0 && len(pairs) == 0 {
		r.Notes = append(r.Notes, "no exchange of A could be matched with one of B: the captures may not be of the same flow")
	}

	var all verdictBuilder
	for i, p := range pairs {
		idx := i + 1
		fs := comparePair(p[0], p[1])
		pr := Pair{Index: idx, A: ref(p[0]), B: ref(p[1]), Differences: []Difference{}}
		for _, f := range fs {
			f.pair = idx
			pr.Differences = append(pr.Differences, f.Difference)
			all.add(f)
		}
		r.Pairs = append(r.Pairs, pr)
	}
	for _, s := range ua {
		r.UnmatchedA = append(r.UnmatchedA, ref(s))
		if f, ok := unmatchedFinding("A", s); ok {
			all.add(f)
		}
	}
	for _, s := range ub {
		r.UnmatchedB = append(r.UnmatchedB, ref(s))
		if f, ok := unmatchedFinding("B", s); ok {
			all.add(f)
		}
	}
	r.Verdict = all.done()
	r.Headline, r.Failure = headline(r, sa, sb, pairs, ua, ub)
	return r
}

// ref builds the report's reference to an exchange.
func ref(s *side) ExchangeRef {
	return ExchangeRef{
		Seq:       s.seq,
		ID:        s.id,
		Method:    s.rawMethod,
		URL:       s.url,
		Label:     s.label,
		GrantType: s.grant,
		Issuer:    s.issuer,
		Status:    s.status,
		Error:     s.errText,
		Failed:    s.failed,
		Diagnosis: s.diag,
	}
}
