package diagnose

import "github.com/oauthproxy/oauthproxy/flow"

// Cause ids. They are stable: logs, captures and scripts may depend on
// them. Each one is documented under its own heading in docs/diagnoses.md.
const (
	// request: the request itself is malformed.
	CauseInvalidRequest       = "invalid-request"
	CauseClientAuthMultiple   = "client-auth-multiple"
	CauseGrantTypeUnsupported = "grant-type-unsupported"
	CauseContentTypeWrong     = "content-type-wrong"
	CauseTokenMissing         = "token-missing"
	CauseResponseTypeUnknown  = "response-type-unsupported"
	CauseRequestObjectInvalid = "request-object-invalid"

	// fallbacks: the category depends on the case.
	CauseUnrecognizedError = "unrecognized-error"

	// client-config: the client's registration or configuration.
	CauseEndpointNotFound      = "endpoint-not-found"
	CauseInvalidClient         = "invalid-client"
	CauseInvalidClientSecret   = "invalid-client-secret"
	CauseClientNotFound        = "client-not-found"
	CauseClientAuthMethodWrong = "client-auth-method-wrong"
	CauseClientAuthMissing     = "client-auth-missing"
	CauseAppPlatformMismatch   = "app-platform-mismatch"
	CauseRedirectURIMismatch   = "redirect-uri-mismatch"
	CauseGrantTypeNotEnabled   = "grant-type-not-enabled"
	CauseInvalidScope          = "invalid-scope"
	CausePKCEMismatch          = "pkce-mismatch"
	CausePKCERequired          = "pkce-required"
	CauseDPoPProofInvalid      = "dpop-proof-invalid"
	CauseCertBoundMismatch     = "cert-bound-token-mismatch"
	CauseAssertionInvalid      = "jwt-assertion-invalid"
	CauseSignatureInvalid      = "request-signature-invalid"
	CauseEmbeddedWebview       = "embedded-webview-blocked"
	CauseGatewayRouteNotFound  = "gateway-route-not-found"
	CauseAPIKeyInvalid         = "api-key-invalid"

	// grant: the code or token itself; restart the flow.
	CauseInvalidGrant        = "invalid-grant"
	CauseCodeReused          = "code-reused"
	CauseCodeExpired         = "code-expired"
	CauseCodeInvalid         = "code-invalid"
	CauseRefreshTokenInvalid = "refresh-token-invalid"
	CauseRefreshTokenReused  = "refresh-token-reused"
	CauseDeviceCodeExpired   = "device-code-expired"
	CauseAccessTokenInvalid  = "access-token-invalid"
	CauseUserCredentials     = "user-credentials-invalid"
	CauseInteractionRequired = "interaction-required"

	// permission: an administrator has to allow it.
	CauseAccessDenied       = "access-denied"
	CauseAppNotLive         = "app-not-live"
	CauseAppUnavailable     = "app-unavailable"
	CauseConsentRequired    = "consent-required"
	CauseAppRoleNotAssigned = "app-role-not-assigned"
	CauseOrgPolicy          = "org-policy"
	CauseConditionalAccess  = "conditional-access"
	CauseUserNotInTenant    = "user-not-in-tenant"
	CauseScopeNotAuthorized = "scope-not-authorized"
	CauseInsufficientScope  = "insufficient-scope"
	CauseMFARequired        = "mfa-required"
	CauseUserLoginDenied    = "user-login-denied"
	CauseGatewayPolicyDeny  = "gateway-policy-deny"
	CausePermissionDenied   = "permission-denied"

	// network: stopped before the OAuth server.
	CauseNotFromOAuthServer  = "not-from-oauth-server"
	CauseUpstreamUnreachable = "upstream-unreachable"
	CauseUpstreamTLS         = "upstream-tls"
	CauseUpstreamDNS         = "upstream-dns"
	CauseBrowserBlocked      = "browser-blocked"
	CauseIPNotAllowlisted    = "ip-not-allowlisted"
	CauseGeoBlocked          = "geo-blocked"
	CauseWAFCloudflare       = "waf-cloudflare"
	CauseBotChallenge        = "bot-challenge"
	CauseCDNSNIMismatch      = "cdn-sni-mismatch"
	CauseWAFAWS              = "waf-aws"
	CauseWAFAkamai           = "waf-akamai"
	CauseWAFImperva          = "waf-imperva"
	CauseWAFF5               = "waf-f5"
	CauseWAFAzure            = "waf-azure"
	CauseWAFCloudArmor       = "waf-cloud-armor"
	CauseWAFModSecurity      = "waf-modsecurity"
	CauseReverseProxyBlock   = "reverse-proxy-block"
	CauseCorporateProxy      = "corporate-proxy"
	CauseNetworkBlock        = "network-block"

	// server: the provider failed or throttled.
	CauseServerError       = "server-error"
	CauseServerUnavailable = "server-unavailable"
	CauseRateLimited       = "rate-limited"

	// info: not a failure.
	CauseAuthorizationPending = "authorization-pending"
	CauseSlowDown             = "slow-down"
	CauseDPoPNonceRequired    = "dpop-nonce-required"
	CauseRefusalUnexplained   = "refusal-unexplained"
)

