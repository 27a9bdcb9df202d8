package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/jsontop"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// params is a request's parameters, editable without disturbing the parts
// that do not change (raw order and encoding are kept where possible).
type params struct {
	rawQuery    string
	contentType string
	bodyKind    string // "form", "json" or "" (none or opaque)
	body        []byte
	json        map[string]json.RawMessage // top-level members of a JSON object body
}

// parseRequest reads the query and a form or JSON-object body, with the
// rules of package reqparams (the tree's one parameter parser).
func parseRequest(r *flow.Request) (*params, error) {
	p := &params{body: r.Body.Data, contentType: r.Header.Get("Content-Type")}
	if r.URL != nil {
		p.rawQuery = r.URL.RawQuery
	}
	b := reqparams.ParseBody(p.contentType, r.Body.Data)
	switch {
	case b.Kind == reqparams.KindForm || b.Guessed:
		p.bodyKind = "form"
	case b.Kind == reqparams.KindJSON:
		if err := json.Unmarshal(bytes.TrimSpace(r.Body.Data), &p.json); err != nil {
			return p, fmt.Errorf("replay: JSON body: %w", err)
		}
		p.bodyKind = "json"
	}
	return p, nil
}

// replaceRaw sets name=value in a raw query/form string, in place; ok is
// false if name was not present.
func replaceRaw(raw, name, value string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	parts := strings.Split(raw, "&")
	found := false
	for i, kv := range parts {
		k, _, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			parts[i] = k + "=" + url.QueryEscape(value)
			found = true
		}
	}
	return strings.Join(parts, "&"), found
}

func appendRaw(raw, name, value string) string {
	kv := url.QueryEscape(name) + "=" + url.QueryEscape(value)
	if raw == "" {
		return kv
	}
	return raw + "&" + kv
}

// field is one parameter occurrence.
type field struct {
	name, value, where string
}

// fields lists parameters: query first, then body, in their order (JSON
// members in name order).
func (p *params) fields() []field {
	var out []field
	ct := p.contentType
	if p.bodyKind == "form" {
		ct = "application/x-www-form-urlencoded" // also a form sent without its Content-Type
	}
	for _, f := range reqparams.Request(p.rawQuery, ct, p.body) {
		out = append(out, field{f.Name, f.Value, string(f.Where)})
	}
	return out
}

