package redact

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// minEcho is the shortest request secret looked for in other texts: a
// shorter one would match ordinary words.
const minEcho = 4

// RequestSecrets returns the raw secret values a request carries, longest
// first: secret parameters of its query and body (form, JSON, multipart,
// read by package reqparams, so every part of the tree agrees), the
// credentials of secret headers (the whole value, the part after the
// scheme, a Basic password) and cookie values. Values that are already
// redacted are left out. Servers echo these in error texts; Echoes
// replaces them there.
func RequestSecrets(r *flow.Request) []string {
	var out []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) >= minEcho && !IsRedacted(v) {
			out = append(out, v)
		}
	}
	raw := ""
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	for _, p := range reqparams.Request(raw, r.Header.Get("Content-Type"), r.Body.Data) {
		if IsSecretParam(p.Name) {
			add(p.Value)
		}
	}
	for name, vs := range r.Header {
		if !IsSecretHeader(name) {
			continue
		}
		for _, v := range vs {
			add(v)
			if strings.EqualFold(name, "Cookie") {
				for _, c := range strings.Split(v, ";") {
					if _, cv, ok := strings.Cut(c, "="); ok {
						add(cv)
					}
				}
				continue
			}
			if _, cred, ok := strings.Cut(v, " "); ok {
				add(cred) // the credential after an auth scheme
			}
			if _, sec, ok := Basic(v); ok {
				add(sec)
			}
		}
	}
	// Longest first: a secret that is a prefix of another must not leave
	// the other's tail behind.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return dedupe(out)
}

func dedupe(xs []string) []string {
	if len(xs) < 2 {
		return xs
	}
	out := xs[:1]
	for _, s := range xs[1:] {
		if s != out[len(out)-1] && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Echoes replaces every occurrence in s of one of secrets (as
// RequestSecrets returns them, longest first) by its fingerprint, raw or
// form-encoded.
func Echoes(s string, secrets []string) string {
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Fingerprint(sec))
		}
		if q := url.QueryEscape(sec); q != sec && strings.Contains(s, q) {
			s = strings.ReplaceAll(s, q, url.QueryEscape(Fingerprint(sec)))
		}
	}
	return s
}

// echoedIn reports whether any of secrets occurs in data, raw or form-encoded.
func echoedIn(data []byte, secrets []string) bool {
	for _, sec := range secrets {
		if bytes.Contains(data, []byte(sec)) {
			return true
		}
		if q := url.QueryEscape(sec); q != sec && bytes.Contains(data, []byte(q)) {
			return true
		}
	}
	return false
}

// bodyEchoes replaces the request secrets a (redacted) body echoes. A JSON
// body is rewritten member by member, so it stays valid JSON; anything
// else as text. Secrets escaped in a way neither form catches (JSON \u
// escapes in a body that does not parse) are not found.
func bodyEchoes(data []byte, secrets []string) []byte {
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

func echoValue(v any, secrets []string) any {
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
