package diff

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// finding is a Difference with the verdict text and bookkeeping.
type finding struct {
	Difference
	summary string
	detail  string
	pair    int
	// key de-duplicates the same difference seen in several pairs.
	key string
}

// pairCtx is what scoring needs to know about the outcome of a pair.
type pairCtx struct {
	a, b *side
	// failing is "A" or "B" when exactly one side failed, "both" or "".
	failing string
	// rel scales scores: a difference in a pair where one side fails and
	// the other succeeds can explain the failure; elsewhere it is context.
	rel  float64
	diag *flow.Diagnosis // diagnosis of the failing side, if any
	fail *side           // the failing side (B when both fail)
}

func newPairCtx(a, b *side) *pairCtx {
	c := &pairCtx{a: a, b: b}
	switch {
	case a.failed && !b.failed:
		c.failing, c.rel, c.fail = "A", 1, a
	case b.failed && !a.failed:
		c.failing, c.rel, c.fail = "B", 1, b
	case a.failed && b.failed:
		c.failing, c.fail = "both", b
		if a.status != b.status || cause(a) != cause(b) {
			c.rel = 0.7
		} else {
			c.rel = 0.4
		}
	default:
		c.rel = 0.25
	}
	if c.fail != nil {
		c.diag = c.fail.diag
		if c.diag == nil && c.failing == "both" {
			c.diag = a.diag
		}
	}
	return c
}

// network reports whether the failing side was diagnosed as a network block.
func (c *pairCtx) network() bool {
	return c.diag != nil && c.diag.Category == flow.CategoryNetwork
}

// opaque403 reports a failing 403 without a diagnosis (often a WAF/allowlist).
func (c *pairCtx) opaque403() bool {
	return c.fail != nil && c.diag == nil && c.fail.status == http.StatusForbidden
}

// other returns the name of the side that is not s ("A" <-> "B").
func other(s string) string {
	if s == "A" {
		return "B"
	}
	return "A"
}

func cause(s *side) string {
	if d := s.diag; d != nil {
		return string(d.Category) + "/" + d.Cause
	}
	return ""
}

// add appends a finding scored base*rel, clamped to 1..100.
func (c *pairCtx) add(fs *[]finding, kind, where, field, a, b string, base float64, cat flow.Category, summary, detail string) {
	score := int(math.Round(base * c.rel))
	if score < 1 {
		score = 1
	}
	if score > 100 {
		score = 100
	}
	*fs = append(*fs, finding{
		Difference: Difference{Kind: kind, Where: where, Field: field, A: a, B: b, Score: score, Category: cat},
		summary:    summary,
		detail:     detail,
		key:        kind + "\x00" + where + "\x00" + field + "\x00" + a + "\x00" + b,
	})
}

const absent = "(absent)"

// comparePair lists the differences between two aligned exchanges.
func comparePair(a, b *side) []finding {
	c := newPairCtx(a, b)
	var fs []finding
	compareOutcome(c, &fs)
	compareEndpoint(c, &fs)
	if a.tokenLike() || b.tokenLike() {
		compareContentType(c, &fs)
		compareAuthMethod(c, &fs)
	}
	compareParams(c, &fs)
	compareHeaders(c, &fs, "request", a.reqHdr, b.reqHdr)
	if a.respHdr != nil && b.respHdr != nil {
		compareHeaders(c, &fs, "response", a.respHdr, b.respHdr)
	}
	compareConn(c, &fs)
	compareSkew(c, &fs)
	return fs
}

// outcome is "403 invalid_client" style text for a side.
func outcome(s *side) string {
	if !s.hasResp {
		if s.errText != "" {
			return "no response: " + s.errText
		}
		return "no response"
	}
	out := strconv.Itoa(s.status)
	if e := s.respErr; e != "" {
		out += " " + e
	}
	return out
}

// oauthError is the "error" member of a JSON or form response body.
func oauthError(r *flow.Response, in *interner) string {
	var e string
	for _, p := range requestParams(&flow.Request{Header: r.Header, Body: r.Body}, in) {
		if p.name == "error" {
			e = p.value
		}
	}
	if len(e) > 64 || strings.ContainsAny(e, "{[\"") {
		return ""
	}
	return e
}