// get returns the first value of name ("" if absent).
func (p *params) get(name string) string {
	for _, f := range p.fields() {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

// has reports whether the parameter is present anywhere.
func (p *params) has(name string) bool {
	for _, f := range p.fields() {
		if f.name == name {
			return true
		}
	}
	return false
}

// set replaces name everywhere it occurs; if it occurs nowhere it is added
// to the body (form or JSON) or, without one, to the query.
func (p *params) set(name, value string) {
	var found bool
	if q, ok := replaceRaw(p.rawQuery, name, value); ok {
		p.rawQuery, found = q, true
	}
	switch p.bodyKind {
	case "form":
		if b, ok := replaceRaw(string(p.body), name, value); ok {
			p.body, found = []byte(b), true
		} else if !found {
			p.body, found = []byte(appendRaw(string(p.body), name, value)), true
		}
	case "json":
		if _, ok := p.json[name]; ok || !found {
			v, _ := json.Marshal(value)
			p.json[name] = v
			b, err := json.Marshal(p.json)
			if err == nil {
				p.body = b
			}
			found = true
		}
	}
	if !found {
		p.rawQuery = appendRaw(p.rawQuery, name, value)
	}
}

// envName turns a parameter or header name into an environment suffix.
func envName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// EnvPrefix starts the environment variables that supply values:
// OAUTHPROXY_SET_<PARAM> for a parameter, OAUTHPROXY_SET_HEADER_<NAME> for
// a header (name upper-cased, other characters than A-Z and 0-9 as "_").
const EnvPrefix = "OAUTHPROXY_SET_"

// hopByHop headers are not replayed; Content-Length is recomputed.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Proxy-Authenticate": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Content-Length": true, "Host": true, "Content-Encoding": true,
}

// singleUse returns a refusal when x carries a credential that may be used
// only once and the caller did not supply a fresh one.
func singleUse(x *flow.Exchange, p *params, supplied func(string) bool) *RefusedError {
	grant := x.OAuth.GrantType
	if grant == "" {
		grant = p.get("grant_type")
	}
	switch {
	case grant == "authorization_code" && !supplied("code"):
		return &RefusedError{
			Entry:  x.Seq,
			Field:  "grant_type",
			Reason: "this exchange redeems an authorization code, and authorization codes are single-use: the server already redeemed it, so a replay fails with invalid_grant and may revoke the tokens issued from it (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14)",
			Hint:   "run the flow again and pass the new code with --set code=NEW_CODE, or pass --force to send the captured code anyway",
		}
	case x.OAuth.Label == flow.LabelCallback && p.has("code") && !supplied("code"):
		return &RefusedError{
			Entry:  x.Seq,
			Field:  "code",
			Reason: "this callback delivers an authorization code, and authorization codes are single-use: the client would redeem it a second time, which fails and may revoke the tokens issued from it (RFC 6749 §4.1.2, §10.5)",
			Hint:   "pass --force to send it anyway",
		}
	case grant == "refresh_token" && !supplied("refresh_token") && rotated(x, p.get("refresh_token")):
		return &RefusedError{
			Entry:  x.Seq,
			Field:  "refresh_token",
			Reason: "the captured response rotated this refresh token (it returned a new refresh_token), so the one sent is single-use: replaying it fails and reuse detection may revoke the whole token family (RFC 6749 §10.4, RFC 9700 §4.14)",
			Hint:   "pass the newest refresh token with --set refresh_token=TOKEN (or " + EnvPrefix + "REFRESH_TOKEN), or pass --force to send the captured one anyway",
		}
	}
	return nil
}

// rotated reports whether x's captured response carried a refresh_token
// different from sent (compared by fingerprint, so redacted captures work).
func rotated(x *flow.Exchange, sent string) bool {
	if x.Response == nil {
		return false
	}
	got := bodyMembers(x.Response.Header.Get("Content-Type"), x.Response.Body.Data)["refresh_token"]
	if got == "" {
		return false
	}
	same, _, _ := redact.Same(got, sent)
	return !same
}

// redactedHeader reports whether a header value hides a redacted secret.
func redactedHeader(name, v string) bool {
	switch name {
	case "Authorization", "Proxy-Authorization":
		if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
			return redact.IsRedacted(strings.TrimSpace(cred)) || redact.IsRedacted(v)
		}
	case "Cookie":
		for _, c := range strings.Split(v, ";") {
			_, cv, _ := strings.Cut(c, "=")
			if redact.IsRedacted(strings.TrimSpace(cv)) {
				return true
			}
		}
	}
	return redact.IsRedacted(v) || strings.Contains(v, redact.Marker)
}

