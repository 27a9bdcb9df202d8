package redact

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// minEcho is the shortest request secret looked for in other texts: a
// shorter one would match ordinary words.
const minEcho = 4

// Secret is one secret value a request carried and the fingerprint that
// replaces it wherever it is echoed: the fingerprint its parameter or
// header calls for (Param, FingerprintWeak for Basic credentials), so an
// echo reads the same as the request's own redacted value.
type Secret struct{ Raw, FP string }

// RequestSecrets returns the raw secret values a request carries, longest
// first: secret parameters of its query and body (form, JSON, multipart,
// read by package reqparams, so every part of the tree agrees), the
// credentials of secret headers (the whole value, the part after the
// scheme, a Basic password) and cookie values. Values that are already
// redacted are left out. Servers echo these in error texts; Echoes
// replaces them there.
func RequestSecrets(r *flow.Request) []Secret {
	var out []Secret
	add := func(v, fp string) {
		v = strings.TrimSpace(v)
		if len(v) >= minEcho && !IsRedacted(v) {
			out = append(out, Secret{v, fp})
		}
	}
	raw := ""
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	for _, p := range reqparams.Request(raw, r.Header.Get("Content-Type"), r.Body.Data) {
		if IsSecretParam(p.Name) {
			add(p.Value, Param(p.Name, p.Value))
		}
	}
	if d := bytes.TrimSpace(r.Body.Data); len(d) > 0 && (d[0] == '{' || d[0] == '[') {
		// Secrets nested below the top level ({"client":{"client_secret":
		// ...}}), which request parameters do not list, are echoed too.
		var v any
		if json.Unmarshal(d, &v) == nil {
			nestedSecrets("", v, 0, add)
		}
	}
	for name, vs := range r.Header {
		if !IsSecretHeader(name) {
			continue
		}
		for _, v := range vs {
			add(v, Fingerprint(strings.TrimSpace(v)))
			if strings.EqualFold(name, "Cookie") {
				for _, c := range strings.Split(v, ";") {
					if _, cv, ok := strings.Cut(c, "="); ok {
						add(cv, Fingerprint(strings.TrimSpace(cv)))
					}
				}
				continue
			}
			if scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				cred = strings.TrimSpace(cred)
				if strings.EqualFold(scheme, "basic") {
					add(cred, FingerprintWeak(cred))
				} else {
					add(cred, Fingerprint(cred)) // the credential after an auth scheme
				}
			}
			if _, sec, ok := Basic(v); ok {
				add(sec, FingerprintWeak(sec))
			}
		}
	}
	// Longest first: a secret that is a prefix of another must not leave
	// the other's tail behind.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Raw) > len(out[j].Raw) })
	return dedupe(out)
}

// nestedSecrets calls add for every string under a secret member name in v,
// at any depth (depth 0 is the top level).
func nestedSecrets(key string, v any, depth int, add func(v, fp string)) {
	if depth > 32 {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			nestedSecrets(k, e, depth+1, add)
		}
	case []any:
		for _, e := range t {
			nestedSecrets(key, e, depth+1, add)
		}
	case string:
		if IsSecretParam(key) {
			add(t, Param(key, t))
		}
	}
}

// Raw returns the raw values of secrets, in order.
func Raw(secrets []Secret) []string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = s.Raw
	}
	return out
}

func dedupe(xs []Secret) []Secret {
	if len(xs) < 2 {
		return xs
	}
	seen := make(map[string]bool, len(xs))
	out := xs[:0]
	for _, s := range xs {
		if !seen[s.Raw] {
			seen[s.Raw] = true
			out = append(out, s)
		}
	}
	return out
}

// Echoes replaces every occurrence in s of one of secrets (as
// RequestSecrets returns them, longest first) by its fingerprint, raw or
// form-encoded.
func Echoes(s string, secrets []Secret) string {
	for _, sec := range secrets {
		if strings.Contains(s, sec.Raw) {
			s = strings.ReplaceAll(s, sec.Raw, sec.FP)
		}
		if q := url.QueryEscape(sec.Raw); q != sec.Raw && strings.Contains(s, q) {
			s = strings.ReplaceAll(s, q, url.QueryEscape(sec.FP))
		}
	}
	return s
}

// headerEchoes replaces request secrets in every value of h (in place).
func headerEchoes(h http.Header, secrets []Secret) {
	for _, vs := range h {
		for i, v := range vs {
			vs[i] = Echoes(v, secrets)
		}
	}
}

// echoedIn reports whether any of secrets occurs in data, raw or form-encoded.
func echoedIn(data []byte, secrets []Secret) bool {
	for _, sec := range secrets {
		if bytes.Contains(data, []byte(sec.Raw)) {
			return true
		}
		if q := url.QueryEscape(sec.Raw); q != sec.Raw && bytes.Contains(data, []byte(q)) {
			return true
		}
	}
	return false
}

// bodyEchoes replaces the request secrets a (redacted) body echoes. A JSON
// body is rewritten member by member, so it stays valid JSON; anything
// else as text. Secrets escaped in a way neither form catches (JSON \u
// escapes in a body that does not parse) are not found.
func bodyEchoes(data []byte, secrets []Secret) []byte {
	if len(secrets) == 0 || len(data) == 0 || !echoedIn(data, secrets) {
		return data
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			v = echoValue(v, secrets)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if enc.Encode(v) == nil {
				return bytes.TrimRight(buf.Bytes(), "\n")
			}
		}
	}
	return []byte(Echoes(string(data), secrets))
}

func echoValue(v any, secrets []Secret) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = echoValue(e, secrets)
		}
	case []any:
		for i, e := range t {
			t[i] = echoValue(e, secrets)
		}
	case string:
		return Echoes(t, secrets)
	}
	return v
}