func compareOutcome(c *pairCtx, fs *[]finding) {
	a, b := c.a, c.b
	oa, ob := outcome(a), outcome(b)
	diagCat := flow.CategoryServer
	if c.diag != nil {
		diagCat = c.diag.Category
	}
	if oa != ob {
		sum := fmt.Sprintf("%s: A %s, B %s", what(a), oa, ob)
		c.add(fs, "status", "response", "", oa, ob, 12, diagCat, sum,
			"The status is the symptom; the ranked differences above it are the candidate causes.")
	}
	ca, cb := cause(a), cause(b)
	if ca != cb {
		da, db := orAbsent(ca), orAbsent(cb)
		sum := fmt.Sprintf("%s: diagnosis A %s, B %s", what(a), da, db)
		detail := ""
		for _, s := range []struct {
			name string
			x    *side
		}{{"A", a}, {"B", b}} {
			if d := s.x.diag; d != nil && d.Summary != "" {
				detail += s.name + ": " + strings.TrimRight(d.Summary, ". ") + ". "
			}
		}
		c.add(fs, "diagnosis", "response", "", da, db, 30, diagCat, sum, strings.TrimSpace(detail))
	}
}

// what names the exchange's role for messages ("token (client_credentials)").
func what(s *side) string {
	switch {
	case s.label == flow.LabelNone:
		return s.method + " " + s.path
	case s.grant != "":
		return string(s.label) + " (" + s.grant + ")"
	}
	return string(s.label)
}

func orAbsent(v string) string {
	if v == "" {
		return absent
	}
	return v
}

func compareEndpoint(c *pairCtx, fs *[]finding) {
	ua, ub := c.a, c.b
	if !ua.hasURL || !ub.hasURL {
		return
	}
	ea := ua.scheme + "://" + ua.hostPort + ua.path
	eb := ub.scheme + "://" + ub.hostPort + ub.path
	if ea == eb {
		return
	}
	name := "endpoint URL"
	if c.a.label != flow.LabelNone {
		name = string(c.a.label) + " endpoint URL"
	}
	var base float64
	var why string
	switch {
	case !strings.EqualFold(ua.hostPort, ub.hostPort):
		base, why = 80, "the host differs: a different tenant, region or environment (staging vs production) is configured"
	case strings.EqualFold(ea, eb):
		base, why = 70, "only the letter case differs; paths are case-sensitive on many servers"
	case strings.TrimSuffix(ea, "/") == strings.TrimSuffix(eb, "/"):
		base, why = 70, "only a trailing slash differs; some servers and gateways route /token and /token/ differently"
	case !strings.EqualFold(ua.scheme, ub.scheme):
		base, why = 70, "the scheme differs"
	default:
		base, why = 75, "the path differs: a different tenant id, realm or API version is configured"
	}
	if !c.a.oauth() {
		base /= 2
	}
	c.add(fs, "endpoint-url", "request", "", ea, eb, base, flow.CategoryClientConfig,
		fmt.Sprintf("%s differs: A %s, B %s", name, ea, eb),
		"Compare the configured issuer / endpoint on both machines: "+why+".")
}

func compareContentType(c *pairCtx, fs *[]finding) {
	ma, mb := c.a.ctype, c.b.ctype
	if ma == mb {
		return
	}
	va, vb := orAbsent(ma), orAbsent(mb)
	const form = "application/x-www-form-urlencoded"
	detail := "Token, revocation and introspection requests must be application/x-www-form-urlencoded (RFC 6749 §3.2, §4.1.3); a proxy, gateway or HTTP library on one side may have re-encoded the body."
	base := 90.0
	if ma != form && mb != form {
		base = 60
	}
	c.add(fs, "content-type", "request", "Content-Type", va, vb, base, flow.CategoryRequest,
		fmt.Sprintf("request Content-Type differs: A %s, B %s", va, vb), detail)
}

// authMethod names the client authentication of a token-like request.
func authMethod(s *side) string {
	var ms []string
	if s.basic {
		ms = append(ms, "basic")
	}
	if p, ok := s.param("client_secret"); ok {
		if p.where == "query" {
			ms = append(ms, "query")
		} else {
			ms = append(ms, "post")
		}
	}
	if _, ok := s.param("client_assertion"); ok {
		ms = append(ms, "jwt")
	}
	if len(ms) == 0 {
		return "none"
	}
	return strings.Join(ms, "+")
}

