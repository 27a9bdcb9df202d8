package reqparams

import (
	"strings"
	"testing"
)

// FuzzParseBody: any body under any Content-Type parses without a panic,
// within the bounds (Max parameters for JSON and multipart), and a form
// body's parameters are exactly its &-separated pairs.
func FuzzParseBody(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=a%2Bb")
	f.Add("application/json", `{"client_secret":"x","n":1,"o":{"a":[1]}}`)
	f.Add("multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--B--\r\n")
	f.Add("", "a=b&c")
	f.Add("text/plain", "{")
	f.Fuzz(func(t *testing.T, ct, body string) {
		b := ParseBody(ct, []byte(body))
		switch b.Kind {
		case KindJSON, KindMultipart:
			if len(b.Params) > Max {
				t.Errorf("%d params from a %s body; want at most %d", len(b.Params), b.Kind, Max)
			}
		case KindForm:
			pairs := 0
			for _, p := range strings.Split(strings.TrimSpace(body), "&") {
				if p != "" {
					pairs++
				}
			}
			if len(b.Params) != pairs {
				t.Errorf("form %q: %d params; want %d", body, len(b.Params), pairs)
			}
		case KindNone:
			if body != "" {
				t.Errorf("non-empty body read as none")
			}
		}
		_ = Request(body, ct, []byte(body)).Values()
	})
}
