// Package redact replaces secrets (client secrets, codes, verifiers, tokens,
// assertions, passwords, credentials in headers) by stable fingerprints of
// the form "redacted:sha256:1a2b3c4d5e6f:len=43" (a fast hash for
// high-entropy values), "redacted:argon2id:...:len=N" (a memory-hard hash
// for guessable ones: passwords, client secrets, Basic credentials, short
// values) or "redacted:hmac-<key id>:...:len=N" (when a shared fingerprint
// key is set). The same value gives the same fingerprint on every machine
// with the same key, so reuse detection and comparisons keep working on
// redacted logs and captures; fingerprinting a fingerprint returns it
// unchanged.
package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/content"
	"github.com/oauthproxy/oauthproxy/flow"
)

// VerifierPrefix starts the redacted form of a PKCE code_verifier.
const VerifierPrefix = "redacted:s256:"

// lenSuffix parses ":len=N" (N one or more decimal digits) at the start of
// s and returns what follows it.
func lenSuffix(s string) (rest string, ok bool) {
	s, ok = strings.CutPrefix(s, ":len=")
	if !ok {
		return "", false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[i:], i > 0
}

func allBytes(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Param returns the redacted form of the secret parameter name=v. It is
// Fingerprint(v) for every parameter but code_verifier, which becomes
// "redacted:s256:<BASE64URL(SHA256(v))>:len=N" (":badchars" appended when v
// has characters RFC 7636 §4.1 does not allow). That is the S256
// code_challenge of the verifier: public when the verifier is right, the
// hash of a random secret when it is wrong, and exactly what a PKCE check
// needs, so a redacted capture can still be checked for pkce-mismatch.
func Param(name, v string) string {
	if v == "" || IsFingerprint(v) {
		return v
	}
	if strings.EqualFold(name, "code_verifier") {
		sum := sha256.Sum256([]byte(v))
		out := VerifierPrefix + base64.RawURLEncoding.EncodeToString(sum[:]) + ":len=" + strconv.Itoa(len(v))
		if strings.IndexFunc(v, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
		}) >= 0 {
			out += ":badchars"
		}
		return out
	}
	if weakParams[strings.ToLower(name)] {
		return FingerprintWeak(v)
	}
	return Fingerprint(v)
}

// weakParams name parameters whose values are chosen by people or short
// enough to guess whatever they look like: always fingerprinted with the
// memory-hard scheme.
var weakParams = map[string]bool{
	"password":           true,
	"client_secret":      true,
	"secret":             true,
	"appsecret":          true,
	"app_secret":         true,
	"secret_key":         true,
	"api_key":            true,
	"apikey":             true,
	"oauth_token_secret": true,
}

// RedactedVerifier parses the redacted form of a code_verifier made by
// Param: the S256 challenge it hashes to, its length, and whether all its
// characters were allowed. ok is false if v is not such a value.
func RedactedVerifier(v string) (s256 string, length int, charsOK bool, ok bool) {
	// VerifierPrefix, 43 base64url characters, ":len=N", maybe ":badchars".
	rest, found := strings.CutPrefix(v, VerifierPrefix)
	if !found || len(rest) < 43 || !allBytes(rest[:43], isBase64URL) {
		return "", 0, false, false
	}
	tail, found := lenSuffix(rest[43:])
	if !found || (tail != "" && tail != ":badchars") {
		return "", 0, false, false
	}
	digits := rest[43+len(":len=") : len(rest)-len(tail)]
	n, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false, false
	}
	return rest[:43], n, tail == "", true
}

// IsRedacted reports whether v was redacted, by this package or by another
// tool (markers such as "[REDACTED]", "<redacted>", "***", "_sanitized_").
func IsRedacted(v string) bool {
	if IsFingerprint(v) {
		return true
	}
	t := strings.TrimSpace(v)
	if len(t) <= maxMarker {
		for _, m := range redactionMarkers {
			if strings.EqualFold(t, m) {
				return true
			}
		}
	}
	return hasPrefixFold(t, "redacted:") || hasPrefixFold(t, "[redacted")
}

// redactionMarkers are the values other tools put in place of a secret.
var redactionMarkers = [...]string{"redacted", "[redacted]", "<redacted>", "(redacted)", "***", "****", "*****", "xxx", "xxxx", "[filtered]", "_sanitized_", "[sanitized]", "<hidden>", "[hidden]", "[masked]", "masked"}