func compareAuthMethod(c *pairCtx, fs *[]finding) {
	ma, mb := authMethod(c.a), authMethod(c.b)
	if ma == mb {
		return
	}
	va, vb := orAbsent(ma), orAbsent(mb)
	detail := "The client authenticates differently (basic = Authorization: Basic, post = client_secret in the body, jwt = client_assertion, none = public client). The server accepts only the method registered for the client, and more than one method in one request is rejected (RFC 6749 §2.3)."
	c.add(fs, "auth-method", "request", "", va, vb, 85, flow.CategoryClientConfig,
		fmt.Sprintf("client authentication differs: A %s, B %s", va, vb), detail)
}

// perFlow are parameters whose values differ on every run; only their shape
// (presence, charset, and for PKCE values length) is compared.
var perFlow = map[string]bool{
	"code": true, "state": true, "nonce": true, "code_verifier": true, "code_challenge": true,
	"session_state": true, "iss": true, "client_assertion": true, "assertion": true,
	"refresh_token": true, "access_token": true, "id_token": true, "device_code": true,
	"user_code": true, "dpop": true, "token": true, "subject_token": true, "actor_token": true,
	"request": true, "request_uri": true, "jti": true, "iat": true, "exp": true,
}

// paramWeights are base scores for value/missing differences of known parameters.
var paramWeights = map[string]float64{
	"client_id": 85, "client_secret": 80, "grant_type": 80, "redirect_uri": 75,
	"client_assertion_type": 75, "code_verifier": 75, "client_assertion": 75,
	"scope": 55, "audience": 55, "resource": 55, "response_type": 60,
	"code_challenge_method": 60, "code_challenge": 55, "username": 50, "password": 60,
}

func compareParams(c *pairCtx, fs *[]finding) {
	// Both lists are sorted by name: walk their union in order.
	as, bs := c.a.params, c.b.params
	for len(as) > 0 || len(bs) > 0 {
		var pa, pb param
		var okA, okB bool
		switch {
		case len(bs) == 0 || len(as) > 0 && as[0].name < bs[0].name:
			pa, okA, as = as[0], true, as[1:]
		case len(as) == 0 || bs[0].name < as[0].name:
			pb, okB, bs = bs[0], true, bs[1:]
		default:
			pa, pb, okA, okB, as, bs = as[0], bs[0], true, true, as[1:], bs[1:]
		}
		k := pa.name
		if !okA {
			k = pb.name
		}
		lk := strings.ToLower(k)
		w, known := paramWeights[lk]
		if !known {
			w = 35
		}
		cat := flow.CategoryClientConfig
		if !known {
			cat = flow.CategoryRequest
		}
		switch {
		case !okA || !okB:
			va, vb := absent, absent
			if okA {
				va = pa.display()
			}
			if okB {
				vb = pb.display()
			}
			missing := "B"
			if !okA {
				missing = "A"
			}
			c.add(fs, "param-missing", "request", k, va, vb, w, cat,
				fmt.Sprintf("parameter %s is missing on %s (%s: %s)", k, missing, other(missing), pick(pa, pb).display()),
				"One side sends the parameter and the other does not: compare the client configuration, or look for a proxy that rewrote the body.")
		case perFlow[lk]:
			if sa, sb, differ := shapeDiff(lk, pa, pb); differ {
				sw := 15.0
				if lk == "code_verifier" || lk == "code_challenge" {
					sw = 50
				}
				c.add(fs, "param-shape", "request", k, sa, sb, sw, flow.CategoryRequest,
					fmt.Sprintf("parameter %s has a different shape: A %s, B %s", k, sa, sb),
					"The value changes on every run, so only its shape is compared; a different length or character set points at a different library or encoding (RFC 7636 §4.1 allows 43-128 unreserved characters for code_verifier).")
			}
		default:
			eq, comparable, why := redact.Same(pa.value, pb.value)
			switch {
			case comparable && !eq:
				va, vb := redact.Value(k, pa.value), redact.Value(k, pb.value)
				c.add(fs, "param-value", "request", k, va, vb, w, cat,
					fmt.Sprintf("parameter %s differs: A %s, B %s", k, va, vb),
					paramDetail(lk))
			case !comparable && why != "":
				va, vb := redact.Value(k, pa.value), redact.Value(k, pb.value)
				c.add(fs, "param-incomparable", "request", k, va, vb, 5, flow.CategoryInfo,
					fmt.Sprintf("parameter %s cannot be compared: %s", k, why),
					"Record both captures with the same fingerprint key (--fingerprint-key, or the same fingerprint.key file in both data directories), or with none, to compare secrets.")
			}
		}
		// form vs JSON body is reported once, as content-type.
		if okA && okB && pa.where != pb.where && (pa.where == "query" || pb.where == "query") {
			c.add(fs, "param-location", "request", k, pa.where, pb.where, 45, flow.CategoryRequest,
				fmt.Sprintf("parameter %s is sent in a different place: A %s, B %s", k, pa.where, pb.where),
				"Servers read token parameters from the form body; a value in the query string or a JSON body is often ignored.")
		}
	}
}

