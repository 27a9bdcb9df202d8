package capture

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// validateHAR checks the fields HAR 1.2 requires
// (http://www.softwareishard.com/blog/har-12-spec/) and returns every
// violation found, as "log.entries[3].request.url: missing".
func validateHAR(data []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	bad := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	obj := func(parent map[string]any, path, key string) map[string]any {
		v, ok := parent[key]
		if !ok {
			bad(path+"."+key, "missing")
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad(path+"."+key, "want an object, got %T", v)
		}
		return m
	}
	arr := func(parent map[string]any, path, key string) []any {
		v, ok := parent[key]
		if !ok {
			bad(path+"."+key, "missing")
			return nil
		}
		a, ok := v.([]any)
		if !ok {
			bad(path+"."+key, "want an array, got %T", v)
		}
		return a
	}
	str := func(parent map[string]any, path, key string) string {
		v, ok := parent[key]
		if !ok {
			bad(path+"."+key, "missing")
			return ""
		}
		s, ok := v.(string)
		if !ok {
			bad(path+"."+key, "want a string, got %T", v)
		}
		return s
	}
	num := func(parent map[string]any, path, key string, min float64) {
		v, ok := parent[key]
		if !ok {
			bad(path+"."+key, "missing")
			return
		}
		f, ok := v.(float64)
		if !ok {
			bad(path+"."+key, "want a number, got %T", v)
			return
		}
		if f < min {
			bad(path+"."+key, "%v < %v", f, min)
		}
	}
	optNum := func(parent map[string]any, path, key string) {
		if _, ok := parent[key]; ok {
			num(parent, path, key, -1)
		}
	}
	nameValues := func(parent map[string]any, path, key string) {
		for i, v := range arr(parent, path, key) {
			p := fmt.Sprintf("%s.%s[%d]", path, key, i)
			m, ok := v.(map[string]any)
			if !ok {
				bad(p, "want an object")
				continue
			}
			str(m, p, "name")
			str(m, p, "value")
		}
	}
	log := obj(doc, "", "log")
	if log == nil {
		return errs
	}
	if v := str(log, "log", "version"); v != "1.2" {
		bad("log.version", "got %q, want 1.2", v)
	}
	if c := obj(log, "log", "creator"); c != nil {
		str(c, "log.creator", "name")
		str(c, "log.creator", "version")
	}
	for i, ev := range arr(log, "log", "entries") {
		p := fmt.Sprintf("log.entries[%d]", i)
		e, ok := ev.(map[string]any)
		if !ok {
			bad(p, "want an object")
			continue
		}
		if s := str(e, p, "startedDateTime"); !iso8601.MatchString(s) {
			bad(p+".startedDateTime", "%q is not ISO 8601", s)
		}
		num(e, p, "time", 0)
		if rq := obj(e, p, "request"); rq != nil {
			rp := p + ".request"
			str(rq, rp, "method")
			str(rq, rp, "url")
			str(rq, rp, "httpVersion")
			nameValues(rq, rp, "cookies")
			nameValues(rq, rp, "headers")
			nameValues(rq, rp, "queryString")
			num(rq, rp, "headersSize", -1)
			num(rq, rp, "bodySize", -1)
			if pd, ok := rq["postData"].(map[string]any); ok {
				str(pd, rp+".postData", "mimeType")
				if _, ok := pd["params"]; ok {
					for j, pv := range arr(pd, rp+".postData", "params") {
						if pm, ok := pv.(map[string]any); ok {
							str(pm, fmt.Sprintf("%s.postData.params[%d]", rp, j), "name")
						}
					}
				}
			}
		}
		if rs := obj(e, p, "response"); rs != nil {
			rp := p + ".response"
			num(rs, rp, "status", 0)
			str(rs, rp, "statusText")
			str(rs, rp, "httpVersion")
			nameValues(rs, rp, "cookies")
			nameValues(rs, rp, "headers")
			if c := obj(rs, rp, "content"); c != nil {
				num(c, rp+".content", "size", -1)
				str(c, rp+".content", "mimeType")
				if enc, ok := c["encoding"]; ok && enc != "base64" {
					bad(rp+".content.encoding", "got %v", enc)
				}
			}
			str(rs, rp, "redirectURL")
			num(rs, rp, "headersSize", -1)
			num(rs, rp, "bodySize", -1)
		}
		obj(e, p, "cache")
		if tm := obj(e, p, "timings"); tm != nil {
			tp := p + ".timings"
			num(tm, tp, "send", -1)
			num(tm, tp, "wait", -1)
			num(tm, tp, "receive", -1)
			for _, k := range []string{"blocked", "dns", "connect", "ssl"} {
				optNum(tm, tp, k)
			}
		}
		if v, ok := e["serverIPAddress"]; ok {
			if _, ok := v.(string); !ok {
				bad(p+".serverIPAddress", "want a string")
			}
		}
		if v, ok := e["connection"]; ok {
			if _, ok := v.(string); !ok {
				bad(p+".connection", "want a string")
			}
		}
	}
	return errs
}

var iso8601 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
