package diagnose

import (
	"bytes"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// This file holds the envelope readers beyond RFC JSON: form-encoded
// errors (error=, oauth_problem=, provider members), XML and SOAP faults,
// HTML titles, headings and leading text, and error headers. Each reader
// only fills facts; what the words mean is decided by the rules and the
// wording classifier.

// maxText bounds one message read from a response.
const maxText = 300

// fromForm reads a form-encoded error body: the RFC members, OAuth 1.0
// problem reporting (oauth_problem, oauth_problem_advice) and any provider
// member the JSON reader knows (errcode/errmsg, code/msg, message...).
func (f *facts) fromForm(v url.Values) {
	f.fromValues(v, "body")
	if p := v.Get("oauth_problem"); p != "" && codeLikeRE.MatchString(p) {
		f.addCode("oauth_problem:" + strings.ToLower(p))
		f.addDesc(strings.ReplaceAll(p, "_", " "))
	}
	if a := v.Get("oauth_problem_advice"); a != "" {
		f.addDesc(a)
	}
	m := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) > 0 && k != "error" {
			m[k] = vs[0]
		}
	}
	f.fromJSON(m) // also sets message for a message without a code
}

var formKeyRE = regexp.MustCompile(`(?:^|&)(?:error|oauth_problem|errcode|error_code|errmsg|message|error_message)=`)

func looksLikeForm(b []byte) bool {
	if len(b) == 0 || bytes.ContainsAny(b, " \n\t<{") {
		return false
	}
	return formKeyRE.Match(b) || bytes.Contains(b, []byte("access_token="))
}

// looksLikeXML tells an XML document (SOAP fault, S3/Azure-style <Error>)
// from an HTML page.
func looksLikeXML(b []byte, mt string) bool {
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	h := bytes.ToLower(head(b, 512))
	if bytes.Contains(h, []byte("<html")) || bytes.Contains(h, []byte("<!doctype html")) {
		return false
	}
	return bytes.HasPrefix(h, []byte("<?xml")) || strings.HasSuffix(mt, "xml") ||
		bytes.Contains(h, []byte(":envelope")) || bytes.Contains(h, []byte("<error"))
}

var (
	// xmlElemRE finds the text of the elements that carry an error in the
	// common XML shapes: SOAP 1.1 (faultcode, faultstring), SOAP 1.2
	// (Code/Value, Reason/Text), S3/Azure/Apigee-style <Error><Code>
	// <Message>, and OAuth fields written as XML.
	xmlElemRE = regexp.MustCompile(`(?is)<(?:[\w-]+:)?(faultcode|faultstring|value|text|code|errorcode|error_code|error|error_description|message|errormessage|error_message|reason|description|detail|title)\b[^>/]*>\s*([^<]{1,300}?)\s*<`)
)

// fromXML reads an XML error document.
func (f *facts) fromXML(s string) {
	found := false
	for _, m := range xmlElemRE.FindAllStringSubmatch(s, 16) {
		name, val := strings.ToLower(m[1]), html.UnescapeString(strings.TrimSpace(m[2]))
		if val == "" {
			continue
		}
		found = true
		switch name {
		case "error", "code", "errorcode", "error_code", "faultcode", "value":
			// A namespaced SOAP code (soap:Client) keeps its local part.
			if i := strings.LastIndexByte(val, ':'); i >= 0 && i < len(val)-1 && !strings.Contains(val, " ") {
				val = val[i+1:]
			}
			if name == "error" && codeLikeRE.MatchString(val) && knownErrors[strings.ToLower(val)] {
				f.setError(val, "XML body")
				continue
			}
			if codeLikeRE.MatchString(val) {
				f.addDesc(splitWords(val))
			} else {
				f.addDesc(val)
			}
		default:
			f.addDesc(val)
		}
	}
	if found && f.errCode == "" {
		f.message = true
	}
}

// errorHeaderRE matches the names of headers that carry an error message
// or type: X-Error, X-Error-Message, X-Error-Code, x-amzn-ErrorType,
// x-amzn-ErrorMessage, X-Ms-Error-Code, X-Auth-Error, Grpc-Message.
var errorHeaderRE = regexp.MustCompile(`(?i)^(x-(?:[\w]+-)*(?:error|err)(?:-?(?:message|msg|code|type|description|detail|reason))?|x-amzn-error(?:type|message)|grpc-message)$`)

