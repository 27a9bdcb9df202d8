package capture

import (
	"bytes"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Scope selects which exchanges a Writer records.
type Scope int

// Scopes.
const (
	// ScopeAll records every exchange.
	ScopeAll Scope = iota
	// ScopeOAuth records only exchanges inspection labelled as OAuth.
	ScopeOAuth
)

// DefaultBodyCap is the body cap used when WriterOptions.BodyCap is 0.
const DefaultBodyCap = 1 << 20

// UnredactedWarning starts log.creator.comment and log.comment of captures
// written with WriterOptions.Unredacted.
const UnredactedWarning = "UNREDACTED: this file contains secrets (client secrets, authorization codes, tokens, passwords, cookies). Do not share it; use `oauthproxy har redact` to make a shareable copy."

// WriterOptions configure a Writer and EntryFromExchange.
type WriterOptions struct {
	// Unredacted writes secrets raw. The default fingerprints them.
	Unredacted bool
	// BodyCap is the number of body bytes kept per side; 0 means
	// DefaultBodyCap (1 MiB), a negative value means no cap.
	BodyCap int64
	// Scope selects the exchanges to record.
	Scope Scope
	// Creator is the oauthproxy version written to log.creator.version.
	Creator string
	// Existing says what NewWriter does when the capture file exists
	// already: refuse (the default), overwrite it, or append to it.
	Existing Existing
	// OnWriteError, if set, is called (under the writer's lock: keep it
	// short) when an entry cannot be written: for the first failure, and
	// then at the 2nd, 4th, 8th... so that a full disk is said at once
	// and the count keeps running without a line per exchange. failed and
	// recorded are the totals so far.
	OnWriteError func(err error, failed, recorded int)
}

// Existing is what NewWriter does with a capture file that exists.
type Existing int

// What to do with an existing capture file.
const (
	// Refuse: NewWriter fails, so a capture is never lost by accident.
	Refuse Existing = iota
	// Overwrite: the file is replaced when the writer closes.
	Overwrite
	// Append: the file's entries are kept and the new ones added after them.
	Append
)

func (o WriterOptions) bodyCap() int64 {
	switch {
	case o.BodyCap == 0:
		return DefaultBodyCap
	case o.BodyCap < 0:
		return -1
	}
	return o.BodyCap
}

// EntryFromExchange converts an exchange into a HAR entry: redacted unless
// opts.Unredacted, bodies cut at the body cap with the truncation recorded
// in content.comment / postData.comment and "_oauthproxy.truncated".
func EntryFromExchange(x *flow.Exchange, opts WriterOptions) Entry {
	if !opts.Unredacted {
		x = redactExchange(x)
	}
	bodyCap := opts.bodyCap()
	var e Entry
	e.StartedDateTime = x.Start.Format(time.RFC3339Nano)
	ext := &Extension{
		Flow:       x.ID,
		Label:      x.OAuth.Label,
		GrantType:  x.OAuth.GrantType,
		Issuer:     x.OAuth.Issuer,
		LoginLink:  x.OAuth.LoginLink,
		LoginTrace: x.OAuth.LoginTrace,
		Findings:   x.OAuth.Findings,
		Diagnosis:  x.OAuth.Diagnosis,
		Error:      x.Error,

		Unredacted: opts.Unredacted,
	}
	if x.Conn != (flow.Conn{}) {
		c := x.Conn
		ext.Conn = &c
	}
	e.OAuthProxy = ext
	e.Login = x.OAuth.Login

	// Request.
	rq := &x.Request
	e.Request = Request{
		Method:      rq.Method,
		URL:         rq.URLString(),
		HTTPVersion: orDefault(rq.Proto, "HTTP/1.1"),
		Cookies:     requestCookies(rq.Header),
		Headers:     headerList(rq.Header),
		QueryString: queryList(rq.URL),
		HeadersSize: -1,
		BodySize:    bodySize(rq.Body),
	}
	if len(rq.Body.Data) > 0 || rq.Body.Truncated {
		ct := rq.Header.Get("Content-Type")
		data, cut := capBody(rq.Body.Data, bodyCap)
		pd := &PostData{MimeType: orDefault(ct, "application/octet-stream"), Params: []Param{}}
		if utf8.Valid(data) {
			pd.Text = string(data)
		} else {
			pd.Text = base64.StdEncoding.EncodeToString(data)
			pd.Encoding = "base64"
		}
		if strings.Contains(strings.ToLower(ct), "x-www-form-urlencoded") && pd.Encoding == "" {
			pd.Params = formParams(pd.Text)
		}
		if cut || rq.Body.Truncated {
			full := fullSize(rq.Body)
			ext.truncation().Request = true
			ext.truncation().RequestSize = full
			pd.Comment = truncComment(int64(len(data)), full)
		}
		e.Request.PostData = pd
	}
	ext.RequestDecodeError = rq.Body.DecodeError
	ext.RequestEncoding = rq.Body.Encoding

	// Response.
	if rs := x.Response; rs != nil {
		ct := rs.Header.Get("Content-Type")
		data, cut := capBody(rs.Body.Data, bodyCap)
		e.Response = Response{
			Status:      rs.Status,
			StatusText:  orDefault(rs.Reason, http.StatusText(rs.Status)),
			HTTPVersion: orDefault(rs.Proto, "HTTP/1.1"),
			Cookies:     responseCookies(rs.Header),
			Headers:     headerList(rs.Header),
			RedirectURL: rs.Header.Get("Location"),
			HeadersSize: -1,
			BodySize:    bodySize(rs.Body),
			Content: Content{
				Size:     int64(len(rs.Body.Data)),
				MimeType: orDefault(ct, "x-unknown"),
			},
		}
		if rs.Body.Truncated || cut {
			e.Response.Content.Size = fullSize(rs.Body)
		}
		if len(data) > 0 {
			if utf8.Valid(data) {
				e.Response.Content.Text = string(data)
			} else {
				e.Response.Content.Text = base64.StdEncoding.EncodeToString(data)
				e.Response.Content.Encoding = "base64"
			}
		}
		if rs.Body.Encoding != "" && !rs.Body.Truncated && !cut && rs.Body.Size >= 0 {
			c := int64(len(rs.Body.Data)) - rs.Body.Size
			e.Response.Content.Compression = &c
		}
		if cut || rs.Body.Truncated {
			full := fullSize(rs.Body)
			ext.truncation().Response = true
			ext.truncation().ResponseSize = full
			e.Response.Content.Comment = truncComment(int64(len(data)), full)
		}
		ext.ResponseDecodeError = rs.Body.DecodeError
		ext.ResponseEncoding = rs.Body.Encoding
	} else {
		e.Response = Response{
			Cookies:     []Cookie{},
			Headers:     []NameValue{},
			Content:     Content{MimeType: "x-unknown"},
			HeadersSize: -1,
			BodySize:    -1,
			Error:       orDefault(x.Error, "no response"),
		}
	}

	// Timings and connection.
	t := x.Timings
	e.Timings = Timings{
		Blocked: -1,
		DNS:     msOrNA(t.DNS),
		Connect: msOrNA(t.Connect + t.TLS),
		SSL:     msOrNA(t.TLS),
		Send:    ms(t.Send),
		Wait:    ms(t.Wait),
		Receive: ms(t.Receive),
	}
	if t.Connect == 0 {
		e.Timings.Connect = -1
		if t.TLS > 0 {
			e.Timings.Connect = ms(t.TLS)
		}
	}
	e.Time = ms(t.Total)
	if t.Total == 0 {
		e.Time = ms(t.DNS + t.Connect + t.TLS + t.Send + t.Wait + t.Receive)
	}
	if host, _, err := net.SplitHostPort(x.Conn.ServerAddr); err == nil {
		e.ServerIPAddress = host
	} else if x.Conn.ServerAddr != "" {
		e.ServerIPAddress = x.Conn.ServerAddr
	}
	e.Connection = FlexString(x.Conn.ConnectionID)
	return e
}

func (e *Extension) truncation() *Truncation {
	if e.Truncated == nil {
		e.Truncated = &Truncation{}
	}
	return e.Truncated
}

func truncComment(kept, full int64) string {
	if full > kept {
		return "truncated by oauthproxy: kept " + strconv.FormatInt(kept, 10) + " of " + strconv.FormatInt(full, 10) + " bytes"
	}
	return "truncated by oauthproxy: kept " + strconv.FormatInt(kept, 10) + " bytes"
}

func capBody(b []byte, limit int64) ([]byte, bool) {
	if limit >= 0 && int64(len(b)) > limit {
		return b[:limit], true
	}
	return b, false
}

func fullSize(b flow.Body) int64 {
	if b.Size > int64(len(b.Data)) && b.Encoding == "" {
		return b.Size
	}
	return int64(len(b.Data))
}

func bodySize(b flow.Body) int64 {
	if b.Size >= 0 && (b.Size > 0 || len(b.Data) == 0) {
		return b.Size
	}
	if b.Truncated {
		return -1
	}
	return int64(len(b.Data))
}

func ms(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	// Microsecond precision is plenty and keeps the numbers short.
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

func msOrNA(d time.Duration) float64 {
	if d <= 0 {
		return -1
	}
	return ms(d)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// headerList flattens h in a stable order (sorted names, values in order).
func headerList(h http.Header) []NameValue {
	out := make([]NameValue, 0, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, NameValue{Name: k, Value: v})
		}
	}
	return out
}

func queryList(u *url.URL) []NameValue {
	out := []NameValue{}
	if u == nil || u.RawQuery == "" {
		return out
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, NameValue{Name: k, Value: v})
	}
	return out
}

