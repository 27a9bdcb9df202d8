package webui

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRow appends the JSON encoding of r to b: the same bytes as
// json.Marshal(r) (TestAppendRowMatchesJSON, FuzzAppendRow), without
// reflection. Every open page's event stream carries each row, so it is
// encoded once per exchange on the proxy's sink path.
func appendRow(b []byte, r *Row) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(r.Seq), 10)
	b = append(b, `,"time":`...)
	if y := r.Time.Year(); y < 0 || y > 9999 {
		// json.Marshal refuses these (time.Time.MarshalJSON); so do we.
		_, err := json.Marshal(r.Time)
		return b, err
	}
	b = append(b, '"')
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = appendOptString(b, `,"error":`, r.Error)
	b = append(b, `,"duration_ms":`...)
	var err error
	if b, err = appendJSONFloat(b, r.DurationMS); err != nil {
		return b, err
	}
	b = appendOptString(b, `,"oauth":`, r.OAuth)
	b = appendOptString(b, `,"grant_type":`, r.GrantType)
	b = appendOptString(b, `,"issuer":`, r.Issuer)
	b = appendOptString(b, `,"login":`, r.Login)
	if r.Failed {
		b = append(b, `,"failed":true`...)
	}
	if r.Badge != nil {
		b = append(b, `,"badge":{"level":`...)
		b = appendJSONString(b, r.Badge.Level)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, r.Badge.ID)
		b = append(b, '}')
	}
	if len(r.Findings) > 0 {
		b = append(b, `,"findings":[`...)
		for i, f := range r.Findings {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendJSONString(b, f.ID)
			b = append(b, `,"severity":`...)
			b = appendJSONString(b, f.Severity)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"cause":`, r.Cause)
	return append(b, '}'), nil
}

// appendOptString appends key and s unless s is "" (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

// appendJSONFloat encodes f as encoding/json does for the usual range;
// the rare exponent forms and invalid values are left to encoding/json.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if abs := math.Abs(f); math.IsInf(f, 0) || math.IsNaN(f) || abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		e, err := json.Marshal(f)
		return append(b, e...), err
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), nil
}

// appendJSONString quotes s as json.Marshal does, HTML-escaping included:
// printable ASCII is copied, <, > and & become \u003c, \u003e, \u0026;
// anything else (control bytes, non-ASCII) goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '<', '>', '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			// The rest, from here on, as encoding/json writes it.
			e, _ := json.Marshal(s[i:])
			b = append(b, e[1:]...)
			return b
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
