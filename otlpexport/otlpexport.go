// Package otlpexport sends each exchange as an OpenTelemetry log record to
// a collector over OTLP/HTTP (`oauthproxy run --otlp URL`), so that the
// proxies of a fleet of servers feed the log pipeline their owners already
// run (an OpenTelemetry Collector forwarding to Loki, Elasticsearch...).
//
// A record carries the standard HTTP attributes (http.request.method,
// url.full, http.response.status_code, server.address, server.port,
// error.type) and oauth.* ones (label, grant type, login id, finding ids,
// diagnosis category and cause); its body is the log's one-line summary and
// its severity that of the worst finding or failure. Everything is redacted
// exactly as the live log is: the URL and the summary go through package
// livelog and package redact, and headers and bodies are never sent.
//
// The Sink never makes the proxy wait for the collector: Handle only puts a
// record in a bounded queue that the OpenTelemetry SDK's BatchProcessor
// drains in batches. When the queue is full (the collector is slow) the
// record is dropped and counted. After a failed export the collector is
// taken as down for a while (1s, doubling up to 30s): records are dropped
// before anything is built and batches already queued are not encoded, so
// a dead collector costs the proxy almost nothing. Stats reports the
// counters and a line is logged when they move.
package otlpexport

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/redact"
)

// Options configure a Sink. Only Endpoint is required.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP URL: http://host:4318 or
	// https://host:4318; /v1/logs is added when the URL has no path.
	// user:pass@ in it is sent as Basic authentication.
	Endpoint string
	// Headers are sent with every export (an Authorization for the
	// collector, a tenant id...). They are never logged. When empty,
	// $OTEL_EXPORTER_OTLP_HEADERS (K=V,K2=V2) is used, as by any OTel SDK.
	Headers map[string]string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// HostName is the host.name resource attribute; os.Hostname() when "".
	HostName string

	// QueueSize bounds the records waiting to be sent (default 2048); when
	// it is full, new records are dropped and counted.
	QueueSize int
	// BatchSize is the most records sent in one request (default 512).
	BatchSize int
	// Interval is the longest a record waits for its batch (default 1s).
	Interval time.Duration
	// RequestTimeout bounds one HTTP request to the collector (default 10s).
	RequestTimeout time.Duration
	// RetryFor is how long a failed batch is retried before its records
	// are counted as failed (default 30s; negative: no retry).
	RetryFor time.Duration
	// ReportEvery is how often Logf is told that records were dropped or
	// failed since the last report (default 1m; only when they were).
	ReportEvery time.Duration
	// Logf, if set, receives the periodic reports of dropped and failed records.
	Logf func(format string, args ...any)
}

// Stats are the Sink's counters since it was made. Every record handed to
// Handle ends as exactly one of Exported, Dropped, Failed or (at the time
// of the call) Pending.
type Stats struct {
	// Handled counts the exchanges given to Handle.
	Handled uint64 `json:"handled"`
	// Exported counts the records the collector accepted.
	Exported uint64 `json:"exported"`
	// Dropped counts the records never queued: the queue was full (the
	// collector is slow), the last export failed less than a backoff ago
	// (the collector is down), or the Sink was closed.
	Dropped uint64 `json:"dropped"`
	// Failed counts the records lost in exports that failed after retries.
	Failed uint64 `json:"failed"`
	// Pending counts the records queued or being sent now.
	Pending int64 `json:"pending"`
	// LastError is the error of the last failed export ("" if none).
	LastError string `json:"last_error,omitempty"`
}

// Lost is the number of records that will never reach the collector.
func (s Stats) Lost() uint64 { return s.Dropped + s.Failed }

// String summarises s in one line:
//
//	exported 40 of 50 exchanges; 6 dropped (queue full or collector down), 0 lost in failed exports, 4 unsent; last error: ...
func (s Stats) String() string {
	return fmt.Sprintf("exported %d of %d exchanges; %d dropped (queue full or collector down), %d lost in failed exports, %d unsent%s",
		s.Exported, s.Handled, s.Dropped, s.Failed, s.Pending, lastErrorSuffix(s))
}

