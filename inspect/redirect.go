package inspect

import (
	"net/url"
	"strings"

	"github.com/oauthproxy/oauthproxy/redact"
)

// redirectDiff explains precisely how redirect URI b (token request) differs
// from a (authorize request). It returns nil when they are identical.
func redirectDiff(a, b string) []string {
	if a == b {
		return nil
	}
	var d []string
	if strings.TrimSpace(a) != a || strings.TrimSpace(b) != b {
		d = append(d, "whitespace: one of them has leading or trailing whitespace")
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if a == b {
			return d
		}
	}
	// Double encoding shows as an encoded scheme separator ("https%3A%2F%2F").
	if ua, err := url.QueryUnescape(b); err == nil && ua == a && !strings.Contains(b, "://") {
		return append(d, "percent-encoding: the token request's value is encoded once more (double-encoded); send it form-encoded exactly once")
	}
	if ub, err := url.QueryUnescape(a); err == nil && ub == b && !strings.Contains(a, "://") {
		return append(d, "percent-encoding: the authorize request's value was encoded once more (double-encoded) than the token request's")
	}
	pa, errA := url.Parse(a)
	pb, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return append(d, "one of them is not a valid URL")
	}
	if pa.Scheme != pb.Scheme {
		if strings.EqualFold(pa.Scheme, pb.Scheme) {
			d = append(d, "scheme case: "+pa.Scheme+" vs "+pb.Scheme)
		} else {
			d = append(d, "scheme: "+pa.Scheme+" vs "+pb.Scheme)
		}
	}
	ha, hb := pa.Hostname(), pb.Hostname()
	switch {
	case ha == hb:
	case strings.EqualFold(ha, hb):
		d = append(d, "host case: "+ha+" vs "+hb+" (most servers compare byte for byte)")
	case isLoopback(ha) && isLoopback(hb):
		d = append(d, "host: "+ha+" vs "+hb+" (different loopback names are different redirect URIs)")
	default:
		d = append(d, "host: "+ha+" vs "+hb)
	}
	if pa.Port() != pb.Port() {
		portA, portB := pa.Port(), pb.Port()
		if defaultPort(pa.Scheme) == portA && portB == "" || defaultPort(pb.Scheme) == portB && portA == "" {
			d = append(d, "port: the default port is written out in one ("+orNone(portA)+" vs "+orNone(portB)+")")
		} else {
			d = append(d, "port: "+orNone(portA)+" vs "+orNone(portB))
		}
	}
	rawA, rawB := rawPath(a), rawPath(b)
	switch {
	case rawA == rawB:
	case pa.Path == pb.Path:
		d = append(d, "percent-encoding of the path: "+rawA+" vs "+rawB)
	case strings.TrimSuffix(pa.Path, "/") == strings.TrimSuffix(pb.Path, "/"):
		d = append(d, "trailing slash: path "+orNone(pa.Path)+" vs "+orNone(pb.Path))
	case strings.EqualFold(pa.Path, pb.Path):
		d = append(d, "path case: "+pa.Path+" vs "+pb.Path)
	default:
		d = append(d, "path: "+orNone(pa.Path)+" vs "+orNone(pb.Path))
	}
	if pa.RawQuery != pb.RawQuery {
		qa, _ := url.ParseQuery(pa.RawQuery)
		qb, _ := url.ParseQuery(pb.RawQuery)
		if qa.Encode() == qb.Encode() {
			d = append(d, "query: same parameters, different order or encoding")
		} else {
			d = append(d, "query: "+orNone(redact.Query(pa.RawQuery))+" vs "+orNone(redact.Query(pb.RawQuery)))
		}
	}
	if pa.Fragment != pb.Fragment {
		d = append(d, "fragment: a redirect URI must not have one")
	}
	if len(d) == 0 {
		d = append(d, "percent-encoding or an invisible character differs")
	}
	return d
}

// rawPath returns the path of a URL as written (url.URL normalises it).
func rawPath(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		j := strings.IndexByte(s, '/')
		if j < 0 {
			return ""
		}
		s = s[j:]
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

// displayURI shows a redirect URI as written, with secret query or
// fragment parameters fingerprinted.
func displayURI(s string) string {
	base, rest, ok := strings.Cut(s, "?")
	frag := ""
	if !ok {
		if base, frag, ok = strings.Cut(s, "#"); !ok {
			return s
		}
		return base + "#" + redact.Query(frag)
	}
	q, frag, hasFrag := strings.Cut(rest, "#")
	out := base + "?" + redact.Query(q)
	if hasFrag {
		out += "#" + redact.Query(frag)
	}
	return out
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func isLoopback(h string) bool {
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
