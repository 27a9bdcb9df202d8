package inspect

import (
	"bytes"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect/diagnose"
	"github.com/oauthproxy/oauthproxy/redact"
	"github.com/oauthproxy/oauthproxy/reqparams"
)

// Bounds on correlation state, so a long-running proxy does not grow.
const (
	maxAuthorizations = 4096
	maxCodes          = 4096
)

// DefaultCodeLifetime is the code age reported as stale when
// Options.CodeLifetime is zero.
const DefaultCodeLifetime = 5 * time.Minute

// Inspector holds what correlation needs across exchanges: discovery
// metadata per issuer, authorize requests (logins) by state, by client and
// by OP host, the codes and tokens they produced, and the code ledger.
type Inspector struct {
	ledger   Ledger
	lifetime time.Duration

	// tokenKeys and tokenPaths come from Options.TokenEndpoints (URLs with
	// and without a host).
	tokenKeys  map[string]bool
	tokenPaths map[string]bool

	mu        sync.Mutex
	issuers   map[string]*metadata
	endpoints map[string]endpointRef
	byState   *fifo[string, *authReq]
	// byClient holds the recent authorize requests per client_id +
	// redirect_uri (the candidates of a guessed link).
	byClient *fifo[string, []*authReq]
	codes    *fifo[string, *codeIssue]
	// redirects holds the host+path of redirect URIs seen in authorize requests.
	redirects *fifo[string, bool]
	trace     tracer
	// scratch is reused for every exchange (inspection holds mu).
	scratch ctx
	// scratchStep is a token step of a trace line waiting for the
	// diagnosis (set by inspect, taken by Inspect).
	scratchStep *traceStep
}

// authReq is a remembered authorize (or PAR) request: the start of a login.
type authReq struct {
	time         time.Time
	flow         string
	issuer       string
	clientID     string
	redirectURI  string
	hasRedirect  bool
	scope        string
	hasScope     bool
	state        string
	nonce        string
	hasNonce     bool
	challenge    string
	method       string
	responseType string
	// indirect is true when parameters may be in a request object or a
	// PAR request_uri we did not see.
	indirect bool

	// Tracing: the login this request started.
	login    string // login id (the authorize exchange's id)
	host     string // lower-case host of the authorize endpoint, no port
	hostport string // endpointKey of the authorize endpoint's host
	status   int    // HTTP status of the authorize response (0: none)
	// statusCause is the diagnosis cause of a failed authorize response,
	// or why it got no answer ("net::ERR_BLOCKED_BY_CLIENT").
	statusCause string
	failed      bool     // 4xx/5xx, upstream error or an error= response: issues no code
	errCode     string   // the error= of the authorization response
	issued      string   // fingerprint of the code seen issued for it
	answered    bool     // an authorization response (redirect, form_post, callback) was seen
	ended       bool     // failed, or its code was sent to a token endpoint
	hops        int      // exchanges on the OP between authorize and the response
	steps       []string // token steps of the trace line
	// issWarned: iss-mismatch was reported; traced: the trace line of a
	// front-channel end was printed.
	issWarned, traced bool
}

// codeIssue is a code seen at a callback (or in an authorize redirect).
type codeIssue struct {
	time time.Time
	flow string
	auth *authReq
}

// New returns an Inspector configured by opts.
func New(opts Options) *Inspector {
	in := &Inspector{
		ledger:     opts.Ledger,
		lifetime:   opts.CodeLifetime,
		tokenKeys:  map[string]bool{},
		tokenPaths: map[string]bool{},
		issuers:    map[string]*metadata{},
		endpoints:  map[string]endpointRef{},
		byState:    newFIFO[string, *authReq](maxAuthorizations),
		byClient:   newFIFO[string, []*authReq](maxAuthorizations),
		codes:      newFIFO[string, *codeIssue](maxCodes),
		redirects:  newFIFO[string, bool](maxAuthorizations),
		trace:      newTracer(),
	}
	if in.ledger == nil {
		in.ledger = NewMemoryLedger()
	}
	if in.lifetime <= 0 {
		in.lifetime = DefaultCodeLifetime
	}
	for _, s := range opts.TokenEndpoints {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Host == "" && u.Path == "") {
			continue
		}
		if u.Host == "" {
			in.tokenPaths[strings.TrimRight(strings.ToLower(u.Path), "/")] = true
			continue
		}
		in.tokenKeys[endpointKey(u.Scheme, u.Hostname(), u.Port(), u.Path)] = true
	}
	return in
}

// IsOAuth reports whether inspection labelled x as part of an OAuth/OIDC
// flow (Inspect must have run).
func IsOAuth(x *flow.Exchange) bool {
	return x != nil && x.OAuth.Label != flow.LabelNone
}

