package content

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"testing"

	"github.com/andybalholm/brotli"
)

func encode(t *testing.T, enc string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case "deflate":
		w := zlib.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case "rawdeflate":
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		w.Write(data)
		w.Close()
	case "br":
		w := brotli.NewWriter(&buf)
		w.Write(data)
		w.Close()
	default:
		return data
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	body := []byte(`{"error":"invalid_grant","error_description":"Code not valid"}`)
	tests := []struct {
		name, header, enc string
	}{
		{"identity", "", ""},
		{"gzip", "gzip", "gzip"},
		{"x-gzip", "x-gzip", "gzip"},
		{"deflate zlib", "deflate", "deflate"},
		{"deflate raw", "deflate", "rawdeflate"},
		{"brotli", "br", "br"},
		{"upper case", "GZIP", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.header, encode(t, tt.enc, body), 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("got %q, want %q", got, body)
			}
		})
	}
	t.Run("chain gzip then br", func(t *testing.T) {
		got, err := Decode("gzip, br", encode(t, "br", encode(t, "gzip", body)), 0)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("got %q, %v; want %q", got, err, body)
		}
	})
}

func TestDecodeBad(t *testing.T) {
	tests := []struct {
		name, header string
		raw          []byte
	}{
		{"gzip garbage", "gzip", []byte("not gzip at all")},
		{"truncated gzip", "gzip", encode(t, "gzip", bytes.Repeat([]byte("a"), 1000))[:15]},
		{"unknown", "compress", []byte("x")},
		{"br garbage", "br", []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.header, tt.raw, 0); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestDecodeBomb(t *testing.T) {
	raw := encode(t, "gzip", make([]byte, 8<<20))
	got, err := Decode("gzip", raw, 1<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got err %v, want ErrTooLarge", err)
	}
	if len(got) != 1<<10 {
		t.Errorf("got %d bytes, want %d", len(got), 1<<10)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("gzip", []byte{0x1f, 0x8b, 8, 0})
	f.Add("br", []byte{1, 2, 3})
	f.Add("deflate", []byte{0x78, 0x9c})
	f.Fuzz(func(t *testing.T, enc string, raw []byte) {
		out, _ := Decode(enc, raw, 4096)
		if len(out) > 4096 && len(out) > len(raw) {
			t.Fatalf("decoded %d bytes over the limit", len(out))
		}
	})
}
