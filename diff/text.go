package diff

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxVerdictText is how many verdict reasons the text report shows in full.
const maxVerdictText = 10

// WriteText writes the report for a person: summaries, the headline, the
// ranked verdict, then every pair's differences and the unmatched exchanges.
// It contains no raw secret (only fingerprints and shapes).
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("oauthproxy diff: A = %s, B = %s\n", r.A.Name, r.B.Name)
	writeSummary(bw, "A", r.A)
	writeSummary(bw, "B", r.B)
	for _, n := range r.Notes {
		if strings.Contains(r.Headline, n) {
			continue
		}
		p("note: %s\n", n)
	}
	p("\n%s\n", r.Headline)

	if len(r.Verdict) > 0 {
		if r.Failure {
			p("\nVerdict (most likely cause first):\n")
		} else {
			p("\nDifferences (no failure to explain; ranked by relevance):\n")
		}
		for i, v := range r.Verdict {
			if i == maxVerdictText {
				p("  ... %d more, see the pairs below\n", len(r.Verdict)-i)
				break
			}
			p("%3d. [%d %s] %s: %s\n", v.Rank, v.Score, v.Category, v.Kind, v.Summary)
			if v.Detail != "" {
				p("       %s\n", v.Detail)
			}
			if len(v.Pairs) > 0 {
				p("       pairs: %s\n", joinInts(v.Pairs))
			}
		}
	} else if len(r.Pairs) > 0 {
		p("\nNo differences found between the aligned exchanges.\n")
	}

	if len(r.Pairs) > 0 {
		p("\nPairs:\n")
		for _, pr := range r.Pairs {
			name := string(pr.A.Label)
			if name == "" {
				name = "non-OAuth"
			}
			if pr.A.GrantType != "" {
				name += " (" + pr.A.GrantType + ")"
			}
			p("  #%d %s\n", pr.Index, name)
			p("     A %s\n", refLine(pr.A))
			p("     B %s\n", refLine(pr.B))
			if len(pr.Differences) == 0 {
				p("     no differences\n")
			}
			for _, d := range pr.Differences {
				field := d.Field
				if field == "" {
					field = "-"
				}
				p("     %-15s %-8s %-20s A %s | B %s\n", d.Kind, d.Where, field, d.A, d.B)
			}
		}
	}
	writeUnmatched(bw, "A", r.UnmatchedA, r.A.Uncompared)
	writeUnmatched(bw, "B", r.UnmatchedB, r.B.Uncompared)
	return bw.Flush()
}

func writeSummary(w io.Writer, side string, s Summary) {
	egress := "unknown"
	if len(s.Egress) > 0 {
		egress = strings.Join(s.Egress, ", ")
	}
	skew := "unknown"
	if s.ClockSkewSeconds != nil {
		skew = fmt.Sprintf("%+ds", *s.ClockSkewSeconds)
	}
	fmt.Fprintf(w, "  %s: %d exchanges (%d OAuth, %d failed), egress %s, clock skew %s\n",
		side, s.Exchanges, s.OAuth, s.Failed, egress, skew)
}

func writeUnmatched(w io.Writer, side string, refs []ExchangeRef, uncompared int) {
	if len(refs) == 0 && uncompared == 0 {
		return
	}
	fmt.Fprintf(w, "\nOnly in %s:\n", side)
	for _, e := range refs {
		fmt.Fprintf(w, "  %s\n", refLine(e))
	}
	if uncompared > 0 {
		fmt.Fprintf(w, "  %d non-OAuth exchanges counted, not compared\n", uncompared)
	}
}

// refLine is "entry 3: POST https://idp/token -> 403 [network/cause] summary".
func refLine(e ExchangeRef) string {
	var b strings.Builder
	fmt.Fprintf(&b, "entry %d: %s %s ->", e.Seq, e.Method, e.URL)
	switch {
	case e.Status != 0:
		fmt.Fprintf(&b, " %d", e.Status)
	case e.Error != "":
		fmt.Fprintf(&b, " error: %s", e.Error)
	default:
		b.WriteString(" no response")
	}
	if e.Label != "" {
		fmt.Fprintf(&b, " (%s)", e.Label)
	}
	if d := e.Diagnosis; d != nil {
		fmt.Fprintf(&b, " [%s/%s]", d.Category, d.Cause)
		if d.Summary != "" {
			fmt.Fprintf(&b, " %s", d.Summary)
		}
	}
	return b.String()
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