// Sink is a flow.Sink that exports exchanges as OTLP log records. It is
// safe for concurrent use. Close it to send what is still queued.
type Sink struct {
	opts     Options
	provider *sdklog.LoggerProvider
	logger   log.Logger
	capacity int64

	handled, exported, dropped, failed atomic.Uint64
	pending                            atomic.Int64
	lastErr                            atomic.Value // string
	closed                             atomic.Bool
	// downUntil (UnixNano) is when the collector, after a failed export,
	// is tried again; failures counts failed exports in a row.
	downUntil atomic.Int64
	failures  atomic.Int32
	// backoff is the first wait after a failed export (tests change it).
	backoff time.Duration

	stop      chan struct{}
	reporter  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Defaults of Options.
const (
	defaultQueueSize      = 2048
	defaultBatchSize      = 512
	defaultInterval       = time.Second
	defaultRequestTimeout = 10 * time.Second
	defaultRetryFor       = 30 * time.Second
	defaultReportEvery    = time.Minute
)

// scopeName is the instrumentation scope of the records.
const scopeName = "github.com/oauthproxy/oauthproxy/otlpexport"

// EventName is the event name of every record, for filtering in the collector.
const EventName = "oauthproxy.exchange"

// ParseEndpoint checks an OTLP/HTTP URL and returns it with the logs path
// (/v1/logs) added when it has none.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlpexport: endpoint %q: want an http:// or https:// URL such as http://127.0.0.1:4318", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/logs"
	}
	return u, nil
}

// New returns a Sink exporting to opts.Endpoint. Nothing is sent until the
// first exchange; an unreachable collector is not an error here (its
// records are counted as failed or dropped).
func New(opts Options) (*Sink, error) {
	u, err := ParseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, opts.QueueSize)
	if opts.Interval <= 0 {
		opts.Interval = defaultInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = defaultRequestTimeout
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = defaultRetryFor
	}
	if opts.ReportEvery <= 0 {
		opts.ReportEvery = defaultReportEvery
	}
	if opts.HostName == "" {
		opts.HostName, _ = os.Hostname()
	}
	if u.User != nil {
		// http://user:pass@collector:4318: the SDK would drop the user
		// info silently; send it as Basic authentication instead.
		if _, ok := headerValue(opts.Headers, "Authorization"); !ok {
			h := map[string]string{}
			for k, v := range opts.Headers {
				h[k] = v
			}
			pass, _ := u.User.Password()
			h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
			opts.Headers = h
		}
		u.User = nil
	}

	retry := otlploghttp.RetryConfig{Enabled: false}
	if opts.RetryFor > 0 {
		retry = otlploghttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 5 * time.Second, MaxElapsedTime: opts.RetryFor}
	}
	eopts := []otlploghttp.Option{
		otlploghttp.WithEndpointURL(u.String()),
		otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithRetry(retry),
		// Our own client: no proxy from the environment (a shell set up
		// with `oauthproxy env` would send the exports through this very
		// proxy, each one making a new exchange to export), and bounded
		// connect and request times.
		otlploghttp.WithHTTPClient(&http.Client{
			Timeout: opts.RequestTimeout,
			Transport: &http.Transport{
				Proxy:                 nil,
				DialContext:           (&net.Dialer{Timeout: opts.RequestTimeout}).DialContext,
				TLSHandshakeTimeout:   opts.RequestTimeout,
				ResponseHeaderTimeout: opts.RequestTimeout,
				MaxIdleConns:          2,
				IdleConnTimeout:       90 * time.Second,
			},
		}),
	}
	if len(opts.Headers) > 0 {
		// Without, the SDK reads OTEL_EXPORTER_OTLP_HEADERS (and
		// OTEL_EXPORTER_OTLP_LOGS_HEADERS): K=V,K2=V2, out of ps.
		eopts = append(eopts, otlploghttp.WithHeaders(opts.Headers))
	}
	exp, err := otlploghttp.New(context.Background(), eopts...)
	if err != nil {
		return nil, fmt.Errorf("otlpexport: %w", err)
	}

	s := &Sink{opts: opts, capacity: int64(opts.QueueSize), stop: make(chan struct{}), backoff: firstBackoff}
	batch := sdklog.NewBatchProcessor(&counting{next: exp, s: s},
		// The SDK's queue would drop its oldest record when full, without
		// telling anyone; Handle keeps it from ever filling, and counts.
		sdklog.WithMaxQueueSize(opts.QueueSize),
		sdklog.WithExportMaxBatchSize(opts.BatchSize),
		sdklog.WithExportInterval(opts.Interval),
		sdklog.WithExportTimeout(opts.RetryFor+2*opts.RequestTimeout),
	)
	res := resource.NewSchemaless(
		attribute.String("service.name", "oauthproxy"),
		attribute.String("service.version", opts.ServiceVersion),
		attribute.String("host.name", opts.HostName),
	)
	s.provider = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(batch),
		// Attributes' keys are unique by construction: skip the SDK's
		// de-duplication, a map per record.
		sdklog.WithAllowKeyDuplication())
	s.logger = s.provider.Logger(scopeName, log.WithInstrumentationVersion(opts.ServiceVersion))
	s.reporter.Add(1)
	go s.report()
	return s, nil
}

