package otlpexport

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/livelog"
	"github.com/oauthproxy/oauthproxy/otlpexport/otlptest"
)

// Canary secrets planted in the exchanges: none may reach the collector.
const (
	canaryCode   = "CANARY-code-7c1d"
	canarySecret = "CANARY-secret-55ab"
	canaryBearer = "CANARY-bearer-e0f3"
	canaryAssert = "CANARY-assertion-91aa"
	canaryCookie = "CANARY-cookie-3b2c"
)

var canaries = []string{canaryCode, canarySecret, canaryBearer, canaryAssert, canaryCookie}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// exchanges: a callback with a code in its query, a failed token request
// with secrets in its form body and Authorization header, diagnosed; an
// upstream error with a secret in its URL and error text; an ordinary API
// call; a CONNECT tunnel.
func exchanges() []*flow.Exchange {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	form := "grant_type=authorization_code&code=" + canaryCode + "&client_secret=" + canarySecret + "&client_assertion=" + canaryAssert
	return []*flow.Exchange{
		{
			ID: "11111111-0000-4000-8000-000000000001", Start: t0,
			Request:  flow.Request{Method: "GET", URL: mustURL("https://app.example:8443/cb?code=" + canaryCode + "&state=s1"), Header: http.Header{"Cookie": {"sid=" + canaryCookie}}},
			Response: &flow.Response{Status: 302, Body: flow.Body{Size: 0}},
			OAuth:    flow.OAuth{Label: flow.LabelCallback, Login: "login-1", LoginLink: flow.LinkCertain},
		},
		{
			ID: "22222222-0000-4000-8000-000000000002", Start: t0.Add(time.Second),
			Request: flow.Request{Method: "POST", URL: mustURL("https://idp.example/oauth2/token"),
				Header: http.Header{"Authorization": {"Bearer " + canaryBearer}, "Content-Type": {"application/x-www-form-urlencoded"}},
				Body:   flow.Body{Data: []byte(form), Size: int64(len(form))}},
			Response: &flow.Response{Status: 403, Body: flow.Body{Data: []byte(`{"error":"unauthorized_client"}`), Size: 31}},
			Timings:  flow.Timings{Total: 38 * time.Millisecond},
			OAuth: flow.OAuth{Label: flow.LabelToken, GrantType: "authorization_code", Issuer: "https://idp.example", Login: "login-1", LoginLink: flow.LinkCertain,
				Findings: []flow.Finding{
					{ID: "code-reused", Severity: flow.SeverityError, Category: flow.CategoryGrant, Message: "the code code=" + canaryCode + " was already sent"},
					{ID: "scope-narrowed", Severity: flow.SeverityInfo, Category: flow.CategoryPermission, Message: "fewer scopes"},
				},
				Diagnosis: &flow.Diagnosis{Category: flow.CategoryPermission, Cause: "unauthorized-client", Summary: "not allowed", Evidence: []string{"client_secret=" + canarySecret}, Confidence: "high"},
			},
		},
		{
			ID: "33333333-0000-4000-8000-000000000003", Start: t0.Add(2 * time.Second),
			Request:   flow.Request{Method: "POST", URL: mustURL("https://down.example/token?client_secret=" + canarySecret)},
			Error:     "oauthproxy: upstream down.example:443: connection refused client_secret=" + canarySecret,
			ErrorType: "connection_refused",
			OAuth:     flow.OAuth{Label: flow.LabelToken},
		},
		{
			ID: "44444444-0000-4000-8000-000000000004", Start: t0.Add(3 * time.Second),
			Request:  flow.Request{Method: "GET", URL: mustURL("http://api.example/items")},
			Response: &flow.Response{Status: 200, Body: flow.Body{Size: 30}},
		},
		{
			ID: "55555555-0000-4000-8000-000000000005", Start: t0.Add(4 * time.Second),
			Request: flow.Request{Method: "CONNECT", URL: &url.URL{Host: "pinned.example:443"}},
			Error:   "oauthproxy: upstream pinned.example:443: something new",
		},
	}
}

// want is what each record of exchanges() must carry (attrs: exact values;
// absent: keys that must not be there).
type want struct {
	severity string
	attrs    map[string]any
	absent   []string
}