// Handle implements flow.Sink by calling Inspect.
func (in *Inspector) Handle(x *flow.Exchange) { in.Inspect(x) }

// Inspect labels x and fills x.OAuth: Label, GrantType, Issuer, Findings
// (most severe first) and Diagnosis (from diagnose.Diagnose, called for
// labelled or failed exchanges). Exchanges that are not OAuth are left
// without label and findings; deciding that is cheap (no body parsing unless
// the method, path, query or content type make OAuth plausible).
func (in *Inspector) Inspect(x *flow.Exchange) {
	if x == nil {
		return
	}
	x.OAuth = flow.OAuth{}
	success := false
	var step *traceStep
	if x.Request.URL != nil {
		in.mu.Lock()
		success = in.inspect(x)
		step = in.scratchStep
		in.scratchStep = nil
		in.mu.Unlock()
	}
	if len(x.OAuth.Findings) > 1 {
		sort.SliceStable(x.OAuth.Findings, func(i, j int) bool {
			return x.OAuth.Findings[i].Severity.Rank() < x.OAuth.Findings[j].Severity.Rank()
		})
	}
	// A token response that parsed as a success (2xx, a token, no error
	// member) has nothing to diagnose; skipping it keeps the hot path cheap.
	// A login hop (a login page, the OP's redirects) is diagnosed only when
	// it failed.
	// A callback the app did not answer has its own finding (it is not
	// the OAuth server's network).
	if !success && ((x.OAuth.Label != flow.LabelNone && x.OAuth.Label != flow.LabelHop) || x.Failed()) && !x.CallbackUnanswered() {
		x.OAuth.Diagnosis = diagnose.Diagnose(x)
	}
	if step != nil && x.OAuth.Diagnosis != nil {
		// A token step without a finding or error code ("token 403")
		// names the diagnosis instead ("token 403 waf-cloudflare").
		in.mu.Lock()
		step.addCause(x, x.OAuth.Diagnosis.Cause)
		in.mu.Unlock()
	}
}

// ctx is what the checks of one exchange look at.
type ctx struct {
	x        *flow.Exchange
	in       *Inspector
	host     string // lower case, no port
	lpath    string // lower case, no trailing slash
	meta     *metadata
	mtype    string // request media type
	bodyKind string // "form", "json", "multipart", "" (none), "other"

	body, query, all params

	// Token request.
	grant         string
	hasGrant      bool
	docQuery      string // provider documenting GET/query parameters
	grantOptional bool
	code          string // as sent (may be a fingerprint)
	codeFP        string // "" when unusable (absent, or redacted by another tool)
	auth          *authReq
	link          string // how auth was linked: flow.LinkCertain or flow.LinkGuess
	issue         *codeIssue
	priorCode     Use
	codeSeen      bool
	refreshFP     string
	priorRefresh  Use
	refreshSeen   bool
	cred          clientCreds
	resp          *tokenResponse
	jwtList       []responseJWT
	jwtDone       bool

	// Authorize request.
	authz *authReq
}

// inspect does the work of Inspect under the lock. It reports whether x is
// a token exchange whose response is a success.
func (in *Inspector) inspect(x *flow.Exchange) bool {
	u := x.Request.URL
	host := u.Hostname()
	if host == "" {
		host, _, _ = strings.Cut(x.Request.Header.Get("Host"), ":")
	}
	c := &in.scratch
	*c = ctx{x: x, in: in, host: strings.ToLower(host), lpath: strings.TrimRight(strings.ToLower(u.Path), "/")}
	defer func() { *c = ctx{} }() // drop references to x

	if isDiscoveryPath(c.lpath) {
		x.OAuth.Label = flow.LabelDiscovery
		x.OAuth.Issuer = in.learnDiscovery(x)
		return false
	}

	label, issuer, known := in.knownEndpoint(c, u)
	if issuer != "" {
		c.meta = in.issuers[issuer]
	}
	if !known {
		label = in.guess(c)
	}
	if label == flow.LabelNone {
		in.traceOther(c)
		return false
	}
	x.OAuth.Label = label
	x.OAuth.Issuer = issuer
	switch label {
	case flow.LabelAuthorize, flow.LabelPAR:
		in.authorize(c)
	case flow.LabelCallback:
		in.callback(c)
	case flow.LabelToken:
		in.token(c)
		return c.resp != nil && c.resp.ok
	case flow.LabelUserinfo:
		in.joinByToken(c)
	}
	return false
}

