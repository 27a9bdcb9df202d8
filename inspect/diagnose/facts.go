package diagnose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/oauthproxy/oauthproxy/redact"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
)

// maxInspect bounds how much of a body is looked at.
const maxInspect = 64 << 10

// Body kinds.
const (
	kindEmpty  = "empty"
	kindJSON   = "json"
	kindJSONP  = "jsonp"
	kindForm   = "form"
	kindHTML   = "html"
	kindXML    = "xml"
	kindText   = "text"
	kindBinary = "binary"
)

// facts is everything the rules look at, extracted once per exchange.
type facts struct {
	label  flow.Label
	status int
	reason string // non-standard reason phrase, if any
	header http.Header

	body   string // at most maxInspect bytes, decoded when possible
	kind   string
	defect string // why the body could not be read as it claims to be

	errCode string // OAuth error code, lower case
	errRaw  string // as it appeared
	errFrom string // where errCode came from
	descs   []string
	errURI  string
	codes   []string // provider codes, "namespace:value"
	// envelope is true when the body carries an error envelope (even without a code).
	envelope bool
	// message is true when the body is a structured document (JSON, form,
	// XML) carrying a message member but no error code: a provider's own
	// envelope ({"message": ...}), not evidence of anything by itself.
	message bool
	// hdrTexts are messages read from response headers (X-Error,
	// x-amzn-ErrorType / ErrorMessage style), "Name: value".
	hdrTexts []string
	// wafHeader is "Name: value" of a response header named after a web
	// application firewall (x-amzn-waf-action, x-waf-event...), if any.
	wafHeader string
	// page holds the title, headings and leading text of an HTML or text
	// body, made on first use by pageTexts.
	page     []message
	pageDone bool
	// bodyText is the leading visible text of an HTML page (pageBody).
	bodyText string
	bodyDone bool

	challenge    bool // WWW-Authenticate carries a Bearer/DPoP/OAuth challenge
	challengeErr bool // ... with an error code
	cookies      []string

	findings []flow.Finding
	// skip names providers whose rules are left out (see Rule.Providers).
	skip map[string]bool
	// x is the exchange, for the request's secrets (see secrets).
	x           *flow.Exchange
	secretList  []redact.Secret
	secretsDone bool

	// lower is the body in lower case, made on first use by mayContain.
	lower     string
	lowerDone bool
}

// lowerBody returns the body in lower case, made on first use.
func (f *facts) lowerBody() string {
	if !f.lowerDone {
		f.lower = strings.ToLower(f.body)
		f.lowerDone = true
	}
	return f.lower
}

// errorLabelled is a cheap necessary condition for pageErrRE: "error",
// then optionally white space and a three-digit status, then ':' or '='.
func errorLabelled(lower string) bool {
	for rest := lower; ; {
		i := strings.Index(rest, "error")
		if i < 0 {
			return false
		}
		rest = rest[i+len("error"):]
		t := strings.TrimLeft(rest, " \t\r\n\v\f0123456789")
		if t != "" && (t[0] == ':' || t[0] == '=') {
			return true
		}
	}
}

// mayContain reports whether the body contains one of lits (lower case),
// ignoring case.
func (f *facts) mayContain(lits []string) bool {
	f.lowerBody()
	for _, l := range lits {
		if strings.Contains(f.lower, l) {
			return true
		}
	}
	return false
}

// secrets returns the request's secret values, made on first use.
func (f *facts) secrets() []redact.Secret {
	if !f.secretsDone && f.x != nil {
		f.secretList = requestSecrets(f.x)
		f.secretsDone = true
	}
	return f.secretList
}

// skipped reports whether r belongs to a provider left out.
func (f *facts) skipped(r *compiledRule) bool {
	for _, p := range r.Providers {
		if f.skip[p] {
			return true
		}
	}
	return false
}

// oauthError reports whether the response carries an OAuth or provider error.
func (f *facts) oauthError() bool {
	return f.errCode != "" || len(f.codes) > 0 || f.envelope
}

// desc joins every description-like text for the Desc conditions.
func (f *facts) desc() string { return strings.Join(f.descs, " | ") }

func (f *facts) hasCode(c string) bool {
	for _, x := range f.codes {
		if x == c {
			return true
		}
	}
	return false
}