// maxMarker is the length of the longest redaction marker.
const maxMarker = len("_sanitized_")

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// secretParams are parameter (and JSON member) names whose values are secrets.
var secretParams = map[string]bool{
	"client_secret":          true,
	"code":                   true,
	"code_verifier":          true,
	"refresh_token":          true,
	"access_token":           true,
	"id_token":               true,
	"assertion":              true,
	"client_assertion":       true,
	"subject_token":          true,
	"actor_token":            true,
	"password":               true,
	"device_code":            true,
	"token":                  true,
	"logout_token":           true,
	"request":                true, // JAR request objects carry claims
	"dpop":                   true,
	"secret":                 true,
	"private_key":            true,
	"api_key":                true,
	"apikey":                 true,
	"appsecret":              true, // WeChat
	"app_secret":             true, // Feishu/Lark
	"secret_key":             true,
	"authorization_code":     true,
	"pre-authorized_code":    true,
	"saml_response":          true,
	"samlresponse":           true,
	"wresult":                true,
	"oauth_token_secret":     true,
	"oauth_verifier":         true,
	"app_access_token":       true,
	"tenant_access_token":    true,
	"user_access_token":      true,
	"suite_access_token":     true,
	"component_access_token": true,
}

// IsSecretParam reports whether a query/form parameter or JSON member of this
// name holds a secret.
func IsSecretParam(name string) bool {
	l := strings.ToLower(name)
	return secretParams[l] || secretParamsFolded[foldName(l)]
}

// secretParamsFolded is secretParams with '_', '-' and '.' removed, so that
// accessToken, client-secret and refresh.token match too.
var secretParamsFolded = func() map[string]bool {
	m := map[string]bool{}
	for k := range secretParams {
		m[foldName(k)] = true
	}
	return m
}()

// foldName removes '_', '-' and '.' from a lower-case name.
func foldName(l string) string {
	if !strings.ContainsAny(l, "_-.") {
		return l
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' {
			return -1
		}
		return r
	}, l)
}

// secretHeaders are headers whose whole value is a secret.
var secretHeaders = map[string]bool{
	"Authorization":        true,
	"Proxy-Authorization":  true,
	"Cookie":               true,
	"Set-Cookie":           true,
	"Dpop":                 true,
	"X-Api-Key":            true,
	"X-Auth-Token":         true,
	"X-Amz-Security-Token": true,
}

// IsSecretHeader reports whether the value of header name is a secret.
// Besides the known ones, any header whose name says token, secret,
// password, signature, session or (api) key is taken for one
// (X-Goog-Api-Key, Ocp-Apim-Subscription-Key, X-Csrf-Token...).
func IsSecretHeader(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	l := strings.ToLower(name)
	for _, w := range secretHeaderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return strings.HasSuffix(l, "-key") || l == "apikey"
}

// secretHeaderWords mark a header name as a secret's.
var secretHeaderWords = [...]string{"token", "secret", "password", "signature", "session", "apikey", "api-key"}

// Header returns the redacted form of one header value. Authorization keeps
// its scheme ("Basic redacted:sha256:..."), cookies keep their names.
func Header(name, value string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Proxy-Authorization":
		if scheme, cred, ok := strings.Cut(value, " "); ok && !strings.Contains(scheme, "=") {
			if strings.EqualFold(scheme, "basic") {
				// id:secret, the id public: as guessable as the secret.
				return scheme + " " + FingerprintWeak(strings.TrimSpace(cred))
			}
			return scheme + " " + Fingerprint(strings.TrimSpace(cred))
		}
		return Fingerprint(value)
	case "Cookie":
		parts := strings.Split(value, ";")
		for i, p := range parts {
			if k, v, ok := strings.Cut(p, "="); ok {
				parts[i] = k + "=" + Fingerprint(v)
			} else {
				parts[i] = Fingerprint(p)
			}
		}
		return strings.Join(parts, ";")
	case "Set-Cookie":
		nv, attrs, _ := strings.Cut(value, ";")
		if k, v, ok := strings.Cut(nv, "="); ok {
			nv = k + "=" + Fingerprint(v)
		} else {
			nv = Fingerprint(nv)
		}
		if attrs != "" {
			return nv + ";" + attrs
		}
		return nv
	case "Referer", "Origin", "Content-Location", "Location":
		// URLs can carry a code or token in their query or fragment.
		return URLString(value)
	}
	if IsSecretHeader(name) {
		return Fingerprint(value)
	}
	return value
}

