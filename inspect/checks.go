package inspect

import "github.com/oauthproxy/oauthproxy/flow"

// Finding ids. They are stable: tools and people grep for them, and
// docs/findings.md has one section per id.
const (
	// Token request shape.
	IDMethod         = "method"
	IDContentType    = "content-type"
	IDParamDup       = "param-duplicated"
	IDParamsInQuery  = "params-in-query"
	IDGrantMissing   = "grant-type-missing"
	IDGrantUnknown   = "grant-type-unknown"
	IDGrantUnsupport = "grant-type-unsupported"
	IDCodeMissing    = "code-missing"

	// Correlation with the authorize request and the code ledger.
	IDRedirectMissing  = "redirect-uri-missing"
	IDRedirectMismatch = "redirect-uri-mismatch"
	IDClientIDMismatch = "client-id-mismatch"
	IDCodeReused       = "code-reused"
	IDCodeStale        = "code-stale"
	IDRefreshReused    = "refresh-token-reused"

	// PKCE.
	IDPKCEVerifierMissing = "pkce-verifier-missing"
	IDPKCEMismatch        = "pkce-mismatch"
	IDPKCEVerifierInvalid = "pkce-verifier-invalid"
	IDPKCEUnexpected      = "pkce-unexpected-verifier"
	IDPKCEMethod          = "pkce-method-unsupported"

	// Client authentication.
	IDClientAuthMultiple    = "client-auth-multiple"
	IDClientAuthEncoding    = "client-auth-encoding"
	IDClientAuthUnsupported = "client-auth-unsupported"
	IDSecretWhitespace      = "secret-whitespace"

	// Token response.
	IDJWTMalformed  = "jwt-malformed"
	IDIDTokenAud    = "id-token-aud"
	IDNonceMismatch = "nonce-mismatch"
	IDClockSkew     = "clock-skew"
	IDScopeNarrowed = "scope-narrowed"

	// Login tracing (authorization responses, token-only mode).
	IDIssMismatch     = "iss-mismatch"
	IDStateUnknown    = "state-unknown"
	IDAuthorizeUnseen = "authorize-unseen"
	IDRedirectChanged = "redirect-uri-changed"
	IDVerifierReused  = "pkce-verifier-reused"
	// IDCallbackUnanswered: the request to the redirect URI got no answer.
	IDCallbackUnanswered = "callback-unanswered"
)

// phase says which exchange a check looks at.
type phase int

const (
	phaseAuthorize phase = iota // an authorize (or PAR) request
	phaseToken                  // a token request
	phaseResponse               // a token response
	phaseTrace                  // reported by login tracing, not run from the table
)

// check is one small named rule. run reports through r; it must not
// retain ctx.
type check struct {
	id       string
	severity flow.Severity
	category flow.Category
	// summary says in one line what the finding means (docs, --help).
	summary string
	// fix is the default fix text when the check does not give a specific one.
	fix   string
	phase phase
	run   func(c *ctx, r report)
}

