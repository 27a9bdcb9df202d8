package inspect

import (
	"net/url"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// parseAll parses the query and the body when guessing did not already.
func (c *ctx) parseAll() {
	if c.query == nil && c.x.Request.URL.RawQuery != "" {
		c.query = parseForm(c.x.Request.URL.RawQuery)
	}
	c.parseBody()
	if len(c.body) > 0 && len(c.query) > 0 {
		c.all = make(params, 0, len(c.body)+len(c.query))
		c.all = append(append(c.all, c.body...), c.query...)
	} else if len(c.body) > 0 {
		c.all = c.body
	} else {
		c.all = c.query
	}
}

// authorize remembers an authorize or PAR request and checks it.
func (in *Inspector) authorize(c *ctx) {
	c.parseAll()
	p := c.query
	if c.body.has("client_id") && !p.has("client_id") || c.x.OAuth.Label == flow.LabelPAR {
		p = c.body
	}
	if !p.has("client_id") {
		return
	}
	a := &authReq{
		time:         c.x.Start,
		flow:         c.x.ID,
		issuer:       c.x.OAuth.Issuer,
		clientID:     p.value("client_id"),
		state:        p.value("state"),
		challenge:    p.value("code_challenge"),
		method:       p.value("code_challenge_method"),
		responseType: p.value("response_type"),
		indirect:     p.has("request") || p.has("request_uri"),
	}
	a.redirectURI, a.hasRedirect = p.get("redirect_uri")
	a.scope, a.hasScope = p.get("scope")
	a.nonce, a.hasNonce = p.get("nonce")
	c.authz = a
	var out []flow.Finding
	runChecks(phaseAuthorize, c, &out)
	c.x.OAuth.Findings = append(c.x.OAuth.Findings, out...)

	if a.indirect && !a.hasRedirect && a.state == "" {
		// A request_uri/request-object authorize: its parameters live
		// elsewhere (a PAR request we may have remembered already), and it
		// continues that request's login.
		in.continuePAR(c, p.value("request_uri"))
		return
	}
	if a.state != "" {
		in.byState.putAt(a.state, a, a.time)
	}
	key := clientKey(a.clientID, a.redirectURI)
	list, _ := in.byClient.get(key)
	in.byClient.put(key, appendBounded(list, a))
	if a.hasRedirect {
		if ru, err := url.Parse(a.redirectURI); err == nil {
			in.redirects.put(hostPathKey(ru), true)
		}
	}
	// The login starts here; a 3xx straight to the redirect URI (an
	// existing session) carries the authorization response in its Location.
	in.startLogin(c, a)
}

// clientKey is the fallback correlation key of an authorize request.
func clientKey(clientID, redirectURI string) string {
	return clientID + "\x00" + redirectURI
}

// callback handles a request to the redirect URI carrying an
// authorization response (query, or a form_post body).
func (in *Inspector) callback(c *ctx) {
	c.parseAll()
	p := c.query
	if !p.has("code") && !p.has("error") && c.bodyKind == "form" {
		p = c.body
	}
	a, _ := in.authResponse(c, p, c.x.Request.URL, true)
	in.callbackUnanswered(c, a)
	if a != nil {
		c.x.OAuth.Login, c.x.OAuth.LoginLink = a.login, flow.LinkCertain
		in.endTrace(c.x, a)
		if a.issuer != "" {
			c.x.OAuth.Issuer = a.issuer
			return
		}
	}
	if iss := p.value("iss"); iss != "" && c.x.OAuth.Issuer == "" {
		c.x.OAuth.Issuer = iss
	}
}

// recordCode remembers when a code was issued; the first sighting wins.
func (in *Inspector) recordCode(code string, ci *codeIssue) {
	fp := fingerprint(code)
	if fp == "" {
		return
	}
	if old, ok := in.codes.get(fp); ok {
		if old.auth == nil && ci.auth != nil {
			old.auth = ci.auth
		}
		return
	}
	in.codes.put(fp, ci)
}

// age formats a duration for messages: rounded to the second, or to the
// millisecond below a second.
func age(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
