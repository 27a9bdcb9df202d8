package webui

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// skipInCurl are headers curl sets itself or that belong to one hop.
var skipInCurl = map[string]bool{
	"Content-Length": true, "Host": true, "Connection": true, "Proxy-Connection": true,
	"Proxy-Authorization": true, "Keep-Alive": true, "Transfer-Encoding": true, "Te": true,
	"Accept-Encoding": true, "Upgrade": true,
}

// Curl returns x as a curl command line in which every secret is a shell
// variable placeholder: "${CODE}" for a code parameter, "Bearer
// ${AUTHORIZATION}" for an Authorization header. The variables it needs
// are listed, without values, in a comment on the first line.
func Curl(x *flow.Exchange) string {
	vars := map[string]bool{}
	placeholder := func(name string) string {
		v := strings.ToUpper(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, name))
		if v == "" || v[0] >= '0' && v[0] <= '9' {
			v = "S_" + v
		}
		vars[v] = true
		return "${" + v + "}"
	}
	var b strings.Builder
	b.WriteString("curl")
	if x.Request.Method != http.MethodGet {
		b.WriteString(" -X " + sq(x.Request.Method))
	}
	u := x.Request.URL
	if u == nil {
		u = &url.URL{}
	}
	b.WriteString(" " + dq(secretQuery(u, placeholder)))
	names := make([]string, 0, len(x.Request.Header))
	for k := range x.Request.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if skipInCurl[http.CanonicalHeaderKey(k)] {
			continue
		}
		for _, v := range x.Request.Header[k] {
			if redact.IsSecretHeader(k) {
				scheme := ""
				if s, _, ok := strings.Cut(v, " "); ok && (strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Dpop")) && len(s) < 16 {
					scheme = s + " "
				}
				b.WriteString(" \\\n  -H " + dq(escDQ(k+": "+scheme)+placeholder(k)))
				continue
			}
			b.WriteString(" \\\n  -H " + sq(k+": "+redact.Text(v)))
		}
	}
	if data := x.Request.Body.Data; len(data) > 0 {
		if form := formOf(&x.Request); form != nil {
			for _, kv := range strings.Split(string(data), "&") {
				k, v, _ := strings.Cut(kv, "=")
				name, err := url.QueryUnescape(k)
				if err != nil {
					name = k
				}
				if redact.IsSecretParam(name) {
					b.WriteString(" \\\n  --data-urlencode " + dq(escDQ(name+"=")+placeholder(name)))
					continue
				}
				b.WriteString(" \\\n  --data-raw " + sq(k+"="+v))
			}
		} else {
			// JSON and other bodies: secret members become fingerprints to replace.
			b.WriteString(" \\\n  --data-raw " + sq(string(redact.Body(x.Request.Header.Get("Content-Type"), data))))
		}
	}
	if len(vars) == 0 {
		return b.String() + "\n"
	}
	list := make([]string, 0, len(vars))
	for v := range vars {
		list = append(list, v)
	}
	sort.Strings(list)
	return "# set first: " + strings.Join(list, " ") + "\n" + b.String() + "\n"
}

// secretQuery returns u as a string whose secret query values are placeholders.
func secretQuery(u *url.URL, placeholder func(string) string) string {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	c.User = nil
	if c.RawQuery == "" {
		return escDQ(c.String())
	}
	q := c.RawQuery
	c.RawQuery = ""
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, _, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if redact.IsSecretParam(name) {
			parts = append(parts, escDQ(k+"=")+placeholder(name))
			continue
		}
		parts = append(parts, escDQ(redact.Text(kv)))
	}
	return escDQ(c.String()) + "?" + strings.Join(parts, "&")
}

// sq single-quotes s for a POSIX shell.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// escDQ escapes s for the inside of a double-quoted shell word.
func escDQ(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return r.Replace(s)
}

// dq wraps an already escaped string in double quotes.
func dq(escaped string) string { return `"` + escaped + `"` }