// checks is the table every finding comes from, in reporting order (before
// sorting by severity). docs/findings.md documents each id; a test walks this
// table to keep the two in sync.
var checks = []*check{
	{IDMethod, flow.SeverityError, flow.CategoryRequest,
		"The token request does not use POST (RFC 6749 §3.2).",
		"Send the token request as POST with the parameters in an application/x-www-form-urlencoded body.",
		phaseToken, checkMethod},
	{IDContentType, flow.SeverityError, flow.CategoryRequest,
		"The token request body is not application/x-www-form-urlencoded (RFC 6749 §4.1.3).",
		"Send Content-Type: application/x-www-form-urlencoded and encode the parameters as a form (url.Values{...}.Encode() in Go, URLSearchParams in JS), not JSON or multipart.",
		phaseToken, checkContentType},
	{IDParamDup, flow.SeverityError, flow.CategoryRequest,
		"A parameter is sent more than once (RFC 6749 §3.2: parameters MUST NOT be included more than once).",
		"Send every parameter exactly once, in the body; do not repeat it in the query string.",
		phaseToken, checkParamDup},
	{IDParamsInQuery, flow.SeverityWarn, flow.CategoryRequest,
		"Credentials or the code travel in the URL query, where logs, proxies and browser history keep them.",
		"Move client_secret, code, code_verifier, refresh_token and assertions into the POST body.",
		phaseToken, checkParamsInQuery},
	{IDGrantMissing, flow.SeverityError, flow.CategoryRequest,
		"The token request has no grant_type (RFC 6749 §4.1.3: REQUIRED).",
		"Add grant_type (authorization_code, refresh_token, client_credentials, ...).",
		phaseToken, checkGrantMissing},
	{IDGrantUnknown, flow.SeverityError, flow.CategoryRequest,
		"grant_type is not a registered grant type nor a known provider-specific one (often a typo).",
		"Use the exact registered value (lower case, underscores; extension grants are full URIs such as urn:ietf:params:oauth:grant-type:device_code).",
		phaseToken, checkGrantUnknown},
	{IDGrantUnsupport, flow.SeverityError, flow.CategoryClientConfig,
		"grant_type is not in the issuer's grant_types_supported (from its discovery document).",
		"Use a grant the server supports, or enable this grant for the client/server in the provider's console.",
		phaseToken, checkGrantUnsupported},
	{IDCodeMissing, flow.SeverityError, flow.CategoryRequest,
		"grant_type=authorization_code without a code parameter.",
		"Send the code received at the redirect URI as the code parameter.",
		phaseToken, checkCodeMissing},
	{IDRedirectMissing, flow.SeverityError, flow.CategoryClientConfig,
		"The authorize request had a redirect_uri but the token request has none (RFC 6749 §4.1.3: REQUIRED if it was included).",
		"Send the same redirect_uri in the token request, byte for byte as in the authorize request.",
		phaseToken, checkRedirectMissing},
	{IDRedirectMismatch, flow.SeverityError, flow.CategoryClientConfig,
		"The token request's redirect_uri differs from the authorize request's (RFC 6749 §4.1.3: must be identical).",
		"Use one constant for the redirect URI and send it unchanged in both requests (same scheme, host, port, path, trailing slash and encoding).",
		phaseToken, checkRedirectMismatch},
	{IDClientIDMismatch, flow.SeverityError, flow.CategoryClientConfig,
		"The token request's client differs from the client the code was issued to.",
		"Exchange the code with the same client_id (and its secret) that started the authorize request.",
		phaseToken, checkClientIDMismatch},
	{IDCodeReused, flow.SeverityError, flow.CategoryGrant,
		"This authorization code was already sent to a token endpoint; codes are single-use (RFC 6749 §4.1.2, §10.5).",
		"Redeem each code exactly once: do not retry a token request after a timeout or error, guard against double callbacks (page reloads, two tabs, a prefetching proxy), and start a new authorization to get a new code.",
		phaseToken, checkCodeReused},
	{IDCodeStale, flow.SeverityWarn, flow.CategoryGrant,
		"The code was exchanged later than the code lifetime after it was issued.",
		"Exchange the code immediately in the callback handler; look for slow work, breakpoints or a queue between callback and token request. Start a new authorization.",
		phaseToken, checkCodeStale},
	{IDRefreshReused, flow.SeverityError, flow.CategoryGrant,
		"A refresh token is used again after a successful use rotated it (RFC 9700 §4.14.2).",
		"Store the new refresh_token from every refresh response and use it next time; serialise refreshes so two workers do not refresh with the same token.",
		phaseToken, checkRefreshReused},
	{IDPKCEVerifierMissing, flow.SeverityError, flow.CategoryClientConfig,
		"The authorize request sent a code_challenge but the token request has no code_verifier (RFC 7636 §4.5).",
		"Keep the code_verifier generated for the authorize request (in the session, keyed by state) and send it as code_verifier.",
		phaseToken, checkPKCEVerifierMissing},
	{IDPKCEVerifierInvalid, flow.SeverityError, flow.CategoryClientConfig,
		"The code_verifier is not 43–128 characters of [A-Z a-z 0-9 - . _ ~] (RFC 7636 §4.1).",
		"Generate 32 random bytes and base64url-encode them without padding (43 characters).",
		phaseToken, checkPKCEVerifierInvalid},
	{IDPKCEMismatch, flow.SeverityError, flow.CategoryClientConfig,
		"BASE64URL(SHA256(code_verifier)) (or the plain verifier) does not equal the code_challenge of the authorize request (RFC 7636 §4.6).",
		"Send the verifier generated together with this authorize request's challenge; compute the challenge as base64url (no padding) of the raw SHA-256 digest.",
		phaseToken, checkPKCEMismatch},
	{IDPKCEUnexpected, flow.SeverityWarn, flow.CategoryClientConfig,
		"A code_verifier is sent but the authorize request had no code_challenge; servers must reject this (RFC 9700 §2.1.1).",
		"Send the code_challenge in the authorize request, or drop code_verifier from the token request.",
		phaseToken, checkPKCEUnexpected},
	{IDPKCEMethod, flow.SeverityError, flow.CategoryClientConfig,
		"The authorize request's code_challenge_method is not in the issuer's code_challenge_methods_supported.",
		"Use code_challenge_method=S256 (and always send the method explicitly: it defaults to plain).",
		phaseAuthorize, checkPKCEMethod},
	{IDClientAuthMultiple, flow.SeverityError, flow.CategoryRequest,
		"The client authenticates in more than one way in the same request (RFC 6749 §2.3: MUST NOT use more than one method).",
		"Use exactly one method, the one registered for the client (token_endpoint_auth_method): either Authorization: Basic, or client_secret in the body, or client_assertion.",
		phaseToken, checkClientAuthMultiple},
	{IDClientAuthEncoding, flow.SeverityWarn, flow.CategoryClientConfig,
		"The Basic credentials were not form-urlencoded before base64 (RFC 6749 §2.3.1), or the Basic value is malformed.",
		"Form-urlencode client_id and client_secret before joining them with ':' and base64-encoding (url.QueryEscape in Go), or switch to client_secret_post.",
		phaseToken, checkClientAuthEncoding},
	{IDClientAuthUnsupported, flow.SeverityError, flow.CategoryClientConfig,
		"The client authentication method is not in the issuer's token_endpoint_auth_methods_supported.",
		"Authenticate with a method the server lists, and the one registered for the client.",
		phaseToken, checkClientAuthUnsupported},
	{IDSecretWhitespace, flow.SeverityError, flow.CategoryClientConfig,
		"client_secret or client_id has leading/trailing whitespace or a line break (typically copied from a file or `echo` without -n).",
		"Trim the value where it is loaded (env var, secret file, config) and check the secret store for a trailing newline.",
		phaseToken, checkSecretWhitespace},
	{IDJWTMalformed, flow.SeverityInfo, flow.CategoryServer,
		"A token in the response looks like a JWT but its header or claims cannot be decoded.",
		"Check that the token is not truncated or altered on the way (proxy, logging, copy/paste); ask the provider if it persists.",
		phaseResponse, checkJWTMalformed},
	{IDIDTokenAud, flow.SeverityError, flow.CategoryClientConfig,
		"The id_token's aud does not contain the client_id that asked for it (OIDC Core §3.1.3.7).",
		"Check the client_id the app validates against, and that the token comes from the intended issuer/tenant.",
		phaseResponse, checkIDTokenAud},
	{IDNonceMismatch, flow.SeverityError, flow.CategoryGrant,
		"The id_token's nonce differs from (or lacks) the nonce of the authorize request (OIDC Core §3.1.3.7).",
		"Keep the nonce per authorize request (keyed by state), not per user or app; a mismatch also happens when two logins run in parallel in one session.",
		phaseResponse, checkNonceMismatch},
	{IDClockSkew, flow.SeverityWarn, flow.CategoryClientConfig,
		"The token's iat/exp or the server's Date header disagree with this machine's clock by more than a minute.",
		"Synchronise clocks (NTP) on the client and server; allow a small leeway (60 s) when validating iat/nbf/exp.",
		phaseResponse, checkClockSkew},
	{IDScopeNarrowed, flow.SeverityWarn, flow.CategoryPermission,
		"The server granted fewer scopes than requested (RFC 6749 §3.3).",
		"Check consent, the scopes allowed for the client in the provider's console, and admin policies; handle a narrower grant in the app.",
		phaseResponse, checkScopeNarrowed},
	{IDIssMismatch, flow.SeverityError, flow.CategoryClientConfig,
		"The authorization response's iss (RFC 9207) is not the issuer the authorize request was sent to: a mix-up of authorization servers.",
		"Check iss against the issuer the login was started with and reject a mismatch; with several authorization servers, use a distinct redirect URI per server and keep the issuer with the state.",
		phaseTrace, nil},
	{IDStateUnknown, flow.SeverityWarn, flow.CategoryClientConfig,
		"An authorization response (a redirect to the redirect URI, a form_post, a callback) carries a state no authorize request seen through the proxy sent.",
		"Keep the state in the session of the browser that started the login (check the session cookie survives the redirect: SameSite=Lax, same host name); start one login per tab; make sure the authorize request goes through the proxy too.",
		phaseTrace, nil},
	{IDAuthorizeUnseen, flow.SeverityInfo, flow.CategoryInfo,
		"A client's token request arrived but none of its authorize requests went through the proxy (reported once per client): redirect_uri, PKCE, state and nonce cannot be compared.",
		"Run the login through the proxy: `oauthproxy browser URL` starts a browser that uses it, so the authorize request, the login hops and the callback are seen too.",
		phaseTrace, nil},
	{IDRedirectChanged, flow.SeverityWarn, flow.CategoryClientConfig,
		"A failed token request's redirect_uri differs from the one of the same client's last successful token exchange at that endpoint (authorize leg not seen).",
		"Send the redirect_uri of the authorize request, byte for byte; compare with the value that worked before (shown) and keep it in one constant.",
		phaseTrace, nil},
	{IDVerifierReused, flow.SeverityWarn, flow.CategoryClientConfig,
		"The same code_verifier is sent with different codes: PKCE needs a fresh verifier per authorize request (RFC 7636 §4.1).",
		"Generate a new code_verifier for every authorize request and keep it with that request's state; do not store one verifier per app or user.",
		phaseTrace, nil},
	{IDCallbackUnanswered, flow.SeverityInfo, flow.CategoryClientConfig,
		"The authorization server issued its response, but the browser's request to the redirect URI got no answer (connection refused, name not resolved...): the app did not receive the code.",
		"Start the app's listener before the login and keep it running until the callback arrives (a loopback redirect URI: the exact port registered; RFC 8252 §7.3); check the redirect URI's host and port are the app's.",
		phaseTrace, nil},
}