// wafHeaderRE matches header names that say a web application firewall
// handled the response.
var wafHeaderRE = regexp.MustCompile(`(?i)(^|-)(waf|firewall)(-|$)`)

// fromHeaders reads error messages carried by response headers, and the
// challenge of a proxy (407).
func (f *facts) fromHeaders() {
	for name, vs := range f.header {
		if len(vs) == 0 {
			continue
		}
		l := strings.ToLower(name)
		if f.wafHeader == "" && (strings.Contains(l, "waf") || strings.Contains(l, "firewall")) && wafHeaderRE.MatchString(name) {
			f.wafHeader = http.CanonicalHeaderKey(name) + ": " + shorten(vs[0], 80)
		}
		if !(strings.Contains(l, "err") || l == "grpc-message") || !errorHeaderRE.MatchString(name) {
			continue
		}
		v := strings.TrimSpace(vs[0])
		if v == "" {
			continue
		}
		// x-amzn-ErrorType: AccessDeniedException:http://internal.amazon.com/...
		if i := strings.Index(v, ":http"); i > 0 {
			v = v[:i]
		}
		if codeLikeRE.MatchString(v) {
			v = splitWords(v)
		}
		if len(f.hdrTexts) < 6 {
			f.hdrTexts = append(f.hdrTexts, http.CanonicalHeaderKey(name)+": "+shorten(v, maxText))
		}
	}
}

var (
	titleRE   = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	headingRE = regexp.MustCompile(`(?is)<h[1-3][^>]*>(.*?)</h[1-3]>`)
	scriptRE  = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>|<!--.*?-->`)
	tagRE     = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE   = regexp.MustCompile(`\s+`)
)

// pageScan bounds how much of a page pageTexts reads.
const pageScan = 16 << 10

// pageTexts returns the title and first headings of an HTML body, or the
// leading text of a text body (at most a few hundred bytes each), made on
// first use: pages are read only when no rule recognised the response.
func (f *facts) pageTexts() []message {
	if f.pageDone {
		return f.page
	}
	f.pageDone = true
	if f.kind != kindHTML && f.kind != kindText {
		return nil
	}
	s := head2(f.body, pageScan)
	if f.kind == kindText {
		if t := cleanText(s); t != "" {
			f.page = append(f.page, message{from: "page text", text: shorten(t, 600)})
		}
		return f.page
	}
	add := func(from, raw string) {
		t := cleanText(tagRE.ReplaceAllString(raw, " "))
		if t == "" || len(f.page) >= 4 {
			return
		}
		for _, p := range f.page {
			if p.text == t {
				return
			}
		}
		f.page = append(f.page, message{from: from, text: shorten(t, maxText)})
	}
	if m := titleRE.FindStringSubmatch(s); m != nil {
		add("page title", m[1])
	}
	for _, m := range headingRE.FindAllStringSubmatch(s, 3) {
		add("page heading", m[1])
	}
	return f.page
}

// pageBody returns the leading visible text of an HTML page (scripts,
// styles, comments and the title removed), made on first use; it is read
// only for failures, after the title and headings.
func (f *facts) pageBody() (message, bool) {
	if f.kind != kindHTML {
		return message{}, false
	}
	if !f.bodyDone {
		f.bodyDone = true
		s := scriptRE.ReplaceAllString(head2(f.body, pageScan), " ")
		s = titleRE.ReplaceAllString(s, " ")
		if t := cleanText(tagRE.ReplaceAllString(s, " ")); t != "" {
			f.bodyText = shorten(t, 600)
		}
	}
	return message{from: "page text", text: f.bodyText}, f.bodyText != ""
}

var errorTitleRE = regexp.MustCompile(`(?i)\berror\b|错误|出错`)

// errorPage reports whether a page's title or a heading calls it an error.
func (f *facts) errorPage() bool {
	for _, p := range f.pageTexts() {
		if p.from != "page text" && errorTitleRE.MatchString(p.text) {
			return true
		}
	}
	return false
}

// cleanText unescapes entities and collapses white space.
func cleanText(s string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(s), " "))
}

// splitWords turns a code into words: AccessDeniedException → "Access
// Denied Exception", invalid_client → "invalid client".
func splitWords(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case r == '_' || r == '-' || r == '.' || r == '#':
			b.WriteByte(' ')
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	return strings.TrimSpace(b.String())
}
