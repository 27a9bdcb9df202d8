// Package jsontop reads the top-level members of a JSON object as text:
// what a comparison or a replay of a JSON request body needs, without
// knowing its schema.
package jsontop

import (
	"bytes"
	"encoding/json"
)

// Members returns the members of the JSON object in data: a string value
// unescaped, null as "", any other value as compact JSON text ({ "a" : 1 }
// becomes {"a":1}, 1.0 stays 1.0). ok is false, and the map nil, when data
// is not a JSON object. Of duplicate names the last one wins, as in
// encoding/json.
func Members(data []byte) (members map[string]string, ok bool) {
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil || raw == nil {
		return nil, false
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			out[k] = b.String()
		} else {
			out[k] = string(v)
		}
	}
	return out, true
}