var (
	jsonpRE     = regexp.MustCompile(`(?s)^[A-Za-z_$][\w$.]*\s*\(\s*(.*?)\s*\)\s*;?\s*$`)
	aadstsRE    = regexp.MustCompile(`AADSTS(\d{4,8})`)
	pageErrRE   = regexp.MustCompile(`(?i)\berror(?:\s+\d{3})?\s*[:=]\s*([a-z]+(?:_[a-z]+)+)\b`)
	pageDescRE  = regexp.MustCompile(`(?i)\berror_description\s*[:=]\s*([^\n<]{1,300})`)
	formPostRE  = regexp.MustCompile(`(?i)<input[^>]*name=["']error["'][^>]*value=["']([^"']{1,100})["']`)
	codeLikeRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:\-]{0,79}$`)
	htmlRE      = regexp.MustCompile(`(?i)^\s*(<!doctype|<html|<head|<title|<body|<\?xml|<center|<h1)`)
	httpURLRE   = regexp.MustCompile(`https?://[^\s"'<>]+`)
	gzipMagic   = []byte{0x1f, 0x8b}
	utf8BOM     = []byte{0xEF, 0xBB, 0xBF}
	errorParams = []string{"error", "error_description", "error_uri"}
)

// readBody returns the body bytes to inspect and a defect note.
func readBody(x *flow.Exchange) ([]byte, string) {
	r := x.Response
	data := r.Body.Data
	var defect string
	enc := r.Body.Encoding
	if enc == "" && r.Body.DecodeError == "" && len(data) > 0 && !utf8.Valid(head(data, 512)) {
		// Not decoded by the capture, but the header says it is encoded.
		enc = r.Header.Get("Content-Encoding")
	}
	if bytes.HasPrefix(data, gzipMagic) && enc == "" {
		enc = "gzip"
	}
	needDecode := enc != "" && (r.Body.DecodeError != "" || !utf8.Valid(head(data, 512)))
	if needDecode {
		out, err := content.Decode(enc, head(data, 4*maxInspect), maxInspect)
		switch {
		case err == nil, len(out) > 0 && utf8.Valid(head(out, 512)):
			data = out
		default:
			defect = fmt.Sprintf("body could not be decoded (%s): %v", enc, err)
		}
	} else if r.Body.DecodeError != "" {
		defect = "body could not be decoded: " + r.Body.DecodeError
	}
	if len(data) > maxInspect {
		data = data[:maxInspect]
	}
	return data, defect
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		b = b[:n]
		// Do not cut a multi-byte rune in half.
		for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return b
}

// gather extracts the facts of x. x.Response must be non-nil.
func gather(x *flow.Exchange) *facts {
	r := x.Response
	f := &facts{label: x.OAuth.Label, status: r.Status, reason: r.Reason, header: r.Header, findings: x.OAuth.Findings, x: x}
	if f.header == nil {
		f.header = http.Header{}
	}
	data, defect := readBody(x)
	f.defect = defect
	data = bytes.TrimPrefix(data, utf8BOM)
	f.body = string(data)
	trim := bytes.TrimSpace(data)
	ct := strings.ToLower(f.header.Get("Content-Type"))
	mt, _, _ := mime.ParseMediaType(ct)

	switch {
	case len(trim) == 0:
		f.kind = kindEmpty
	case !utf8.Valid(head(trim, 1024)) || bytes.IndexByte(head(trim, 1024), 0) >= 0:
		f.kind = kindBinary
		if f.defect == "" {
			f.defect = "body is binary, not text"
		}
	case trim[0] == '{' || trim[0] == '[':
		f.kind = kindJSON
		var v any
		dec := json.NewDecoder(bytes.NewReader(trim))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			f.defect = "body looks like JSON but does not parse (truncated or malformed): " + shorten(err.Error(), 80)
			f.salvageJSON(string(trim))
		} else if m, ok := v.(map[string]any); ok {
			f.fromJSON(m)
		}
	case jsonpRE.Match(trim) && bytes.Contains(trim, []byte("{")):
		f.kind = kindJSONP
		inner := jsonpRE.FindSubmatch(trim)[1]
		var v any
		dec := json.NewDecoder(bytes.NewReader(inner))
		dec.UseNumber()
		if err := dec.Decode(&v); err == nil {
			if m, ok := v.(map[string]any); ok {
				f.fromJSON(m)
			}
		} else {
			f.defect = "JSONP body does not parse"
		}
	case mt == "application/x-www-form-urlencoded" || looksLikeForm(trim):
		f.kind = kindForm
		if vals, err := url.ParseQuery(string(trim)); err == nil {
			f.fromForm(vals)
		}
	case looksLikeXML(trim, mt):
		f.kind = kindXML
		f.fromXML(head2(f.body, maxInspect))
	case htmlRE.Match(trim) || strings.Contains(mt, "html"):
		f.kind = kindHTML
	default:
		f.kind = kindText
	}
	if (f.kind == kindHTML || f.kind == kindText) && f.body != "" {
		f.fromPage()
	}
	f.fromChallenge()
	f.fromHeaders()
	f.fromLocation()
	if x.OAuth.Label == flow.LabelCallback && x.Request.URL != nil && f.errCode == "" {
		f.fromURL(x.Request.URL, "callback URL")
	}
	for _, sc := range f.header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(sc, "=")
		if name = strings.TrimSpace(name); name != "" {
			f.cookies = append(f.cookies, name)
		}
	}
	// Entra codes can appear in any description or page.
	for _, m := range aadstsRE.FindAllStringSubmatch(f.desc()+" "+head2(f.body, 8192), 4) {
		f.addCode("aadsts:" + m[1])
	}
	return f
}

