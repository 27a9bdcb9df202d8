// Package flow is the model every other package speaks: one Exchange per
// HTTP request/response pair, produced by the live proxy or read from a
// capture, annotated by inspection, and consumed by sinks (the live log, the
// HAR writer). It has no behaviour beyond small helpers and no dependencies
// beyond the standard library.
package flow

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Exchange is one HTTP request and its response (or the error that replaced
// it), with the connection facts a comparison between machines needs and the
// OAuth annotations added by inspection.
type Exchange struct {
	// ID is a UUID, unique per exchange; the console log shows its first 8 characters.
	ID string `json:"id"`
	// Seq orders exchanges as they were seen (capture entry index for imports).
	Seq int `json:"seq"`
	// Start is when the request started; all inspection uses this clock, never time.Now.
	Start time.Time `json:"start"`

	Request  Request   `json:"request"`
	Response *Response `json:"response,omitempty"`
	// Error is set when no response came back from upstream (TLS failure,
	// reset, timeout, DNS...; it is the text shown to the client in the
	// 502), when upstream broke off the response body, or when the client
	// left (ClientAbortedPrefix), before or after the response's status.
	// Failed says whether the exchange failed.
	Error string `json:"error,omitempty"`
	// ErrorType names the class of Error for machines: the RFC 9209
	// Proxy-Status error type the proxy sent in its 502
	// ("connection_refused", "tls_certificate_error", "dns_error"...); ""
	// when Error is empty or the exchange was read from a capture.
	ErrorType string `json:"error_type,omitempty"`

	Timings Timings `json:"timings"`
	Conn    Conn    `json:"conn"`

	// Annotations written by inspection.
	OAuth OAuth `json:"oauth"`
}

// Request is the request as the client sent it.
type Request struct {
	Method string      `json:"method"`
	URL    *url.URL    `json:"-"`
	Proto  string      `json:"proto"`
	Header http.Header `json:"header"`
	Body   Body        `json:"body"`
}

// Response is the response as upstream sent it.
type Response struct {
	Status int `json:"status"`
	// Reason is the reason phrase of an HTTP/1.x status line when it is not
	// the standard one for Status ("403 Ip Forbidden"); "" otherwise. Some
	// gateways say what blocked a request only there.
	Reason string      `json:"reason,omitempty"`
	Proto  string      `json:"proto"`
	Header http.Header `json:"header"`
	// Trailer holds HTTP trailers, if any.
	Trailer http.Header `json:"trailer,omitempty"`
	Body    Body        `json:"body"`
}

// Body is a captured message body. Data holds the content after
// Content-Encoding was removed (gzip, deflate, br), up to the capture cap.
type Body struct {
	// Data is the decoded content, at most the capture cap long.
	Data []byte `json:"-"`
	// Size is the number of bytes on the wire (encoded), -1 if unknown.
	Size int64 `json:"size"`
	// Truncated is true when Data holds less than the whole body.
	Truncated bool `json:"truncated,omitempty"`
	// Encoding is the Content-Encoding the body had on the wire ("" for identity).
	Encoding string `json:"encoding,omitempty"`
	// DecodeError is set when the wire encoding could not be removed; Data then holds raw bytes.
	DecodeError string `json:"decode_error,omitempty"`
}

// Timings are the phases of an exchange, HAR-style. Zero means not measured.
type Timings struct {
	DNS     time.Duration `json:"dns"`
	Connect time.Duration `json:"connect"`
	TLS     time.Duration `json:"tls"`
	Send    time.Duration `json:"send"`
	Wait    time.Duration `json:"wait"`
	Receive time.Duration `json:"receive"`
	// Total is start to last response byte (or error).
	Total time.Duration `json:"total"`
}

// Conn describes the connections an exchange used.
type Conn struct {
	// ClientAddr is the client's address as seen by the proxy.
	ClientAddr string `json:"client_addr,omitempty"`
	// ServerAddr is the upstream IP:port the request went to (resolved).
	ServerAddr string `json:"server_addr,omitempty"`
	// LocalAddr is the proxy's own (egress) address of the upstream connection.
	LocalAddr string `json:"local_addr,omitempty"`
	// Reused is true when the upstream connection was kept alive from an earlier exchange.
	Reused bool `json:"reused,omitempty"`
	// TLS facts of the upstream connection; empty for plain HTTP.
	TLSVersion   string `json:"tls_version,omitempty"`
	ALPN         string `json:"alpn,omitempty"`
	CipherSuite  string `json:"cipher,omitempty"`
	ServerName   string `json:"sni,omitempty"`
	CertIssuer   string `json:"cert_issuer,omitempty"`
	CertSHA256   string `json:"cert_sha256,omitempty"`
	Intercepted  bool   `json:"intercepted,omitempty"`
	ConnectionID string `json:"connection,omitempty"`
}

// Label names the OAuth role of an exchange. The zero value means "not OAuth".
type Label string

// Labels recognised by inspection.
const (
	LabelNone       Label = ""
	LabelAuthorize  Label = "authorize"
	LabelCallback   Label = "callback"
	LabelToken      Label = "token"
	LabelDiscovery  Label = "discovery"
	LabelJWKS       Label = "jwks"
	LabelUserinfo   Label = "userinfo"
	LabelIntrospect Label = "introspect"
	LabelRevoke     Label = "revoke"
	LabelDevice     Label = "device"
	LabelPAR        Label = "par"
	// LabelHop is an exchange of a login on the OP between the authorize
	// request and the authorization response: a login or consent page, the
	// OP's own redirects, the redirect that carries the code.
	LabelHop Label = "hop"
)

// How sure inspection is that an exchange belongs to its login.
const (
	// LinkCertain: tied by a value the server issued (a code seen issued for
	// a state-matched authorize request, a matching state, a token seen issued).
	LinkCertain = "certain"
	// LinkGuess: tied by client_id and redirect_uri alone; findings that rest
	// on a guess stay at info and say "likely".
	LinkGuess = "guess"
)

// OAuth holds what inspection concluded about an exchange.
type OAuth struct {
	Label     Label  `json:"label,omitempty"`
	GrantType string `json:"grant_type,omitempty"`
	// Issuer is the authorization server the exchange belongs to, when known.
	Issuer string `json:"issuer,omitempty"`
	// Login is the id of the login this exchange belongs to (authorize →
	// login hops → callback → token → userinfo/API calls with its token);
	// "" when it belongs to none. Set by inspection.
	Login string `json:"login,omitempty"`
	// LoginLink says how this exchange was tied to its login: LinkCertain
	// or LinkGuess; "" when Login is "" or the exchange started the login.
	LoginLink string `json:"login_link,omitempty"`
	// LoginTrace is set on the exchange that ended a login (its token
	// exchange, a failed authorize request, an error= response): one line
	// summarising it, "login idp.example.com: authorize → 3 hops →
	// callback → token 400 redirect-uri-mismatch".
	LoginTrace string     `json:"login_trace,omitempty"`
	Findings   []Finding  `json:"findings,omitempty"`
	Diagnosis  *Diagnosis `json:"diagnosis,omitempty"`
}

// Severity of a finding.
type Severity string

// Severities, most severe first.
const (
	SeverityError Severity = "error"
	SeverityWarn  Severity = "warn"
	SeverityInfo  Severity = "info"
)

// Rank orders severities: error 0, warn 1, info 2, unknown 3.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarn:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}

// Category groups findings and diagnoses by who has to act.
type Category string

// Categories; the ids are stable and documented in docs/diagnoses.md.
const (
	CategoryRequest      Category = "request"
	CategoryClientConfig Category = "client-config"
	CategoryGrant        Category = "grant"
	CategoryPermission   Category = "permission"
	CategoryNetwork      Category = "network"
	CategoryServer       Category = "server"
	CategoryInfo         Category = "info"
)

// Finding is one problem inspection found in a request or response.
// Message and Fix never contain raw secrets (only fingerprints).
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Category Category `json:"category"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Diagnosis explains a failed OAuth exchange.
type Diagnosis struct {
	Category Category `json:"category"`
	// Cause is a stable id documented in docs/diagnoses.md.
	Cause      string   `json:"cause"`
	Summary    string   `json:"summary"`
	Evidence   []string `json:"evidence,omitempty"`
	Fix        []string `json:"fix,omitempty"`
	Confidence string   `json:"confidence"` // high, medium, low
	Source     string   `json:"source,omitempty"`
}

// URLString returns the request URL as a string ("" when unset).
func (r *Request) URLString() string {
	if r.URL == nil {
		return ""
	}
	return r.URL.String()
}

// ClientAbortedPrefix starts Exchange.Error when the client gave up
// (closed its connection) before the exchange was complete: the proxy
// canceled the upstream request; it is not an upstream failure.
const ClientAbortedPrefix = "oauthproxy: client aborted: "

// ClientAborted reports whether the client gave up on the exchange.
func (x *Exchange) ClientAborted() bool { return strings.HasPrefix(x.Error, ClientAbortedPrefix) }

// BrowserCanceledPrefix starts Exchange.Error when a browser's capture
// says the browser itself canceled the request before any answer: a
// navigation or subresource it dropped, a prefetch, a custom-scheme URL it
// hands to an app (DevTools' net::ERR_ABORTED, net::ERR_UNKNOWN_URL_SCHEME).
// The live proxy never writes it: there a client that left may have timed
// out waiting.
const BrowserCanceledPrefix = ClientAbortedPrefix + "the browser canceled "

// BrowserReportedPrefix starts Exchange.Error when a browser's capture
// says the request got no answer for another reason than a cancellation
// ("the browser reported net::ERR_CONNECTION_REFUSED"): the browser's own
// failure, seen by no proxy.
const BrowserReportedPrefix = "the browser reported "

// BrowserCanceled reports whether a capture says the browser canceled the
// request before any answer (see BrowserCanceledPrefix).
func (x *Exchange) BrowserCanceled() bool {
	return strings.HasPrefix(x.Error, BrowserCanceledPrefix)
}

// CallbackUnanswered reports whether x is a request to a redirect URI
// (labelled LabelCallback by inspection) that got no answer, by an error
// other than the client's own abort: a refused loopback callback, a
// custom-scheme URL another tool could not load, the proxy unable to reach
// the app's server. The app's endpoint, not the authorization server, did
// not answer; the authorization response was issued by the redirect that
// sent the browser there. Inspection reports it with the info finding
// callback-unanswered, and it fails neither the exchange (Failed) nor the
// login.
func (x *Exchange) CallbackUnanswered() bool {
	return x.OAuth.Label == LabelCallback && (x.Response == nil || x.Response.Status == 0) && x.Error != "" && !x.ClientAborted()
}

// Failed reports whether the exchange failed: the server answered 4xx/5xx,
// no answer came (an upstream error, or a client that left before the
// status), or the upstream broke off a 1xx-3xx answer. A client that left
// after the server answered below 400 (a tab closed during a large
// download, a browser cancelling a redirect it no longer follows) is not a
// failure of the exchange: the server's answer stands, and ClientAborted
// still says that the client left. Nor is a request the browser canceled
// before any answer (BrowserCanceled): nothing failed that it can show.
// Nor, once inspection has labelled it, is a callback that got no answer
// (CallbackUnanswered): it does not fail the login, so every count of
// failures (analyze's summary, the web UI's rows, logins and "failed"
// filter, diff) agrees with the login's trace. Before inspection such a
// request is still Failed: only the label says it went to a redirect URI.
func (x *Exchange) Failed() bool {
	if r := x.Response; r != nil && r.Status > 0 {
		return r.Status >= 400 || (x.Error != "" && !x.ClientAborted())
	}
	return x.Error != "" && !x.BrowserCanceled() && !x.CallbackUnanswered()
}

// Sink consumes finished exchanges. Implementations must be safe for
// concurrent use; Handle may modify the exchange only if it is documented to
// (inspection does, sinks after it must not).
type Sink interface {
	Handle(x *Exchange)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(x *Exchange)

// Handle calls f(x).
func (f SinkFunc) Handle(x *Exchange) { f(x) }

// Chain calls each sink in order. A nil entry is skipped. A sink that
// panics loses that exchange only: the sinks after it still get it, and
// Handle then panics with a *SinkPanic naming the sink, for the caller
// (Queue, the proxy) to log.
type Chain []Sink

// Handle passes x to every sink in order.
func (c Chain) Handle(x *Exchange) {
	var first *SinkPanic
	for _, s := range c {
		if s != nil {
			if p := HandleSafe(s, x); p != nil && first == nil {
				first = p
			}
		}
	}
	if first != nil {
		panic(first)
	}
}

// HandleSafe calls s.Handle(x) and returns its panic, recovered, if any
// (nil when Handle returned).
func HandleSafe(s Sink, x *Exchange) (p *SinkPanic) {
	defer func() {
		if v := recover(); v != nil {
			if sp, ok := v.(*SinkPanic); ok {
				p = sp
				return
			}
			p = newSinkPanic(s, v)
		}
	}()
	s.Handle(x)
	return nil
}

// SinkPanic is a sink's panic, recovered: which sink, the value and the
// stack where it happened. Value may contain request data: redact it
// before logging.
type SinkPanic struct {
	Sink  string // the sink's type, e.g. "*inspect.Inspector"
	Value any
	Stack []byte
}

func newSinkPanic(s Sink, v any) *SinkPanic {
	return &SinkPanic{Sink: fmt.Sprintf("%T", s), Value: v, Stack: debug.Stack()}
}

// Error describes the panic in one line.
func (p *SinkPanic) Error() string { return fmt.Sprintf("flow: sink %s panicked: %v", p.Sink, p.Value) }

// Serial wraps a sink so that exchanges reach it one at a time, in the order
// Handle is called. Inspection correlates exchanges, so the live proxy hands
// them to the pipeline through Serial.
type Serial struct {
	mu   sync.Mutex
	Next Sink
}

// Handle passes x to Next while holding a lock.
func (s *Serial) Handle(x *Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Next.Handle(x)
}

// ReasonOf returns the reason phrase of an HTTP status line such as
// "403 Ip Forbidden" when it differs from the standard text for the code,
// and "" otherwise.
func ReasonOf(status string, code int) string {
	_, reason, ok := strings.Cut(status, " ")
	if !ok || reason == "" || strings.EqualFold(reason, http.StatusText(code)) {
		return ""
	}
	return reason
}