func wants() []want {
	return []want{
		{"INFO", map[string]any{
			"http.request.method": "GET", "url.full": "https://app.example:8443/cb?code=redacted%3A",
			"server.address": "app.example", "server.port": int64(8443), "http.response.status_code": int64(302),
			"oauth.label": "callback", "oauth.login": "login-1", "oauth.login_link": "certain",
			"oauth.exchange_id": "11111111-0000-4000-8000-000000000001",
		}, []string{"error.type", "oauth.grant_type", "oauth.finding_ids", "oauth.diagnosis.cause"}},
		{"ERROR", map[string]any{
			"http.request.method": "POST", "url.full": "https://idp.example/oauth2/token",
			"server.address": "idp.example", "server.port": int64(443), "http.response.status_code": int64(403),
			"oauth.label": "token", "oauth.grant_type": "authorization_code", "oauth.issuer": "https://idp.example",
			"oauth.login": "login-1", "oauth.finding_ids": []any{"code-reused", "scope-narrowed"},
			"oauth.diagnosis.category": "permission", "oauth.diagnosis.cause": "unauthorized-client", "oauth.diagnosis.confidence": "high",
		}, []string{"error.type"}},
		{"ERROR", map[string]any{
			"http.request.method": "POST", "url.full": "https://down.example/token?client_secret=redacted%3A",
			"server.address": "down.example", "server.port": int64(443), "error.type": "connection_refused", "oauth.label": "token",
		}, []string{"http.response.status_code", "oauth.login"}},
		{"INFO", map[string]any{
			"http.request.method": "GET", "url.full": "http://api.example/items", "server.address": "api.example",
			"server.port": int64(80), "http.response.status_code": int64(200),
		}, []string{"oauth.label", "error.type"}},
		{"ERROR", map[string]any{
			"http.request.method": "CONNECT", "server.address": "pinned.example", "server.port": int64(443), "error.type": "_OTHER",
		}, []string{"url.full", "http.response.status_code"}},
	}
}

// checkRecord compares got attributes with w; a string want ending in
// "%3A" (a fingerprint's start) is a prefix.
func checkRecord(t *testing.T, severity string, attrs map[string]any, w want) {
	t.Helper()
	if severity != w.severity {
		t.Errorf("severity: got %s, want %s", severity, w.severity)
	}
	for k, v := range w.attrs {
		g, ok := attrs[k]
		if s, isStr := v.(string); isStr && strings.HasSuffix(s, "%3A") {
			if gs, _ := g.(string); !strings.HasPrefix(gs, s) {
				t.Errorf("%s: got %v, want it to start with %q", k, g, s)
			}
			continue
		}
		if !ok || fmt.Sprint(g) != fmt.Sprint(v) || fmt.Sprintf("%T", g) != fmt.Sprintf("%T", v) {
			t.Errorf("%s: got %#v, want %#v", k, g, v)
		}
	}
	for _, k := range w.absent {
		if g, ok := attrs[k]; ok {
			t.Errorf("%s: got %v, want no such attribute", k, g)
		}
	}
}

