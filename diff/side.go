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

// side is the compact summary of one exchange that the comparison works
// from: exactly the fields it compares, computed once when the exchange is
// added, with headers already normalised (secrets as fingerprints, bearer
// tokens as their scheme) and no bodies. Repeated values (hosts, paths,
// header lists, connection facts, diagnoses) are shared through the
// capture's interner, so a capture of 100k exchanges stays small.
type side struct {
	seq       int
	id        string
	rawMethod string // as captured, for the report
	url       string // redacted display URL
	hasURL    bool
	scheme    string // request URL scheme and host (with port), as captured
	hostPort  string
	issuer    string
	errText   string
	hasResp   bool
	status    int
	diag      *flow.Diagnosis

	label  flow.Label
	grant  string
	host   string // issuer host if known, else request host; lower case
	method string
	path   string
	failed bool
	// params are sorted by name.
	params []param
	// skew is response Date minus local start; skewOK false when unknown.
	skew   time.Duration
	skewOK bool
	// respErr is the "error" member of the response body.
	respErr string

	// reqHdr and respHdr are the normalised headers (normHeaders), sorted
	// by name; respHdr is nil when there was no response header map.
	reqHdr, respHdr []hdr
	ctype           string // media type of the request Content-Type
	basic           bool   // Authorization: Basic
	via             string // first of Via, X-Forwarded-For, Forwarded sent, or ""
	conn            *connFacts
}

// hdr is one normalised header: canonical name, comparable value.
type hdr struct{ name, value string }

// connFacts are the compared facts of the upstream connection.
type connFacts struct {
	egress, server string // IPs of the local and remote ends
	tls            string // version, ALPN, cipher
	certIssuer     string
	certFP         string // normalised hex SHA-256
}

// param is one request parameter; multiple values are joined with ",".
// Values of per-flow parameters (perFlow) are compared only by shape, so
// their shape is computed once; a long one is kept as its display form
// (disp), never needed raw again.
type param struct {
	name  string
	value string
	where string // query, form, json
	shape shapeOf
	empty bool
	disp  bool
}

// display is the secret-free form of the value for the report.
func (p param) display() string {
	if p.disp {
		return p.value
	}
	return redact.Value(p.name, p.value)
}

// maxRawPerFlow is the longest per-flow value kept raw; longer ones (JWT
// assertions, tokens) are kept as their fingerprint display.
const maxRawPerFlow = 64

func newSide(x *flow.Exchange, in *interner) *side {
	s := &side{seq: x.Seq, id: x.ID, rawMethod: in.str(x.Request.Method), method: in.str(strings.ToUpper(x.Request.Method))}
	s.url = "(no URL)"
	if u := x.Request.URL; u != nil {
		s.hasURL = true
		s.url = in.str(redact.URL(u).String())
		s.scheme, s.hostPort = in.str(u.Scheme), in.str(u.Host)
		s.host = in.str(strings.ToLower(u.Hostname()))
		s.path = in.str(u.EscapedPath())
	}
	s.issuer = in.str(x.OAuth.Issuer)
	if iss := x.OAuth.Issuer; iss != "" {
		if u, err := url.Parse(iss); err == nil && u.Host != "" {
			s.host = in.str(strings.ToLower(u.Hostname()))
		}
	}
	s.errText = in.str(x.Error)
	s.params = requestParams(&x.Request, in)
	s.label = x.OAuth.Label
	s.grant = in.str(x.OAuth.GrantType)
	if s.grant == "" {
		if p, ok := s.param("grant_type"); ok {
			s.grant = p.value
		}
	}
	if s.label == flow.LabelNone && s.grant != "" && s.method == http.MethodPost {
		s.label = flow.LabelToken
	}
	d := x.OAuth.Diagnosis
	s.diag = in.diagnosis(d)
	s.failed = x.Failed() || (d != nil && d.Category != flow.CategoryInfo)
	s.skew, s.skewOK = clockSkew(x)
	h := x.Request.Header
	s.reqHdr = in.headers(h)
	s.ctype = in.str(mediaType(h.Get("Content-Type")))
	if scheme, _, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "basic") {
		s.basic = true
	}
	for _, p := range []string{"Via", "X-Forwarded-For", "Forwarded"} {
		if h.Get(p) != "" {
			s.via = p
			break
		}
	}
	if r := x.Response; r != nil {
		s.hasResp, s.status = true, r.Status
		if r.Header != nil {
			s.respHdr = in.headers(r.Header)
		}
	}
	c := x.Conn
	s.conn = in.conn(connFacts{
		egress:     ipOf(c.LocalAddr),
		server:     ipOf(c.ServerAddr),
		tls:        strings.TrimSpace(strings.Join([]string{c.TLSVersion, c.ALPN, c.CipherSuite}, " ")),
		certIssuer: c.CertIssuer,
		certFP:     normFP(c.CertSHA256),
	})
	return s
}