// Cause documents one cause id: its category, what it means and the fix
// steps every diagnosis with this cause carries (rules may add their own,
// more specific steps in front).
type Cause struct {
	ID       string
	Category flow.Category
	// Title is a one-line name.
	Title string
	// Meaning says what happened and who has to act.
	Meaning string
	// Fix lists the generic fix steps.
	Fix []string
	// Source is the standard or vendor documentation behind the cause.
	Source string
}

// Common fix steps, shared by several causes.
const (
	fixRestart      = "After changing any configuration, restart the whole authorization flow (new authorize request, new code); do not retry the token request with the old code."
	fixCompare      = "If it works from one machine but not another (laptop vs server), capture both and compare them: `oauthproxy diff laptop.har server.har`."
	fixExact        = "Compare character by character with the registration: scheme, host, port, path, case and trailing slash all count."
	fixCheckClient  = "Check client_id, client_secret and the token endpoint URL exactly as registered (no whitespace, quotes or braces; the right tenant/realm/environment)."
	fixAllowlist    = "Add the server's egress IP (and the callback domain) to the provider's or gateway's allowlist; behind NAT, a proxy or a serverless platform find the real egress IP first."
	fixBlockLogs    = "Ask the owner of the WAF/reverse proxy to look up the block in its logs (by the request or correlation id quoted in the evidence) and add an exclusion for the OAuth endpoint or parameter that triggered it."
	fixNotOAuth     = "The body is not an OAuth error, so the request probably never reached the authorization server: check the URL, DNS and proxy settings, and what sits in front of the server."
	fixRetryBackoff = "Retry later with exponential backoff; honour Retry-After if present."
)

