package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// tokenResponse is a parsed token endpoint response (JSON or, like
// GitHub's, form-encoded).
type tokenResponse struct {
	status int
	header http.Header
	fields params
	parsed bool
	// errCode is the OAuth error ("invalid_grant") or provider error
	// ("errcode 40163"), "" when none.
	errCode string
	// ok is true for a 2xx answer without error that carries a token.
	ok bool
}

// parseTokenResponse reads r; nil when there is no response.
func parseTokenResponse(r *flow.Response) *tokenResponse {
	if r == nil {
		return nil
	}
	t := &tokenResponse{status: r.Status, header: r.Header}
	data := bytes.TrimSpace(r.Body.Data)
	mt := mediaType(r.Header.Get("Content-Type"))
	switch {
	case len(data) == 0:
	case data[0] == '{':
		t.fields, t.parsed = parseTokenJSON(data)
	case mt == "application/x-www-form-urlencoded" || ((mt == "text/plain" || mt == "") && bytes.IndexByte(data, '=') > 0 && !bytes.ContainsAny(data, " \n<{")):
		t.fields, t.parsed = parseForm(string(data)), true
	}
	if e := t.get("error"); e != "" {
		t.errCode = strings.Clone(e) // recorded in the ledger: not a view of the body
	} else if e := t.get("errcode"); e != "" && e != "0" {
		t.errCode = "errcode " + e
	}
	t.ok = r.Status >= 200 && r.Status < 300 && t.errCode == "" &&
		(t.get("access_token") != "" || t.get("id_token") != "" || t.get("refresh_token") != "")
	return t
}

// tokenResponseMembers are the members of a JSON token response that
// inspection reads.
var tokenResponseMembers = []string{"error", "errcode", "access_token", "id_token", "refresh_token", "scope"}

// parseTokenJSON reads the members of a JSON token response that
// inspection uses. The values share one copy of the body's bytes from the
// first to the last of them (one allocation instead of one per member: the
// access token alone is most of a token response). Anything kept beyond
// inspection (the error code goes to the ledger) is cloned by its reader.
func parseTokenJSON(data []byte) (params, bool) {
	type span struct {
		name       string
		start, end int // in data; start < 0: a fixed value
		value      string
	}
	var buf [8]span // on the stack unless a response repeats members
	found := buf[:0]
	lo, hi := len(data), 0
	ok := scanObject(data, func(name []byte, kind byte, val []byte) {
		for _, m := range tokenResponseMembers {
			if string(name) != m {
				continue
			}
			if kind == 'n' {
				return
			}
			if m == "error" && kind == '{' {
				// {"error":{"code":...,"message":...}} (Google APIs style)
				found = append(found, span{name: m, start: -1, value: "error"})
				return
			}
			// A value without escapes is a slice of data (its offset is
			// what the capacities tell apart); an unescaped one is not.
			if start := cap(data) - cap(val); len(val) > 0 && start >= 0 && start+len(val) <= len(data) && &data[start] == &val[0] {
				found = append(found, span{name: m, start: start, end: start + len(val)})
				lo, hi = min(lo, start), max(hi, start+len(val))
			} else {
				found = append(found, span{name: m, start: -1, value: string(val)})
			}
			return
		}
	})
	out := make(params, 0, len(found))
	var shared string
	if lo < hi {
		shared = string(data[lo:hi])
	}
	for _, f := range found {
		if f.start >= 0 {
			f.value = shared[f.start-lo : f.end-lo]
		}
		out = append(out, param{Name: f.name, Value: f.value})
	}
	return out, ok
}

// get returns a response member ("" when absent).
func (t *tokenResponse) get(name string) string { return t.fields.value(name) }

// result summarises the answer for the ledger: "ok", the error code, or
// what else came back.
func (t *tokenResponse) result() string {
	switch {
	case t.errCode != "":
		return t.errCode
	case t.ok:
		return "ok"
	case !t.parsed:
		return "not a token response"
	}
	return "no token"
}

// jwtHeader is the JOSE header members inspection reads.
type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// jwtClaims are the claims inspection reads; a claim of the wrong type is
// left zero and named in bad.
type jwtClaims struct {
	iss, nonce, azp string
	aud             []string
	hasAud          bool
	exp, iat, nbf   int64
	hasExp, hasIat  bool
	hasNbf          bool
	bad             []string
}