func pick(a, b param) param {
	if a.where != "" {
		return a
	}
	return b
}

func paramDetail(name string) string {
	switch name {
	case "client_id":
		return "The two machines use different client registrations: check the client id configured on each (environment variables, secrets store)."
	case "client_secret":
		return "The secrets differ (compared by fingerprint): one side probably uses an old or rotated secret."
	case "redirect_uri":
		return "The redirect URI must match the registered one exactly (RFC 9700 §2.1) and the one sent to the authorization endpoint (RFC 6749 §4.1.3)."
	case "grant_type":
		return "The two clients run different grant types."
	case "scope", "audience", "resource":
		return "Different scopes or audiences can be refused by policy (permission) on one side only."
	}
	return "Values are compared by fingerprint; secret values are shown as fingerprints."
}

// shapeOf describes a per-flow value without revealing it: its length
// (known for raw values and fingerprints) and character set (raw only).
type shapeOf struct {
	n       int // -1 unknown
	charset string
}

func newShape(v string) shapeOf {
	switch {
	case redact.IsFingerprint(v):
		_, n, _ := strings.Cut(v, ":len=")
		l, err := strconv.Atoi(n)
		if err != nil {
			l = -1
		}
		return shapeOf{n: l}
	case redact.IsRedacted(v):
		return shapeOf{n: -1}
	}
	return shapeOf{n: len(v), charset: charset(v)}
}

// show renders the facts that are compared for this parameter.
func (s shapeOf) show(pkce bool) string {
	var parts []string
	if pkce && s.n >= 0 {
		parts = append(parts, "len="+strconv.Itoa(s.n))
	}
	if s.charset != "" {
		parts = append(parts, s.charset)
	}
	if len(parts) == 0 {
		return "present"
	}
	return strings.Join(parts, " ")
}

// shapeDiff compares only what is known on both sides: the length of PKCE
// values, and the character set when neither side was redacted.
func shapeDiff(name string, a, b param) (sa, sb string, differ bool) {
	pkce := name == "code_verifier" || name == "code_challenge"
	x, y := a.shape, b.shape
	if pkce && x.n >= 0 && y.n >= 0 && x.n != y.n {
		differ = true
	}
	if x.charset != "" && y.charset != "" && x.charset != y.charset {
		differ = true
	}
	if a.empty != b.empty {
		differ = true
	}
	return x.show(pkce), y.show(pkce), differ
}

// charset classifies the characters of v.
func charset(v string) string {
	hex, digits, b64url, unreserved := true, true, true, true
	for _, r := range v {
		isDigit := r >= '0' && r <= '9'
		isLowerHex := r >= 'a' && r <= 'f'
		isAlpha := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !isDigit {
			digits = false
		}
		if !isDigit && !isLowerHex {
			hex = false
		}
		if !isDigit && !isAlpha && r != '-' && r != '_' {
			b64url = false
		}
		if !isDigit && !isAlpha && r != '-' && r != '_' && r != '.' && r != '~' {
			unreserved = false
		}
	}
	switch {
	case digits:
		return "digits"
	case hex:
		return "hex"
	case b64url:
		return "base64url"
	case unreserved:
		return "unreserved"
	}
	return "other-chars"
}

// folded headers are hop-by-hop or change on every request.
var folded = map[string]bool{
	"Date": true, "Content-Length": true, "Connection": true, "Keep-Alive": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Proxy-Connection": true,
	"Traceparent": true, "Tracestate": true, "X-Request-Id": true, "X-Correlation-Id": true,
	"X-Amzn-Trace-Id": true, "X-Amzn-Requestid": true, "X-Ms-Request-Id": true, "Request-Id": true,
	"X-B3-Traceid": true, "X-B3-Spanid": true, "X-B3-Parentspanid": true, "X-B3-Sampled": true,
	"X-Cloud-Trace-Context": true, "Sentry-Trace": true, "Baggage": true, "Host": true,
	"Age": true, "Expires": true, "Last-Modified": true, "Etag": true, "Report-To": true, "Nel": true,
	"Content-Type": true, // compared on its own (content-type) for requests
}

