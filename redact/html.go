package redact

import (
	"html"
	"regexp"
	"strings"
)

var (
	inputTagRE  = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	inputAttrRE = regexp.MustCompile(`(?is)\b(name|value)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)`)
)

// HTMLInputs fingerprints the values of <input> elements whose name is a
// secret parameter, as in the auto-submitting page of response_mode=form_post
// (<input type="hidden" name="code" value="...">). Everything else is kept.
func HTMLInputs(data []byte) []byte {
	return inputTagRE.ReplaceAllFunc(data, func(tag []byte) []byte {
		attrs := inputAttrRE.FindAllSubmatchIndex(tag, -1)
		secret := false
		for _, a := range attrs {
			if strings.EqualFold(string(tag[a[2]:a[3]]), "name") {
				if IsSecretParam(html.UnescapeString(unquote(string(tag[a[4]:a[5]])))) {
					secret = true
				}
			}
		}
		if !secret {
			return tag
		}
		out := make([]byte, 0, len(tag)+32)
		last := 0
		for _, a := range attrs {
			if !strings.EqualFold(string(tag[a[2]:a[3]]), "value") {
				continue
			}
			v := html.UnescapeString(unquote(string(tag[a[4]:a[5]])))
			out = append(out, tag[last:a[4]]...)
			out = append(out, '"')
			out = append(out, html.EscapeString(Fingerprint(v))...)
			out = append(out, '"')
			last = a[5]
		}
		return append(out, tag[last:]...)
	})
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
