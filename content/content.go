// Package content removes a Content-Encoding (gzip, x-gzip, deflate, br,
// identity, or a comma-separated chain of them) from a captured body, with a
// bound on the decoded size so a compression bomb cannot exhaust memory.
package content

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
)

// ErrTooLarge is returned (wrapped) when the decoded body exceeds the limit;
// the bytes up to the limit are still returned.
var ErrTooLarge = errors.New("decoded body exceeds the limit")

// Decode removes the encodings listed in encoding (a Content-Encoding header
// value) from raw and returns at most limit bytes (limit <= 0 means 1 MiB).
// On error it returns what it could decode (possibly nothing) and an error
// prefixed "content:"; unknown encodings are an error and raw is returned.
func Decode(encoding string, raw []byte, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = 1 << 20
	}
	encs := strings.Split(encoding, ",")
	data := raw
	// Encodings are listed in the order they were applied: undo in reverse.
	for i := len(encs) - 1; i >= 0; i-- {
		enc := strings.ToLower(strings.TrimSpace(encs[i]))
		var r io.Reader
		switch enc {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return raw, fmt.Errorf("content: gzip: %w", err)
			}
			r = zr
		case "deflate":
			// "deflate" is zlib-wrapped per RFC 9110, but some servers send raw DEFLATE.
			if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
				r = zr
			} else {
				r = flate.NewReader(bytes.NewReader(data))
			}
		case "br":
			r = brotli.NewReader(bytes.NewReader(data))
		default:
			return raw, fmt.Errorf("content: unsupported Content-Encoding %q", enc)
		}
		out, err := io.ReadAll(io.LimitReader(r, limit+1))
		if int64(len(out)) > limit {
			return out[:limit], fmt.Errorf("content: %s: %w (%d bytes)", enc, ErrTooLarge, limit)
		}
		if err != nil {
			return out, fmt.Errorf("content: %s: %w", enc, err)
		}
		data = out
	}
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("content: %w (%d bytes)", ErrTooLarge, limit)
	}
	return data, nil
}