// namesOnly headers have per-request values; only presence is compared.
var namesOnly = map[string]bool{
	"Cf-Ray": true, "X-Ms-Ests-Server": true, "X-Amz-Cf-Id": true, "X-Iinfo": true,
	"X-Azure-Ref": true, "Dpop": true, "Dpop-Nonce": true, "Www-Authenticate": false,
}

// proxyHeaders reveal an intermediary on the path.
var proxyHeaders = map[string]bool{
	"Via": true, "X-Forwarded-For": true, "Forwarded": true, "X-Real-Ip": true,
	"X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true,
}

// headerValue is the comparable, secret-free form of a header.
func headerValue(name string, vs []string) string {
	switch {
	case name == "Cookie" || name == "Set-Cookie":
		return cookieNames(name, vs)
	case namesOnly[name]:
		return "(present)"
	case name == "Authorization" || name == "Proxy-Authorization":
		var out []string
		for _, v := range vs {
			scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
			if ok && !strings.EqualFold(scheme, "basic") {
				// bearer/DPoP tokens change per flow: compare the scheme only
				out = append(out, scheme+" (token)")
				continue
			}
			if ok {
				out = append(out, scheme+" "+redact.Display(redact.FingerprintWeak(strings.TrimSpace(cred))))
				continue
			}
			out = append(out, redact.Display(v))
		}
		return strings.Join(out, ", ")
	}
	var out []string
	for _, v := range vs {
		v = redact.Header(name, v)
		if redact.IsFingerprint(v) {
			v = redact.Display(v)
		}
		out = append(out, v)
	}
	return strings.Join(out, ", ")
}

// cookieNames lists cookie names, sorted, for Cookie or Set-Cookie.
func cookieNames(name string, vs []string) string {
	var ns []string
	for _, v := range vs {
		var parts []string
		if name == "Cookie" {
			parts = strings.Split(v, ";")
		} else {
			nv, _, _ := strings.Cut(v, ";")
			parts = []string{nv}
		}
		for _, p := range parts {
			k, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if k != "" {
				ns = append(ns, k)
			}
		}
	}
	sort.Strings(ns)
	return "names: " + strings.Join(ns, ",")
}

func normHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		if strings.HasPrefix(k, ":") {
			continue // HTTP/2 pseudo-headers in imported HARs
		}
		ck := http.CanonicalHeaderKey(k)
		if folded[ck] {
			continue
		}
		if prev, ok := out[ck]; ok {
			out[ck] = prev + ", " + headerValue(ck, vs)
			continue
		}
		out[ck] = headerValue(ck, vs)
	}
	return out
}

// compareHeaders compares two normalised header lists, sorted by name.
func compareHeaders(c *pairCtx, fs *[]finding, where string, ha, hb []hdr) {
	for len(ha) > 0 || len(hb) > 0 {
		var k, va, vb string
		var okA, okB bool
		switch {
		case len(hb) == 0 || len(ha) > 0 && ha[0].name < hb[0].name:
			k, va, okA, ha = ha[0].name, ha[0].value, true, ha[1:]
		case len(ha) == 0 || hb[0].name < ha[0].name:
			k, vb, okB, hb = hb[0].name, hb[0].value, true, hb[1:]
		default:
			k, va, vb, okA, okB, ha, hb = ha[0].name, ha[0].value, hb[0].value, true, true, ha[1:], hb[1:]
		}
		if okA && okB && va == vb {
			continue
		}
		kind := "header-changed"
		lacking := ""
		switch {
		case !okA:
			kind, lacking, va = "header-added", "A", absent
		case !okB:
			kind, lacking, vb = "header-removed", "B", absent
		}
		base, cat, sum, detail := headerScore(c, where, k, kind, lacking, va, vb)
		c.add(fs, kind, where, k, va, vb, base, cat, sum, detail)
	}
}