func head2(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (f *facts) addCode(c string) {
	if !f.hasCode(c) {
		f.codes = append(f.codes, c)
	}
}

func (f *facts) addDesc(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	for _, d := range f.descs {
		if d == s {
			return
		}
	}
	if len(f.descs) < 8 {
		f.descs = append(f.descs, s)
	}
}

func (f *facts) setError(raw, from string) {
	if f.errCode != "" || raw == "" {
		return
	}
	f.errRaw = raw
	f.errCode = strings.ToLower(raw)
	f.errFrom = from
}

// scalar renders a JSON scalar as a string ("" for null, objects, arrays).
func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

func isZero(s string) bool { return s == "" || s == "0" }

var descKeys = []string{"error_description", "error_message", "errmsg", "errorSummary", "msg", "message", "Message", "detail", "error_msg", "sub_msg", "errorMessage", "title", "description", "reason", "faultstring"}

// fromJSON reads the standard and provider error members of a JSON object.
func (f *facts) fromJSON(m map[string]any) {
	hadDesc := len(f.descs)
	defer func() {
		// A message without any code is a provider's own envelope.
		if len(f.descs) > hadDesc && f.errCode == "" && len(f.codes) == 0 && !f.envelope {
			f.message = true
		}
	}()
	for _, k := range descKeys {
		if s, ok := m[k].(string); ok {
			f.addDesc(s)
		}
	}
	// AWS JSON protocols: {"__type": "com.amazon...#NotAuthorizedException", "message": ...}.
	for _, k := range []string{"__type", "errorType", "error_type"} {
		if s, ok := m[k].(string); ok && s != "" {
			if i := strings.LastIndexAny(s, "#:"); i >= 0 && i < len(s)-1 {
				s = s[i+1:]
			}
			f.addDesc(splitWords(s))
		}
	}
	// Apigee: {"fault": {"faultstring": ..., "detail": {"errorcode": ...}}}.
	if fo, ok := m["fault"].(map[string]any); ok {
		if s, ok := fo["faultstring"].(string); ok {
			f.addDesc(s)
		}
		if d, ok := fo["detail"].(map[string]any); ok {
			if s := scalar(d["errorcode"]); s != "" {
				f.addDesc(splitWords(s))
			}
		}
	}
	if s, ok := m["error_uri"].(string); ok {
		f.errURI = s
	}
	switch e := m["error"].(type) {
	case string:
		if codeLikeRE.MatchString(e) {
			f.setError(e, "body")
		} else if e != "" {
			f.addDesc(e) // Weibo puts a sentence here
			f.envelope = true
		}
	case json.Number:
		if !isZero(e.String()) {
			f.addCode("error:" + e.String()) // QQ
		}
	case map[string]any: // Facebook / Google API style
		f.envelope = true
		if s, ok := e["message"].(string); ok {
			f.addDesc(s)
		}
		for _, k := range []string{"error_description", "description", "detail"} {
			if s, ok := e[k].(string); ok {
				f.addDesc(s)
			}
		}
		// {"error": {"code": "invalid_grant", "message": ...}}: an RFC code in another envelope.
		if c, ok := e["code"].(string); ok && knownErrors[strings.ToLower(c)] {
			f.setError(c, "body (error.code)")
		}
		if arr, ok := e["errors"].([]any); ok {
			for i, it := range arr {
				if o, ok := it.(map[string]any); ok && i < 4 {
					if s, ok := o["message"].(string); ok {
						f.addDesc(s)
					}
					if s, ok := o["reason"].(string); ok {
						f.addDesc(splitWords(s))
					}
				}
			}
		}
		_, fb := e["fbtrace_id"]
		if t, ok := e["type"].(string); ok {
			fb = true
			f.addDesc(t)
		}
		if c := scalar(e["code"]); c != "" && fb {
			f.addCode("fb:" + c)
		}
		if c := scalar(e["error_subcode"]); c != "" {
			f.addCode("fb-sub:" + c)
		}
		if s, ok := e["status"].(string); ok {
			f.addCode("status:" + s)
		}
	}
	if arr, ok := m["error_codes"].([]any); ok {
		for _, c := range arr {
			if s := scalar(c); s != "" {
				f.addCode("aadsts:" + s)
			}
		}
	}
	if c := scalar(m["errcode"]); !isZero(c) {
		f.addCode("errcode:" + c)
	}
	if c, ok := m["errorCode"].(string); ok && c != "" {
		f.addCode("okta:" + c)
	}
	if c := scalar(m["error_code"]); !isZero(c) {
		f.addCode("error_code:" + c)
	}
	if c := scalar(m["code"]); !isZero(c) && c != "200" {
		_, msg := m["msg"]
		_, message := m["message"]
		_, er := m["error"]
		if msg || message || er {
			f.addCode("code:" + c)
		}
	}
	if ok, present := m["ok"].(bool); present && !ok {
		f.envelope = true
	}
	if er, ok := m["error_response"].(map[string]any); ok {
		f.envelope = true
		for _, k := range []string{"sub_msg", "msg"} {
			if s, ok := er[k].(string); ok {
				f.addDesc(s)
			}
		}
		if c := scalar(er["sub_code"]); c != "" {
			f.addCode("alipay:" + c)
		}
		if c := scalar(er["code"]); !isZero(c) && c != "10000" {
			f.addCode("alipay:" + c)
		}
	}
	if arr, ok := m["errors"].([]any); ok {
		for i, it := range arr {
			if i >= 4 {
				break
			}
			if s, ok := it.(string); ok {
				f.addDesc(s)
			}
			if o, ok := it.(map[string]any); ok {
				f.envelope = true
				for _, k := range []string{"message", "detail", "title"} {
					if s, ok := o[k].(string); ok {
						f.addDesc(s)
					}
				}
				if c := scalar(o["code"]); c != "" {
					f.addCode("errors:" + c)
				}
			}
		}
	}
}

var (
	salvageErrRE  = regexp.MustCompile(`"error"\s*:\s*"([A-Za-z0-9_.\-]{1,80})"`)
	salvageDescRE = regexp.MustCompile(`"(?:error_description|errmsg|message|msg)"\s*:\s*"([^"]{1,300})`)
	salvageCodeRE = regexp.MustCompile(`"errcode"\s*:\s*(-?\d{1,9})`)
)

// salvageJSON reads what it can from JSON that does not parse.
func (f *facts) salvageJSON(s string) {
	if m := salvageErrRE.FindStringSubmatch(s); m != nil {
		f.setError(m[1], "body (malformed JSON)")
	}
	if m := salvageDescRE.FindStringSubmatch(s); m != nil {
		f.addDesc(m[1])
	}
	if m := salvageCodeRE.FindStringSubmatch(s); m != nil && !isZero(m[1]) {
		f.addCode("errcode:" + m[1])
	}
}

func (f *facts) fromValues(v url.Values, from string) {
	f.setError(v.Get("error"), from)
	if d := v.Get("error_description"); d != "" {
		f.addDesc(d)
	}
	if u := v.Get("error_uri"); u != "" && f.errURI == "" {
		f.errURI = u
	}
}

// fromPage reads error codes that authorization servers print on their
// browser-facing error pages ("Error 400: redirect_uri_mismatch").
//
// Authorization-endpoint pages are read whole; other pages (a token
// endpoint or an API answering HTML) only when they are short (2 KiB), so
// that a long page mentioning an error name in passing does not count and
// block pages cost no extra scan.
func (f *facts) fromPage() {
	browser := f.label == flow.LabelAuthorize || f.label == flow.LabelCallback
	if !browser && len(f.body) > 2<<10 {
		return
	}
	text := head2(f.body, maxInspect)
	if browser && f.mayContain([]string{`name="error"`, `name='error'`}) {
		if m := formPostRE.FindStringSubmatch(text); m != nil {
			f.setError(m[1], "form_post page")
			return
		}
	}
	if !errorLabelled(f.lowerBody()) {
		return // no "error: x" or "error 400 = x" anywhere: skip the scan
	}
	for _, m := range pageErrRE.FindAllStringSubmatch(text, 8) {
		if knownErrors[strings.ToLower(m[1])] {
			f.setError(m[1], "page text")
			if d := pageDescRE.FindStringSubmatch(text); d != nil {
				f.addDesc(d[1])
			}
			if !browser {
				// The page's own words describe the error.
				texts := f.pageTexts()
				if b, ok := f.pageBody(); ok {
					texts = append(texts[:len(texts):len(texts)], b)
				}
				for _, p := range texts {
					t := strings.TrimSpace(strings.Replace(p.text, m[0], "", 1))
					if t != "" && !isStatusText(t) && !strings.EqualFold(t, m[1]) {
						f.addDesc(t)
					}
				}
			}
			return
		}
	}
}

// fromLocation reads error parameters of a redirect.
func (f *facts) fromLocation() {
	loc := f.header.Get("Location")
	if loc == "" || f.errCode != "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		return
	}
	f.fromURL(u, "Location")
}