func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Handle queues x for export (flow.Sink). It never waits for the network:
// when the queue is full or the collector is down, the record is dropped
// and counted.
func (s *Sink) Handle(x *flow.Exchange) {
	s.handled.Add(1)
	if s.closed.Load() || time.Now().UnixNano() < s.downUntil.Load() || !s.reserve() {
		s.dropped.Add(1)
		return
	}
	s.logger.Emit(context.Background(), Record(x))
}

// reserve takes a place in the queue, if one is free: fewer than QueueSize
// records are pending, so the BatchProcessor's own queue never overflows
// (it would silently overwrite its oldest record).
func (s *Sink) reserve() bool {
	for {
		n := s.pending.Load()
		if n >= s.capacity {
			return false
		}
		if s.pending.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	st := Stats{
		Handled:  s.handled.Load(),
		Exported: s.exported.Load(),
		Dropped:  s.dropped.Load(),
		Failed:   s.failed.Load(),
		Pending:  s.pending.Load(),
	}
	st.LastError, _ = s.lastErr.Load().(string)
	return st
}

// Close sends what is still queued, waiting at most timeout for the
// collector, and stops the Sink. Records that could not be sent in time
// stay counted as Pending (Stats.String says "unsent"). Later calls return
// the first call's result.
func (s *Sink) Close(timeout time.Duration) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.reporter.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := s.provider.Shutdown(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("the collector did not take the last records within %s", timeout)
			}
			s.closeErr = fmt.Errorf("otlpexport: shutdown: %w", err)
		}
	})
	return s.closeErr
}

// report logs, every ReportEvery, how many records were lost since the
// last report, if any were.
func (s *Sink) report() {
	defer s.reporter.Done()
	t := time.NewTicker(s.opts.ReportEvery)
	defer t.Stop()
	var lastDropped, lastFailed uint64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		st := s.Stats()
		if st.Dropped == lastDropped && st.Failed == lastFailed {
			continue
		}
		s.logf("otlp: %d exchanges dropped (queue full or collector down) and %d lost in failed exports in the last %s; %d exported so far%s",
			st.Dropped-lastDropped, st.Failed-lastFailed, s.opts.ReportEvery, st.Exported, lastErrorSuffix(st))
		lastDropped, lastFailed = st.Dropped, st.Failed
	}
}

func (s *Sink) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func lastErrorSuffix(st Stats) string {
	if st.LastError == "" {
		return ""
	}
	return "; last error: " + st.LastError
}

// counting wraps the OTLP exporter: it settles the pending records of each
// export as exported or failed, and takes the collector as down for a
// backoff after a failure (batches queued meanwhile are not even encoded,
// except at shutdown). It reports export errors through the counters
// instead of returning them: the SDK would print every one to stderr, once
// per batch, for as long as the collector is down.
type counting struct {
	next sdklog.Exporter
	s    *Sink
}

// Backoff after failed exports in a row: 1s, 2s, 4s... at most 30s.
const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

func (c *counting) Export(ctx context.Context, records []sdklog.Record) error {
	if len(records) == 0 {
		return nil
	}
	n := uint64(len(records))
	defer c.s.pending.Add(-int64(n))
	if !c.s.closed.Load() && time.Now().UnixNano() < c.s.downUntil.Load() {
		c.s.failed.Add(n)
		return nil
	}
	if err := c.next.Export(ctx, records); err != nil {
		c.s.failed.Add(n)
		c.s.lastErr.Store(redact.Text(err.Error()))
		f := c.s.failures.Add(1)
		backoff := min(c.s.backoff<<min(f-1, 5), maxBackoff)
		c.s.downUntil.Store(time.Now().Add(backoff).UnixNano())
		return nil
	}
	c.s.exported.Add(n)
	c.s.failures.Store(0)
	c.s.downUntil.Store(0)
	return nil
}

func (c *counting) ForceFlush(ctx context.Context) error { return c.next.ForceFlush(ctx) }
func (c *counting) Shutdown(ctx context.Context) error   { return c.next.Shutdown(ctx) }

// Attribute keys of a record besides the OpenTelemetry semantic conventions
// (http.request.method, url.full, http.response.status_code,
// server.address, server.port, error.type). They are stable; the README's
// "Fleet export" section lists them.
const (
	AttrExchangeID         = "oauth.exchange_id"
	AttrLabel              = "oauth.label"
	AttrGrantType          = "oauth.grant_type"
	AttrIssuer             = "oauth.issuer"
	AttrLogin              = "oauth.login"
	AttrLoginLink          = "oauth.login_link"
	AttrFindingIDs         = "oauth.finding_ids"
	AttrDiagnosisCategory  = "oauth.diagnosis.category"
	AttrDiagnosisCause     = "oauth.diagnosis.cause"
	AttrDiagnosisConfident = "oauth.diagnosis.confidence"
)

