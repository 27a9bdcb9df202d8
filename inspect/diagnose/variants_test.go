package diagnose

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// variant is a knowledge-base case's error re-expressed in another
// envelope.
type variant struct {
	name, contentType, body string
}

// errorParts reads a case's JSON (or JSONP) body into ordered key/value
// pairs (nested objects flattened to their leaf names), the error code and
// the human-readable texts.
func errorParts(body string) (pairs [][2]string, code string, texts []string, ok bool) {
	b := strings.TrimSpace(body)
	if m := jsonpRE.FindStringSubmatch(b); m != nil && strings.Contains(b, "{") {
		b = m[1]
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil, "", nil, false
	}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch v := m[k].(type) {
			case map[string]any:
				walk(v)
			case []any:
				if len(v) > 0 {
					if s := scalar(v[0]); s != "" {
						pairs = append(pairs, [2]string{k, s})
					}
				}
			default:
				if s := scalar(v); s != "" {
					pairs = append(pairs, [2]string{k, s})
				}
			}
		}
	}
	walk(m)
	for _, p := range pairs {
		switch p[0] {
		case "error", "errcode", "error_code", "sub_code", "errorCode":
			if code == "" {
				code = p[1]
			}
		case "error_description", "errmsg", "message", "msg", "sub_msg", "errorSummary", "error_message":
			texts = append(texts, p[1])
		}
	}
	if code == "" {
		for _, p := range pairs {
			if p[0] == "code" {
				code = p[1]
			}
		}
	}
	return pairs, code, texts, true
}

// caseVariants re-wraps a case's error as JSONP, form-encoded, an HTML
// page and another JSON envelope. Bodies that are not JSON (pages, empty)
// are wrapped by their visible text.
func caseVariants(c kbCase) []variant {
	pairs, code, texts, ok := errorParts(c.Body)
	if !ok {
		t := cleanText(tagRE.ReplaceAllString(scriptRE.ReplaceAllString(c.Body, " "), " "))
		if t == "" {
			return nil
		}
		pairs, texts = [][2]string{{"message", t}}, []string{t}
	}
	msg := strings.Join(texts, " ")
	form := url.Values{}
	for _, p := range pairs {
		if form.Get(p[0]) == "" {
			form.Set(p[0], p[1])
		}
	}
	heading := "Error"
	if code != "" {
		heading = "Error: " + code
	}
	page := fmt.Sprintf("<html><head><title>Error</title></head><body><h1>%s</h1><p>%s</p></body></html>", html.EscapeString(heading), html.EscapeString(msg))
	var env []byte
	if codeLikeRE.MatchString(code) && strings.ToLower(code) == code && strings.Contains(code, "_") {
		env, _ = json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	} else {
		env, _ = json.Marshal(map[string]any{"status": "error", "code": code, "message": msg})
	}
	jsonBody := strings.TrimSpace(c.Body)
	if m := jsonpRE.FindStringSubmatch(jsonBody); m != nil {
		jsonBody = m[1]
	}
	if !ok {
		b, _ := json.Marshal(map[string]string{"message": msg})
		jsonBody = string(b)
	}
	return []variant{
		{"jsonp", "application/javascript", "callback(" + jsonBody + ");"},
		{"form", "application/x-www-form-urlencoded", form.Encode()},
		{"html", "text/html; charset=utf-8", page},
		{"envelope", "application/json", string(env)},
	}
}

// structured reports whether a case's body is a JSON or JSONP error, the
// bodies whose variants must keep their category. A block page re-wrapped
// as JSON is another response: it loses the page's signature.
func structured(c kbCase) bool {
	_, _, _, ok := errorParts(c.Body)
	return ok
}

// TestVariants: every 401, 403 and 407 of the knowledge base, and every
// variant of it, gets a diagnosis; the variants of every structured error
// (any status) keep the category the original gets.
func TestVariants(t *testing.T) {
	n, kept := 0, 0
	for _, c := range loadCases(t) {
		status, ok := caseStatus(c)
		if !ok {
			continue
		}
		orig := Diagnose(caseExchange(c, status))
		if isRefusal(status) && orig == nil {
			t.Errorf("case %s: status %d got no diagnosis", c.ID, status)
		}
		for _, v := range caseVariants(c) {
			t.Run(c.ID+"/"+v.name, func(t *testing.T) {
				x := caseExchange(c, status)
				x.Response.Header.Del("Content-Length")
				x.Response.Header.Set("Content-Type", v.contentType)
				x.Response.Body = flow.Body{Data: []byte(v.body), Size: int64(len(v.body))}
				d := Diagnose(x)
				if isRefusal(status) && d == nil {
					t.Fatalf("status %d, body %q: got no diagnosis", status, v.body)
				}
				checkNetworkEvidence(t, d)
				if !structured(c) || orig == nil || (x.OAuth.Label == flow.LabelNone && !isRefusal(status)) {
					// Unlabeled non-refusals are diagnosed only for a
					// provider code known to be about the token or app.
					return
				}
				n++
				if d == nil || d.Category != orig.Category {
					got := "nil"
					if d != nil {
						got = fmt.Sprintf("%s (%s, %q)", d.Category, d.Cause, d.Evidence)
					}
					t.Errorf("body %q: got %s, want the original's %s (%s)", v.body, got, orig.Category, orig.Cause)
					return
				}
				kept++
			})
		}
	}
	if n < 150 {
		t.Errorf("only %d variants checked; the knowledge base lost its JSON bodies?", n)
	}
	t.Logf("%d of %d variants keep their category", kept, n)
}