func (f *facts) fromURL(u *url.URL, from string) {
	q := u.Query()
	if q.Get("error") == "" && u.Fragment != "" {
		if fq, err := url.ParseQuery(u.Fragment); err == nil {
			q = fq
		}
	}
	if q.Get("error") == "" {
		return
	}
	v := url.Values{}
	for _, k := range errorParams {
		if s := q.Get(k); s != "" {
			v.Set(k, s)
		}
	}
	f.fromValues(v, from)
}

// fromChallenge reads WWW-Authenticate challenges (RFC 6750 §3, RFC 9449 §7.1,
// and Facebook's `OAuth "Facebook Platform" "code" "text"`).
func (f *facts) fromChallenge() {
	for _, v := range f.header.Values("Www-Authenticate") {
		for _, ch := range parseChallenges(v) {
			switch strings.ToLower(ch.scheme) {
			case "bearer", "dpop":
				f.challenge = true
				if e := ch.params["error"]; e != "" {
					f.challengeErr = true
					f.setError(e, "WWW-Authenticate")
					if d := ch.params["error_description"]; d != "" {
						f.addDesc(d)
					}
				}
			case "oauth":
				if len(ch.bare) >= 2 && codeLikeRE.MatchString(ch.bare[1]) {
					f.challenge, f.challengeErr = true, true
					f.setError(ch.bare[1], "WWW-Authenticate")
					if len(ch.bare) >= 3 {
						f.addDesc(ch.bare[2])
					}
				}
			}
		}
	}
}