// Prepare builds the request that would replay x: single-use credentials
// are refused unless opts.Force or a fresh value is supplied; Set and
// environment values are applied; any value still redacted is refused; the
// destination is rewritten by opts.Target. Refusals are *RefusedError.
func Prepare(x *flow.Exchange, opts Options) (*http.Request, error) {
	if x == nil {
		return nil, fmt.Errorf("replay: no exchange")
	}
	if x.Request.URL == nil || x.Request.URL.Host == "" || x.Request.URL.Scheme == "" {
		return nil, &RefusedError{Entry: x.Seq, Field: "url", Reason: "the captured request has no absolute URL", Hint: "check the capture entry"}
	}
	p, err := parseRequest(&x.Request)
	if err != nil {
		return nil, fmt.Errorf("replay: entry %d: %w", x.Seq, err)
	}

	// Values supplied by --set or the environment, by parameter / header.
	setParams := map[string]string{}
	setHeaders := map[string]string{}
	for k, v := range opts.Set {
		if name, ok := cutPrefixFold(k, "header:"); ok {
			setHeaders[http.CanonicalHeaderKey(strings.TrimSpace(name))] = v
		} else {
			setParams[k] = v
		}
	}
	for _, f := range p.fields() {
		if _, ok := setParams[f.name]; !ok {
			if v := opts.env(EnvPrefix + envName(f.name)); v != "" {
				setParams[f.name] = v
			}
		}
	}
	for name := range x.Request.Header {
		cn := http.CanonicalHeaderKey(name)
		if _, ok := setHeaders[cn]; !ok {
			if v := opts.env(EnvPrefix + "HEADER_" + envName(cn)); v != "" {
				setHeaders[cn] = v
			}
		}
	}

	if !opts.Force {
		if r := singleUse(x, p, func(n string) bool { _, ok := setParams[n]; return ok }); r != nil {
			return nil, r
		}
	}
	if x.Request.Body.Truncated {
		return nil, &RefusedError{Entry: x.Seq, Field: "body", Reason: fmt.Sprintf("the captured request body was truncated (%d bytes kept)", len(x.Request.Body.Data)), Hint: "capture the request again with a larger body limit"}
	}

	names := make([]string, 0, len(setParams))
	for k := range setParams {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p.set(k, setParams[k])
	}

	h := http.Header{}
	for k, vs := range x.Request.Header {
		ck := http.CanonicalHeaderKey(k)
		if strings.HasPrefix(k, ":") || hopByHop[ck] {
			continue
		}
		for _, v := range vs {
			h.Add(ck, v)
		}
	}
	for k, v := range setHeaders {
		h.Set(k, v)
	}

	// Anything still redacted cannot be sent.
	var redacted []string
	for _, f := range p.fields() {
		if redact.IsRedacted(f.value) {
			redacted = append(redacted, f.name)
		}
	}
	hk := make([]string, 0, len(h))
	for k := range h {
		hk = append(hk, k)
	}
	sort.Strings(hk)
	for _, k := range hk {
		for _, v := range h[k] {
			if redactedHeader(k, v) {
				redacted = append(redacted, "header:"+k)
				break
			}
		}
	}
	if len(redacted) == 0 && bytes.Contains(p.body, []byte(redact.Marker)) {
		redacted = append(redacted, "body")
	}
	if u := x.Request.URL.User; u != nil {
		if pw, ok := u.Password(); ok && redact.IsRedacted(pw) {
			redacted = append(redacted, "url")
		}
	}
	if len(redacted) > 0 {
		return nil, refuseRedacted(x.Seq, redacted)
	}

	u := target(x.Request.URL, opts.Target)
	u.RawQuery = p.rawQuery
	method := x.Request.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), bytes.NewReader(p.body))
	if err != nil {
		return nil, fmt.Errorf("replay: entry %d: build request: %w", x.Seq, err)
	}
	if len(p.body) == 0 {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	req.Header = h
	return req, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// refuseRedacted names the first redacted field and how to supply each.
func refuseRedacted(seq int, fields []string) *RefusedError {
	var hints []string
	for _, f := range fields {
		switch {
		case f == "header:Authorization":
			hints = append(hints, "--set header:Authorization='Basic BASE64(client_id:client_secret)' (or the scheme and credential the client uses; env "+EnvPrefix+"HEADER_AUTHORIZATION)")
		case strings.HasPrefix(f, "header:"):
			name := strings.TrimPrefix(f, "header:")
			hints = append(hints, "--set "+f+"=VALUE (env "+EnvPrefix+"HEADER_"+envName(name)+")")
		case f == "body":
			hints = append(hints, "a nested body member is redacted and cannot be set: replay from an unredacted capture")
		case f == "url":
			hints = append(hints, "the URL password is redacted: replay from an unredacted capture")
		default:
			hints = append(hints, "--set "+f+"=VALUE (env "+EnvPrefix+envName(f)+")")
		}
	}
	reason := "the captured value is redacted, so there is nothing to send"
	if len(fields) > 1 {
		reason += " (also redacted: " + strings.Join(fields[1:], ", ") + ")"
	}
	return &RefusedError{Entry: seq, Field: fields[0], Reason: reason, Hint: "supply it with " + strings.Join(hints, "; ")}
}

// target rewrites u's destination: scheme and host from t, and t's path when
// it is neither empty nor "/".
func target(u, t *url.URL) *url.URL {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if t == nil {
		return &c
	}
	if t.Scheme != "" {
		c.Scheme = t.Scheme
	}
	if t.Host != "" {
		c.Host = t.Host
	}
	if t.Path != "" && t.Path != "/" {
		c.Path, c.RawPath = t.Path, t.RawPath
	}
	return &c
}

// bodyMembers reads the top-level members of a JSON object or form body;
// non-string JSON values are kept as compact JSON text.
func bodyMembers(contentType string, data []byte) map[string]string {
	out := map[string]string{}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return out
	}
	if data[0] == '{' {
		if m, ok := jsontop.Members(data); ok {
			return m
		}
		return out
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || (mt == "text/plain" && !bytes.ContainsAny(data, " <\n") && bytes.Contains(data, []byte("="))) {
		if v, err := url.ParseQuery(string(data)); err == nil {
			for k := range v {
				out[k] = v.Get(k)
			}
		}
	}
	return out
}
