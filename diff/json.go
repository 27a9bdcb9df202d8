package diff

import (
	"bufio"
	"encoding/json"
	"io"
)

// WriteJSON writes r as indented JSON: the same bytes as a json.Encoder
// with SetIndent("", "  "), but one pair at a time. Encoding the whole
// report at once held it in memory twice more (compact, then indented):
// for two 100k-entry captures that is 41 MiB of text, and took `diff
// --format json` to 199 MiB peak RSS on a busy machine (issue 14's bound is
// 200 MiB; cmd/oauthproxy.TestDiffPeakRSS).
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	// The members of Report, in its field order (TestWriteJSON compares
	// the bytes with encoding/json's, so a new field cannot be forgotten).
	members := []struct {
		name string
		v    any
	}{
		{"a", r.A}, {"b", r.B}, {"headline", r.Headline}, {"failure", r.Failure},
		{"verdict", r.Verdict}, {"pairs", nil}, {"unmatched_a", r.UnmatchedA},
		{"unmatched_b", r.UnmatchedB}, {"notes", r.Notes},
	}
	bw.WriteString("{\n")
	for i, m := range members {
		if i > 0 {
			bw.WriteString(",\n")
		}
		bw.WriteString(`  "` + m.name + `": `)
		if m.name == "pairs" {
			if err := writePairs(bw, r.Pairs); err != nil {
				return err
			}
			continue
		}
		b, err := json.MarshalIndent(m.v, "  ", "  ")
		if err != nil {
			return err
		}
		bw.Write(b)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// writePairs writes the pairs array at the indentation of a member of the
// report, one pair encoded at a time.
func writePairs(bw *bufio.Writer, pairs []Pair) error {
	switch {
	case pairs == nil:
		bw.WriteString("null")
		return nil
	case len(pairs) == 0:
		bw.WriteString("[]")
		return nil
	}
	bw.WriteString("[\n")
	for i := range pairs {
		if i > 0 {
			bw.WriteString(",\n")
		}
		b, err := json.MarshalIndent(&pairs[i], "    ", "  ")
		if err != nil {
			return err
		}
		bw.WriteString("    ")
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	bw.WriteString("\n  ]")
	return nil
}