// Errors of decodeJWT; they never contain token content.
var (
	errJWTShape   = errors.New("not three dot-separated parts")
	errJWTHeader  = errors.New("the header is not base64url-encoded JSON")
	errJWTClaims  = errors.New("the payload is not base64url-encoded JSON")
	errJWTNoAlg   = errors.New("the header has no alg")
	errJWTTooLong = errors.New("too long to be decoded")
)

// looksLikeJWT reports whether s has the shape of a JWS compact JWT.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// decodeJWT decodes the header and claims of a compact JWS, never the
// signature and without verifying anything.
func decodeJWT(s string) (jwtHeader, *jwtClaims, error) {
	var h jwtHeader
	if len(s) > 64<<10 {
		return h, nil, errJWTTooLong
	}
	p1, rest, ok1 := strings.Cut(s, ".")
	p2, _, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(rest[len(p2)+1:], ".") {
		return h, nil, errJWTShape
	}
	hb, err := b64url(p1)
	if err != nil || !scanObject(hb, func(name []byte, kind byte, val []byte) {
		if kind == '"' {
			switch string(name) {
			case "alg":
				h.Alg = string(val)
			case "typ":
				h.Typ = string(val)
			}
		}
	}) {
		return h, nil, errJWTHeader
	}
	if h.Alg == "" {
		return h, nil, errJWTNoAlg
	}
	cb, err := b64url(p2)
	if err != nil {
		return h, nil, errJWTClaims
	}
	c := &jwtClaims{}
	str := func(name string, kind byte, val []byte, dst *string) {
		switch kind {
		case '"':
			*dst = string(val)
		case 'n':
		default:
			c.bad = append(c.bad, name)
		}
	}
	num := func(name string, kind byte, val []byte, dst *int64, has *bool) {
		if kind == 'n' {
			return
		}
		if *dst, *has = unquoteNumber(val); !*has {
			c.bad = append(c.bad, name)
		}
	}
	if !scanObject(cb, func(name []byte, kind byte, val []byte) {
		switch string(name) {
		case "iss":
			str("iss", kind, val, &c.iss)
		case "nonce":
			str("nonce", kind, val, &c.nonce)
		case "azp":
			str("azp", kind, val, &c.azp)
		case "exp":
			num("exp", kind, val, &c.exp, &c.hasExp)
		case "iat":
			num("iat", kind, val, &c.iat, &c.hasIat)
		case "nbf":
			num("nbf", kind, val, &c.nbf, &c.hasNbf)
		case "aud":
			switch kind {
			case '"':
				c.aud, c.hasAud = []string{string(val)}, true
			case '[':
				if json.Unmarshal(val, &c.aud) == nil {
					c.hasAud = true
				} else {
					c.bad = append(c.bad, "aud")
				}
			case 'n':
			default:
				c.bad = append(c.bad, "aud")
			}
		}
	}) {
		return h, nil, errJWTClaims
	}
	return h, c, nil
}

// b64url decodes base64url with or without padding.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// responseJWT is a token of the response decoded for the checks.
type responseJWT struct {
	name   string // "id_token" or "access_token"
	claims *jwtClaims
	err    error
}

// jwts decodes the id_token (always expected to be a JWT) and a JWT access
// token. Redacted tokens are skipped.
func (c *ctx) jwts() []responseJWT {
	if c.jwtDone {
		return c.jwtList
	}
	c.jwtDone = true
	var out []responseJWT
	for _, name := range []string{"id_token", "access_token"} {
		v := c.resp.get(name)
		if v == "" || redacted(v) {
			continue
		}
		if name == "access_token" && !looksLikeJWT(v) {
			continue // opaque access tokens are fine
		}
		if strings.Count(v, ".") == 4 {
			continue // JWE: encrypted, nothing to read
		}
		_, cl, err := decodeJWT(v)
		out = append(out, responseJWT{name: name, claims: cl, err: err})
	}
	c.jwtList = out
	return out
}

// idToken returns the decoded id_token claims, nil when absent or broken.
func (c *ctx) idToken() *jwtClaims {
	for _, j := range c.jwts() {
		if j.name == "id_token" && j.err == nil {
			return j.claims
		}
	}
	return nil
}

// unixTime converts JWT NumericDate seconds.
func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }
