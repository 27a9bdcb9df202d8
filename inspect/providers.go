package inspect

import "strings"

// Knowledge about providers is data: adding a provider is adding a row.

// tokenPathSegments are last path segments (lower case) of token endpoints
// of major providers: /token (RFC examples, Okta /oauth2/v1/token, Entra
// /oauth2/v2.0/token, Keycloak /protocol/openid-connect/token, Auth0
// /oauth/token, Google, Salesforce /services/oauth2/token, Spotify, Discord,
// X, Feishu v2, TikTok), /access_token (GitHub /login/oauth/access_token,
// Facebook /oauth/access_token, WeChat /sns/oauth2/access_token, Weibo
// /oauth2/access_token, Reddit, Feishu v1), LinkedIn /oauth/v2/accessToken,
// DingTalk /v1.0/oauth2/userAccessToken, Slack oauth.v2.access.
var tokenPathSegments = map[string]bool{
	"token":                true,
	"access_token":         true,
	"accesstoken":          true,
	"refresh_token":        true,
	"useraccesstoken":      true,
	"oauth.v2.access":      true,
	"oauth.access":         true,
	"openid.connect.token": true,
}

// isTokenPath reports whether a lower-case path (no trailing slash) looks
// like a provider's token endpoint.
func isTokenPath(lpath string) bool {
	return tokenPathSegments[lastSegment(lpath)] || strings.HasSuffix(lpath, "/oauth2.0/token")
}

// lastSegment returns the part after the last '/'.
func lastSegment(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// queryTokenEndpoint is a token endpoint whose provider documents a GET with
// the parameters (credentials included) in the query string.
type queryTokenEndpoint struct {
	host       string // "" = any host
	pathSuffix string
	provider   string
}

var queryTokenEndpoints = []queryTokenEndpoint{
	{"", "/sns/oauth2/access_token", "WeChat"},
	{"", "/sns/oauth2/refresh_token", "WeChat"},
	{"api.weixin.qq.com", "/cgi-bin/token", "WeChat"},
	{"qyapi.weixin.qq.com", "/cgi-bin/gettoken", "WeCom"},
	{"graph.qq.com", "/oauth2.0/token", "QQ Connect"},
	{"graph.facebook.com", "/oauth/access_token", "Facebook"},
	{"oapi.dingtalk.com", "/gettoken", "DingTalk"},
}

// documentedQuery returns the provider that documents query parameters (and
// GET) for this token endpoint, "" if none.
func documentedQuery(host, lpath string) string {
	for _, e := range queryTokenEndpoints {
		if (e.host == "" || e.host == host) && strings.HasSuffix(lpath, e.pathSuffix) {
			return e.provider
		}
	}
	return ""
}

// grantOptionalHosts are providers whose token endpoints do not require
// grant_type (the grant follows from the parameters).
var grantOptionalHosts = []string{"github.com", "slack.com", "facebook.com"}

// grantOptional reports whether host documents grant_type as optional.
func grantOptional(host string) bool {
	for _, h := range grantOptionalHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// Grant type values.
const (
	grantAuthCode     = "authorization_code"
	grantRefresh      = "refresh_token"
	grantClientCreds  = "client_credentials"
	grantPassword     = "password"
	grantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	grantJWTBearer    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantSAML2Bearer  = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	grantTokenExch    = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantCIBA         = "urn:openid:params:grant-type:ciba"
	grantPreAuthCode  = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
	grantUMATicket    = "urn:ietf:params:oauth:grant-type:uma-ticket"
	ietfGrantURNStart = "urn:ietf:params:oauth:grant-type:"
)

// registeredGrants are grant types defined by RFCs and OpenID specs.
var registeredGrants = map[string]string{
	grantAuthCode:    "RFC 6749",
	grantRefresh:     "RFC 6749",
	grantClientCreds: "RFC 6749",
	grantPassword:    "RFC 6749",
	grantDeviceCode:  "RFC 8628",
	grantJWTBearer:   "RFC 7523",
	grantSAML2Bearer: "RFC 7522",
	grantTokenExch:   "RFC 8693",
	grantCIBA:        "OpenID CIBA",
	grantPreAuthCode: "OpenID4VCI",
	grantUMATicket:   "UMA 2.0",
}

// providerGrant is a non-standard grant_type a provider documents.
type providerGrant struct {
	value      string
	hostSuffix string
	provider   string
}

var providerGrants = []providerGrant{
	{"client_credential", "weixin.qq.com", "WeChat/WeCom"},
	{"fb_exchange_token", "facebook.com", "Facebook"},
	{"device_code", "microsoftonline.com", "Entra ID (v1 endpoint)"},
	{"ta_exchange_token", "", "TikTok"},
}

// grantKnown reports whether g is registered, a provider's documented
// grant for host, or an extension grant URI (RFC 6749 §4.5) outside the
// closed IETF namespace.
func grantKnown(g, host string) bool {
	if _, ok := registeredGrants[g]; ok {
		return true
	}
	for _, p := range providerGrants {
		if g == p.value && (p.hostSuffix == "" || host == p.hostSuffix || strings.HasSuffix(host, "."+p.hostSuffix)) {
			return true
		}
	}
	if strings.HasPrefix(g, ietfGrantURNStart) {
		return false
	}
	return strings.Contains(g, ":") && !strings.ContainsAny(g, " \t\r\n")
}

// suggestGrant returns the registered grant g was probably meant to be.
func suggestGrant(g string) string {
	n := normGrant(g)
	for k := range registeredGrants {
		if normGrant(k) == n {
			return k
		}
	}
	switch n {
	case "clientcredential", "credentials", "client":
		return grantClientCreds
	case "code", "authcode", "authorization", "authorisationcode":
		return grantAuthCode
	case "refresh", "refreshtokens":
		return grantRefresh
	case "devicecode", "device":
		return grantDeviceCode
	case "jwtbearer", "jwt":
		return grantJWTBearer
	case "tokenexchange":
		return grantTokenExch
	}
	return ""
}

func normGrant(g string) string {
	g = strings.ToLower(strings.TrimSpace(g))
	g = strings.TrimPrefix(g, ietfGrantURNStart)
	return strings.NewReplacer("-", "", "_", "", " ", "", ".", "").Replace(g)
}

// Parameter name aliases used by providers.
var (
	clientIDNames     = []string{"client_id", "appid", "app_id", "client_key"}
	clientSecretNames = []string{"client_secret", "secret", "appsecret", "app_secret"}
)

// queryCredentialNames are parameters that must not travel in a URL.
var queryCredentialNames = []string{"client_secret", "secret", "appsecret", "app_secret", "code", "code_verifier", "refresh_token", "password", "client_assertion", "assertion", "device_code", "subject_token", "actor_token"}
