package diff

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// side is an exchange with the facts the comparison needs, computed once.
type side struct {
	x      *flow.Exchange
	label  flow.Label
	grant  string
	host   string // issuer host if known, else request host; lower case
	method string
	path   string
	failed bool
	params map[string]param
	// skew is response Date minus local start; skewOK false when unknown.
	skew   time.Duration
	skewOK bool
	// respErr is the "error" member of the response body, read once (a
	// Capture drops the bodies after that).
	respErr string
}

// param is one request parameter; multiple values are joined with ",".
type param struct {
	value string
	where string // query, form, json
}

func newSide(x *flow.Exchange) *side {
	s := &side{x: x, method: strings.ToUpper(x.Request.Method)}
	if u := x.Request.URL; u != nil {
		s.host = strings.ToLower(u.Hostname())
		s.path = u.EscapedPath()
	}
	if iss := x.OAuth.Issuer; iss != "" {
		if u, err := url.Parse(iss); err == nil && u.Host != "" {
			s.host = strings.ToLower(u.Hostname())
		}
	}
	s.params = requestParams(&x.Request)
	s.label = x.OAuth.Label
	s.grant = x.OAuth.GrantType
	if s.grant == "" {
		s.grant = s.params["grant_type"].value
	}
	if s.label == flow.LabelNone && s.grant != "" && s.method == http.MethodPost {
		s.label = flow.LabelToken
	}
	d := x.OAuth.Diagnosis
	s.failed = x.Failed() || (d != nil && d.Category != flow.CategoryInfo)
	s.skew, s.skewOK = clockSkew(x)
	if x.Response != nil {
		s.respErr = oauthError(x.Response)
	}
	return s
}

// oauth reports whether the exchange has an OAuth role.
func (s *side) oauth() bool { return s.label != flow.LabelNone }

// tokenLike reports whether client authentication applies to the request.
func (s *side) tokenLike() bool {
	switch s.label {
	case flow.LabelToken, flow.LabelIntrospect, flow.LabelRevoke, flow.LabelPAR, flow.LabelDevice:
		return true
	}
	return s.grant != ""
}

// status is the response status, 0 when there was none.
func (s *side) status() int {
	if s.x.Response == nil {
		return 0
	}
	return s.x.Response.Status
}

// clockSkew is response Date minus the local start time. A Date within the
// exchange's own duration (plus the header's one-second resolution) is no skew.
func clockSkew(x *flow.Exchange) (time.Duration, bool) {
	if x.Response == nil || x.Start.IsZero() {
		return 0, false
	}
	d := x.Response.Header.Get("Date")
	if d == "" {
		return 0, false
	}
	t, err := http.ParseTime(d)
	if err != nil {
		return 0, false
	}
	skew := t.Sub(x.Start)
	total := x.Timings.Total
	if total < 0 {
		total = 0
	}
	switch {
	case skew >= -time.Second && skew <= total+time.Second:
		return 0, true
	case skew > 0:
		skew -= total
	}
	return skew.Round(time.Second), true
}

// requestParams collects query, form-body, JSON-body and multipart
// parameters, read by reqparams like everywhere else in the tree. Of a name
// found in several places the first location wins (query before body); the
// values found there are joined with ",".
func requestParams(r *flow.Request) map[string]param {
	out := map[string]param{}
	raw := ""
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	for _, p := range reqparams.Request(raw, r.Header.Get("Content-Type"), r.Body.Data) {
		where := string(p.Where)
		if cur, ok := out[p.Name]; ok {
			if cur.where == where {
				cur.value += "," + p.Value
				out[p.Name] = cur
			}
			continue
		}
		out[p.Name] = param{value: p.Value, where: where}
	}
	return out
}

// mediaType is the lower-case media type of a Content-Type value.
func mediaType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// ipOf returns the IP part of a host:port (or the value itself).
func ipOf(addr string) string {
	if addr == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.Trim(addr, "[]")
}

// displayURL is the redacted request URL.
func displayURL(x *flow.Exchange) string {
	if x.Request.URL == nil {
		return "(no URL)"
	}
	return redact.URL(x.Request.URL).String()
}