// checkByID finds a check of the table by id.
var checkByID = func() map[string]*check {
	m := make(map[string]*check, len(checks))
	for _, c := range checks {
		m[c.id] = c
	}
	return m
}()

// guessPrefix starts the message of a finding that rests on a guessed link.
const guessPrefix = "likely (the authorize request was linked by client_id and redirect_uri only, a guess): "

// correlated are the checks that compare the token request with its
// authorize request: on a guessed link they stay at info and say "likely".
var correlated = map[string]bool{
	IDRedirectMissing: true, IDRedirectMismatch: true, IDClientIDMismatch: true,
	IDPKCEVerifierMissing: true, IDPKCEMismatch: true, IDPKCEUnexpected: true, IDNonceMismatch: true,
}

// CheckInfo describes one check for documentation and help output.
type CheckInfo struct {
	ID       string
	Severity flow.Severity
	Category flow.Category
	Summary  string
	Fix      string
}

// Checks returns the checks the inspector runs, in table order. Every
// finding id Inspect can emit is among them.
func Checks() []CheckInfo {
	out := make([]CheckInfo, len(checks))
	for i, c := range checks {
		out[i] = CheckInfo{ID: c.id, Severity: c.severity, Category: c.category, Summary: c.summary, Fix: c.fix}
	}
	return out
}

// report collects the findings of one check.
type report struct {
	c   *check
	out *[]flow.Finding
	// guess is true when the authorize request was linked by a guess.
	guess bool
}

// add reports a finding with the check's severity; an empty fix means the
// check's default fix.
func (r report) add(msg, fix string) { r.addSev(r.c.severity, msg, fix) }

// addSev reports a finding with an explicit severity.
func (r report) addSev(sev flow.Severity, msg, fix string) {
	if fix == "" {
		fix = r.c.fix
	}
	if r.guess && correlated[r.c.id] && sev != flow.SeverityInfo {
		sev = flow.SeverityInfo
		msg = guessPrefix + msg
	}
	*r.out = append(*r.out, flow.Finding{ID: r.c.id, Severity: sev, Category: r.c.category, Message: msg, Fix: fix})
}

// runChecks runs the checks of phase p over c.
func runChecks(p phase, c *ctx, out *[]flow.Finding) {
	for _, ch := range checks {
		if ch.phase == p && ch.run != nil {
			ch.run(c, report{c: ch, out: out, guess: c.link == flow.LinkGuess})
		}
	}
}