// causes is the catalogue of every cause id.
var causes = []Cause{
	// request
	{CauseInvalidRequest, flow.CategoryRequest, "Malformed request",
		"The server rejected the request as malformed: a required parameter is missing, a parameter is repeated or has an unsupported value, or the body is not application/x-www-form-urlencoded.",
		[]string{"Send the token request as POST with Content-Type: application/x-www-form-urlencoded.", "Send each required parameter (grant_type, code, redirect_uri, code_verifier, client_id...) exactly once.", "Read error_description: it usually names the offending parameter."},
		"RFC 6749 §5.2 (invalid_request); RFC 6750 §3.1"},
	{CauseClientAuthMultiple, flow.CategoryRequest, "More than one client authentication method",
		"The client authenticated in more than one way in one request (Authorization: Basic and client_secret in the body, or a secret and a client_assertion). RFC 6749 §2.3 forbids it; some servers reject it (Okta, Feishu 20070).",
		[]string{"Use exactly one method: the one registered for the client (token_endpoint_auth_method).", "Remove client_secret from the body when sending Authorization: Basic (or the reverse)."},
		"RFC 6749 §2.3 and §5.2; Okta (CleanSpeak/cleanspeak-issues#57)"},
	{CauseGrantTypeUnsupported, flow.CategoryRequest, "Grant type not supported by the server",
		"The authorization server does not support the grant_type sent at all (typo, or a grant the server never implements, e.g. password on a modern server).",
		[]string{"Check grant_type for typos and compare with grant_types_supported in the discovery document.", "Use a grant the server supports (authorization_code with PKCE, client_credentials, refresh_token, device_code)."},
		"RFC 6749 §5.2 (unsupported_grant_type); RFC 8414 §2"},
	{CauseContentTypeWrong, flow.CategoryRequest, "Wrong request Content-Type",
		"The token request body was not sent as application/x-www-form-urlencoded (often JSON), so the server saw no parameters.",
		[]string{"Send the token request body as application/x-www-form-urlencoded, not JSON."},
		"RFC 6749 §4.1.3, §3.2"},
	{CauseTokenMissing, flow.CategoryRequest, "No usable access token sent",
		"A resource server answered 401 with a Bearer/DPoP challenge and no error code: the request carried no access token it could use (none sent, wrong scheme, or the header was dropped on the way).",
		[]string{"Send the access token as `Authorization: Bearer <token>` (or `DPoP <token>` with a DPoP proof for DPoP-bound tokens).", "Check that no proxy or redirect dropped the Authorization header (it is removed on cross-host redirects)."},
		"RFC 6750 §3 and §3.1; RFC 9449 §7.1"},
	{CauseResponseTypeUnknown, flow.CategoryRequest, "Response type not supported",
		"The authorization server does not support the response_type requested, or it is not enabled for the client (e.g. implicit flow disabled).",
		[]string{"Use response_type=code (authorization code with PKCE).", "Compare with response_types_supported in the discovery document and the client's allowed flows."},
		"RFC 6749 §4.1.2.1 (unsupported_response_type)"},
	{CauseRequestObjectInvalid, flow.CategoryRequest, "Request object / request_uri rejected",
		"A JAR request object or a PAR request_uri was invalid, expired or not supported.",
		[]string{"Check the request object signature, aud, exp and client_id; push a new PAR request for each authorize redirect (request_uri is single-use and short-lived)."},
		"OpenID Connect Core 1.0 §3.1.2.6; RFC 9101; RFC 9126"},
	{CauseUnrecognizedError, "", "Unrecognised error",
		"The response is an error, but no rule recognises it. The category is a guess from the status code (400 request, 401 client-config, 403 permission) and the confidence is low.",
		[]string{"Read the quoted evidence (error, error_description, provider code) and the provider's error reference.", fixCompare},
		"RFC 6749 §5.2"},
	{CauseNotFromOAuthServer, flow.CategoryNetwork, "Response did not come from the OAuth server",
		"An OAuth endpoint answered with an HTML page, an empty body or JSON without an `error` member. Token endpoints answer errors with JSON `error` objects, so something in between (WAF, CDN, gateway, proxy, load balancer) most likely answered instead.",
		[]string{fixNotOAuth, fixBlockLogs, fixCompare},
		"RFC 6749 §5.1, §5.2"},
	{CauseEndpointNotFound, flow.CategoryClientConfig, "Endpoint URL wrong",
		"The OAuth endpoint answered 404/405 without an OAuth error: the URL (issuer, tenant, realm, path, stage) or the HTTP method is wrong.",
		[]string{"Take the endpoint URLs from the discovery document (/.well-known/openid-configuration) instead of building them by hand.", "Check the tenant/realm/issuer part of the URL and use POST for the token endpoint."},
		"RFC 8414 §3; OpenID Connect Discovery 1.0 §4"},
	{CauseUpstreamUnreachable, flow.CategoryNetwork, "OAuth server unreachable",
		"No response came back: the connection was refused, reset or timed out. A firewall, a missing egress rule, a proxy requirement or an outage.",
		[]string{"Check that this machine can reach the host and port (egress firewall, security groups, required HTTP proxy).", fixCompare},
		"oauthproxy: upstream error"},
	{CauseUpstreamTLS, flow.CategoryNetwork, "TLS failure towards the OAuth server",
		"The TLS handshake with the server failed: untrusted or expired certificate, a TLS-intercepting corporate proxy, or mTLS (RFC 8705) client certificates that cannot pass through interception.",
		[]string{"Check the certificate chain the server presents (a corporate proxy's CA means TLS interception).", "For mTLS client authentication, exclude the host from interception or give the proxy the client certificate."},
		"RFC 8705 §2; oauthproxy: upstream error"},
	{CauseUpstreamDNS, flow.CategoryNetwork, "OAuth server host name does not resolve",
		"The host name of the endpoint could not be resolved: a typo in the issuer or endpoint, or split-horizon DNS that differs between machines.",
		[]string{"Check the host name in the endpoint URL and DNS resolution from this machine (private/public zones differ between networks)."},
		"oauthproxy: upstream error"},
	{CauseBrowserBlocked, flow.CategoryNetwork, "The browser blocked the request",
		"A browser's capture says the browser itself refused to send the request (net::ERR_BLOCKED_BY_CLIENT, ERR_BLOCKED_BY_ADMINISTRATOR): an extension's filter list (an ad or tracker blocker matching the identity provider's host or path) or a policy of the administrator. The server never saw it.",
		[]string{"Allow the identity provider's host in the blocking extension (or try a profile without extensions); ask the administrator about a URLBlocklist policy.", fixCompare},
		"Chromium net/base/net_error_list.h (BLOCKED_BY_CLIENT, BLOCKED_BY_ADMINISTRATOR)"},
	// client-config
	{CauseInvalidClient, flow.CategoryClientConfig, "Client authentication failed",
		"The server could not authenticate the client: unknown client_id, wrong secret, wrong authentication method, or credentials encoded wrongly in the Basic header.",
		[]string{fixCheckClient, "Use the client's registered token_endpoint_auth_method (client_secret_basic vs client_secret_post vs private_key_jwt).", "For Basic auth, form-urlencode client_id and secret before base64 (RFC 6749 §2.3.1): secrets with + / : % break otherwise."},
		"RFC 6749 §5.2 (invalid_client), §2.3.1"},
	{CauseInvalidClientSecret, flow.CategoryClientConfig, "Client secret wrong or expired",
		"The client_id is known but the secret is wrong, expired or rotated (Entra: the secret ID was used instead of the secret value).",
		[]string{"Copy the secret value again from the provider console (Entra: the Value column, not the Secret ID); check it has not expired.", fixCheckClient},
		"RFC 6749 §5.2; Entra AADSTS7000215 (learn.microsoft.com)"},
	{CauseClientNotFound, flow.CategoryClientConfig, "Client id unknown",
		"The server does not know this client_id here: typo, deleted client, wrong tenant/realm/project, or sandbox vs production.",
		[]string{fixCheckClient, "Make sure the tenant/realm/environment in the endpoint URL is the one the client is registered in."},
		"RFC 6749 §5.2; Entra AADSTS700016; Google 'The OAuth client was not found.'"},
	{CauseClientAuthMethodWrong, flow.CategoryClientConfig, "Wrong client authentication method",
		"The client authenticated with a method the server does not accept for it (Basic vs body, secret vs private_key_jwt, confidential vs public client).",
		[]string{"Use the registered token_endpoint_auth_method; compare with token_endpoint_auth_methods_supported in discovery.", "Check the app type in the console (confidential web app vs public native/SPA)."},
		"RFC 6749 §2.3; RFC 7591 §2 (token_endpoint_auth_method)"},
	{CauseClientAuthMissing, flow.CategoryClientConfig, "Client credentials missing",
		"A confidential client sent no client authentication (no secret, no assertion).",
		[]string{"Send the client secret or client_assertion, or register the app as a public client if it cannot keep a secret (and enable public client flows)."},
		"RFC 6749 §2.3; Entra AADSTS7000218"},
	{CauseAppPlatformMismatch, flow.CategoryClientConfig, "App registered under the wrong platform type",
		"The redirect URI is registered under a platform type that does not match how the client behaves (SPA vs Web vs mobile/desktop): cross-origin redemption only for SPA, public clients must not send secrets.",
		[]string{"Register the redirect URI under the right platform (SPA for browser code, Web for server code with a secret, mobile/desktop for native public clients).", "If a proxy adds or forwards an Origin header to a server-side token request, remove it.", fixRestart},
		"Entra AADSTS9002326 / AADSTS700025 (learn.microsoft.com)"},
	{CauseRedirectURIMismatch, flow.CategoryClientConfig, "redirect_uri mismatch",
		"The redirect_uri is not registered for the client, or the one at the token endpoint differs from the one in the authorize request. Servers compare exact strings.",
		[]string{fixExact, "Send the identical redirect_uri in the authorize and the token request.", "Register the exact URI (per environment) in the provider console.", fixRestart},
		"RFC 6749 §4.1.3; RFC 9700 §2.1"},
	{CauseGrantTypeNotEnabled, flow.CategoryClientConfig, "Grant type not enabled for the client",
		"The server supports the grant, but this client is not allowed to use it (e.g. client_credentials, password or device code not enabled for the app).",
		[]string{"Enable the grant type for this client in the provider console (Auth0 Grant Types, Okta allowed grant types, Keycloak Direct Access Grants, GitHub device flow).", "Or use a grant the client is allowed to use."},
		"RFC 6749 §5.2 (unauthorized_client)"},
	{CauseInvalidScope, flow.CategoryClientConfig, "Scope invalid",
		"A requested scope is unknown, malformed, not registered for the client, or exceeds what was granted.",
		[]string{"Request only scopes the server defines and the client is registered for (scopes_supported in discovery); separate scopes with spaces."},
		"RFC 6749 §5.2 (invalid_scope), §3.3"},
	{CausePKCEMismatch, flow.CategoryClientConfig, "PKCE code_verifier does not match",
		"The code_verifier does not match the code_challenge of the authorize request, or its syntax is invalid (43-128 unreserved characters).",
		[]string{"Keep the code_verifier generated for this very authorize request (per flow, per tab) and send it unchanged.", "S256: code_challenge = BASE64URL(SHA256(verifier)) without padding.", fixRestart},
		"RFC 7636 §4.1, §4.6"},
	{CausePKCERequired, flow.CategoryClientConfig, "PKCE required",
		"The server requires PKCE for this client or flow, but no code_challenge (or no code_verifier) was sent.",
		[]string{"Send code_challenge and code_challenge_method=S256 on the authorize request and code_verifier on the token request.", fixRestart},
		"RFC 7636 §4.4.1; RFC 9700 §2.1.1"},
	{CauseDPoPProofInvalid, flow.CategoryClientConfig, "DPoP proof invalid",
		"The DPoP proof JWT is missing or invalid: wrong htm/htu (a proxy that rewrites the URL breaks htu), stale iat, reused jti, bad signature.",
		[]string{"Create a fresh proof per request with htm/htu matching the exact request method and URL, current iat and a new jti."},
		"RFC 9449 §4.3, §5"},
	{CauseCertBoundMismatch, flow.CategoryClientConfig, "Certificate-bound token without the matching certificate",
		"An mTLS certificate-bound token (cnf x5t#S256) was presented over a connection without the matching client certificate. A TLS-intercepting proxy causes exactly this.",
		[]string{"Present the same client certificate that the token was issued for.", "Exclude the host from TLS interception (or configure the proxy with the client certificate)."},
		"RFC 8705 §3"},
	{CauseAssertionInvalid, flow.CategoryClientConfig, "JWT assertion invalid",
		"A client_assertion or JWT bearer grant was rejected: signature (wrong or rotated key), aud, iss/sub, or exp/iat outside the allowed window (clock skew).",
		[]string{"Sync the system clock (NTP) and keep the assertion short-lived.", "Check kid, key, iss, sub and aud (the token endpoint URL) against the registration."},
		"RFC 7523 §3; RFC 7521"},
	{CauseSignatureInvalid, flow.CategoryClientConfig, "Request signature invalid",
		"The provider verifies a signature over the request (Alipay) and it did not match: wrong private key, or the public key uploaded to the provider belongs to another key pair.",
		[]string{"Check that the app private key matches the public key uploaded to the provider, and that key/certificate mode matches."},
		"Alipay isv.invalid-signature (fzlee/alipay#115)"},
	{CauseEmbeddedWebview, flow.CategoryClientConfig, "Sign-in from an embedded web view refused",
		"The provider refuses authorization requests from embedded web views (detected via the User-Agent).",
		[]string{"Open the authorization request in the system browser (ASWebAuthenticationSession, Android Custom Tabs, AppAuth), not an embedded WebView."},
		"RFC 8252 §8.12; Google disallowed_useragent"},
	{CauseGatewayRouteNotFound, flow.CategoryClientConfig, "API gateway route not found",
		"AWS API Gateway answered 'Missing Authentication Token': the path, method, stage or custom-domain base path does not exist (or the route requires IAM signing).",
		[]string{"Check the path, stage prefix and method of the endpoint URL against the API Gateway deployment.", "For IAM-authorised routes, sign requests with SigV4."},
		"repost.aws/knowledge-center/api-gateway-authentication-token-errors"},
	{CauseAPIKeyInvalid, flow.CategoryClientConfig, "API key or subscription key missing or wrong",
		"The server or an API gateway wants an API key (API-management subscription key, x-api-key) besides or instead of the OAuth credentials, and the request carried none or a wrong one.",
		[]string{"Send the key the API expects, in the header it names (Ocp-Apim-Subscription-Key, x-api-key...), for the right product/environment.", "Check the key is active and subscribed to this API."},
		"Azure API Management subscription keys; AWS API Gateway API keys"},
	// grant
	{CauseInvalidGrant, flow.CategoryGrant, "Grant rejected (invalid_grant)",
		"The authorization code or refresh token was rejected without more detail: reused, expired, revoked, issued to another client, or the redirect_uri/PKCE verifier did not match.",
		[]string{"Use each authorization code once, right away; check oauthproxy's findings for a reused or stale code.", "Check redirect_uri and code_verifier match the authorize request.", fixRestart},
		"RFC 6749 §5.2 (invalid_grant)"},
	{CauseCodeReused, flow.CategoryGrant, "Authorization code reused",
		"The code was already exchanged. Codes are single-use; the second use fails and may revoke the tokens issued by the first (RFC 6749 §4.1.2). Typical: retries, double-submitted callbacks, two instances handling the same callback.",
		[]string{"Exchange each code exactly once; do not retry a token POST that may have reached the server.", "Make the callback handler idempotent (one exchange per state).", fixRestart},
		"RFC 6749 §4.1.2, §10.5"},
	{CauseCodeExpired, flow.CategoryGrant, "Authorization code expired",
		"The code was not exchanged in time (often 30 s to 10 min; Keycloak default 1 min).",
		[]string{"Exchange the code immediately after the callback; check the server clock.", fixRestart},
		"RFC 6749 §4.1.2, §10.5"},
	{CauseCodeInvalid, flow.CategoryGrant, "Authorization code invalid",
		"The code is unknown to the server: mistyped, truncated, already used, expired, or issued for another client or tenant.",
		[]string{"Pass the code from the callback unchanged (URL-decode once) to the same server and client that issued it.", fixRestart},
		"RFC 6749 §5.2 (invalid_grant)"},
	{CauseRefreshTokenInvalid, flow.CategoryGrant, "Refresh token invalid, expired or revoked",
		"The refresh token was revoked (user, admin, password change), expired (inactivity, Google apps in Testing: 7 days), rotated away, or belongs to another client.",
		[]string{"Send the user through the authorization flow again to get a new refresh token.", "With rotation, always store the newest refresh token; Google apps in Testing status: publish the app."},
		"RFC 6749 §5.2, §6; RFC 9700 §4.14"},
	{CauseRefreshTokenReused, flow.CategoryGrant, "Rotated refresh token reused",
		"A refresh token that had already been rotated was used again; servers with reuse detection revoke the whole token family.",
		[]string{"Store the new refresh token from every refresh response and serialise refreshes (one at a time per user).", "Send the user through the authorization flow again."},
		"RFC 9700 §4.14.2"},
	{CauseDeviceCodeExpired, flow.CategoryGrant, "Device code expired",
		"The device_code expired before the user finished (or the device code is unknown).",
		[]string{"Start a new device authorization request and show the new user code."},
		"RFC 8628 §3.5 (expired_token)"},
	{CauseAccessTokenInvalid, flow.CategoryGrant, "Access token invalid or expired",
		"The resource server rejected the access token: expired, revoked, malformed, or issued for another audience.",
		[]string{"Refresh the access token (or get a new one) and retry once.", "Check the token's audience and issuer match this API."},
		"RFC 6750 §3.1 (invalid_token)"},
	{CauseUserCredentials, flow.CategoryGrant, "User credentials rejected",
		"The resource owner's username/password (password grant) was rejected.",
		[]string{"Check the user's credentials; prefer the authorization code flow over the password grant."},
		"RFC 6749 §4.3, §5.2"},
	{CauseInteractionRequired, flow.CategoryGrant, "User interaction required",
		"A silent request (prompt=none) could not complete: the user must sign in, choose an account or interact.",
		[]string{"Fall back to an interactive authorization request (without prompt=none)."},
		"OpenID Connect Core 1.0 §3.1.2.6"},
	// permission
	{CauseAccessDenied, flow.CategoryPermission, "Access denied",
		"The user or the server refused the authorization (the user clicked Deny, or a policy refused it).",
		[]string{"If the user denied consent, ask them to retry and approve; otherwise read error_description for the policy that refused it."},
		"RFC 6749 §4.1.2.1, §5.2; RFC 8628 §3.5 (access_denied)"},
	{CauseAppNotLive, flow.CategoryPermission, "App not reviewed / not live / test users only",
		"The app is in testing or development mode, not reviewed, not verified or not online, so only listed test users (or nobody) may use it.",
		[]string{"Add the user as a test user, or get the app reviewed/verified and published (live) in the provider console."},
		"Google OAuth verification; QQ 100011/110406; Weibo 21321"},
	{CauseAppUnavailable, flow.CategoryPermission, "App disabled or not available to this user",
		"The app is disabled, not installed in the tenant, or the user is not in its availability range.",
		[]string{"Ask the tenant admin to enable/install the app and make it available to this user."},
		"Feishu 20010/20069/20009; Google restricted_client"},
	{CauseConsentRequired, flow.CategoryPermission, "Consent missing",
		"The user or an administrator has not consented to the permissions the app requests.",
		[]string{"Send an interactive authorization request so the user can consent, or have an admin grant tenant-wide consent."},
		"Entra AADSTS65001; OpenID Connect Core 1.0 §3.1.2.6 (consent_required)"},
	{CauseAppRoleNotAssigned, flow.CategoryPermission, "App role or user assignment missing",
		"The user or client is not assigned to the application or to a role on the target API.",
		[]string{"Assign the user/group to the app, or grant the client an app role on the API, in the admin console."},
		"Entra AADSTS501051 / AADSTS50105 (docs.nais.io troubleshooting)"},
	{CauseOrgPolicy, flow.CategoryPermission, "Organisation policy blocks the app",
		"An administrator policy refuses the app, its scopes or this user (Google admin_policy_enforced / org_internal, Okta access policy).",
		[]string{"Ask the organisation's administrator to trust the app / allow the scopes, or add a matching access policy rule."},
		"Google admin_policy_enforced (google/clasp#85); Okta 'Policy evaluation failed'"},
	{CauseConditionalAccess, flow.CategoryPermission, "Conditional Access blocked the sign-in",
		"An Entra Conditional Access policy (location, device compliance, MFA) blocked the request.",
		[]string{"Check the sign-in logs in Entra for the failing policy; a location condition means the server's egress IP is not in a trusted location."},
		"Entra AADSTS53003 / AADSTS53000"},
	{CauseUserNotInTenant, flow.CategoryPermission, "User not in the tenant",
		"The account belongs to another tenant or is a personal account, and the app is single-tenant.",
		[]string{"Invite the user as a guest, or make the app multi-tenant and use the common/organizations endpoint."},
		"Entra AADSTS50020"},
	{CauseScopeNotAuthorized, flow.CategoryPermission, "Client not authorised for the scope or API",
		"The client is not authorised for the requested scopes or API (domain-wide delegation not granted, interface permission not granted, account not verified).",
		[]string{"Grant the client the scopes/API permission in the admin console (Google domain-wide delegation, WeChat interface permissions, Alipay product signing)."},
		"Google unauthorized_client; WeChat 48001; Alipay insufficient permissions"},
	{CauseInsufficientScope, flow.CategoryPermission, "Token lacks the required scope",
		"The access token is valid but does not carry the scope this resource requires.",
		[]string{"Request the scope named in the challenge in a new authorization (the user must consent)."},
		"RFC 6750 §3.1 (insufficient_scope)"},
	{CauseMFARequired, flow.CategoryPermission, "Multi-factor authentication required",
		"A policy requires MFA for this request and it was not performed.",
		[]string{"Use an interactive flow where the user can complete MFA, or adjust the MFA policy for this client."},
		"Auth0 mfa_required; Entra AADSTS50076"},
	{CauseUserLoginDenied, flow.CategoryPermission, "User login refused by policy",
		"The user's login was refused: wrong password or missing security token, login IP ranges/hours, locked user, or connected-app policy.",
		[]string{"Check the user's login history in the admin console; Salesforce: append the security token to the password or add the server IP to trusted ranges."},
		"Salesforce invalid_grant 'authentication failure'"},
	{CauseGatewayPolicyDeny, flow.CategoryPermission, "Gateway policy denied the request",
		"An API gateway or service mesh in front of the endpoint refused the request by policy (Lambda authorizer / resource policy Deny, Kong ACL, Envoy RBAC).",
		[]string{"Ask the gateway owner to allow this consumer/route for the OAuth endpoint; check the authorizer or RBAC policy logs."},
		"AWS API Gateway (repost.aws api-gateway-403-error-lambda-authorizer); Kong acl plugin"},
	{CausePermissionDenied, flow.CategoryPermission, "Permission missing",
		"The server says, in its own words, that the caller is not allowed to do this: a permission, role, entitlement or organisation approval is missing. The credentials themselves were accepted or are not the point.",
		[]string{"Read the quoted message: it names what is missing (a permission, an organisation's approval of the app, a registration).", "Ask the administrator of the provider, tenant or API to grant it; then get a new token so it carries the change."},
		"RFC 9110 §15.5.4 (403 Forbidden); wording classifier"},
	// network
	{CauseIPNotAllowlisted, flow.CategoryNetwork, "Source IP not allowlisted",
		"The provider or a gateway only accepts calls from allowlisted IP addresses, and this request came from another one.",
		[]string{fixAllowlist, fixCompare},
		"WeChat 40164; DingTalk/WeCom 60020; Azure App Service access restrictions"},
	{CauseGeoBlocked, flow.CategoryNetwork, "Blocked by geography",
		"The request was refused because of the country/region it came from.",
		[]string{"Call from an allowed region or ask the operator to allow the server's egress IP.", fixCompare},
		"vendor geo-blocking (Cloudflare, Cloud Armor, Front Door)"},
	{CauseWAFCloudflare, flow.CategoryNetwork, "Blocked by Cloudflare",
		"Cloudflare (WAF managed rules, firewall rules, IP/ASN bans, browser integrity) answered instead of the OAuth server. Token bodies with URLs (redirect_uri), JWTs or SQL-looking strings can trip managed rules.",
		[]string{fixBlockLogs + " Cloudflare: Security > Events, by Ray ID.", fixAllowlist, fixCompare},
		"Cloudflare error pages (Ekultek/WhatWaf#10; FlareSolverr#1574)"},
	{CauseBotChallenge, flow.CategoryNetwork, "Bot challenge instead of a response",
		"A CDN/WAF answered with a JavaScript/CAPTCHA challenge that a non-browser OAuth client cannot solve (Cloudflare cf-mitigated: challenge, AWS WAF challenge/captcha).",
		[]string{"Ask the operator to exempt the OAuth endpoints (token, JWKS, discovery) from bot challenges.", fixCompare},
		"Cloudflare cf-mitigated; AWS WAF challenge/CAPTCHA actions"},
	{CauseCDNSNIMismatch, flow.CategoryNetwork, "Blank 403 from the CDN (SNI / Host mismatch)",
		"Cloudflare answers an empty 403 when the TLS SNI differs from the HTTP Host header, easy to cause with a proxy that re-originates TLS or rewrites Host.",
		[]string{"Make sure SNI and Host name the same host (check proxy / custom transport settings).", fixCompare},
		"cloudflare/cloudflare-docs#18887"},
	{CauseWAFAWS, flow.CategoryNetwork, "Blocked by AWS WAF / CloudFront / ALB",
		"AWS WAF, CloudFront or an Application Load Balancer answered instead of the OAuth server. Managed rules such as GenericRFI_QUERYARGUMENTS match URL-valued parameters like redirect_uri.",
		[]string{fixBlockLogs + " AWS: WAF sampled requests / logs show the terminating rule.", fixCompare},
		"AWS WAF docs; DuendeArchive/IdentityServer4#5231"},
	{CauseWAFAkamai, flow.CategoryNetwork, "Blocked by Akamai",
		"Akamai (AkamaiGHost, 'Reference #' page) denied the request at the edge.",
		[]string{fixBlockLogs + " Akamai: quote the Reference # to the site owner.", fixCompare},
		"Akamai edge error pages"},
	{CauseWAFImperva, flow.CategoryNetwork, "Blocked by Imperva (Incapsula)",
		"Imperva's WAF answered (x-iinfo header, incap_ses/visid_incap cookies, 'Incapsula incident ID'), often with status 200.",
		[]string{fixBlockLogs + " Imperva: quote the incident ID.", fixCompare},
		"Imperva block pages"},
	{CauseWAFF5, flow.CategoryNetwork, "Blocked by F5 BIG-IP ASM",
		"F5 BIG-IP ASM/Advanced WAF answered ('The requested URL was rejected... support ID', TS01/BIGipServer cookies), often with status 200.",
		[]string{fixBlockLogs + " F5: quote the support ID.", fixCompare},
		"F5 BIG-IP ASM blocking page"},
	{CauseWAFAzure, flow.CategoryNetwork, "Blocked by Azure Front Door / Application Gateway",
		"Azure Front Door or Application Gateway WAF blocked the request. OWASP CRS rules (e.g. 942440) match base64url JWTs and OIDC cookies.",
		[]string{fixBlockLogs + " Azure: WAF logs by x-azure-ref; exclude the OIDC cookies/parameters from rule 942440 and similar.", fixCompare},
		"AzureAD/microsoft-identity-web#1199; MicrosoftDocs/azure-docs#48580"},
	{CauseWAFCloudArmor, flow.CategoryNetwork, "Blocked by Google Cloud Armor",
		"A Google Cloud load balancer with Cloud Armor denied the request (IP, geo or preconfigured WAF rule).",
		[]string{fixBlockLogs + " Google Cloud: load balancer logs show the matched security policy rule.", fixCompare},
		"kubernetes/registry.k8s.io#148"},
	{CauseWAFModSecurity, flow.CategoryNetwork, "Blocked by ModSecurity / OWASP CRS",
		"A ModSecurity/OWASP CRS rule blocked the request; JWTs, state blobs and redirect_uri values are common false positives.",
		[]string{fixBlockLogs, fixCompare},
		"OWASP CRS; AzureAD/microsoft-identity-web#1199"},
	{CauseReverseProxyBlock, flow.CategoryNetwork, "Denied by a reverse proxy",
		"A reverse proxy or ingress in front of the server (nginx, Envoy/Istio) denied the request with its own page (allow/deny rules, auth_request, RBAC).",
		[]string{fixBlockLogs, fixAllowlist, fixCompare},
		"nginx error page template; Envoy RBAC filter"},
	{CauseCorporateProxy, flow.CategoryNetwork, "Blocked by a corporate proxy",
		"A corporate forward proxy (Zscaler, Squid, Blue Coat) blocked the request or requires authentication; it may also intercept TLS.",
		[]string{"Ask IT to allow the provider's domains (and exempt them from TLS inspection), or configure the proxy credentials.", fixCompare},
		"Ekultek/WhatWaf#178 (Zscaler); Squid error pages"},
	{CauseNetworkBlock, flow.CategoryNetwork, "Blocked by a firewall or filter",
		"A firewall, web filter, application-control or URL-filtering device (or a block page of a security service) answered instead of the server, whatever the status code (block pages come as 200, 403 and 503 too).",
		[]string{"Ask the owner of the firewall or web filter (IT, network team) to allow the OAuth hosts and endpoints; quote the block page's reason or category.", fixCompare},
		"wording classifier; vendor block pages (FortiGuard, Palo Alto, Zscaler, Blue Coat)"},
	// server
	{CauseServerError, flow.CategoryServer, "Server error",
		"The OAuth server (or something in front of it) failed with a 5xx error.",
		[]string{fixRetryBackoff, "Check the provider's status page; if it persists, report it with the request/correlation id."},
		"RFC 6749 §4.1.2.1 (server_error); RFC 9110 §15.6"},
	{CauseServerUnavailable, flow.CategoryServer, "Server unavailable",
		"The server is temporarily unavailable (maintenance, overload, origin down).",
		[]string{fixRetryBackoff, "Check the provider's status page."},
		"RFC 6749 §4.1.2.1 (temporarily_unavailable); RFC 9110 §15.6.4"},
	{CauseRateLimited, flow.CategoryServer, "Rate limited",
		"Too many requests: the server or an edge rate limit throttled the client.",
		[]string{fixRetryBackoff, "Cache tokens until they expire instead of requesting a new one per call."},
		"RFC 6585 §4"},
	// info
	{CauseAuthorizationPending, flow.CategoryInfo, "Authorization pending (device flow)",
		"Not a failure: the user has not finished the device authorization yet.",
		[]string{"Keep polling at the advertised interval."},
		"RFC 8628 §3.5 (authorization_pending)"},
	{CauseSlowDown, flow.CategoryInfo, "Slow down (device flow)",
		"Not a failure: the client polls too fast.",
		[]string{"Increase the polling interval by 5 seconds for this and all later requests."},
		"RFC 8628 §3.5 (slow_down)"},
	{CauseDPoPNonceRequired, flow.CategoryInfo, "DPoP nonce required",
		"Not a failure: the server requires a server-provided nonce in the DPoP proof; expected on first contact.",
		[]string{"Retry once with the DPoP-Nonce response header value in the proof's nonce claim; only a loop is a problem."},
		"RFC 9449 §8, §9"},
	{CauseRefusalUnexplained, flow.CategoryInfo, "Refused, and nothing says why",
		"The server answered 401, 403 or 407 and neither an error code, a known provider or gateway signature, nor the wording of a message says why. The diagnosis lists what is known instead: who answered, what credentials the request carried, and for a JWT access token its audience, scope and expiry.",
		[]string{"Check that the request carries the credential this API expects (Authorization: Bearer, an API key header, a session cookie) and that nothing on the way strips it.", "For a token: check its audience (aud) names this API, its scope covers the call, and it has not expired.", "Compare with a request that works, e.g. `oauthproxy diff good.har bad.har`."},
		"RFC 9110 §15.5.2, §15.5.4, §15.5.8; RFC 6750 §3"},
}