// Headers returns a copy of h with secret values fingerprinted.
func Headers(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			c[i] = Header(k, v)
		}
		out[k] = c
	}
	return out
}

// Values returns a copy of v with secret parameters fingerprinted.
func Values(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		c := make([]string, len(vs))
		for i, s := range vs {
			if IsSecretParam(k) {
				s = Param(k, s)
			}
			c[i] = s
		}
		out[k] = c
	}
	return out
}

// Query redacts secret parameters in a raw query string, keeping the order
// and encoding of everything else. Unparseable pairs are kept as they are.
func Query(raw string) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	changed := false
	for i, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil || !IsSecretParam(name) {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		pairs[i] = k + "=" + url.QueryEscape(Param(name, val))
		changed = true
	}
	if !changed {
		return raw
	}
	return strings.Join(pairs, "&")
}

// URL returns a copy of u with secret query and fragment parameters
// fingerprinted and any userinfo password removed.
func URL(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	c := *u
	c.RawQuery = Query(u.RawQuery)
	if u.Fragment != "" && strings.Contains(u.Fragment, "=") {
		c.Fragment = ""
		c.RawFragment = Query(u.EscapedFragment())
		if f, err := url.PathUnescape(c.RawFragment); err == nil {
			c.Fragment = f
		} else {
			c.RawFragment = ""
		}
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			c.User = url.UserPassword(u.User.Username(), Fingerprint(p))
		}
	}
	return &c
}

// URLString redacts a URL given as a string; unparseable input is
// fingerprinted whole if it contains a secret-looking parameter.
func URLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return URL(u).String()
}

// Body redacts a message body according to its Content-Type: form bodies and
// JSON bodies have secret members fingerprinted (JWTs anywhere in them too);
// other text has JWT-looking strings fingerprinted. Malformed bodies are
// never returned raw if they look like they could hold a secret.
func Body(contentType string, data []byte) []byte {
	if len(data) == 0 {
		return data
	}
	ct := strings.ToLower(contentType)
	trim := bytes.TrimSpace(data)
	switch {
	case strings.Contains(ct, "x-www-form-urlencoded"):
		return []byte(Query(string(data)))
	case strings.Contains(ct, "json") || (len(trim) > 0 && (trim[0] == '{' || trim[0] == '[')):
		if out, ok := jsonBody(data); ok {
			return out
		}
	}
	if !strings.Contains(ct, "json") && looksLikeForm(trim) {
		return []byte(Query(string(data)))
	}
	if strings.Contains(ct, "html") || bytes.Contains(data, []byte("<input")) {
		data = HTMLInputs(data)
	}
	if bytes.IndexByte(data, '"') >= 0 {
		// JSON that did not parse (cut by the capture limit or by the
		// network, or embedded in other text) still names its secrets.
		data = jsonMembersRE.ReplaceAllFunc(data, jsonMember)
	}
	return jwtRE.ReplaceAllFunc(data, func(m []byte) []byte { return []byte(Fingerprint(string(m))) })
}

// jsonMembersRE finds "name": "value" pairs in text that is not valid JSON;
// the value may be cut off by the end of the text.
var jsonMembersRE = regexp.MustCompile(`"([A-Za-z0-9_.-]{1,64})"\s*:\s*"((?:[^"\\]|\\.)*)("|\\?$)`)