// headerScore weighs one header difference.
func headerScore(c *pairCtx, where, name, kind, lacking, va, vb string) (float64, flow.Category, string, string) {
	sum := fmt.Sprintf("%s header %s differs: A %s, B %s", where, name, va, vb)
	if lacking != "" {
		v := pickStr(va, vb)
		if !strings.HasPrefix(v, "(") {
			v = "(" + v + ")"
		}
		sum = fmt.Sprintf("%s header %s only on %s %s", where, name, other(lacking), v)
	}
	if where == "response" {
		switch {
		case name == "Server" || proxyHeaders[name] || namesOnly[name] || strings.HasPrefix(name, "X-Cache") || strings.HasPrefix(name, "Cf-"):
			return 20, flow.CategoryNetwork, sum, "The responses came through different servers or intermediaries (CDN, WAF, gateway)."
		}
		return 5, flow.CategoryInfo, sum, ""
	}
	switch {
	case name == "Authorization":
		if lacking != "" {
			sum = fmt.Sprintf("request header Authorization is missing on %s (%s sends %s)", lacking, other(lacking), pickStr(va, vb))
			if c.failing == lacking {
				via := ""
				if f := c.fail; f != nil && f.via != "" {
					via = " " + lacking + "'s request carries " + f.via + ", so a proxy is on its path."
				}
				return 97, flow.CategoryRequest, sum,
					"The failing side sent no Authorization header: a proxy or gateway on its path may strip it, or its client is configured without the credentials." + via +
						" A confidential client that authenticated with Basic on one side gets invalid_client (401) without it (RFC 6749 §2.3.1, §5.2)."
			}
			return 50, flow.CategoryRequest, sum, "Only one side sends credentials in the Authorization header."
		}
		return 70, flow.CategoryClientConfig, sum, "The credentials differ (compared by fingerprint): different client id or secret, or a different encoding of them (RFC 6749 §2.3.1 requires form-encoding before base64)."
	case name == "Origin":
		return 55, flow.CategoryRequest, sum, "An Origin header makes some servers treat the request as a browser (cross-origin) redemption, e.g. Entra AADSTS9002326, and CORS policies differ per origin."
	case proxyHeaders[name]:
		base := 45.0
		if c.network() || c.opaque403() {
			base = 70
		}
		return base, flow.CategoryNetwork, sum, "Proxy headers show an intermediary on one path; it may rewrite or block the request, and the server may see a different client address."
	case name == "User-Agent":
		base := 20.0
		if c.network() || c.opaque403() {
			base = 45
		}
		return base, flow.CategoryNetwork, sum, "WAF and bot rules match on User-Agent (e.g. Cloudflare 1010, Google disallowed_useragent)."
	case name == "Dpop":
		return 60, flow.CategoryRequest, sum, "Only one side sends a DPoP proof (RFC 9449); a DPoP-bound client fails without it."
	case name == "Cookie":
		return 15, flow.CategoryRequest, sum, "Cookie names differ (values are not compared: they are per-session)."
	}
	return 15, flow.CategoryRequest, sum, ""
}

func pickStr(a, b string) string {
	if a != absent {
		return a
	}
	return b
}