// summer accumulates a Summary one exchange at a time.
type summer struct {
	n, oauth, failed int
	egress           []string
	seen             map[string]bool
	maxSkew          time.Duration
	skewKnown        bool
}

func (a *summer) add(e *side) {
	a.n++
	if e.oauth() {
		a.oauth++
	}
	if e.failed {
		a.failed++
	}
	if ip := ipOf(e.x.Conn.LocalAddr); ip != "" && !a.seen[ip] {
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		a.seen[ip] = true
		a.egress = append(a.egress, ip)
	}
	if e.skewOK {
		if !a.skewKnown || abs(e.skew) > abs(a.maxSkew) {
			a.maxSkew = e.skew
		}
		a.skewKnown = true
	}
}

func (a *summer) summary(name string) Summary {
	s := Summary{Name: name, Exchanges: a.n, OAuth: a.oauth, Failed: a.failed, Egress: append([]string{}, a.egress...)}
	if a.skewKnown {
		v := int64(a.maxSkew / time.Second)
		s.ClockSkewSeconds = &v
	}
	return s
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// align pairs the exchanges of both captures. OAuth exchanges are matched by
// label and grant type, preferring the same issuer/host, then by order;
// other exchanges by method, host and path when there are few of them.
func align(a, b []*side) (pairs [][2]*side, ua, ub []*side, uncA, uncB int) {
	return alignCounted(a, b, -1, -1)
}

// alignCounted is align where the sides may lack non-OAuth exchanges that
// were only counted (a Capture keeps none once there are too many to
// align): otherA and otherB are how many there were (-1: all present).
func alignCounted(a, b []*side, otherA, otherB int) (pairs [][2]*side, ua, ub []*side, uncA, uncB int) {
	var oa, ob, na, nb []*side
	for _, s := range a {
		if s.oauth() {
			oa = append(oa, s)
		} else {
			na = append(na, s)
		}
	}
	for _, s := range b {
		if s.oauth() {
			ob = append(ob, s)
		} else {
			nb = append(nb, s)
		}
	}
	usedA, usedB := map[*side]bool{}, map[*side]bool{}
	match := func(as, bs []*side, same func(x, y *side) bool) {
		for _, x := range as {
			if usedA[x] {
				continue
			}
			for _, y := range bs {
				if !usedB[y] && same(x, y) {
					usedA[x], usedB[y] = true, true
					pairs = append(pairs, [2]*side{x, y})
					break
				}
			}
		}
	}
	match(oa, ob, func(x, y *side) bool { return x.label == y.label && x.grant == y.grant && x.host == y.host })
	match(oa, ob, func(x, y *side) bool { return x.label == y.label && x.grant == y.grant })
	match(oa, ob, func(x, y *side) bool { return x.label == y.label })
	if otherA < 0 {
		otherA = len(na)
	}
	if otherB < 0 {
		otherB = len(nb)
	}
	if otherA <= maxAlignedOther && otherB <= maxAlignedOther {
		match(na, nb, func(x, y *side) bool {
			return x.method == y.method && x.host == y.host && x.path == y.path
		})
		match(na, nb, func(x, y *side) bool { return x.method == y.method && x.path == y.path })
		for _, s := range na {
			if !usedA[s] {
				ua = append(ua, s)
			}
		}
		for _, s := range nb {
			if !usedB[s] {
				ub = append(ub, s)
			}
		}
	} else {
		uncA, uncB = otherA, otherB
	}
	for _, s := range oa {
		if !usedA[s] {
			ua = append(ua, s)
		}
	}
	for _, s := range ob {
		if !usedB[s] {
			ub = append(ub, s)
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i][0].x.Seq < pairs[j][0].x.Seq })
	sort.SliceStable(ua, func(i, j int) bool { return ua[i].x.Seq < ua[j].x.Seq })
	sort.SliceStable(ub, func(i, j int) bool { return ub[i].x.Seq < ub[j].x.Seq })
	return pairs, ua, ub, uncA, uncB
}
