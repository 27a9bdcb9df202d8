// Package reqparams reads the parameters of an HTTP request — the query,
// and a form, JSON or multipart body — with one set of rules for the whole
// tree: inspection, diagnosis, redaction, diff and replay all see the same
// names and values, so a secret sent in a JSON body is known as a secret
// everywhere. It is pure (no I/O) and depends only on the standard library
// and jsontop.
package reqparams

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/jsontop"
)

// Where says where in the request a parameter was found.
type Where string

// Locations of a parameter.
const (
	InQuery     Where = "query"
	InForm      Where = "form"
	InJSON      Where = "json"
	InMultipart Where = "multipart"
)

// Kind is what a request body holds, as far as parameters go.
type Kind string

// Body kinds.
const (
	// KindNone: no body.
	KindNone Kind = "none"
	// KindForm: an application/x-www-form-urlencoded body.
	KindForm Kind = "form"
	// KindJSON: a JSON object (whatever the Content-Type said, unless form or multipart).
	KindJSON Kind = "json"
	// KindMultipart: a multipart/form-data body.
	KindMultipart Kind = "multipart"
	// KindOther: anything else. Params may still hold the pairs of a body
	// that looks like a form sent without a form Content-Type (Guessed).
	KindOther Kind = "other"
)

// Max bounds how many parameters are read from a JSON or multipart body.
const Max = 256

// maxPart bounds the bytes read from one multipart field.
const maxPart = 64 << 10

// Param is one decoded name=value pair.
type Param struct {
	Name, Value string
	Where       Where
}

// List is an ordered list of parameters that keeps duplicates (url.Values
// loses the order).
type List []Param

// Body is a parsed request body.
type Body struct {
	Kind   Kind
	Params List
	// Guessed is true when Params were read from a form-looking body that
	// had no form Content-Type (none, or text/plain); Kind is then KindOther.
	Guessed bool
}

// Query decodes an application/x-www-form-urlencoded string (a raw query
// or a form body). A pair that does not decode keeps its raw text, so one
// bad escape does not hide the other parameters (url.ParseQuery drops them all).
func Query(s string) List { return parseForm(s, InQuery) }

func parseForm(s string, where Where) List {
	if s == "" {
		return nil
	}
	out := make(List, 0, strings.Count(s, "&")+1)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out = append(out, Param{Name: Unescape(k), Value: Unescape(v), Where: where})
	}
	return out
}

// Unescape form-decodes s (%XX and +), returning s unchanged when it is not valid.
func Unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// MediaType returns the lower-case media type of a Content-Type value
// without parameters ("" when empty).
func MediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// ParseBody reads the parameters of a request body by its Content-Type:
// a form body as a form; multipart/form-data by its fields; any other body
// that is a JSON object by its top-level members (strings unescaped, null
// as "", other values as compact JSON text, in name order); and a
// form-looking body sent without a Content-Type or as text/plain as a
// form, marked Guessed.
func ParseBody(contentType string, data []byte) Body {
	if len(data) == 0 {
		return Body{Kind: KindNone}
	}
	data = bytes.TrimSpace(data)
	mt := MediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return Body{Kind: KindForm, Params: parseForm(string(data), InForm)}
	case strings.HasPrefix(mt, "multipart/"):
		p, _ := parseMultipart(contentType, data)
		return Body{Kind: KindMultipart, Params: p}
	}
	if len(data) > 0 && data[0] == '{' {
		if m, ok := jsontop.Members(data); ok {
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, k)
			}
			sort.Strings(names)
			if len(names) > Max {
				names = names[:Max]
			}
			p := make(List, len(names))
			for i, k := range names {
				p[i] = Param{Name: k, Value: m[k], Where: InJSON}
			}
			return Body{Kind: KindJSON, Params: p}
		}
	}
	if (mt == "" || mt == "text/plain") && looksLikeForm(data) {
		return Body{Kind: KindOther, Params: parseForm(string(data), InForm), Guessed: true}
	}
	return Body{Kind: KindOther}
}

// looksLikeForm reports whether b could be a form body: name=value pairs,
// no spaces, newlines, braces or markup.
func looksLikeForm(b []byte) bool {
	return bytes.IndexByte(b, '=') > 0 && !bytes.ContainsAny(b, " \n<{")
}

// parseMultipart reads the form fields of a multipart/form-data body.
func parseMultipart(contentType string, data []byte) (List, bool) {
	_, mp, err := mime.ParseMediaType(contentType)
	if err != nil || mp["boundary"] == "" {
		return nil, false
	}
	r := multipart.NewReader(bytes.NewReader(data), mp["boundary"])
	var out List
	for len(out) < Max {
		part, err := r.NextPart()
		if err != nil {
			break
		}
		v, _ := io.ReadAll(io.LimitReader(part, maxPart))
		if name := part.FormName(); name != "" {
			out = append(out, Param{Name: name, Value: string(v), Where: InMultipart})
		}
	}
	return out, len(out) > 0
}

// Request returns the parameters of a request: those of its raw query
// first, then those of its body (ParseBody).
func Request(rawQuery, contentType string, body []byte) List {
	q := Query(rawQuery)
	b := ParseBody(contentType, body)
	if len(q) == 0 {
		return b.Params
	}
	return append(q, b.Params...)
}

// Get returns the first value of name.
func (l List) Get(name string) (string, bool) {
	for _, p := range l {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Has reports whether name occurs.
func (l List) Has(name string) bool {
	_, ok := l.Get(name)
	return ok
}

// Values returns l as url.Values (order between names is lost).
func (l List) Values() url.Values {
	v := make(url.Values, len(l))
	for _, p := range l {
		v[p.Name] = append(v[p.Name], p.Value)
	}
	return v
}