// jsonMember fingerprints the value of a jsonMembersRE match whose name is
// a secret parameter.
func jsonMember(m []byte) []byte {
	sm := jsonMembersRE.FindSubmatchIndex(m)
	name, value := string(m[sm[2]:sm[3]]), string(m[sm[4]:sm[5]])
	if !IsSecretParam(name) || value == "" || IsRedacted(value) {
		return m
	}
	out := append([]byte(nil), m[:sm[4]]...)
	out = append(out, Param(name, value)...)
	return append(out, m[sm[5]:]...)
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

func looksLikeForm(b []byte) bool {
	if len(b) == 0 || bytes.ContainsAny(b, " \n<{") {
		return false
	}
	return bytes.Contains(b, []byte("="))
}

func jsonBody(data []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	v = jsonValue("", v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}

func jsonValue(key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonValue(k, e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = jsonValue(key, e)
		}
		return t
	case string:
		if IsSecretParam(key) {
			return Param(key, t)
		}
		return string(jwtRE.ReplaceAllFunc([]byte(t), func(m []byte) []byte { return []byte(Fingerprint(string(m))) }))
	}
	return v
}

// Exchange returns a deep copy of x with every secret fingerprinted:
// request and response headers, URL query and fragment, form and JSON bodies,
// the Location header of redirects, and finding/diagnosis texts (which are
// fingerprinted by construction already).
//
// Request secrets that the response, the error or the findings echo (an
// error_description quoting the client_secret it refused) are fingerprinted
// there too, wherever in the request they were sent (RequestSecrets).
func Exchange(x *flow.Exchange) *flow.Exchange {
	secrets := RequestSecrets(&x.Request)
	c := *x
	c.Request.URL = URL(x.Request.URL)
	c.Request.Header = Headers(x.Request.Header)
	c.Request.Body = body(x.Request.Header.Get("Content-Type"), x.Request.Body)
	if x.Response != nil {
		r := *x.Response
		r.Header = Headers(x.Response.Header)
		if locs := r.Header.Values("Location"); len(locs) > 0 {
			for i, l := range locs {
				locs[i] = URLString(l)
			}
		}
		r.Trailer = Headers(x.Response.Trailer)
		r.Body = body(x.Response.Header.Get("Content-Type"), x.Response.Body)
		// A server quoting a secret back ("client_secret ... is invalid")
		// must not bring it back raw, in its body or its headers.
		r.Body.Data = bodyEchoes(r.Body.Data, secrets)
		headerEchoes(r.Header, secrets)
		c.Response = &r
	}
	c.Error = Echoes(Text(x.Error), secrets)
	c.OAuth.Findings = Findings(x.OAuth.Findings)
	c.OAuth.Diagnosis = Diagnosis(x.OAuth.Diagnosis)
	if len(secrets) > 0 {
		for i := range c.OAuth.Findings {
			f := &c.OAuth.Findings[i]
			f.Message, f.Fix = Echoes(f.Message, secrets), Echoes(f.Fix, secrets)
		}
		if d := c.OAuth.Diagnosis; d != nil {
			d.Summary = Echoes(d.Summary, secrets)
			for i, e := range d.Evidence {
				d.Evidence[i] = Echoes(e, secrets)
			}
		}
	}
	return &c
}

func body(ct string, b flow.Body) flow.Body {
	if b.DecodeError != "" && len(b.Data) > 0 && !strings.Contains(b.DecodeError, content.ErrTooLarge.Error()) {
		// Still encoded (an unsupported or broken Content-Encoding):
		// nothing in it can be checked for secrets, so none of it is kept.
		b.Data, b.Truncated = nil, true
		return b
	}
	b.Data = Body(ct, b.Data)
	return b
}

// Findings returns a copy of fs with every message and fix passed
// through Text (inspection writes fingerprints only; this is a second belt).
func Findings(fs []flow.Finding) []flow.Finding {
	if fs == nil {
		return nil
	}
	out := make([]flow.Finding, len(fs))
	for i, f := range fs {
		f.Message = Text(f.Message)
		f.Fix = Text(f.Fix)
		out[i] = f
	}
	return out
}

// Diagnosis returns a copy of d with its summary and evidence passed
// through Text (fixes and sources are rule text).
func Diagnosis(d *flow.Diagnosis) *flow.Diagnosis {
	if d == nil {
		return nil
	}
	c := *d
	c.Summary = Text(d.Summary)
	c.Evidence = make([]string, len(d.Evidence))
	for i, e := range d.Evidence {
		c.Evidence[i] = Text(e)
	}
	return &c
}

// Basic decodes an "Authorization: Basic" value into its raw id and secret,
// as they were base64-encoded (no form-decoding). ok is false if v is not a
// well-formed Basic credential.
func Basic(v string) (id, secret string, ok bool) {
	scheme, cred, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(raw), ":")
	return id, secret, ok
}

// textParamRE finds name=value pairs in free text (error messages, URLs
// quoted inside messages); the value runs to the next delimiter.
var textParamRE = regexp.MustCompile(`(?i)\b([a-z_][a-z0-9_.-]*)=([^&\s"'<>,;)]+)`)

