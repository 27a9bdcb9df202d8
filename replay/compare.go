package replay

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Change is one way the replayed response differs from the captured one.
// Old and New are display values: secrets appear only as fingerprints.
type Change struct {
	// Kind is a stable id: status, error, diagnosis, header-added,
	// header-removed, header-changed, member-added, member-removed,
	// member-changed, body.
	Kind  string `json:"kind"`
	Field string `json:"field,omitempty"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

const none = "(absent)"

// volatileHeaders change on every response and are not compared.
var volatileHeaders = map[string]bool{
	"Date": true, "Content-Length": true, "Connection": true, "Keep-Alive": true,
	"Transfer-Encoding": true, "Age": true, "Expires": true, "Last-Modified": true, "Etag": true,
	"X-Request-Id": true, "X-Correlation-Id": true, "Traceparent": true, "Tracestate": true,
	"X-Amzn-Requestid": true, "X-Amzn-Trace-Id": true, "X-Ms-Request-Id": true, "Request-Id": true,
	"Cf-Ray": true, "X-Amz-Cf-Id": true, "Report-To": true, "Nel": true, "Alt-Svc": true,
	"Content-Encoding": true, "Vary": false,
}

// perResponse members carry a new value on every success; only their
// presence is compared.
var perResponse = map[string]bool{
	"access_token": true, "refresh_token": true, "id_token": true, "device_code": true,
	"user_code": true, "issued_token_type": false, "jti": true, "iat": true, "exp": true,
	"expires_at": true, "trace_id": true, "correlation_id": true, "timestamp": true,
}

// Compare lists how replayed differs from captured: status (or transport
// error), diagnosis, response headers (volatile ones folded away, cookies by
// name) and top-level members of a JSON or form body (tokens by presence
// only); other bodies are compared by fingerprint and size.
func Compare(captured, replayed *flow.Exchange) []Change {
	var out []Change
	if captured == nil || replayed == nil {
		return out
	}
	add := func(kind, field, o, n string) {
		out = append(out, Change{Kind: kind, Field: field, Old: o, New: n})
	}
	if so, sn := statusText(captured), statusText(replayed); so != sn {
		add("status", "", so, sn)
	}
	if captured.Error != replayed.Error {
		add("error", "", orNone(captured.Error), orNone(replayed.Error))
	}
	if co, cn := diagText(captured), diagText(replayed); co != cn && (captured.OAuth.Diagnosis != nil || replayed.OAuth.Diagnosis != nil) {
		add("diagnosis", "", co, cn)
	}
	ro, rn := captured.Response, replayed.Response
	if ro == nil || rn == nil {
		return out
	}
	ho, hn := normHeaders(ro.Header), normHeaders(rn.Header)
	for _, k := range unionKeys(ho, hn) {
		o, okO := ho[k]
		n, okN := hn[k]
		switch {
		case !okO:
			add("header-added", k, none, n)
		case !okN:
			add("header-removed", k, o, none)
		case o != n:
			add("header-changed", k, o, n)
		}
	}
	mo := bodyMembers(ro.Header.Get("Content-Type"), ro.Body.Data)
	mn := bodyMembers(rn.Header.Get("Content-Type"), rn.Body.Data)
	if len(mo) == 0 && len(mn) == 0 {
		if bo, bn := bodyText(ro), bodyText(rn); bo != bn {
			add("body", "", bo, bn)
		}
		return out
	}
	for _, k := range unionKeys(mo, mn) {
		o, okO := mo[k]
		n, okN := mn[k]
		switch {
		case !okO:
			add("member-added", k, none, redact.Value(k, n))
		case !okN:
			add("member-removed", k, redact.Value(k, o), none)
		case perResponse[strings.ToLower(k)]:
			// a new token is expected; presence is what matters
		case o != n && differs(o, n):
			add("member-changed", k, redact.Value(k, o), redact.Value(k, n))
		}
	}
	return out
}

func statusText(x *flow.Exchange) string {
	if x.Response == nil {
		return "no response"
	}
	return strconv.Itoa(x.Response.Status)
}

func diagText(x *flow.Exchange) string {
	d := x.OAuth.Diagnosis
	if d == nil {
		return none
	}
	return string(d.Category) + "/" + d.Cause
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func unionKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// normHeaders renders response headers for comparison, secret-free.
func normHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if volatileHeaders[ck] {
			continue
		}
		var parts []string
		for _, v := range vs {
			switch ck {
			case "Set-Cookie":
				name, _, _ := strings.Cut(v, "=")
				parts = append(parts, strings.TrimSpace(name)+"=...")
			case "Content-Type":
				if mt, params, err := mime.ParseMediaType(v); err == nil {
					if cs := params["charset"]; cs != "" {
						mt += "; charset=" + strings.ToLower(cs)
					}
					v = mt
				}
				parts = append(parts, v)
			default:
				parts = append(parts, show(redact.Header(ck, v)))
			}
		}
		sort.Strings(parts)
		out[ck] = strings.Join(parts, ", ")
	}
	return out
}

// show shortens fingerprints inside a redacted header value.
func show(v string) string {
	if redact.IsFingerprint(v) {
		return redact.Display(v)
	}
	if scheme, cred, ok := strings.Cut(v, " "); ok && redact.IsFingerprint(cred) {
		return scheme + " " + redact.Display(cred)
	}
	return v
}

// bodyText describes an opaque body by size and fingerprint.
func bodyText(r *flow.Response) string {
	if len(r.Body.Data) == 0 {
		return "empty"
	}
	return fmt.Sprintf("%d bytes %s", len(r.Body.Data), redact.Short(redact.Fingerprint(string(r.Body.Data))))
}

// WriteChanges writes changes for a person, one per line, or says that the
// replay matched the capture.
func WriteChanges(w io.Writer, changes []Change) error {
	bw := bufio.NewWriter(w)
	if len(changes) == 0 {
		fmt.Fprintln(bw, "  no difference from the captured response")
		return bw.Flush()
	}
	for _, c := range changes {
		label := c.Kind
		if c.Field != "" {
			label += " " + c.Field
		}
		fmt.Fprintf(bw, "  %-32s %s -> %s\n", label, c.Old, c.New)
	}
	return bw.Flush()
}

// differs reports whether two values, raw or fingerprints, are known to
// differ (values fingerprinted with different keys are not known to).
func differs(a, b string) bool {
	same, comparable, _ := redact.Same(a, b)
	return comparable && !same
}