func compareConn(c *pairCtx, fs *[]finding) {
	ca, cb := c.a.conn, c.b.conn
	ea, eb := ca.egress, cb.egress
	if ea != "" && eb != "" && ea != eb {
		base := 35.0
		sum := fmt.Sprintf("egress IP differs: A %s, B %s", ea, eb)
		detail := "The local address of the upstream connection differs. Behind NAT the public address the server sees may differ again; check it with the network team."
		switch {
		case c.network() && !c.fail.hasResp:
			base = 50
			detail = fmt.Sprintf("The failing side got no response (%s): a firewall or proxy on its egress may block the connection. ", c.diag.Cause) + detail
		case c.network():
			base = 95
			sum = fmt.Sprintf("network: egress IP not allowlisted? A %s succeeds, B %s is blocked (%s)", ea, eb, c.diag.Cause)
			if c.failing == "A" {
				sum = fmt.Sprintf("network: egress IP not allowlisted? B %s succeeds, A %s is blocked (%s)", eb, ea, c.diag.Cause)
			}
			detail = "The same request succeeds from one address and is refused by network policy from the other: add the failing machine's public egress IP to the IdP/WAF/gateway allowlist, or route it through the allowed egress. " + detail
		case c.opaque403():
			base = 60
			detail = "A 403 without an OAuth error on one side only often comes from an IP allowlist or a WAF. " + detail
		}
		c.add(fs, "egress-ip", "conn", "", ea, eb, base, flow.CategoryNetwork, sum, detail)
	}
	ra, rb := ca.server, cb.server
	if ra != "" && rb != "" && ra != rb {
		base := 25.0
		if c.network() || c.opaque403() {
			base = 60
		}
		c.add(fs, "resolved-ip", "conn", "", ra, rb, base, flow.CategoryNetwork,
			fmt.Sprintf("upstream IP differs: A %s, B %s", ra, rb),
			"The host resolved to different addresses: split-horizon DNS, a different CDN edge or region, or an /etc/hosts entry on one machine.")
	}
	tlsA, tlsB := ca.tls, cb.tls
	if tlsA != tlsB && tlsA != "" && tlsB != "" {
		base := 10.0
		if c.network() || c.opaque403() {
			base = 25
		}
		c.add(fs, "tls", "conn", "", tlsA, tlsB, base, flow.CategoryNetwork,
			fmt.Sprintf("TLS differs: A %s, B %s", tlsA, tlsB),
			"TLS version, ALPN or cipher differ; bot rules can match TLS fingerprints, but this rarely explains an OAuth error on its own.")
	}
	if ca.certIssuer != "" && cb.certIssuer != "" && ca.certIssuer != cb.certIssuer {
		base := 50.0
		if c.network() || c.opaque403() {
			base = 75
		}
		c.add(fs, "server-cert", "conn", "issuer", ca.certIssuer, cb.certIssuer, base, flow.CategoryNetwork,
			fmt.Sprintf("server certificate issuer differs: A %s, B %s", ca.certIssuer, cb.certIssuer),
			"One machine sees a certificate from a different CA: a TLS-inspecting proxy is probably on its path (it also breaks mTLS client authentication, RFC 8705).")
	} else if fa, fb := ca.certFP, cb.certFP; fa != "" && fb != "" && fa != fb {
		c.add(fs, "server-cert", "conn", "sha256", shortHex(fa), shortHex(fb), 10, flow.CategoryNetwork,
			"server certificate differs (same issuer)",
			"Different certificates from the same CA: a different edge or a renewed certificate.")
	}
}

func normFP(s string) string { return strings.ToLower(strings.ReplaceAll(s, ":", "")) }

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

const maxSkew = 60 * time.Second

func compareSkew(c *pairCtx, fs *[]finding) {
	a, b := c.a, c.b
	if !a.skewOK && !b.skewOK {
		return
	}
	offA, offB := a.skewOK && abs(a.skew) > maxSkew, b.skewOK && abs(b.skew) > maxSkew
	if !offA && !offB {
		return
	}
	va, vb := skewText(a), skewText(b)
	base := 45.0
	if (offA && c.failing == "A") || (offB && c.failing == "B") || c.failing == "both" {
		base = 70
	}
	who := "B"
	if offA && !offB {
		who = "A"
	} else if offA && offB {
		who = "both"
	}
	c.add(fs, "clock-skew", "exchange", "", va, vb, base, flow.CategoryClientConfig,
		fmt.Sprintf("clock skew over 60 s on %s: A %s, B %s (server Date minus local time)", who, va, vb),
		"A machine whose clock is off makes client assertions, DPoP proofs and id_token checks (iat, exp, nbf) fail; sync it with NTP.")
	last := &(*fs)[len(*fs)-1]
	last.key = "clock-skew"
}

func skewText(s *side) string {
	if !s.skewOK {
		return "unknown"
	}
	return fmt.Sprintf("%+ds", int64(s.skew/time.Second))
}

// unmatchedFinding reports a failing or OAuth exchange without counterpart.
func unmatchedFinding(name string, s *side) (finding, bool) {
	if !s.oauth() && !s.failed {
		return finding{}, false
	}
	score := 8
	cat := flow.CategoryInfo
	sum := fmt.Sprintf("%s only in %s: %s %s -> %s", what(s), name, s.method, s.url, outcome(s))
	detail := "The other capture has no exchange of this kind: the flows took different paths."
	if s.failed {
		score = 30
		if d := s.diag; d != nil {
			cat = d.Category
			sum += " (" + string(d.Category) + "/" + d.Cause + ")"
		} else {
			cat = flow.CategoryServer
		}
		detail = "This failure has no counterpart in the other capture, so the comparison cannot explain it; read its diagnosis."
	}
	return finding{
		Difference: Difference{Kind: "unmatched", Where: "exchange", Field: string(s.label), A: "", B: "", Score: score, Category: cat},
		summary:    sum,
		detail:     detail,
		key:        "unmatched\x00" + name + "\x00" + strconv.Itoa(s.seq),
	}, true
}

