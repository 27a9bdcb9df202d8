package diagnose

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// apiKeyHeaders are request headers that carry API keys (quoted by name
// only).
var apiKeyHeaders = []string{"X-Api-Key", "Api-Key", "Apikey", "Ocp-Apim-Subscription-Key", "X-Goog-Api-Key", "X-Functions-Key", "X-Auth-Token"}

// refusal is the answer for a 401, 403 or 407 that nothing explains: an
// info diagnosis that says what is known (who answered, which credentials
// the request carried, the claims of a JWT access token) and what to check.
func refusal(x *flow.Exchange, f *facts) *flow.Diagnosis {
	what := map[int]string{401: "asks for (other) credentials", 403: "refuses the request", 407: "a proxy asks for credentials"}[f.status]
	d := fromCause(CauseRefusalUnexplained,
		fmt.Sprintf("The server %s (%d) and nothing in the response says why; the evidence lists what is known.", what, f.status), Low)
	if f.errCode != "" {
		d.Evidence = append(d.Evidence, errorEvidence(f))
	}
	for _, c := range f.codes {
		d.Evidence = append(d.Evidence, codeEvidence(c))
	}
	d.Evidence = append(d.Evidence, answeredBy(f))
	for _, h := range []string{"Www-Authenticate", "Proxy-Authenticate"} {
		for _, v := range f.header.Values(h) {
			for _, ch := range parseChallenges(v) {
				s := "challenge " + h + ": " + ch.scheme
				if r := ch.params["realm"]; r != "" {
					s += fmt.Sprintf(" realm=%q", r)
				}
				d.Evidence = append(d.Evidence, s)
			}
		}
	}
	d.Evidence = append(d.Evidence, requestCredentials(x)...)
	if ms := f.messages(true); len(ms) > 0 {
		d.Evidence = append(d.Evidence, fmt.Sprintf("%s: %q", ms[0].from, ms[0].text))
	} else {
		d.Evidence = append(d.Evidence, bodyNote(f))
	}
	return d
}

// answeredBy names the software that answered, from its banners.
func answeredBy(f *facts) string {
	var parts []string
	for _, h := range []string{"Server", "Via", "X-Powered-By"} {
		if v := f.header.Get(h); v != "" {
			parts = append(parts, h+": "+shorten(v, 80))
		}
	}
	if len(parts) == 0 {
		return "answered by: unknown (no Server, Via or X-Powered-By header)"
	}
	return "answered by: " + strings.Join(parts, ", ")
}

// bodyNote says what kind of body came back.
func bodyNote(f *facts) string {
	switch f.kind {
	case kindEmpty:
		return "body is empty"
	case kindHTML:
		return "body is an HTML page without a recognisable message"
	}
	return "body has no recognisable message (" + f.kind + ")"
}

// requestCredentials describes the credentials x carried, by kind and
// name only; a JWT access token is described by its aud, scope and expiry.
func requestCredentials(x *flow.Exchange) []string {
	var out []string
	h := x.Request.Header
	if a := h.Get("Authorization"); a != "" {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(a), " ")
		cred = strings.TrimSpace(cred)
		s := "request credentials: Authorization " + scheme
		if c := jwtClaims(cred); c != nil {
			s += " with a JWT access token"
			out = append(out, s, describeJWT(c, x.Start))
		} else {
			if redact.IsFingerprint(cred) {
				s += " (redacted in the capture)"
			} else if strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "dpop") {
				s += " with an opaque token"
			}
			out = append(out, s)
		}
	}
	for _, k := range apiKeyHeaders {
		if h.Get(k) != "" {
			out = append(out, "request credentials: API key header "+k)
		}
	}
	if c := h.Get("Cookie"); c != "" {
		var names []string
		for _, p := range strings.Split(c, ";") {
			if n, _, ok := strings.Cut(strings.TrimSpace(p), "="); ok && n != "" && len(names) < 8 {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		out = append(out, "request credentials: cookies "+strings.Join(names, ", "))
	}
	if h.Get("Proxy-Authorization") != "" {
		out = append(out, "request credentials: Proxy-Authorization")
	}
	for _, k := range []string{"access_token", "client_secret", "client_assertion", "api_key", "key"} {
		if hasRequestParam(x, k) {
			out = append(out, "request credentials: parameter "+k)
		}
	}
	if len(out) == 0 {
		out = append(out, "request credentials: none (no Authorization, API key header, cookie or credential parameter)")
	}
	return out
}

// jwtClaims returns the payload of a JWT, or nil.
func jwtClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > 8<<10 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var c map[string]any
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	return c
}

// describeJWT renders the claims that decide whether a token fits an API:
// issuer, audience, scope and expiry (never the subject or the signature).
func describeJWT(c map[string]any, at time.Time) string {
	var parts []string
	str := func(v any) string {
		switch t := v.(type) {
		case string:
			return t
		case []any:
			var ss []string
			for _, e := range t {
				if s, ok := e.(string); ok {
					ss = append(ss, s)
				}
			}
			return strings.Join(ss, " ")
		}
		return ""
	}
	if s := str(c["iss"]); s != "" {
		parts = append(parts, "iss="+shorten(s, 80))
	}
	if s := str(c["aud"]); s != "" {
		parts = append(parts, "aud="+shorten(s, 120))
	} else {
		parts = append(parts, "no aud")
	}
	scope := str(c["scope"])
	if scope == "" {
		scope = str(c["scp"])
	}
	if scope != "" {
		parts = append(parts, "scope="+shorten(scope, 160))
	}
	if roles := str(c["roles"]); roles != "" {
		parts = append(parts, "roles="+shorten(roles, 120))
	}
	if exp, ok := c["exp"].(float64); ok {
		t := time.Unix(int64(exp), 0).UTC()
		s := "exp=" + t.Format(time.RFC3339)
		if !at.IsZero() {
			if at.After(t) {
				s += fmt.Sprintf(" (expired %s before the request)", at.Sub(t).Round(time.Second))
			} else {
				s += fmt.Sprintf(" (valid for %s more)", t.Sub(at).Round(time.Second))
			}
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no exp")
	}
	return "access token claims: " + strings.Join(parts, ", ")
}
