package diagnose

import (
	"fmt"
	"net/http"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Layer says which part of a response a rule reads, in decreasing order of
// trust. A rule of a later layer is only considered when no rule of an
// earlier layer matched.
type Layer int

// Layers, most trusted first.
const (
	// LayerOAuth rules read standard OAuth errors (RFC 6749 §5.2, RFC 6750,
	// RFC 7636, RFC 8628, RFC 9449, RFC 8705) and provider error envelopes.
	// They apply only when the response carries such an error.
	LayerOAuth Layer = iota
	// LayerEdge rules recognise intermediaries (WAF, CDN, gateway, proxy)
	// by headers, cookies and body; they apply only when the body is NOT an
	// OAuth error.
	LayerEdge
)

// Generic words are not rules of a layer: the wording classifier
// (wording.go) reads them after every rule failed.

// HeaderMatch matches a response header: Value is a regexp on the header
// value; empty means "present".
type HeaderMatch struct {
	Name  string
	Value string
}

// Rule is one piece of diagnostic knowledge. Every condition that is set
// must match; list conditions match when any element matches. Among the
// matching rules of a layer the most specific one (most and strongest
// conditions) wins; ties go to the earlier rule in the table.
type Rule struct {
	// ID names the rule (unique), e.g. "entra-7000215".
	ID    string
	Layer Layer

	// Labels restricts the rule to these endpoint labels (nil: any OAuth label).
	Labels []flow.Label
	// Status restricts the rule to these status codes. Nil means: any
	// status for LayerOAuth (the error envelope decides), 4xx except 404,
	// 405, 410 and 429 for the other layers.
	Status []int
	// AlsoSuccess lets a LayerEdge rule fire on 2xx/3xx
	// responses too (block pages served with 200, AWS WAF challenge 202).
	AlsoSuccess bool
	// Unlabeled lets the rule fire on exchanges inspection did not label
	// as OAuth (provider API errors about the token or the app).
	Unlabeled bool
	// FromServer marks LayerEdge rules whose signature comes from the
	// OAuth or resource server itself (a Bearer or Basic challenge), so the
	// diagnosis does not claim an intermediary answered.
	FromServer bool

	// Errors are OAuth error codes (error=...), lower case.
	Errors []string
	// Codes are provider codes, "namespace:value": aadsts:7000215,
	// errcode:40029 (WeChat/WeCom/DingTalk), fb:100 (Facebook error.code),
	// okta:E0000011, alipay:isv.code-invalid, code:20003 (Feishu/Lark),
	// error:100010 (QQ), error_code:21321 (Weibo), errors:89 (X),
	// status:PERMISSION_DENIED (Google API).
	Codes []string
	// Desc is a regexp on error_description and provider messages.
	Desc string
	// Headers match response headers (any of them).
	Headers []HeaderMatch
	// Cookie is a regexp on the names of cookies the response sets.
	Cookie string
	// Body is a regexp on the body text (at most 64 KiB).
	Body string
	// Reason is a regexp on a non-standard HTTP/1.x reason phrase
	// ("403 Ip Forbidden"): some gateways say what blocked a request only there.
	Reason string
	// Findings are request-side finding ids (any of them).
	Findings []string
	// ReqParam requires this parameter in the request query or form body.
	ReqParam string

	Cause string
	// Category overrides the cause's category (rarely needed).
	Category flow.Category
	// Summary is one sentence for the user; empty means the cause title.
	Summary string
	// Fix lists steps specific to this rule, shown before the cause's steps.
	Fix []string
	// Confidence is high, medium or low; empty means high for LayerOAuth,
	// medium for LayerEdge.
	Confidence string
	// Source is the RFC section or vendor documentation the rule is based on.
	Source string
	// Providers names the providers and gateways whose knowledge the rule
	// encodes (their codes, wording or signatures), lower case: "entra",
	// "cloudflare". Rules from the standards alone have none. The
	// leave-one-provider-out measure removes them.
	Providers []string
}

type compiledHeader struct {
	name string
	re   *regexp.Regexp
}

type compiledRule struct {
	*Rule
	index                      int // position in the table
	score                      int // specificity: sum of the weights of its conditions
	desc, body, cookie, reason *regexp.Regexp
	// bodyLits holds lower-case strings one of which occurs in any text the
	// body regexp matches (nil: no such set): a cheap test before the scan.
	bodyLits []string
	headers  []compiledHeader
	errors   map[string]bool
	codes    map[string]bool
	labels   map[flow.Label]bool
	status   map[int]bool
	findings map[string]bool
}

// compiled is the rule table, compiled once at init, sorted by
// decreasing specificity (then table order): the first rule that matches
// is the winner, because a rule that matches scores exactly its
// specificity.
var compiled = mustCompile(rules)

func mustCompile(rs []Rule) []*compiledRule {
	out, err := compileRules(rs)
	if err != nil {
		panic(err)
	}
	return out
}

func compileRules(rs []Rule) ([]*compiledRule, error) {
	out := make([]*compiledRule, 0, len(rs))
	seen := map[string]bool{}
	re := func(id, what, s string) (*regexp.Regexp, error) {
		if s == "" {
			return nil, nil
		}
		r, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("diagnose: rule %s: %s: %w", id, what, err)
		}
		return r, nil
	}
	for i := range rs {
		r := &rs[i]
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("diagnose: rule %d: empty or duplicate id %q", i, r.ID)
		}
		seen[r.ID] = true
		if causeByID[r.Cause] == nil {
			return nil, fmt.Errorf("diagnose: rule %s: undocumented cause %q", r.ID, r.Cause)
		}
		if r.Source == "" {
			return nil, fmt.Errorf("diagnose: rule %s: no source", r.ID)
		}
		c := &compiledRule{Rule: r}
		var err error
		if c.desc, err = re(r.ID, "desc", r.Desc); err != nil {
			return nil, err
		}
		if c.body, err = re(r.ID, "body", r.Body); err != nil {
			return nil, err
		}
		if r.Body != "" {
			c.bodyLits = requiredLiterals(r.Body)
		}
		if c.cookie, err = re(r.ID, "cookie", r.Cookie); err != nil {
			return nil, err
		}
		if c.reason, err = re(r.ID, "reason", r.Reason); err != nil {
			return nil, err
		}
		for _, h := range r.Headers {
			hr, err := re(r.ID, "header "+h.Name, h.Value)
			if err != nil {
				return nil, err
			}
			c.headers = append(c.headers, compiledHeader{http.CanonicalHeaderKey(h.Name), hr})
		}
		c.errors = set(r.Errors)
		c.codes = set(r.Codes)
		c.findings = set(r.Findings)
		if len(r.Labels) > 0 {
			c.labels = map[flow.Label]bool{}
			for _, l := range r.Labels {
				c.labels[l] = true
			}
		}
		if len(r.Status) > 0 {
			c.status = map[int]bool{}
			for _, s := range r.Status {
				c.status[s] = true
			}
		}
		c.index = i
		c.score = c.specificity()
		if r.Layer == LayerOAuth && len(r.Errors)+len(r.Codes)+len(r.Findings) == 0 && r.Desc == "" {
			return nil, fmt.Errorf("diagnose: rule %s: an OAuth-layer rule needs an error, code, finding or description condition", r.ID)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	return out, nil
}

// specificity is the score of the rule when it matches.
func (r *compiledRule) specificity() int {
	s := 0
	add := func(cond bool, w int) {
		if cond {
			s += w
		}
	}
	add(r.labels != nil, wLabel)
	add(r.status != nil, wStatus)
	add(r.findings != nil, wFinding)
	add(r.errors != nil, wError)
	add(r.codes != nil, wCode)
	add(r.desc != nil, wDesc)
	add(r.headers != nil, wHeader)
	add(r.cookie != nil, wCookie)
	add(r.body != nil, wBody)
	add(r.reason != nil, wBody)
	add(r.ReqParam != "", wParam)
	return s
}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// knownErrors are the OAuth error codes some rule knows; codes read from
// the text of HTML pages must be one of them.
var knownErrors = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range rules {
		for _, e := range r.Errors {
			m[e] = true
		}
	}
	return m
}()

