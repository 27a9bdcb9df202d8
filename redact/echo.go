package redact

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// minEcho is the shortest request secret looked for in a response: shorter
// values would match ordinary text.
const minEcho = 6

// echo is one secret of a request and the fingerprint that replaces it.
type echo struct{ raw, fp string }

// requestSecrets lists the secret values a request carries (secret query,
// form and JSON parameters, credentials and cookies in headers), longest
// first, each with its fingerprint, so that a response quoting them back
// (error_description: "client_secret ... is not valid") can be redacted
// too.
func requestSecrets(x *flow.Exchange) []echo {
	seen := map[string]bool{}
	var out []echo
	add := func(raw, fp string) {
		if len(raw) < minEcho || seen[raw] || IsRedacted(raw) {
			return
		}
		seen[raw] = true
		out = append(out, echo{raw, fp})
		if q := url.QueryEscape(raw); q != raw {
			out = append(out, echo{q, fp})
		}
	}
	params := func(v url.Values) {
		for k, vs := range v {
			if IsSecretParam(k) {
				for _, s := range vs {
					add(s, Param(k, s))
				}
			}
		}
	}
	if x.Request.URL != nil {
		params(x.Request.URL.Query())
	}
	if data := bytes.TrimSpace(x.Request.Body.Data); len(data) > 0 {
		if data[0] == '{' || data[0] == '[' {
			var v any
			if json.Unmarshal(data, &v) == nil {
				jsonSecrets("", v, add)
			}
		} else if v, err := url.ParseQuery(string(data)); err == nil {
			params(v)
		}
	}
	for name, vs := range x.Request.Header {
		for _, v := range vs {
			switch http.CanonicalHeaderKey(name) {
			case "Authorization", "Proxy-Authorization":
				if _, secret, ok := Basic(v); ok {
					add(secret, FingerprintWeak(secret))
				}
				if scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
					cred = strings.TrimSpace(cred)
					if strings.EqualFold(scheme, "basic") {
						add(cred, FingerprintWeak(cred))
					} else {
						add(cred, Fingerprint(cred))
					}
				}
			case "Cookie":
				for _, p := range strings.Split(v, ";") {
					if _, cv, ok := strings.Cut(p, "="); ok {
						add(strings.TrimSpace(cv), Fingerprint(cv))
					}
				}
			default:
				if IsSecretHeader(name) {
					add(v, Fingerprint(v))
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].raw) > len(out[j].raw) })
	return out
}

func jsonSecrets(key string, v any, add func(raw, fp string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			jsonSecrets(k, e, add)
		}
	case []any:
		for _, e := range t {
			jsonSecrets(key, e, add)
		}
	case string:
		if IsSecretParam(key) {
			add(t, Param(key, t))
		}
	}
}

// unecho replaces every request secret in b by its fingerprint.
func unecho(b []byte, secrets []echo) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s.raw)) {
			b = bytes.ReplaceAll(b, []byte(s.raw), []byte(s.fp))
		}
	}
	return b
}

// unechoHeader replaces request secrets in every value of h (in place).
func unechoHeader(h http.Header, secrets []echo) {
	for _, vs := range h {
		for i, v := range vs {
			for _, s := range secrets {
				if strings.Contains(v, s.raw) {
					v = strings.ReplaceAll(v, s.raw, s.fp)
				}
			}
			vs[i] = v
		}
	}
}