func formParams(text string) []Param {
	out := []Param{}
	for _, nv := range queryList(&url.URL{RawQuery: text}) {
		out = append(out, Param{Name: nv.Name, Value: nv.Value})
	}
	return out
}

func requestCookies(h http.Header) []Cookie {
	out := []Cookie{}
	for _, line := range h.Values("Cookie") {
		for _, p := range strings.Split(line, ";") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			k, v, _ := strings.Cut(p, "=")
			out = append(out, Cookie{Name: strings.TrimSpace(k), Value: strings.Trim(strings.TrimSpace(v), `"`)})
		}
	}
	return out
}

func responseCookies(h http.Header) []Cookie {
	out := []Cookie{}
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			nv, _, _ := strings.Cut(line, ";")
			k, v, _ := strings.Cut(nv, "=")
			out = append(out, Cookie{Name: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
			continue
		}
		hc := Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = c.Expires.UTC().Format(time.RFC3339)
		}
		switch c.SameSite {
		case http.SameSiteLaxMode:
			hc.SameSite = "Lax"
		case http.SameSiteStrictMode:
			hc.SameSite = "Strict"
		case http.SameSiteNoneMode:
			hc.SameSite = "None"
		}
		out = append(out, hc)
	}
	return out
}

// urlInText finds URLs in free text (error messages) so their secret
// parameters can be fingerprinted.
var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// redactExchange is redact.Exchange plus what a capture needs on top: the
// Referer header (it often holds a callback URL with ?code=), URLs quoted in
// the error text, and secrets in form_post HTML pages.
func redactExchange(x *flow.Exchange) *flow.Exchange {
	c := redact.Exchange(x)
	for _, name := range []string{"Referer", "Origin", "Content-Location"} {
		if vs := c.Request.Header.Values(name); len(vs) > 0 {
			for i, v := range vs {
				vs[i] = redact.URLString(v)
			}
		}
	}
	if c.Response != nil {
		for _, name := range []string{"Content-Location", "Refresh"} {
			if vs := c.Response.Header.Values(name); len(vs) > 0 {
				for i, v := range vs {
					vs[i] = urlInText.ReplaceAllStringFunc(v, redact.URLString)
				}
			}
		}
		if isHTML(c.Response.Header.Get("Content-Type"), c.Response.Body.Data) {
			c.Response.Body.Data = redact.HTMLInputs(c.Response.Body.Data)
		}
	}
	if isHTML(c.Request.Header.Get("Content-Type"), c.Request.Body.Data) {
		c.Request.Body.Data = redact.HTMLInputs(c.Request.Body.Data)
	}
	if c.Error != "" {
		c.Error = urlInText.ReplaceAllStringFunc(c.Error, redact.URLString)
	}
	return c
}

func isHTML(ct string, data []byte) bool {
	if strings.Contains(strings.ToLower(ct), "html") {
		return true
	}
	return bytes.Contains(data, []byte("<input")) || bytes.Contains(data, []byte("<INPUT"))
}