// Weights of conditions in the specificity score.
const (
	wCode    = 10
	wFinding = 6
	wError   = 4
	wDesc    = 4
	wHeader  = 3
	wCookie  = 3
	wBody    = 3
	wParam   = 2
	wStatus  = 1
	wLabel   = 1
)

// match reports whether r matches, its score and the evidence it quotes.
func (r *compiledRule) match(f *facts, x *flow.Exchange) (int, []string, bool) {
	score := 0
	var ev []string
	if r.labels != nil {
		if !r.labels[f.label] {
			return 0, nil, false
		}
		score += wLabel
	}
	if r.status != nil {
		if !r.status[f.status] {
			return 0, nil, false
		}
		score += wStatus
	}
	if r.findings != nil {
		var hit *flow.Finding
		for i := range f.findings {
			// An info finding (a guessed link says "likely") is no
			// evidence a diagnosis can rest on.
			if f.findings[i].Severity != flow.SeverityInfo && r.findings[f.findings[i].ID] {
				hit = &f.findings[i]
				break
			}
		}
		if hit == nil {
			return 0, nil, false
		}
		score += wFinding
		ev = append(ev, "request finding "+hit.ID+": "+hit.Message)
	}
	if r.errors != nil {
		if !r.errors[f.errCode] {
			return 0, nil, false
		}
		score += wError
		ev = append(ev, errorEvidence(f))
	}
	if r.codes != nil {
		hit := ""
		for _, c := range f.codes {
			if r.codes[c] {
				hit = c
				break
			}
		}
		if hit == "" {
			return 0, nil, false
		}
		score += wCode
		ev = append(ev, codeEvidence(hit))
	}
	if r.desc != nil {
		d := ""
		for _, s := range f.descs {
			if r.desc.MatchString(s) {
				d = s
				break
			}
		}
		if d == "" {
			return 0, nil, false
		}
		score += wDesc
		ev = append(ev, fmt.Sprintf("error_description: %q", d))
	}
	if r.headers != nil {
		hit := ""
		for _, h := range r.headers {
			for _, v := range f.header.Values(h.name) {
				if h.re == nil || h.re.MatchString(v) {
					hit = "header " + h.name + ": " + v
					break
				}
			}
			if hit != "" {
				break
			}
		}
		if hit == "" {
			return 0, nil, false
		}
		score += wHeader
		ev = append(ev, hit)
	}
	if r.cookie != nil {
		hit := ""
		for _, c := range f.cookies {
			if r.cookie.MatchString(c) {
				hit = c
				break
			}
		}
		if hit == "" {
			return 0, nil, false
		}
		score += wCookie
		ev = append(ev, "cookie "+hit+" set")
	}
	if r.body != nil {
		if r.bodyLits != nil && !f.mayContain(r.bodyLits) {
			return 0, nil, false
		}
		loc := r.body.FindStringIndex(f.body)
		if loc == nil {
			return 0, nil, false
		}
		score += wBody
		if loc[0] == loc[1] {
			ev = append(ev, "body is empty")
		} else {
			ev = append(ev, fmt.Sprintf("body: %q", f.body[loc[0]:loc[1]]))
		}
	}
	if r.reason != nil {
		if f.reason == "" || !r.reason.MatchString(f.reason) {
			return 0, nil, false
		}
		score += wBody
		ev = append(ev, fmt.Sprintf("status line: %d %s", f.status, f.reason))
	}
	if r.ReqParam != "" {
		if !hasRequestParam(x, r.ReqParam) {
			return 0, nil, false
		}
		score += wParam
		ev = append(ev, "request has parameter "+r.ReqParam)
	}
	return score, ev, true
}

