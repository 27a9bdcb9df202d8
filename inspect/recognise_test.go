package inspect

import (
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

func TestLabels(t *testing.T) {
	s := newScen()
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name  string
		opts  Options
		setup []*flow.Exchange
		x     *flow.Exchange
		label flow.Label
		grant string
		iss   string
	}{
		{name: "OIDC discovery", x: s.discovery(), label: flow.LabelDiscovery, iss: s.issuer},
		{name: "RFC 8414 discovery with issuer path", label: flow.LabelDiscovery, iss: "https://as.example.com/tenant1",
			x: exch("GET", "https://as.example.com/.well-known/oauth-authorization-server/tenant1", jsonResp(200, map[string]any{"token_endpoint": "https://as.example.com/tenant1/token"}))},
		{name: "authorize by parameters", x: s.authorize(s.authParams()), label: flow.LabelAuthorize},
		{name: "authorize learned from discovery", setup: []*flow.Exchange{s.discovery()}, label: flow.LabelAuthorize, iss: s.issuer,
			x: exch("GET", s.issuer+"/authorize?client_id=app-123&request_uri=urn:x")},
		{name: "callback with code and state", x: s.callback(), label: flow.LabelCallback, iss: s.issuer},
		{name: "callback with error and state", x: exch("GET", "https://app.example.com/cb?error=access_denied&state=af0ifjsldkj"), label: flow.LabelCallback},
		{name: "callback with a short state seen at authorize", setup: []*flow.Exchange{s.authorize(s.authParams().set("state", "s1"))}, label: flow.LabelCallback,
			x: exch("GET", s.redirect+"?code=c1&state=s1")},
		{name: "form_post callback", setup: []*flow.Exchange{s.authorize(s.authParams())}, label: flow.LabelCallback,
			x: exch("POST", s.redirect, body(form, "code="+canaryCode+"&state="+s.state))},
		{name: "token learned from discovery", setup: []*flow.Exchange{s.discovery()}, x: s.token(s.tokenParams()), label: flow.LabelToken, grant: "authorization_code", iss: s.issuer},
		{name: "token by grant_type on any path", label: flow.LabelToken, grant: "client_credentials",
			x: exch("POST", "https://auth.internal/issue", body(form, "grant_type=client_credentials&client_id=a&client_secret="+canarySecret))},
		{name: "token by provider path without grant_type", label: flow.LabelToken,
			x: exch("POST", "https://login.example.org/oauth/token", body(form, "code="+canaryCode+"&client_id=a"))},
		{name: "GitHub token without grant_type", label: flow.LabelToken, grant: "authorization_code",
			x: exch("POST", "https://github.com/login/oauth/access_token", body(form, "client_id=a&client_secret="+canarySecret+"&code="+canaryCode))},
		{name: "JSON token request on a token path", label: flow.LabelToken, grant: "client_credentials",
			x: exch("POST", "https://tenant.auth0.com/oauth/token", body("application/json", `{"grant_type":"client_credentials","client_id":"a"}`))},
		{name: "--token-endpoint URL", opts: Options{TokenEndpoints: []string{"https://sso.corp.example/api/v3/exchange"}}, label: flow.LabelToken,
			x: exch("POST", "https://sso.corp.example:443/api/v3/exchange/", body(form, "client_id=a"))},
		{name: "--token-endpoint path", opts: Options{TokenEndpoints: []string{"/api/v3/exchange"}}, label: flow.LabelToken,
			x: exch("POST", "https://any.example/api/v3/exchange", body(form, "client_id=a"))},
		{name: "WeChat GET token", label: flow.LabelToken, grant: "authorization_code",
			x: exch("GET", "https://api.weixin.qq.com/sns/oauth2/access_token?appid=wx1&secret="+canarySecret+"&code="+canaryCode+"&grant_type=authorization_code")},
		{name: "jwks from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("GET", s.issuer+"/keys"), label: flow.LabelJWKS, iss: s.issuer},
		{name: "jwks by path", x: exch("GET", "https://www.googleapis.com/oauth2/v3/certs", jsonResp(200, map[string]any{"keys": []any{}})), label: flow.LabelJWKS},
		{name: "userinfo from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("GET", s.issuer+"/me"), label: flow.LabelUserinfo, iss: s.issuer},
		{name: "userinfo by path", x: exch("GET", "https://openidconnect.googleapis.com/v1/userinfo", hdr("Authorization", "Bearer "+canaryAccess)), label: flow.LabelUserinfo},
		{name: "introspect from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("POST", s.issuer+"/oauth2/inspect", body(form, "token="+canaryAccess)), label: flow.LabelIntrospect, iss: s.issuer},
		{name: "introspect by path", x: exch("POST", "https://kc.example/realms/r/protocol/openid-connect/token/introspect", body(form, "token="+canaryAccess)), label: flow.LabelIntrospect},
		{name: "revoke by path", x: exch("POST", "https://oauth2.googleapis.com/revoke", body(form, "token="+canaryAccess)), label: flow.LabelRevoke},
		{name: "revoke from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("POST", s.issuer+"/oauth2/kill", body(form, "token="+canaryAccess)), label: flow.LabelRevoke, iss: s.issuer},
		{name: "device authorization by path", x: exch("POST", "https://github.com/login/device/code", body(form, "client_id=a&scope=repo")), label: flow.LabelDevice},
		{name: "device from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("POST", s.issuer+"/oauth2/dev", body(form, "client_id=a")), label: flow.LabelDevice, iss: s.issuer},
		{name: "device_code grant is a token request", label: flow.LabelToken, grant: "urn:ietf:params:oauth:grant-type:device_code",
			x: exch("POST", "https://github.com/login/oauth/access_token", body(form, "client_id=a&device_code="+canaryCode+"&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"))},
		{name: "PAR by path", x: exch("POST", "https://kc.example/realms/r/protocol/openid-connect/ext/par/request", body(form, s.authParams().encode())), label: flow.LabelPAR},
		{name: "PAR from discovery", setup: []*flow.Exchange{s.discovery()}, x: exch("POST", s.issuer+"/oauth2/push", body(form, s.authParams().encode())), label: flow.LabelPAR, iss: s.issuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := New(tc.opts)
			inspectAll(in, tc.setup...)
			inspectAll(in, tc.x)
			if got := tc.x.OAuth.Label; got != tc.label {
				t.Errorf("label: got %q, want %q", got, tc.label)
			}
			if got := tc.x.OAuth.GrantType; got != tc.grant {
				t.Errorf("grant type: got %q, want %q", got, tc.grant)
			}
			if got := tc.x.OAuth.Issuer; got != tc.iss {
				t.Errorf("issuer: got %q, want %q", got, tc.iss)
			}
			if !IsOAuth(tc.x) {
				t.Errorf("IsOAuth: got false, want true")
			}
		})
	}
}

// TestNotOAuth feeds ordinary traffic, including near misses, and wants no
// label and no findings, also after the inspector has learned an issuer.
func TestNotOAuth(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name string
		x    *flow.Exchange
	}{
		{"JSON API GET", exch("GET", "https://api.example.com/v1/users/42", jsonResp(200, map[string]any{"id": 42}))},
		{"JSON API POST", exch("POST", "https://api.example.com/v1/orders", body("application/json", `{"item":"x","code":"SUMMER"}`), jsonResp(201, map[string]any{"ok": true}))},
		{"form login without grant_type", exch("POST", "https://shop.example.com/api/login", body(form, "username=bob&password=CANARY-pw"), jsonResp(200, map[string]any{"ok": true}))},
		{"GET /token on an API", exch("GET", "https://api.example.com/token", jsonResp(200, map[string]any{"token": "CANARY-t"}))},
		{"POST /token with JSON on an API", exch("POST", "https://api.example.com/v2/token", body("application/json", `{"user":"bob","password":"CANARY-pw"}`), jsonResp(200, map[string]any{"token": "CANARY-t"}))},
		{"GET /oauth/token with nothing", exch("GET", "https://api.example.com/oauth/token", jsonResp(404, map[string]any{"error": "not found"}))},
		{"search form with code param", exch("POST", "https://shop.example.com/cart/discount", body(form, "code=SUMMER&qty=1"))},
		{"query with code but no state", exch("GET", "https://shop.example.com/promo?code=SUMMER")},
		{"search by zip code and state", exch("GET", "https://maps.example.com/search?code=94110&state=CA")},
		{"address form with code and state", exch("POST", "https://shop.example.com/account/address", body(form, "authenticity_token=abc123&street=1+Main&state=CA&code=94110"))},
		{"error and state of a form", exch("GET", "https://shop.example.com/form?error=1&state=NY")},
		{"2FA code posted to a token path", exch("POST", "https://app.example.com/api/2fa/token", body(form, "code=123456"))},
		{"form POST to /token without OAuth parameters", exch("POST", "https://api.example.com/token", body(form, "user=bob&pin=1234"))},
		{"static asset", exch("GET", "https://cdn.example.com/app.js", resp(200, "text/javascript", "var token = 1;"))},
		{"keys path that is not a JWKS", exch("GET", "https://api.example.com/keys", jsonResp(200, map[string]any{"items": []int{1}}))},
		{"userinfo without a bearer token", exch("GET", "https://api.example.com/userinfo")},
		{"nil URL", &flow.Exchange{Request: flow.Request{Method: "GET"}}},
	}
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.setup()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inspectAll(in, tc.x)
			if tc.x.OAuth.Label != flow.LabelNone || len(tc.x.OAuth.Findings) > 0 || tc.x.OAuth.GrantType != "" {
				t.Errorf("got label %q, grant %q, findings %v; want none", tc.x.OAuth.Label, tc.x.OAuth.GrantType, tc.x.OAuth.Findings)
			}
			if IsOAuth(tc.x) {
				t.Errorf("IsOAuth: got true, want false")
			}
		})
	}
	in.Inspect(nil) // must not panic
}

