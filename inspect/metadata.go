package inspect

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// metadata is what an issuer's discovery document told us.
type metadata struct {
	issuer string
	// nil means the document did not say (no check then).
	grantTypes       []string
	authMethods      []string
	challengeMethods []string
}

// discoveryDoc holds the members of RFC 8414 / OIDC Discovery metadata
// that inspection uses.
type discoveryDoc struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	DeviceEndpoint        string   `json:"device_authorization_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	GrantTypes            []string `json:"grant_types_supported"`
	AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
	ChallengeMethods      []string `json:"code_challenge_methods_supported"`
}

// endpointRef is a learned endpoint: its role and issuer.
type endpointRef struct {
	label  flow.Label
	issuer string
}

// wellKnownSuffixes are the discovery document paths (RFC 8414 §3 also
// allows the issuer path after the suffix, handled in discoveryPath).
var wellKnownSuffixes = []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}

// isDiscoveryPath reports whether a lower-case path is a discovery document.
func isDiscoveryPath(lpath string) bool {
	if !strings.Contains(lpath, "/.well-known/") {
		return false
	}
	for _, s := range wellKnownSuffixes {
		if strings.HasSuffix(lpath, s) || strings.Contains(lpath, s+"/") {
			return true
		}
	}
	return false
}

// maxIssuers bounds the learned metadata.
const maxIssuers = 256

// learnDiscovery records the endpoints and capabilities of a discovery
// document seen in x. It returns the issuer, "" if the document is unusable.
func (in *Inspector) learnDiscovery(x *flow.Exchange) string {
	resp := x.Response
	if resp == nil || resp.Status != 200 || len(resp.Body.Data) == 0 {
		return ""
	}
	var d discoveryDoc
	if err := json.Unmarshal(resp.Body.Data, &d); err != nil {
		return ""
	}
	iss := d.Issuer
	if iss == "" {
		iss = issuerFromDiscoveryURL(x.Request.URL)
	}
	if iss == "" {
		return ""
	}
	if _, ok := in.issuers[iss]; !ok && len(in.issuers) >= maxIssuers {
		return iss
	}
	in.issuers[iss] = &metadata{issuer: iss, grantTypes: d.GrantTypes, authMethods: d.AuthMethods, challengeMethods: d.ChallengeMethods}
	for _, e := range []struct {
		u string
		l flow.Label
	}{
		{d.AuthorizationEndpoint, flow.LabelAuthorize},
		{d.TokenEndpoint, flow.LabelToken},
		{d.JWKSURI, flow.LabelJWKS},
		{d.UserinfoEndpoint, flow.LabelUserinfo},
		{d.IntrospectionEndpoint, flow.LabelIntrospect},
		{d.RevocationEndpoint, flow.LabelRevoke},
		{d.DeviceEndpoint, flow.LabelDevice},
		{d.PAREndpoint, flow.LabelPAR},
	} {
		if e.u == "" {
			continue
		}
		u, err := url.Parse(e.u)
		if err != nil || u.Host == "" {
			continue
		}
		in.endpoints[endpointKey(u.Scheme, u.Hostname(), u.Port(), u.Path)] = endpointRef{label: e.l, issuer: iss}
	}
	return iss
}

// issuerFromDiscoveryURL derives the issuer from the URL a discovery
// document was fetched from (OIDC: issuer + suffix; RFC 8414: suffix + path).
func issuerFromDiscoveryURL(u *url.URL) string {
	if u == nil || u.Host == "" {
		return ""
	}
	p := u.Path
	for _, s := range wellKnownSuffixes {
		if i := strings.Index(p, s); i >= 0 {
			p = p[:i] + p[i+len(s):]
			break
		}
	}
	scheme := u.Scheme
	if scheme == "" {
		scheme = "https"
	}
	return scheme + "://" + u.Host + strings.TrimSuffix(p, "/")
}

// endpointKey normalises an endpoint for lookups: lower-case host without
// the scheme's default port, lower-case path without a trailing slash. The
// scheme is otherwise ignored (an http capture of an https endpoint matches).
func endpointKey(scheme, hostname, port, path string) string {
	hostname = strings.ToLower(hostname)
	if port != "" && !(port == "443" && scheme != "http") && !(port == "80" && scheme == "http") {
		hostname += ":" + port
	}
	return hostname + strings.TrimRight(strings.ToLower(path), "/")
}

// contains reports whether list holds v (exact match).
func contains(list []string, v string) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}