func TestAttributes(t *testing.T) {
	xs, ws := exchanges(), wants()
	for i, x := range xs {
		t.Run(x.Request.Method+" "+x.Request.URL.Host, func(t *testing.T) {
			r := Record(x)
			got := map[string]any{}
			r.WalkAttributes(func(kv attribute.KeyValue) bool {
				switch kv.Value.Type() {
				case attribute.STRINGSLICE:
					var s []any
					for _, e := range kv.Value.AsStringSlice() {
						s = append(s, e)
					}
					got[string(kv.Key)] = s
				default:
					got[string(kv.Key)] = kv.Value.AsInterface()
				}
				return true
			})
			checkRecord(t, r.SeverityText(), got, ws[i])
			if body, want := r.Body().AsString(), livelog.Line(x); body != want {
				t.Errorf("body: got %q, want the log line %q", body, want)
			}
			if !r.Timestamp().Equal(x.Start) {
				t.Errorf("timestamp: got %v, want %v", r.Timestamp(), x.Start)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	ok := &flow.Response{Status: 200}
	tests := []struct {
		name string
		x    flow.Exchange
		want log.Severity
	}{
		{"plain 200", flow.Exchange{Response: ok}, log.SeverityInfo},
		{"warn finding", flow.Exchange{Response: ok, OAuth: flow.OAuth{Findings: []flow.Finding{{Severity: flow.SeverityWarn}}}}, log.SeverityWarn},
		{"error finding beats warn", flow.Exchange{Response: ok, OAuth: flow.OAuth{Findings: []flow.Finding{{Severity: flow.SeverityWarn}, {Severity: flow.SeverityError}}}}, log.SeverityError},
		{"4xx without findings", flow.Exchange{Response: &flow.Response{Status: 401}}, log.SeverityWarn},
		{"error in a 200", flow.Exchange{Response: ok, OAuth: flow.OAuth{Diagnosis: &flow.Diagnosis{Category: flow.CategoryClientConfig}}}, log.SeverityWarn},
		{"info diagnosis", flow.Exchange{Response: &flow.Response{Status: 200}, OAuth: flow.OAuth{Diagnosis: &flow.Diagnosis{Category: flow.CategoryInfo}}}, log.SeverityInfo},
		{"5xx", flow.Exchange{Response: &flow.Response{Status: 503}}, log.SeverityError},
		{"upstream error", flow.Exchange{Error: "refused"}, log.SeverityError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := severity(&tt.x); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/logs", ""},
		{"https://collector.example/", "https://collector.example/v1/logs", ""},
		{"http://127.0.0.1:4318/otlp/v1/logs", "http://127.0.0.1:4318/otlp/v1/logs", ""},
		{"127.0.0.1:4318", "", "want an http:// or https:// URL"},
		{"grpc://127.0.0.1:4317", "", "want an http:// or https:// URL"},
		{"http://%zz", "", "otlpexport: endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseEndpoint(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "otlpexport: ") {
					t.Errorf("got %v, %v; want an error with %q", u, err, tt.err)
				}
				return
			}
			if err != nil || u.String() != tt.want {
				t.Errorf("got %v, %v; want %s", u, err, tt.want)
			}
		})
	}
}

// logs collects Logf lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// find returns the first line that holds every one of subs.
func (l *logs) find(subs ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return line
	}
	return ""
}

// TestExport: every exchange reaches a real OTLP/HTTP receiver, decoded
// from protobuf, with its attributes, the resource attributes and the
// configured header, and no canary secret is in the bytes it got.
func TestExport(t *testing.T) {
	rcv := otlptest.Start(t)
	var l logs
	s, err := New(Options{Endpoint: rcv.URL(), Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}, ServiceVersion: "v9.9.9-test", HostName: "host-under-test", Interval: 10 * time.Millisecond, Logf: l.logf})
	if err != nil {
		t.Fatal(err)
	}
	xs, ws := exchanges(), wants()
	for _, x := range xs {
		s.Handle(x)
	}
	if err := s.Close(10 * time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs := rcv.Records()
	if len(recs) != len(xs) {
		t.Fatalf("receiver got %d records, want %d (errors: %v)", len(recs), len(xs), rcv.Errors())
	}
	byID := map[string]otlptest.Record{}
	for _, r := range recs {
		id, _ := r.Attrs["oauth.exchange_id"].(string)
		byID[id] = r
	}
	for i, x := range xs {
		t.Run(x.Request.Method+" "+x.Request.URL.Host, func(t *testing.T) {
			r, ok := byID[x.ID]
			if !ok {
				t.Fatalf("no record with oauth.exchange_id %s", x.ID)
			}
			checkRecord(t, r.SeverityText, r.Attrs, ws[i])
			if r.Body != livelog.Line(x) {
				t.Errorf("body: got %q, want %q", r.Body, livelog.Line(x))
			}
			if r.EventName != EventName || r.Scope != scopeName || r.TimeUnixNano != uint64(x.Start.UnixNano()) {
				t.Errorf("event %q scope %q time %d, want %q %q %d", r.EventName, r.Scope, r.TimeUnixNano, EventName, scopeName, x.Start.UnixNano())
			}
			wantRes := map[string]any{"service.name": "oauthproxy", "service.version": "v9.9.9-test", "host.name": "host-under-test"}
			for k, v := range wantRes {
				if r.Resource[k] != v {
					t.Errorf("resource %s: got %v, want %v", k, r.Resource[k], v)
				}
			}
		})
	}
	raw := rcv.Raw()
	for _, c := range canaries {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("the collector received the canary %s", c)
		}
	}
	if !bytes.Contains(raw, []byte("X-Scope-Orgid: tenant-1")) {
		t.Errorf("the configured header did not reach the collector")
	}
	st := s.Stats()
	if st.Handled != 5 || st.Exported != 5 || st.Lost() != 0 || st.Pending != 0 {
		t.Errorf("stats: got %+v, want 5 handled and exported, none lost or pending", st)
	}
	if got, want := st.String(), "exported 5 of 5 exchanges; 0 dropped (queue full or collector down), 0 lost in failed exports, 0 unsent"; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
	if len(l.lines) != 0 {
		t.Errorf("reports with nothing lost: %q", l.lines)
	}
}