var causeByID = func() map[string]*Cause {
	m := make(map[string]*Cause, len(causes))
	for i := range causes {
		m[causes[i].ID] = &causes[i]
	}
	return m
}()

// Causes returns the documented catalogue of cause ids, in documentation order.
func Causes() []Cause {
	out := make([]Cause, len(causes))
	copy(out, causes)
	return out
}

// builtinTriggers documents the causes Diagnose produces in code rather
// than from a rule (fallbacks and upstream failures).
var builtinTriggers = map[string]string{
	CauseUnrecognizedError:   "an OAuth or provider error that no rule matches (category from the status: 401 client-config, 403 permission, otherwise request), or an unrecognised error page from the authorization endpoint",
	CauseNotFromOAuthServer:  "a labeled back-channel endpoint (token, device, PAR, introspection, revocation, discovery, JWKS, userinfo) answers 4xx with an HTML, empty or non-OAuth body and no intermediary rule matches",
	CauseEndpointNotFound:    "a labeled endpoint answers 404, 405 or 410 without an OAuth error",
	CauseUpstreamUnreachable: "no response (x.Error set) on a labeled exchange: refused, reset, timeout",
	CauseUpstreamTLS:         "no response and the error mentions TLS, x509, certificate or handshake (a browser's net::ERR_CERT_*, ERR_SSL_*; Firefox's _securityState \"broken\")",
	CauseUpstreamDNS:         "no response and the error mentions DNS / no such host (a browser's net::ERR_NAME_NOT_RESOLVED)",
	CauseBrowserBlocked:      "no response and a browser's capture says net::ERR_BLOCKED_BY_CLIENT or ERR_BLOCKED_BY_ADMINISTRATOR",
	CauseCorporateProxy:      "also: no response and the error mentions proxyconnect or 407",
	CauseServerError:         "a labeled endpoint answers 5xx (other than 502/503/504/52x) and no server-category OAuth rule matches",
	CauseServerUnavailable:   "a labeled endpoint answers 502, 503, 504 or 520-530",
	CauseRateLimited:         "a labeled endpoint answers 429",
	CauseRefusalUnexplained:  "any 401, 403 or 407 (labeled or not) that no rule and no wording explains",
	CauseNetworkBlock:        "a response header named after a web application firewall (x-amzn-waf-action, X-Waf-Event...) on a failure or a 202, when no rule recognised the response",
}
