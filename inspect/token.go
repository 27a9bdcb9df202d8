package inspect

import (
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// clientCreds is how the client authenticated in a token request.
type clientCreds struct {
	basic         bool // an Authorization: Basic header is present
	basicOK       bool // ...and decodes to id:secret
	basicRedacted bool // ...but was redacted (nothing more can be said)
	basicID       string
	basicSecret   string // raw, as base64-decoded, not form-decoded

	idName, bodyID string // client_id (or a provider alias) in the parameters
	hasBodyID      bool

	secretName, secret string // client_secret (or an alias) in the parameters
	hasSecret          bool
	secretInQuery      bool

	assertion    bool
	assertionAlg string // JWS alg of client_assertion, "" when unknown
}

// readCreds collects the client credentials of a token request.
func (c *ctx) readCreds() {
	cc := &c.cred
	if a := c.x.Request.Header.Get("Authorization"); len(a) >= 6 && strings.EqualFold(a[:6], "basic ") {
		cc.basic = true
		if redacted(strings.TrimSpace(a[6:])) {
			cc.basicRedacted = true
		} else {
			cc.basicID, cc.basicSecret, cc.basicOK = redact.Basic(a)
		}
	}
	cc.idName, cc.bodyID, cc.hasBodyID = c.all.first(clientIDNames...)
	if n, v, ok := c.body.first(clientSecretNames...); ok {
		cc.secretName, cc.secret, cc.hasSecret = n, v, true
	} else if n, v, ok := c.query.first(clientSecretNames...); ok {
		cc.secretName, cc.secret, cc.hasSecret, cc.secretInQuery = n, v, true, true
	}
	if v, ok := c.all.get("client_assertion"); ok {
		cc.assertion = true
		if h, _, err := decodeJWT(v); err == nil {
			cc.assertionAlg = h.Alg
		}
	}
}

// clientID returns the client the request authenticates as: the client_id
// parameter, else the form-decoded Basic user name.
func (cc *clientCreds) clientID() string {
	if cc.hasBodyID {
		return cc.bodyID
	}
	if cc.basicOK {
		return unescape(cc.basicID)
	}
	return ""
}

// methods returns the token_endpoint_auth_method names the request uses.
func (cc *clientCreds) methods() []string {
	var m []string
	if cc.basic {
		m = append(m, "client_secret_basic")
	}
	if cc.hasSecret {
		m = append(m, "client_secret_post")
	}
	if cc.assertion {
		if strings.HasPrefix(cc.assertionAlg, "HS") {
			m = append(m, "client_secret_jwt")
		} else {
			m = append(m, "private_key_jwt")
		}
	}
	if len(m) == 0 {
		m = append(m, "none")
	}
	return m
}

// token checks a token request and its response and records the single-use
// credentials it carried in the ledger.
func (in *Inspector) token(c *ctx) {
	c.parseAll()
	x := c.x
	c.docQuery = documentedQuery(c.host, c.lpath)
	c.grantOptional = grantOptional(c.host)
	c.grant, c.hasGrant = c.all.get("grant_type")
	c.code = c.all.value("code")
	if !c.hasGrant && c.grantOptional {
		switch {
		case c.code != "":
			c.grant = grantAuthCode
		case c.all.has("refresh_token"):
			c.grant = grantRefresh
		}
	}
	x.OAuth.GrantType = c.grant
	c.readCreds()

	// Correlate: by the code seen issued (certain), else by client_id +
	// redirect_uri when exactly one open authorize request fits (a guess).
	if c.grant == grantAuthCode || c.code != "" {
		c.codeFP = fingerprint(c.code)
		if c.codeFP != "" {
			if ci, ok := in.codes.get(c.codeFP); ok {
				c.issue = ci
				c.auth = ci.auth
				if c.auth != nil {
					c.link = flow.LinkCertain
				}
			}
			c.priorCode, c.codeSeen = in.ledger.Lookup(KindCode, c.codeFP)
		}
		if c.issue == nil {
			if c.auth = in.guessAuth(c); c.auth != nil {
				c.link = flow.LinkGuess
			}
		}
	}
	if x.OAuth.Issuer == "" && c.auth != nil {
		x.OAuth.Issuer = c.auth.issuer
	}
	if c.meta == nil && x.OAuth.Issuer != "" {
		c.meta = in.issuers[x.OAuth.Issuer]
	}
	if c.grant == grantRefresh {
		c.refreshFP = fingerprint(c.all.value("refresh_token"))
		if c.refreshFP != "" {
			c.priorRefresh, c.refreshSeen = in.ledger.Lookup(KindRefreshToken, c.refreshFP)
		}
	}

	var out []flow.Finding
	runChecks(phaseToken, c, &out)
	c.resp = parseTokenResponse(x.Response)
	if c.resp != nil && c.resp.ok {
		runChecks(phaseResponse, c, &out)
	}
	x.OAuth.Findings = append(x.OAuth.Findings, out...)
	in.traceToken(c)

	status, result := 0, "no response"
	if c.resp != nil {
		status, result = c.resp.status, c.resp.result()
	} else if strings.HasPrefix(x.Error, flow.BrowserReportedPrefix) {
		result = "no response (reported by the browser)" // a browser's capture: no upstream involved
	} else if x.Error != "" {
		result = "no response (upstream error)"
	}
	result = safeResult(result, x, c)
	if c.codeFP != "" {
		in.ledger.Record(Use{Kind: KindCode, Fingerprint: c.codeFP, Time: x.Start, Flow: x.ID, Issuer: x.OAuth.Issuer, Status: status, Result: result})
	}
	if c.refreshFP != "" {
		rotated := c.resp != nil && c.resp.ok && rotatedRefresh(c.all.value("refresh_token"), c.refreshFP, c.resp.get("refresh_token"))
		in.ledger.Record(Use{Kind: KindRefreshToken, Fingerprint: c.refreshFP, Time: x.Start, Flow: x.ID, Issuer: x.OAuth.Issuer, Status: status, Result: result, Rotated: rotated})
	}
}

// rotatedRefresh reports whether a refresh answered with the refresh token
// got (raw or a fingerprint) rotated the one sent, sent (fingerprinted as
// sentFP). Two raw values are compared as they are (equal values have
// equal fingerprints, different ones different ones): no second hash per
// refresh; a fingerprint on either side (a redacted capture) is compared
// by fingerprint.
func rotatedRefresh(sent, sentFP, got string) bool {
	if got == "" || got == sent {
		return false
	}
	if rawSecret(got) && rawSecret(sent) {
		return true
	}
	nrt := fingerprint(got)
	return nrt != "" && nrt != sentFP
}

// rawSecret reports whether v is a value as sent, neither redacted nor a
// fingerprint.
func rawSecret(v string) bool { return !redacted(v) && !redact.IsFingerprint(v) }

// answer describes the recorded outcome of a use: "200 ok", "400 invalid_grant".
func answer(u Use) string {
	if u.Status == 0 {
		return u.Result
	}
	return strconv.Itoa(u.Status) + " " + u.Result
}

// safeResult keeps a recorded answer only if it looks like an OAuth error
// code and holds none of the request's secrets: it is quoted in later
// findings and written to the ledger file, and a server may echo anything
// in its "error" member.
func safeResult(result string, x *flow.Exchange, c *ctx) string {
	if len(result) > 64 || strings.IndexFunc(result, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == ' ' || r == '(' || r == ')')
	}) >= 0 {
		return "(an answer that is not an OAuth error code)"
	}
	secrets := []string{c.code, c.all.value("refresh_token"), c.cred.secret, c.cred.basicSecret}
	if _, cred, ok := strings.Cut(x.Request.Header.Get("Authorization"), " "); ok {
		secrets = append(secrets, strings.TrimSpace(cred))
	}
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(result, sec) {
			return "(an answer that echoes a secret of the request)"
		}
	}
	return result
}