type challenge struct {
	scheme string
	params map[string]string
	bare   []string // quoted strings without a name (Facebook)
}

// parseChallenges is a tolerant parser for a WWW-Authenticate value.
func parseChallenges(s string) []challenge {
	var out []challenge
	var cur *challenge
	i := 0
	n := len(s)
	readQuoted := func() string {
		// s[i] == '"'
		var b strings.Builder
		i++
		for i < n && s[i] != '"' {
			if s[i] == '\\' && i+1 < n {
				i++
			}
			b.WriteByte(s[i])
			i++
		}
		if i < n {
			i++
		}
		return b.String()
	}
	for i < n && len(out) < 16 {
		c := s[i]
		switch {
		case c == ' ' || c == ',' || c == '\t':
			i++
		case c == '"':
			q := readQuoted()
			if cur != nil && len(cur.bare) < 4 {
				cur.bare = append(cur.bare, q)
			}
		default:
			start := i
			for i < n && s[i] != ' ' && s[i] != ',' && s[i] != '=' && s[i] != '"' && s[i] != '\t' {
				i++
			}
			tok := s[start:i]
			if i < n && s[i] == '=' && cur != nil && tok != "" {
				i++
				for i < n && s[i] == ' ' {
					i++
				}
				var val string
				if i < n && s[i] == '"' {
					val = readQuoted()
				} else {
					vs := i
					for i < n && s[i] != ',' && s[i] != ' ' {
						i++
					}
					val = s[vs:i]
				}
				cur.params[strings.ToLower(tok)] = val
				continue
			}
			if i < n && s[i] == '=' { // token68 or stray '='
				i++
				continue
			}
			if tok == "" {
				i++
				continue
			}
			out = append(out, challenge{scheme: tok, params: map[string]string{}})
			cur = &out[len(out)-1]
		}
	}
	return out
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