// kindOrder breaks score ties: causes before symptoms.
var kindOrder = map[string]int{
	"header-removed": 0, "content-type": 1, "auth-method": 2, "egress-ip": 3, "endpoint-url": 4,
	"param-missing": 5, "param-value": 6, "header-changed": 7, "header-added": 8, "clock-skew": 9,
	"param-location": 10, "param-shape": 11, "resolved-ip": 12, "server-cert": 13, "tls": 14,
	"diagnosis": 15, "unmatched": 16, "status": 17, "param-incomparable": 18,
}

// verdictBuilder de-duplicates findings into reasons as they come, so that
// a comparison of many pairs never holds all their findings at once.
type verdictBuilder struct {
	byKey map[string]int
	out   []Reason
}

func (v *verdictBuilder) add(f finding) {
	if v.byKey == nil {
		v.byKey = map[string]int{}
	}
	if i, ok := v.byKey[f.key]; ok {
		r := &v.out[i]
		if f.Score > r.Score {
			r.Score, r.Summary, r.Detail, r.Category = f.Score, f.summary, f.detail, f.Category
		}
		if f.pair > 0 && (len(r.Pairs) == 0 || r.Pairs[len(r.Pairs)-1] != f.pair) {
			r.Pairs = append(r.Pairs, f.pair)
		}
		return
	}
	r := Reason{Score: f.Score, Category: f.Category, Kind: f.Kind, Field: f.Field, Summary: f.summary, Detail: f.detail}
	if f.Kind == "unmatched" {
		r.Field = ""
	}
	if f.pair > 0 {
		r.Pairs = []int{f.pair}
	}
	v.byKey[f.key] = len(v.out)
	v.out = append(v.out, r)
}

// done returns the reasons, most likely explanation first, ranked.
func (v *verdictBuilder) done() []Reason {
	out := v.out
	if out == nil {
		out = []Reason{}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if ki, kj := kindOrder[out[i].Kind], kindOrder[out[j].Kind]; ki != kj {
			return ki < kj
		}
		return firstPair(out[i]) < firstPair(out[j])
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

func firstPair(r Reason) int {
	if len(r.Pairs) == 0 {
		return math.MaxInt
	}
	return r.Pairs[0]
}

// headline says in one line what failed.
func headline(r *Report, sa, sb []*side, pairs [][2]*side, ua, ub []*side) (string, bool) {
	if r.A.Exchanges == 0 || r.B.Exchanges == 0 {
		// Exchanges and Failed count every exchange, also those a Capture only counted.
		return strings.Join(r.Notes[:emptyNotes(r)], "; "), r.A.Failed > 0 || r.B.Failed > 0
	}
	var lines []string
	for _, p := range pairs {
		a, b := p[0], p[1]
		switch {
		case a.failed && !b.failed:
			lines = append(lines, fmt.Sprintf("A fails where B succeeds: %s -> %s (B: %s)", describe(a), failText(a), outcome(b)))
		case b.failed && !a.failed:
			lines = append(lines, fmt.Sprintf("B fails where A succeeds: %s -> %s (A: %s)", describe(b), failText(b), outcome(a)))
		case a.failed && b.failed:
			lines = append(lines, fmt.Sprintf("both fail: %s -> A %s, B %s", describe(b), failText(a), failText(b)))
		}
	}
	for _, s := range ua {
		if s.failed {
			lines = append(lines, fmt.Sprintf("A fails (no counterpart in B): %s -> %s", describe(s), failText(s)))
		}
	}
	for _, s := range ub {
		if s.failed {
			lines = append(lines, fmt.Sprintf("B fails (no counterpart in A): %s -> %s", describe(s), failText(s)))
		}
	}
	if len(lines) == 0 {
		return "no failure to explain: no compared exchange failed on either side", false
	}
	h := lines[0]
	if len(lines) > 1 {
		h += fmt.Sprintf(" (and %d more failure(s))", len(lines)-1)
	}
	return h, true
}

func emptyNotes(r *Report) int {
	n := 0
	if r.A.Exchanges == 0 {
		n++
	}
	if r.B.Exchanges == 0 {
		n++
	}
	return n
}

func describe(s *side) string {
	if s.label == flow.LabelNone {
		return s.method + " " + s.url
	}
	return what(s) + " " + s.method + " " + s.url
}

func failText(s *side) string {
	t := outcome(s)
	if d := s.diag; d != nil {
		t += " [" + string(d.Category) + "/" + d.Cause + "]"
	}
	return t
}
