// Package livelog renders finished exchanges for people and scripts: one
// console line per exchange with its findings and diagnosis underneath, or
// one JSON object per exchange (zerolog). The live proxy, `analyze` and
// `replay` all print through it, so the same exchange looks the same
// everywhere. Everything it prints is redacted: URLs, error texts and
// evidence go through package redact.
package livelog

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Format selects the output format.
type Format string

// Formats.
const (
	FormatConsole Format = "console"
	FormatJSON    Format = "json"
)

// ParseFormat accepts "console" or "json".
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatConsole, FormatJSON:
		return Format(s), nil
	}
	return "", fmt.Errorf("livelog: unknown log format %q (want console or json)", s)
}

// Options configure a Logger.
type Options struct {
	Out    io.Writer
	Format Format
	// Color enables ANSI colours in console output (set it only for a TTY).
	Color bool
	// OnlyOAuth hides exchanges that inspection did not label as OAuth.
	OnlyOAuth bool
	// Verbose prints the fix text of every finding, not only errors and warnings.
	Verbose bool
}

// Logger is a flow.Sink that prints each exchange. It is safe for
// concurrent use; lines of different exchanges never interleave.
type Logger struct {
	opts Options
	mu   sync.Mutex
	zl   zerolog.Logger
	buf  bytes.Buffer
	// fixes remembers fix texts that redact.Text leaves as they are: most
	// come from the rules' table and repeat on every exchange a finding
	// fires on, and a fix is several hundred bytes to scan. Guarded by mu.
	fixes map[string]struct{}
}

// maxFixes bounds Logger.fixes; past it the set starts over.
const maxFixes = 256

// New returns a Logger writing to opts.Out.
func New(opts Options) *Logger {
	if opts.Format == "" {
		opts.Format = FormatConsole
	}
	l := &Logger{opts: opts}
	if opts.Format == FormatJSON {
		l.zl = zerolog.New(opts.Out)
	}
	return l
}

