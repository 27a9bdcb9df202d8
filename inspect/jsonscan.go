package inspect

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
)

// Token responses and JWT claims are read on every token exchange; a
// reflection-based json.Unmarshal of them dominated the cost of Inspect.
// scanObject reads only the top level of a JSON object, without allocating
// for names or for strings without escapes.

// scanObject calls fn for each member of the JSON object in data: name is
// the member name, kind is '"' for a string (val is then the unescaped
// content), '{' or '[' for an object or array, or the first byte of a
// literal (digit, '-', 't', 'f', 'n'); val is the raw text for non-strings.
// It returns false for input that is not a well-formed object (literals are
// checked only for their first byte), and never panics.
func scanObject(data []byte, fn func(name []byte, kind byte, val []byte)) bool {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipWS(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		name, next, ok := scanString(data, i)
		if !ok {
			return false
		}
		i = skipWS(data, next)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipWS(data, i+1)
		if i >= len(data) {
			return false
		}
		kind := data[i]
		var val []byte
		switch kind {
		case '"':
			val, next, ok = scanString(data, i)
		case '{', '[':
			if next, ok = skipComposite(data, i); ok {
				val = data[i:next]
			}
		default:
			if !(kind == '-' || kind >= '0' && kind <= '9' || kind == 't' || kind == 'f' || kind == 'n') {
				return false
			}
			next = i
			for next < len(data) && !isDelim(data[next]) {
				next++
			}
			val, ok = data[i:next], true
		}
		if !ok {
			return false
		}
		fn(name, kind, val)
		i = skipWS(data, next)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			return skipWS(data, i+1) == len(data)
		default:
			return false
		}
	}
}

func skipWS(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func isDelim(b byte) bool {
	return b == ',' || b == '}' || b == ']' || b == ' ' || b == '\t' || b == '\n' || b == '\r'
}

// scanString reads the JSON string starting at data[i] == '"' and returns
// its content (unescaped) and the index after the closing quote.
func scanString(data []byte, i int) ([]byte, int, bool) {
	// Fast path, for the common string without escapes (tokens are long):
	// find the closing quote with IndexByte and check what it encloses.
	q := bytes.IndexByte(data[i+1:], '"')
	if q < 0 {
		return nil, 0, false
	}
	end := i + 1 + q
	s := data[i+1 : end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return scanEscaped(data, i)
	}
	if hasControl(s) {
		return nil, 0, false
	}
	return s, end + 1, true
}

// hasControl reports whether s has a byte below 0x20, which a JSON string
// must escape. It tests eight bytes at a time.
func hasControl(s []byte) bool {
	const highs, below = 0x8080808080808080, 0x2020202020202020
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		// Non-zero iff some byte is below 0x20 ("hasless", Bit Twiddling Hacks).
		if (x-below)&^x&highs != 0 {
			return true
		}
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// scanEscaped is scanString for a string with escapes.
func scanEscaped(data []byte, i int) ([]byte, int, bool) {
	esc := false
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			if !esc {
				return data[i+1 : j], j + 1, true
			}
			var s string
			if json.Unmarshal(data[i:j+1], &s) != nil {
				return nil, 0, false
			}
			return []byte(s), j + 1, true
		case c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipComposite returns the index after the object or array at data[i].
func skipComposite(data []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '"':
			_, next, ok := scanString(data, j)
			if !ok {
				return 0, false
			}
			j = next - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}
