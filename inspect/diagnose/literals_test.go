package diagnose

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`Attention Required! \| Cloudflare|Sorry, you have been blocked`, []string{"attention required! | cloudflare", "sorry, you have been blocked"}},
		{`(?i)\bconsent`, []string{"consent"}},
		{`error code:\s*1020\b`, []string{"error code:"}},
		{`\A\s*\z`, nil},
		{`(?i)rate.?limit|too many requests`, []string{"limit", "too many requests"}},
		{`a|bc`, nil},            // a one-letter alternative proves nothing
		{`频率|频繁`, []string{"频"}}, // the parser factors the common CJK prefix out
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := requiredLiterals(tt.expr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("requiredLiterals(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

// TestLiteralPrefilterSound: the literal prefilter never rules out a body
// that a rule's regexp matches, on every knowledge-base body and the
// rules' own sample texts.
func TestLiteralPrefilterSound(t *testing.T) {
	var bodies []string
	f, err := os.Open("testdata/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c struct {
			Body *string `json:"body"`
		}
		if json.Unmarshal(sc.Bytes(), &c) == nil && c.Body != nil {
			bodies = append(bodies, *c.Body, strings.ToUpper(*c.Body))
		}
	}
	checked := 0
	for _, r := range compiled {
		if r.body == nil {
			continue
		}
		for _, b := range bodies {
			if !r.body.MatchString(b) {
				continue
			}
			checked++
			fc := &facts{body: b}
			if r.bodyLits != nil && !fc.mayContain(r.bodyLits) {
				t.Errorf("rule %s: prefilter %q rejects a body its regexp matches: %.120q", r.ID, r.bodyLits, b)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d rule/body matches checked; the test data lost its bodies?", checked)
	}
}

// TestWordPrefilterSound: the classifier's literal prefilter never rules
// out a message that a word rule's regexp matches, on the messages of
// every knowledge-base case (plain and upper case) and the variants.
func TestWordPrefilterSound(t *testing.T) {
	var texts []string
	for _, c := range loadCases(t) {
		status, ok := caseStatus(c)
		if !ok {
			status = 400
		}
		for _, m := range gather(caseExchange(c, status)).messages(true) {
			texts = append(texts, m.text, strings.ToUpper(m.text))
		}
		for _, v := range caseVariants(c) {
			texts = append(texts, v.body)
		}
	}
	checked := 0
	for _, w := range compiledWords {
		for _, s := range texts {
			if !w.re.MatchString(s) {
				continue
			}
			checked++
			if w.lits != nil && !containsAny(strings.ToLower(s), w.lits) {
				t.Errorf("word rule %s: prefilter %q rejects a text its regexp matches: %.120q", w.ID, w.lits, s)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d word/text matches checked", checked)
	}
}