// knownEndpoint looks x up among learned and configured endpoints.
func (in *Inspector) knownEndpoint(c *ctx, u *url.URL) (flow.Label, string, bool) {
	if len(in.endpoints) == 0 && len(in.tokenKeys) == 0 && len(in.tokenPaths) == 0 {
		return flow.LabelNone, "", false
	}
	key := endpointKey(u.Scheme, c.host, u.Port(), c.lpath)
	if e, ok := in.endpoints[key]; ok {
		return e.label, e.issuer, true
	}
	if in.tokenKeys[key] || in.tokenPaths[c.lpath] {
		return flow.LabelToken, "", true
	}
	return flow.LabelNone, "", false
}

// Plausibility markers looked for before any parsing.
var (
	markGrantType    = []byte("grant_type")
	markResponseType = []byte("response_type")
	markClientID     = []byte("client_id")
	markToken        = []byte("token")
)

// guess applies the heuristics to an exchange at an endpoint we have not
// learned. It parses the query and body only when they can be OAuth.
func (in *Inspector) guess(c *ctx) flow.Label {
	x := c.x
	rq := x.Request.URL.RawQuery
	if rq != "" && (strings.Contains(rq, "response_type") || strings.Contains(rq, "code=") || strings.Contains(rq, "error=") || strings.Contains(rq, "grant_type")) {
		c.query = parseForm(rq)
	}
	tokenPath := isTokenPath(c.lpath)
	post := x.Request.Method == "POST"
	data := x.Request.Body.Data
	if post && len(data) > 0 {
		c.mtype = mediaType(x.Request.Header.Get("Content-Type"))
		switch {
		case c.mtype == "application/x-www-form-urlencoded":
			if bytes.Contains(data, markGrantType) || bytes.Contains(data, markResponseType) || bytes.Contains(data, markClientID) || bytes.Contains(data, markToken) || tokenPath || in.redirectTarget(c) {
				c.parseBody()
			}
		case tokenPath && bytes.Contains(data, markGrantType):
			c.parseBody()
		}
	}

	switch {
	case c.body.has("grant_type"):
		return flow.LabelToken
	case c.query.has("grant_type") && tokenPath:
		return flow.LabelToken
	case c.query.has("response_type") && c.query.has("client_id"):
		return flow.LabelAuthorize
	case c.body.has("response_type") && c.body.has("client_id"):
		if strings.Contains(c.lpath, "par") || strings.Contains(c.lpath, "pushed") {
			return flow.LabelPAR
		}
		return flow.LabelAuthorize
	case tokenPath && post && c.bodyKind == "form" && tokenLike(c.body):
		return flow.LabelToken
	case c.isCallback():
		return flow.LabelCallback
	}
	if post && c.bodyKind == "form" {
		switch {
		case c.body.has("token") && (strings.HasSuffix(c.lpath, "/introspect") || strings.HasSuffix(c.lpath, "/introspection") || strings.HasSuffix(c.lpath, "/token/introspect")):
			return flow.LabelIntrospect
		case c.body.has("token") && (strings.HasSuffix(c.lpath, "/revoke") || strings.HasSuffix(c.lpath, "/revocation")):
			return flow.LabelRevoke
		case c.body.has("client_id") && isDevicePath(c.lpath):
			return flow.LabelDevice
		}
	}
	switch {
	case lastSegment(c.lpath) == "userinfo" && hasBearer(x):
		return flow.LabelUserinfo
	case isJWKSPath(c.lpath) && x.Response != nil && bytes.Contains(x.Response.Body.Data, []byte(`"keys"`)):
		return flow.LabelJWKS
	}
	return flow.LabelNone
}

// tokenLike reports whether a form without grant_type still carries the
// parameters of a token request (a one-time "code" alone is not enough: a
// 2FA form posts that too).
func tokenLike(p params) bool {
	return p.has("refresh_token") || p.has("code_verifier") || p.has("client_assertion") ||
		(p.has("code") && (p.has("client_id") || p.has("redirect_uri"))) ||
		(p.has("client_id") && p.has("client_secret"))
}

// parseBody parses the request body by its media type.
func (c *ctx) parseBody() {
	if c.bodyKind != "" {
		return
	}
	if c.mtype == "" {
		c.mtype = mediaType(c.x.Request.Header.Get("Content-Type"))
	}
	// Read with the tree's one parameter parser: a token request's secret
	// in a JSON body is the same secret to inspection, diagnosis and redaction.
	b := reqparams.ParseBody(c.x.Request.Header.Get("Content-Type"), c.x.Request.Body.Data)
	c.bodyKind = string(b.Kind) // a form without a form Content-Type stays "other"
	c.body = params(b.Params)
}

// redirectTarget reports whether the request goes to a remembered redirect
// URI (a form_post callback).
func (in *Inspector) redirectTarget(c *ctx) bool {
	_, ok := in.redirects.get(c.host + c.lpath)
	return ok
}