// Handle prints x (flow.Sink).
func (l *Logger) Handle(x *flow.Exchange) {
	if l.opts.OnlyOAuth && x.OAuth.Label == flow.LabelNone {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Format == FormatJSON {
		l.json(x)
		return
	}
	l.buf.Reset()
	l.console(&l.buf, x)
	l.opts.Out.Write(l.buf.Bytes())
}

// Record is the JSON shape of one exchange in the log, in `analyze --format
// json` and in replay output. Field names are stable.
type Record struct {
	Flow       string  `json:"flow"`
	Method     string  `json:"method"`
	URL        string  `json:"url"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Size       int64   `json:"size"`
	OAuth      string  `json:"oauth,omitempty"`
	GrantType  string  `json:"grant_type,omitempty"`
	Issuer     string  `json:"issuer,omitempty"`
	// Login is the id of the login the exchange belongs to, LoginLink how
	// sure that is ("certain", "guess"), LoginTrace the one-line summary
	// printed when the login ends.
	Login      string          `json:"login,omitempty"`
	LoginLink  string          `json:"login_link,omitempty"`
	LoginTrace string          `json:"login_trace,omitempty"`
	Error      string          `json:"error,omitempty"`
	Findings   []flow.Finding  `json:"findings,omitempty"`
	Diagnosis  *flow.Diagnosis `json:"diagnosis,omitempty"`
}

// fixText is redact.Text(fix), remembering the fixes it leaves unchanged
// (none holding anything Text would redact is kept). Called with l.mu held.
func (l *Logger) fixText(fix string) string {
	if _, ok := l.fixes[fix]; ok {
		return fix
	}
	r := redact.Text(fix)
	if r == fix {
		if l.fixes == nil || len(l.fixes) >= maxFixes {
			l.fixes = make(map[string]struct{}, 16)
		}
		l.fixes[fix] = struct{}{}
	}
	return r
}

// RecordOf returns the redacted JSON record of x.
func RecordOf(x *flow.Exchange) Record {
	r := Record{
		Flow:       x.ID,
		Method:     x.Request.Method,
		URL:        redactedURL(x.Request.URL),
		DurationMS: float64(x.Timings.Total.Microseconds()) / 1000,
		OAuth:      string(x.OAuth.Label),
		GrantType:  x.OAuth.GrantType,
		Issuer:     x.OAuth.Issuer,
		Login:      x.OAuth.Login,
		LoginLink:  x.OAuth.LoginLink,
		LoginTrace: redact.Text(x.OAuth.LoginTrace),
		Error:      redact.Text(x.Error),
		Findings:   x.OAuth.Findings,
		Diagnosis:  redact.Diagnosis(x.OAuth.Diagnosis),
	}
	if x.Response != nil {
		r.Status = x.Response.Status
		r.Size = x.Response.Body.Size
	}
	return r
}

func (l *Logger) json(x *flow.Exchange) {
	r := RecordOf(x)
	level := zerolog.InfoLevel
	switch {
	case r.Error != "" || r.Status >= 500:
		level = zerolog.ErrorLevel
	case failed(x) || hasSeverity(x, flow.SeverityError):
		level = zerolog.WarnLevel
	}
	e := l.zl.WithLevel(level).
		Time("time", x.Start).
		Str("flow", r.Flow).
		Str("method", r.Method).
		Str("url", r.URL).
		Int("status", r.Status).
		Float64("duration_ms", r.DurationMS).
		Int64("size", r.Size)
	if r.OAuth != "" {
		e = e.Str("oauth", r.OAuth)
	}
	if r.GrantType != "" {
		e = e.Str("grant_type", r.GrantType)
	}
	if r.Issuer != "" {
		e = e.Str("issuer", r.Issuer)
	}
	if r.Login != "" {
		e = e.Str("login", r.Login)
	}
	if r.LoginLink != "" {
		e = e.Str("login_link", r.LoginLink)
	}
	if r.LoginTrace != "" {
		e = e.Str("login_trace", r.LoginTrace)
	}
	if r.Error != "" {
		e = e.Str("error", r.Error)
	}
	if len(r.Findings) > 0 {
		e = e.Interface("findings", redact.Findings(r.Findings))
	}
	if r.Diagnosis != nil {
		e = e.Interface("diagnosis", r.Diagnosis)
	}
	e.Send()
}

func redactedURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return redact.URL(u).String()
}

// failed reports whether x failed: an upstream error, a 4xx/5xx, or a
// diagnosed error in a 2xx/3xx (GitHub, Slack, WeChat... answer errors with
// 200). An info diagnosis (authorization_pending) is not a failure.
func failed(x *flow.Exchange) bool {
	if x.Failed() {
		return true
	}
	d := x.OAuth.Diagnosis
	return d != nil && d.Category != flow.CategoryInfo
}

func hasSeverity(x *flow.Exchange, s flow.Severity) bool {
	for _, f := range x.OAuth.Findings {
		if f.Severity == s {
			return true
		}
	}
	return false
}

// ANSI colours, used only when Options.Color is set.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	green  = "\x1b[32m"
)

func (l *Logger) paint(b *bytes.Buffer, color, s string) {
	if l.opts.Color && color != "" {
		b.WriteString(color)
		b.WriteString(s)
		b.WriteString(reset)
		return
	}
	b.WriteString(s)
}

// console writes:
//
//	15:04:05 a1b2c3d4 POST idp.example.com/oauth2/token 400 12ms 312B token authorization_code
//	  ERROR code-reused [grant] This code was already sent ...
//	        fix: Restart the authorization flow ...
//	  DIAGNOSIS grant/code-reused (high) The authorization code was already used.
//	        evidence: error=invalid_grant
//	        fix: ...
//	  login idp.example.com: authorize → 3 hops → callback → token 400 code-reused
func (l *Logger) console(b *bytes.Buffer, x *flow.Exchange) {
	b.Write(x.Start.Local().AppendFormat(b.AvailableBuffer(), "15:04:05"))
	b.WriteByte(' ')
	l.paint(b, dim, shortID(x.ID))
	b.WriteByte(' ')
	l.headline(b, x)
	b.WriteByte('\n')
	l.details(b, x)
}

// Line returns the one-line summary of x that starts its console entry,
// without the time, the exchange id and colours:
//
//	POST idp.example.com/oauth2/token 400 12ms 312B token authorization_code
//
// It is redacted like the rest of the log (secret query parameters become
// fingerprints).
func Line(x *flow.Exchange) string {
	var b bytes.Buffer
	(&Logger{}).headline(&b, x)
	return b.String()
}

// headline writes the method, host and path, status, duration, size and
// OAuth label of x, without a newline.
func (l *Logger) headline(b *bytes.Buffer, x *flow.Exchange) {
	b.WriteString(x.Request.Method)
	b.WriteByte(' ')
	b.WriteString(hostPath(x.Request.URL))
	b.WriteByte(' ')
	switch {
	case x.Error != "":
		l.paint(b, red+bold, "ERR")
	case x.Response != nil:
		st := strconv.Itoa(x.Response.Status)
		switch {
		case x.Response.Status >= 500:
			l.paint(b, red+bold, st)
		case x.Response.Status >= 400 || failed(x):
			l.paint(b, yellow+bold, st)
		default:
			l.paint(b, green, st)
		}
	default:
		b.WriteString("---")
	}
	b.WriteByte(' ')
	b.WriteString(duration(x.Timings.Total))
	if x.Response != nil {
		b.WriteByte(' ')
		b.WriteString(size(x.Response.Body.Size))
	}
	if x.OAuth.Label != flow.LabelNone {
		b.WriteByte(' ')
		l.paint(b, cyan, string(x.OAuth.Label))
		if x.OAuth.GrantType != "" {
			b.WriteByte(' ')
			b.WriteString(x.OAuth.GrantType)
		}
	}
}

// details writes the lines under the headline: the upstream error (or the
// client's abort), the findings and the diagnosis.
func (l *Logger) details(b *bytes.Buffer, x *flow.Exchange) {
	if x.ClientAborted() {
		b.WriteString("  ")
		l.paint(b, yellow, "client aborted: "+redact.Text(strings.TrimPrefix(x.Error, flow.ClientAbortedPrefix)))
		b.WriteByte('\n')
	} else if strings.HasPrefix(x.Error, flow.BrowserReportedPrefix) {
		b.WriteString("  ")
		l.paint(b, red, redact.Text(x.Error)) // read from a browser's capture: no upstream was involved
		b.WriteByte('\n')
	} else if x.Error != "" {
		b.WriteString("  ")
		l.paint(b, red, "upstream error: "+redact.Text(strings.TrimPrefix(x.Error, "oauthproxy: ")))
		b.WriteByte('\n')
	}
	for _, f := range x.OAuth.Findings {
		b.WriteString("  ")
		switch f.Severity {
		case flow.SeverityError:
			l.paint(b, red+bold, "ERROR")
		case flow.SeverityWarn:
			l.paint(b, yellow, "WARN ")
		default:
			l.paint(b, dim, "INFO ")
		}
		b.WriteByte(' ')
		b.WriteString(f.ID)
		b.WriteString(" [")
		b.WriteString(string(f.Category))
		b.WriteString("] ")
		b.WriteString(redact.Text(f.Message))
		b.WriteByte('\n')
		if f.Fix != "" && (f.Severity != flow.SeverityInfo || l.opts.Verbose) {
			b.WriteString("        fix: ")
			b.WriteString(l.fixText(f.Fix))
			b.WriteByte('\n')
		}
	}
	if d := redact.Diagnosis(x.OAuth.Diagnosis); d != nil {
		b.WriteString("  ")
		l.paint(b, bold, "DIAGNOSIS")
		fmt.Fprintf(b, " %s/%s (%s confidence) %s\n", d.Category, d.Cause, d.Confidence, d.Summary)
		for _, e := range d.Evidence {
			fmt.Fprintf(b, "        evidence: %s\n", e)
		}
		for _, f := range d.Fix {
			fmt.Fprintf(b, "        fix: %s\n", f)
		}
		if d.Source != "" && l.opts.Verbose {
			fmt.Fprintf(b, "        source: %s\n", d.Source)
		}
	}
	if x.OAuth.LoginTrace != "" {
		b.WriteString("  ")
		l.paint(b, bold, redact.Text(x.OAuth.LoginTrace))
		b.WriteByte('\n')
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func hostPath(u *url.URL) string {
	if u == nil {
		return "?"
	}
	host := u.Host
	if host == "" && u.Scheme != "" {
		host = u.Scheme + ":" // a custom-scheme redirect URI read from a capture
	}
	if u.RawQuery == "" {
		return host + u.EscapedPath() // nothing to redact
	}
	r := redact.URL(u)
	s := host + r.EscapedPath()
	if r.RawQuery != "" {
		q := unescapeFingerprints(r.RawQuery)
		if len(q) > 120 {
			q = q[:117] + "..."
		}
		s += "?" + q
	}
	return s
}

// fingerprintUnescaper makes fingerprints in a query readable on the console.
var fingerprintUnescaper = strings.NewReplacer("redacted%3Asha256%3A", "redacted:sha256:", "redacted%3Aargon2id%3A", "redacted:argon2id:", "redacted%3As256%3A", "redacted:s256:", "%3Alen%3D", ":len=")

// keyedEscapedRE finds the escaped scheme of a keyed fingerprint.
var keyedEscapedRE = regexp.MustCompile(`redacted%3Ahmac-([0-9a-f]{8})%3A`)

// unescapeFingerprints makes the fingerprints in a raw query readable.
func unescapeFingerprints(q string) string {
	if strings.Contains(q, "redacted%3Ahmac-") {
		q = keyedEscapedRE.ReplaceAllString(q, "redacted:hmac-$1:")
	}
	return fingerprintUnescaper.Replace(q)
}

func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < 10*time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

func size(n int64) string {
	switch {
	case n < 0:
		return "?B"
	case n < 10<<10:
		return strconv.FormatInt(n, 10) + "B"
	case n < 10<<20:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n>>20, 10) + "MiB"
}

// Summary counts what passed through it (flow.Sink) and prints the totals
// `analyze` ends with.
type Summary struct {
	mu         sync.Mutex
	Exchanges  int
	OAuth      int
	Token      int
	Failed     int
	BySeverity map[flow.Severity]int
	ByCategory map[flow.Category]int
	ByFinding  map[string]int
}

// Handle counts x.
func (s *Summary) Handle(x *flow.Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.BySeverity == nil {
		s.BySeverity = map[flow.Severity]int{}
		s.ByCategory = map[flow.Category]int{}
		s.ByFinding = map[string]int{}
	}
	s.Exchanges++
	if x.OAuth.Label != flow.LabelNone {
		s.OAuth++
	}
	if x.OAuth.Label == flow.LabelToken {
		s.Token++
	}
	if failed(x) {
		s.Failed++
	}
	for _, f := range x.OAuth.Findings {
		s.BySeverity[f.Severity]++
		s.ByFinding[f.ID]++
	}
	if d := x.OAuth.Diagnosis; d != nil {
		s.ByCategory[d.Category]++
	}
}

// WriteTo prints the summary in a few lines.
func (s *Summary) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "summary: %d exchanges, %d OAuth, %d token exchanges, %d failed\n", s.Exchanges, s.OAuth, s.Token, s.Failed)
	fmt.Fprintf(&b, "findings: %d error, %d warn, %d info", s.BySeverity[flow.SeverityError], s.BySeverity[flow.SeverityWarn], s.BySeverity[flow.SeverityInfo])
	if len(s.ByFinding) > 0 {
		b.WriteString(" (")
		b.WriteString(counts(s.ByFinding))
		b.WriteString(")")
	}
	b.WriteString("\n")
	cats := map[string]int{}
	for c, n := range s.ByCategory {
		cats[string(c)] = n
	}
	if len(cats) == 0 {
		b.WriteString("diagnoses: none\n")
	} else {
		fmt.Fprintf(&b, "diagnoses: %s\n", counts(cats))
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// stable order: by count desc, then name
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && (m[keys[j]] > m[keys[j-1]] || (m[keys[j]] == m[keys[j-1]] && keys[j] < keys[j-1])); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