// TestUserInfo: user:pass in the endpoint URL is sent as Basic
// authentication (the SDK alone would drop it).
func TestUserInfo(t *testing.T) {
	rcv := otlptest.Start(t)
	u := strings.Replace(rcv.URL(), "http://", "http://fleet:s3cret@", 1)
	s, err := New(Options{Endpoint: u})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(exchanges()[3])
	if err := s.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("fleet:s3cret")); !bytes.Contains(rcv.Raw(), []byte(want)) {
		t.Errorf("the collector did not get %q:\n%s", want, rcv.Raw())
	}
	if len(rcv.Records()) != 1 {
		t.Errorf("got %d records, want 1", len(rcv.Records()))
	}
}

// TestHeadersFromEnvironment: without Options.Headers, the standard
// OTEL_EXPORTER_OTLP_HEADERS variable gives them (out of ps).
func TestHeadersFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20collector-token,X-Tenant=t2")
	rcv := otlptest.Start(t)
	s, err := New(Options{Endpoint: rcv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(exchanges()[3])
	if err := s.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	raw := rcv.Raw()
	for _, h := range []string{"Authorization: Bearer collector-token", "X-Tenant: t2"} {
		if !bytes.Contains(raw, []byte(h)) {
			t.Errorf("the collector did not get %q", h)
		}
	}
}

// TestCollectorDown: with connection refused, Handle returns at once for
// every exchange, every record is accounted for as lost, the loss is
// reported while running and at shutdown.
func TestCollectorDown(t *testing.T) {
	var l logs
	s, err := New(Options{Endpoint: "http://" + otlptest.Refused(t), QueueSize: 8, BatchSize: 4, Interval: 5 * time.Millisecond, RetryFor: -1, ReportEvery: 5 * time.Millisecond, Logf: l.logf})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	x := exchanges()[1]
	for i := 0; i < n; i++ {
		s.Handle(x)
	}
	deadline := time.Now().Add(10 * time.Second)
	report := []string{"lost in failed exports in the last", "connection refused"}
	for l.find(report...) == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l.find(report...) == "" {
		t.Errorf("no periodic loss report with the error; lines: %q", l.lines)
	}
	if err := s.Close(5 * time.Second); err != nil {
		t.Errorf("Close: %v", err)
	}
	st := s.Stats()
	if st.Handled != n || st.Exported != 0 || st.Lost() != n || st.Pending != 0 || st.Failed == 0 {
		t.Errorf("stats: got %+v, want %d handled, all lost (some failed), none exported or pending", st, n)
	}
	if got := st.String(); !strings.HasPrefix(got, "exported 0 of 200 exchanges;") || !strings.Contains(got, "; last error: ") {
		t.Errorf("summary: got %q, want 0 of 200 exported and the last error", got)
	}
}

// TestCollectorHangs: a collector that accepts and never answers holds the
// first batch; Handle still returns at once, the rest is dropped and
// counted, and Close gives up after its timeout.
func TestCollectorHangs(t *testing.T) {
	silent := otlptest.StartSilent(t)
	var l logs
	s, err := New(Options{Endpoint: "http://" + silent.Addr, QueueSize: 4, BatchSize: 4, Interval: 5 * time.Millisecond, RequestTimeout: time.Minute, Logf: l.logf})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	x := exchanges()[0]
	for i := 0; i < n; i++ {
		s.Handle(x)
	}
	// Nothing can leave before the collector answers: at most QueueSize
	// records are pending, the others were dropped.
	st := s.Stats()
	if st.Handled != n || st.Dropped != n-4 || st.Pending != 4 {
		t.Errorf("stats: got %+v, want %d handled, %d dropped, 4 pending", st, n, n-4)
	}
	deadline := time.Now().Add(10 * time.Second)
	for silent.Accepted() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if silent.Accepted() == 0 {
		t.Fatalf("the exporter never connected to the silent collector")
	}
	err = s.Close(100 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "otlpexport: shutdown: the collector did not take the last records within 100ms") {
		t.Errorf("Close: got %v, want a shutdown timeout", err)
	}
	s.Handle(x) // after Close: counted, not queued
	if st := s.Stats(); st.Dropped != n-4+1 || st.Exported != 0 {
		t.Errorf("after Close: got %+v, want one more dropped", st)
	}
	if got, want := s.Stats().String(), "exported 0 of 51 exchanges; 47 dropped (queue full or collector down), 0 lost in failed exports, 4 unsent"; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
}

// TestCollectorRecovers: a failed export makes Handle drop records
// without building them until the backoff is over; then records flow
// again and a successful export ends the backoff.
func TestCollectorRecovers(t *testing.T) {
	rcv := otlptest.Start(t)
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "starting up", http.StatusServiceUnavailable)
			return
		}
		rcv.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	s, err := New(Options{Endpoint: flaky.URL, Interval: 5 * time.Millisecond, RetryFor: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.backoff = time.Hour // the backoff is ended by hand below
	xs := exchanges()
	s.Handle(xs[0])
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Failed == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.Handle(xs[1]) // the collector is taken as down: dropped
	if st := s.Stats(); st.Failed != 1 || st.Dropped != 1 || !strings.Contains(st.LastError, "starting up") {
		t.Fatalf("after a 503: got %+v, want 1 failed, 1 dropped, the 503 body as last error", st)
	}
	s.downUntil.Store(0) // the backoff is over
	s.Handle(xs[2])
	if err := s.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Exported != 1 || s.failures.Load() != 0 {
		t.Errorf("after the backoff: got %+v (failures in a row %d), want 1 exported and the failures reset", st, s.failures.Load())
	}
	if recs := rcv.Records(); len(recs) != 1 || recs[0].Attrs["oauth.exchange_id"] != xs[2].ID {
		t.Errorf("collector got %v, want only %s", recs, xs[2].ID)
	}
}

// TestSDKBatchProcessorDrops documents why Sink has its own gate: the
// SDK's BatchProcessor, when its queue is full, silently overwrites its
// oldest record (OnEmit returns nil and reports nothing we could count).
func TestSDKBatchProcessorDrops(t *testing.T) {
	exp := &blockingExporter{release: make(chan struct{})}
	bp := sdklog.NewBatchProcessor(exp, sdklog.WithMaxQueueSize(4), sdklog.WithExportMaxBatchSize(4), sdklog.WithExportInterval(time.Hour))
	const n = 40
	for i := 0; i < n; i++ {
		var r sdklog.Record
		if err := bp.OnEmit(context.Background(), &r); err != nil {
			t.Fatalf("OnEmit: %v", err)
		}
	}
	close(exp.release)
	if err := bp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.n.Load(); got >= n || got == 0 {
		t.Errorf("the SDK exported %d of %d records; want some, not all (it drops when full)", got, n)
	}
}

type blockingExporter struct {
	release chan struct{}
	n       atomic.Int64
}

func (e *blockingExporter) Export(_ context.Context, rs []sdklog.Record) error {
	<-e.release
	e.n.Add(int64(len(rs)))
	return nil
}
func (e *blockingExporter) Shutdown(context.Context) error   { return nil }
func (e *blockingExporter) ForceFlush(context.Context) error { return nil }