// isCallback reports whether the request carries an authorization
// response. Parameter names alone are weak evidence (an address form has
// "code" and "state"), so it also wants a remembered state or redirect URI,
// an OAuth-only parameter (iss, session_state, id_token, error_description),
// or opaque-looking values.
func (c *ctx) isCallback() bool {
	p := c.query
	if c.bodyKind == "form" && (c.body.has("state") || c.body.has("code")) && !c.body.has("grant_type") {
		p = c.body // response_mode=form_post
	}
	if p == nil {
		return false
	}
	code, hasCode := p.get("code")
	state, hasState := p.get("state")
	_, hasErr := p.get("error")
	if !hasCode && !hasErr {
		return false
	}
	if hasState {
		if _, ok := c.in.byState.get(state); ok {
			return true
		}
	}
	if c.in.redirectTarget(c) || p.has("iss") || p.has("session_state") || p.has("id_token") || p.has("error_description") {
		return hasState || p.has("iss")
	}
	if hasCode {
		return hasState && len(code) >= 8 && len(state) >= 8
	}
	return hasState && len(state) >= 8
}

var devicePathSuffixes = []string{"/device/code", "/devicecode", "/device_authorization", "/device/authorize", "/auth/device", "/oauth/device/code", "/login/device/code"}

func isDevicePath(lpath string) bool {
	for _, s := range devicePathSuffixes {
		if strings.HasSuffix(lpath, s) {
			return true
		}
	}
	return false
}

var jwksPathSuffixes = []string{"/jwks", "/jwks.json", "/certs", "/keys", "/.well-known/jwks"}

func isJWKSPath(lpath string) bool {
	for _, s := range jwksPathSuffixes {
		if strings.HasSuffix(lpath, s) {
			return true
		}
	}
	return false
}

func hasBearer(x *flow.Exchange) bool {
	a := x.Request.Header.Get("Authorization")
	return len(a) > 7 && strings.EqualFold(a[:7], "bearer ") || strings.HasPrefix(strings.ToLower(a), "dpop ")
}

// fingerprint returns the fingerprint of a single-use credential, or "" when
// it is absent or was redacted by another tool (then nothing can be said).
func fingerprint(v string) string {
	if v == "" || (redacted(v) && !redact.IsFingerprint(v)) {
		return ""
	}
	return redact.Fingerprint(v)
}

// redacted is redact.IsRedacted with a fast path: every redaction marker
// starts with one of a few characters, so most real values are rejected
// without lower-casing them.
func redacted(v string) bool {
	t := strings.TrimLeft(v, " \t\r\n")
	if t == "" {
		return false
	}
	switch t[0] {
	case 'r', 'R', '[', '<', '(', '*', 'x', 'X', '_', 'm', 'M':
		return redact.IsRedacted(v)
	}
	return false
}

// short displays a secret as a short fingerprint.
func short(v string) string {
	return redact.Short(redact.Fingerprint(v))
}

// shortID returns the first 8 characters of a flow id.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	if id == "" {
		return "(no id)"
	}
	return id
}

// fifo is a map bounded by evicting the oldest insertions, and by age
// when entries are put with a time (putAt) and expire is called.
type fifo[K comparable, V any] struct {
	m    map[K]V
	keys []fifoKey[K]
	max  int
	// evicted counts entries dropped by the count bound.
	evicted int
}

// fifoKey is a key in insertion order with the time it was put (zero: no age).
type fifoKey[K comparable] struct {
	k K
	t time.Time
}

func newFIFO[K comparable, V any](max int) *fifo[K, V] {
	return &fifo[K, V]{m: map[K]V{}, max: max}
}

func (f *fifo[K, V]) get(k K) (V, bool) {
	v, ok := f.m[k]
	return v, ok
}

func (f *fifo[K, V]) put(k K, v V) { f.putAt(k, v, time.Time{}) }

// putAt stores v under k; t is used by expire (first insertion counts).
func (f *fifo[K, V]) putAt(k K, v V, t time.Time) {
	if _, ok := f.m[k]; !ok {
		f.keys = append(f.keys, fifoKey[K]{k, t})
		for len(f.keys) > f.max {
			delete(f.m, f.keys[0].k)
			f.keys = f.keys[1:]
			f.evicted++
		}
	}
	f.m[k] = v
}

// expire drops the oldest entries put before cutoff (entries without a
// time, and everything after the first newer entry, stay).
func (f *fifo[K, V]) expire(cutoff time.Time) {
	for len(f.keys) > 0 && !f.keys[0].t.IsZero() && f.keys[0].t.Before(cutoff) {
		delete(f.m, f.keys[0].k)
		f.keys = f.keys[1:]
	}
}

func (f *fifo[K, V]) len() int { return len(f.m) }