// bearerRE finds "Bearer xxx" / "Basic xxx" credentials in free text.
var bearerRE = regexp.MustCompile(`(?i)\b(bearer|basic|dpop)\s+([A-Za-z0-9._~+/=:-]{8,})`)

// Text redacts secrets in free text such as an error message: secret
// name=value pairs (as in a quoted URL), JWT-looking strings and
// Bearer/Basic credentials. Fingerprints already present are kept.
func Text(s string) string {
	if s == "" {
		return s
	}
	// Cheap checks first: each pattern needs a marker to match at all, and
	// most texts (finding messages, evidence) have none or only fingerprints.
	if strings.IndexByte(s, '=') >= 0 && hasSecretPair(s) {
		s = textParamRE.ReplaceAllStringFunc(s, textParam)
	}
	if hasCredentialScheme(s) {
		s = bearerRE.ReplaceAllStringFunc(s, textCredential)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllStringFunc(s, Fingerprint)
	}
	return s
}

// hasSecretPair reports whether s has "name=" for a secret parameter name
// whose value is not already a fingerprint.
func hasSecretPair(s string) bool {
	for i := strings.IndexByte(s, '='); i >= 0; {
		j := i
		for j > 0 && isNameByte(s[j-1]) {
			j--
		}
		if j < i && IsSecretParam(s[j:i]) && !strings.HasPrefix(s[i+1:], "redacted:") && !strings.HasPrefix(s[i+1:], "redacted%3A") {
			return true
		}
		k := strings.IndexByte(s[i+1:], '=')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// hasCredentialScheme reports whether s contains "bearer", "basic" or
// "dpop" in any ASCII case, in one pass without allocating.
func hasCredentialScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'b':
			if i+6 <= len(s) && strings.EqualFold(s[i:i+6], "bearer") || i+5 <= len(s) && strings.EqualFold(s[i:i+5], "basic") {
				return true
			}
		case 'd':
			if i+4 <= len(s) && strings.EqualFold(s[i:i+4], "dpop") {
				return true
			}
		}
	}
	return false
}

// isLowerWord reports whether s is only lower-case ASCII letters: an
// English word. Credentials carry digits, capitals or punctuation.
func isLowerWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func textParam(m string) string {
	k, v, _ := strings.Cut(m, "=")
	if !IsSecretParam(k) {
		return m
	}
	if dv, err := url.QueryUnescape(v); err == nil {
		v = dv
	}
	return k + "=" + Param(k, v)
}

func textCredential(m string) string {
	// bearerRE's \s: space, \t, \n, \f, \r (a form feed too: found by FuzzText).
	i := strings.IndexAny(m, " \t\n\f\r")
	if i < 0 {
		return Fingerprint(m)
	}
	scheme, cred := m[:i], strings.TrimSpace(m[i:])
	if strings.HasPrefix(cred, "redacted:") || strings.HasPrefix(strings.ToLower(cred), "realm") || isLowerWord(cred) {
		return m // "Basic credentials", "Bearer challenge": prose, not a credential
	}
	if strings.EqualFold(scheme, "basic") {
		return scheme + " " + FingerprintWeak(cred) // as Header does
	}
	return scheme + " " + Fingerprint(cred)
}

// Value is the display form of a parameter, member or header value in a
// report: a secret (by name, or already redacted) as Display shows it;
// anything else quoted and cut at 120 bytes, after the secrets inside it
// (members of nested JSON, JWTs, name=value pairs, Bearer credentials)
// were fingerprinted.
func Value(name, v string) string {
	if IsSecretParam(name) {
		return Display(Param(name, v))
	}
	if IsRedacted(v) {
		return Display(v)
	}
	if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
		v = string(Body("application/json", []byte(v)))
	}
	v = Text(v)
	if len(v) > 120 {
		v = v[:117] + "..."
	}
	return strconv.Quote(v)
}

// Display shows any value, raw or already redacted, without revealing it:
// "sha256:1a2b3c4d5e6f len=32", "(redacted)" for another tool's marker, or
// `""` for an empty value. Equal values display equally on every machine.
func Display(v string) string {
	if IsRedacted(v) && !IsFingerprint(v) {
		return "(redacted)"
	}
	fp := Fingerprint(v)
	if fp == "" {
		return `""`
	}
	_, n, _ := strings.Cut(fp, ":len=")
	return Short(fp) + " len=" + n
}