// Record returns the log record of x: its timestamp is x.Start, its body
// the log's one-line summary, its severity that of the worst finding or
// failure, and its attributes those listed in the package comment. It holds
// nothing the live log would not show.
func Record(x *flow.Exchange) log.Record {
	var r log.Record
	r.SetEventName(EventName)
	r.SetTimestamp(x.Start)
	sev, text := severity(x)
	r.SetSeverity(sev)
	r.SetSeverityText(text)
	r.SetBody(attribute.StringValue(livelog.Line(x)))
	r.AddAttributes(Attributes(x)...)
	return r
}

// Attributes returns the attributes of x's record; empty values are left out.
func Attributes(x *flow.Exchange) []attribute.KeyValue {
	lr := livelog.RecordOf(x) // the log's redaction of the URL and diagnosis
	kv := make([]attribute.KeyValue, 0, 12)
	kv = append(kv, attribute.String("http.request.method", x.Request.Method))
	if u := x.Request.URL; u != nil {
		if u.Scheme != "" {
			kv = append(kv, attribute.String("url.full", lr.URL))
		}
		if h := u.Hostname(); h != "" {
			kv = append(kv, attribute.String("server.address", h))
		}
		if p := port(u); p > 0 {
			kv = append(kv, attribute.Int("server.port", p))
		}
	}
	if x.Response != nil {
		kv = append(kv, attribute.Int("http.response.status_code", x.Response.Status))
	}
	if x.Error != "" {
		t := x.ErrorType
		if t == "" {
			t = "_OTHER" // the semantic conventions' value for an unknown class
		}
		kv = append(kv, attribute.String("error.type", t))
	}
	kv = appendNonEmpty(kv, AttrExchangeID, x.ID)
	kv = appendNonEmpty(kv, AttrLabel, string(x.OAuth.Label))
	kv = appendNonEmpty(kv, AttrGrantType, x.OAuth.GrantType)
	kv = appendNonEmpty(kv, AttrIssuer, redact.URLString(x.OAuth.Issuer))
	kv = appendNonEmpty(kv, AttrLogin, x.OAuth.Login)
	kv = appendNonEmpty(kv, AttrLoginLink, x.OAuth.LoginLink)
	if len(x.OAuth.Findings) > 0 {
		ids := make([]string, len(x.OAuth.Findings))
		for i, f := range x.OAuth.Findings {
			ids[i] = f.ID
		}
		kv = append(kv, attribute.StringSlice(AttrFindingIDs, ids))
	}
	if d := lr.Diagnosis; d != nil {
		kv = append(kv, attribute.String(AttrDiagnosisCategory, string(d.Category)), attribute.String(AttrDiagnosisCause, d.Cause))
		kv = appendNonEmpty(kv, AttrDiagnosisConfident, d.Confidence)
	}
	return kv
}

func appendNonEmpty(kv []attribute.KeyValue, key, v string) []attribute.KeyValue {
	if v == "" {
		return kv
	}
	return append(kv, attribute.String(key, v))
}

// port is the server port of u: explicit, else the scheme's default.
func port(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	switch u.Scheme {
	case "https", "wss":
		return 443
	case "http", "ws":
		return 80
	}
	return 0
}

// severity is that of the worst finding, raised to ERROR for an upstream
// error or a 5xx and to WARN for another failure (a 4xx, or an error
// diagnosed in a 200), as the live log's levels are.
func severity(x *flow.Exchange) (log.Severity, string) {
	rank := flow.SeverityInfo.Rank()
	for _, f := range x.OAuth.Findings {
		rank = min(rank, f.Severity.Rank())
	}
	switch {
	case x.Error != "" || (x.Response != nil && x.Response.Status >= 500):
		rank = flow.SeverityError.Rank()
	case x.Failed() || (x.OAuth.Diagnosis != nil && x.OAuth.Diagnosis.Category != flow.CategoryInfo):
		rank = min(rank, flow.SeverityWarn.Rank())
	}
	switch rank {
	case flow.SeverityError.Rank():
		return log.SeverityError, "ERROR"
	case flow.SeverityWarn.Rank():
		return log.SeverityWarn, "WARN"
	}
	return log.SeverityInfo, "INFO"
}