// TestInspectTwice makes sure inspecting an exchange again does not
// duplicate findings nor report its own code as reused.
func TestInspectTwice(t *testing.T) {
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.setup()...)
	x := s.token(s.tokenParams().del("redirect_uri"))
	inspectAll(in, x)
	n := len(x.OAuth.Findings)
	inspectAll(in, x)
	if len(x.OAuth.Findings) != n {
		t.Errorf("findings after a second Inspect: got %v, want %d findings", ids(x), n)
	}
	if _, ok := finding(x, IDCodeReused); ok {
		t.Errorf("second Inspect of the same exchange reported %s", IDCodeReused)
	}
}

// TestHandle checks the flow.Sink adapter.
func TestHandle(t *testing.T) {
	var sink flow.Sink = New(Options{})
	x := exch("GET", "https://idp.example.com/authorize?response_type=code&client_id=a", at(time.Second))
	sink.Handle(x)
	if x.OAuth.Label != flow.LabelAuthorize {
		t.Errorf("label via Handle: got %q, want authorize", x.OAuth.Label)
	}
}

// TestChecksDocumented requires a "## id" heading in docs/findings.md for
// every check in the table.
func TestChecksDocumented(t *testing.T) {
	doc := readDoc(t)
	for _, c := range Checks() {
		if !strings.Contains(doc, "\n## "+c.ID+"\n") {
			t.Errorf("docs/findings.md: no heading %q", "## "+c.ID)
		}
	}
}