// param returns the parameter called name (exact case).
func (s *side) param(name string) (param, bool) {
	i := sort.Search(len(s.params), func(i int) bool { return s.params[i].name >= name })
	if i < len(s.params) && s.params[i].name == name {
		return s.params[i], true
	}
	return param{}, false
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
// values found there are joined with ",". The result is sorted by name;
// its strings are copies (interned), never slices of the body.
func requestParams(r *flow.Request, in *interner) []param {
	raw := ""
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	var out []param
	idx := map[string]int{}
	for _, p := range reqparams.Request(raw, r.Header.Get("Content-Type"), r.Body.Data) {
		where := string(p.Where)
		if i, ok := idx[p.Name]; ok {
			if out[i].where == where {
				out[i].value += "," + p.Value
			}
			continue
		}
		idx[p.Name] = len(out)
		out = append(out, param{name: p.Name, value: p.Value, where: where})
	}
	for i := range out {
		p := &out[i]
		p.name = in.str(p.name)
		if !perFlow[strings.ToLower(p.name)] {
			p.value = in.str(p.value)
			continue
		}
		// Unique per run: compared by shape only, not worth interning.
		p.shape, p.empty = newShape(p.value), p.value == ""
		if len(p.value) > maxRawPerFlow {
			p.value, p.disp = redact.Value(p.name, p.value), true
		} else {
			p.value = strings.Clone(p.value)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// interner shares equal strings, header lists, connection facts and
// diagnoses between the exchanges of a capture. It stops adding new
// entries past maxInterned (unique values would only cost memory), and
// copies what it does not hold so that no value pins a larger buffer.
type interner struct {
	strs  map[string]string
	hdrs  map[string][]hdr
	conns map[connFacts]*connFacts
	diags map[string]*flow.Diagnosis
	key   strings.Builder
}

// maxInterned bounds each table of an interner.
const maxInterned = 1 << 15

func newInterner() *interner {
	return &interner{strs: map[string]string{}, hdrs: map[string][]hdr{},
		conns: map[connFacts]*connFacts{}, diags: map[string]*flow.Diagnosis{}}
}

// str returns a shared copy of v.
func (in *interner) str(v string) string {
	if v == "" {
		return ""
	}
	if s, ok := in.strs[v]; ok {
		return s
	}
	v = strings.Clone(v)
	if len(in.strs) < maxInterned {
		in.strs[v] = v
	}
	return v
}

// headers returns the normalised headers of h, sorted by name, shared with
// every earlier exchange that had the same ones.
func (in *interner) headers(h http.Header) []hdr {
	n := normHeaders(h)
	hs := make([]hdr, 0, len(n))
	for k, v := range n {
		hs = append(hs, hdr{k, v})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].name < hs[j].name })
	in.key.Reset()
	for _, x := range hs {
		in.key.WriteString(x.name)
		in.key.WriteByte(0)
		in.key.WriteString(x.value)
		in.key.WriteByte(0)
	}
	if shared, ok := in.hdrs[in.key.String()]; ok {
		return shared
	}
	for i := range hs {
		hs[i] = hdr{in.str(hs[i].name), in.str(hs[i].value)}
	}
	if len(in.hdrs) < maxInterned {
		in.hdrs[in.key.String()] = hs
	}
	return hs
}

// conn returns a shared copy of c.
func (in *interner) conn(c connFacts) *connFacts {
	if p, ok := in.conns[c]; ok {
		return p
	}
	c = connFacts{in.str(c.egress), in.str(c.server), in.str(c.tls), in.str(c.certIssuer), in.str(c.certFP)}
	p := &c
	if len(in.conns) < maxInterned {
		in.conns[c] = p
	}
	return p
}

// diagnosis returns d, or an earlier diagnosis equal to it.
func (in *interner) diagnosis(d *flow.Diagnosis) *flow.Diagnosis {
	if d == nil {
		return nil
	}
	in.key.Reset()
	for _, f := range []string{string(d.Category), d.Cause, d.Summary, d.Confidence, d.Source} {
		in.key.WriteString(f)
		in.key.WriteByte(0)
	}
	for _, l := range [][]string{d.Evidence, d.Fix} {
		for _, f := range l {
			in.key.WriteString(f)
			in.key.WriteByte(1)
		}
		in.key.WriteByte(0)
	}
	if p, ok := in.diags[in.key.String()]; ok {
		return p
	}
	if len(in.diags) < maxInterned {
		in.diags[in.key.String()] = d
	}
	return d
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
	if ip := e.conn.egress; ip != "" && !a.seen[ip] {
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
	// match pairs each unused x with the first unused y of the same key,
	// in order. ys are bucketed by key, each bucket with a cursor past its
	// used head, so a pass is linear, not |as|*|bs|.
	match := func(as, bs []*side, key func(*side) alignKey) {
		type bucket struct {
			ys  []*side
			cur int
		}
		buckets := map[alignKey]*bucket{}
		for _, y := range bs {
			if usedB[y] {
				continue
			}
			k := key(y)
			b := buckets[k]
			if b == nil {
				b = &bucket{}
				buckets[k] = b
			}
			b.ys = append(b.ys, y)
		}
		for _, x := range as {
			if usedA[x] {
				continue
			}
			b := buckets[key(x)]
			if b == nil {
				continue
			}
			for b.cur < len(b.ys) && usedB[b.ys[b.cur]] {
				b.cur++
			}
			if b.cur == len(b.ys) {
				continue
			}
			y := b.ys[b.cur]
			b.cur++
			usedA[x], usedB[y] = true, true
			pairs = append(pairs, [2]*side{x, y})
		}
	}
	match(oa, ob, func(x *side) alignKey { return alignKey{string(x.label), x.grant, x.host} })
	match(oa, ob, func(x *side) alignKey { return alignKey{string(x.label), x.grant, ""} })
	match(oa, ob, func(x *side) alignKey { return alignKey{string(x.label), "", ""} })
	if otherA < 0 {
		otherA = len(na)
	}
	if otherB < 0 {
		otherB = len(nb)
	}
	if otherA <= maxAlignedOther && otherB <= maxAlignedOther {
		match(na, nb, func(x *side) alignKey { return alignKey{x.method, x.host, x.path} })
		match(na, nb, func(x *side) alignKey { return alignKey{x.method, "", x.path} })
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
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i][0].seq < pairs[j][0].seq })
	sort.SliceStable(ua, func(i, j int) bool { return ua[i].seq < ua[j].seq })
	sort.SliceStable(ub, func(i, j int) bool { return ub[i].seq < ub[j].seq })
	return pairs, ua, ub, uncA, uncB
}

// alignKey is what two exchanges must share to be paired in one pass.
type alignKey struct{ a, b, c string }