func errorEvidence(f *facts) string {
	s := "error=" + f.errRaw
	if f.errFrom != "" && f.errFrom != "body" {
		s += " (from " + f.errFrom + ")"
	}
	return s
}

// codeEvidence renders a provider code the way the provider writes it.
func codeEvidence(c string) string {
	ns, v, _ := strings.Cut(c, ":")
	switch ns {
	case "aadsts":
		return "AADSTS" + v
	case "fb":
		return "Facebook error.code=" + v
	case "fb-sub":
		return "Facebook error.error_subcode=" + v
	case "okta":
		return "Okta errorCode=" + v
	case "alipay":
		return "Alipay error_response code=" + v
	case "status":
		return "error.status=" + v
	}
	return ns + "=" + v
}

// requiredLiterals returns lower-case strings one of which must occur
// (case-insensitively) in any text the regexp matches, or nil when it cannot
// tell (an alternative without a literal, such as \A\s*\z).
func requiredLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	lits, ok := literalsOf(re.Simplify())
	if !ok {
		return nil
	}
	return lits
}

func literalsOf(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		// One ASCII letter proves nothing; one CJK character (a factored
		// prefix of 频率|频繁) is selective enough.
		if len(re.Rune) == 0 || (len(re.Rune) == 1 && re.Rune[0] < 0x2E80) {
			return nil, false
		}
		return []string{strings.ToLower(string(re.Rune))}, true
	case syntax.OpCapture:
		return literalsOf(re.Sub[0])
	case syntax.OpPlus:
		return literalsOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalsOf(re.Sub[0])
		}
		return nil, false
	case syntax.OpConcat:
		// Any one part's requirement holds for the whole: take the part
		// whose shortest literal is longest.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			lits, ok := literalsOf(sub)
			if !ok {
				continue
			}
			short := len(lits[0])
			for _, l := range lits {
				short = min(short, len(l))
			}
			if short > bestLen {
				best, bestLen = lits, short
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			lits, ok := literalsOf(sub)
			if !ok {
				return nil, false
			}
			all = append(all, lits...)
		}
		return all, len(all) > 0
	}
	return nil, false
}
