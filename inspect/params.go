package inspect

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
)

// param is one decoded name=value pair.
type param struct {
	name, value string
}

// params is an ordered list of parameters that keeps duplicates (url.Values
// loses the order and hides how often a name occurs in a readable way).
type params []param

// parseForm decodes an application/x-www-form-urlencoded string. A pair
// that does not decode keeps its raw text.
func parseForm(s string) params {
	if s == "" {
		return nil
	}
	out := make(params, 0, strings.Count(s, "&")+1)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out = append(out, param{unescape(k), unescape(v)})
	}
	return out
}

// unescape form-decodes s, returning s unchanged when it is not valid.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// get returns the first value of name.
func (p params) get(name string) (string, bool) {
	for _, e := range p {
		if e.name == name {
			return e.value, true
		}
	}
	return "", false
}

// value returns the first value of name, "" when absent.
func (p params) value(name string) string {
	v, _ := p.get(name)
	return v
}

// first returns the first of names present, with the name found.
func (p params) first(names ...string) (name, value string, ok bool) {
	for _, n := range names {
		if v, ok := p.get(n); ok {
			return n, v, true
		}
	}
	return "", "", false
}

// has reports whether name occurs.
func (p params) has(name string) bool {
	_, ok := p.get(name)
	return ok
}

// count returns how often name occurs.
func (p params) count(name string) int {
	n := 0
	for _, e := range p {
		if e.name == name {
			n++
		}
	}
	return n
}

// counter returns how often a name occurs in p: by counting for a few
// parameters, from a map built once for many (a huge form must not make a
// check quadratic).
func (p params) counter() func(string) int {
	if len(p) <= 16 {
		return p.count
	}
	m := make(map[string]int, len(p))
	for _, e := range p {
		m[e.name]++
	}
	return func(name string) int { return m[name] }
}

// maxParams bounds how many parameters are read from a JSON or multipart body.
const maxParams = 256

// parseJSONParams reads the top-level members of a JSON object as
// parameters (strings as they are, numbers and booleans as text). ok is
// false if data is not a JSON object.
func parseJSONParams(data []byte) (params, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false
	}
	out := make(params, 0, len(m))
	for k, v := range m {
		if len(out) >= maxParams {
			break
		}
		switch t := v.(type) {
		case string:
			out = append(out, param{k, t})
		case float64:
			out = append(out, param{k, strconv.FormatFloat(t, 'f', -1, 64)})
		case bool:
			out = append(out, param{k, strconv.FormatBool(t)})
		case nil:
			out = append(out, param{k, ""})
		default:
			b, _ := json.Marshal(t)
			out = append(out, param{k, string(b)})
		}
	}
	return out, true
}

// parseMultipart reads the form fields of a multipart/form-data body.
func parseMultipart(contentType string, data []byte) (params, bool) {
	_, mp, err := mime.ParseMediaType(contentType)
	if err != nil || mp["boundary"] == "" {
		return nil, false
	}
	r := multipart.NewReader(bytes.NewReader(data), mp["boundary"])
	var out params
	for len(out) < maxParams {
		part, err := r.NextPart()
		if err != nil {
			break
		}
		v, _ := io.ReadAll(io.LimitReader(part, 64<<10))
		if name := part.FormName(); name != "" {
			out = append(out, param{name, string(v)})
		}
	}
	return out, len(out) > 0
}

// mediaType returns the lower-case media type of a Content-Type value
// without parameters ("" when empty).
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// unquoteNumber parses a JSON number or numeric string as int64 seconds.
func unquoteNumber(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e15 && f < 1e15 {
		return int64(f), true
	}
	return 0, false
}
