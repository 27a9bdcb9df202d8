package inspect

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/reqparams"
)

// param is one decoded name=value pair (request parameters come from
// package reqparams, the one parser of the tree).
type param = reqparams.Param

// params is an ordered list of parameters that keeps duplicates (url.Values
// loses the order and hides how often a name occurs in a readable way).
type params []param

// parseForm decodes an application/x-www-form-urlencoded string. A pair
// that does not decode keeps its raw text.
func parseForm(s string) params { return params(reqparams.Query(s)) }

// get returns the first value of name.
func (p params) get(name string) (string, bool) {
	for _, e := range p {
		if e.Name == name {
			return e.Value, true
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
		if e.Name == name {
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
		m[e.Name]++
	}
	return func(name string) int { return m[name] }
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

// mediaType returns the lower-case media type of a Content-Type value
// without parameters ("" when empty).
func mediaType(ct string) string { return reqparams.MediaType(ct) }

// unescape form-decodes s, returning s unchanged when it is not valid.
func unescape(s string) string { return reqparams.Unescape(s) }
