package inspect

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Response checks run on successful token responses only.

func checkJWTMalformed(c *ctx, r report) {
	for _, j := range c.jwts() {
		switch {
		case j.err != nil:
			r.add(fmt.Sprintf("the %s cannot be decoded as a JWT: %v", j.name, j.err), "")
		case len(j.claims.bad) > 0:
			r.add(fmt.Sprintf("the %s has claims of the wrong type: %s", j.name, strings.Join(j.claims.bad, ", ")), "")
		}
	}
}

// clientForToken is the client_id an id_token must be issued to.
func (c *ctx) clientForToken() string {
	if id := c.cred.clientID(); id != "" {
		return id
	}
	if c.auth != nil {
		return c.auth.clientID
	}
	return ""
}

func checkIDTokenAud(c *ctx, r report) {
	idt := c.idToken()
	cid := c.clientForToken()
	if idt == nil || cid == "" || (idt.hasAud && contains(idt.aud, cid)) {
		return
	}
	if !idt.hasAud {
		r.add(fmt.Sprintf("the id_token has no aud claim; it must contain client_id %q", cid), "")
		return
	}
	r.add(fmt.Sprintf("the id_token's aud [%s] does not contain client_id %q (issuer %s)", strings.Join(quoteAll(idt.aud), " "), cid, quote(idt.iss)), "")
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = quote(v)
	}
	return out
}

func checkNonceMismatch(c *ctx, r report) {
	if c.grant != grantAuthCode || c.auth == nil || !c.auth.hasNonce || redacted(c.auth.nonce) {
		return
	}
	idt := c.idToken()
	if idt == nil || idt.nonce == c.auth.nonce || redacted(idt.nonce) {
		return
	}
	if idt.nonce == "" {
		r.add(fmt.Sprintf("the id_token has no nonce, but %s sent nonce %s", authRef(c.auth), short(c.auth.nonce)), "")
		return
	}
	r.add(fmt.Sprintf("the id_token's nonce %s differs from nonce %s sent in %s", short(idt.nonce), short(c.auth.nonce), authRef(c.auth)), "")
}

// skewTolerance is the clock difference tolerated before clock-skew fires.
const skewTolerance = time.Minute

func checkClockSkew(c *ctx, r report) {
	x := c.x
	if x.Start.IsZero() {
		return
	}
	start := x.Start
	end := x.Start.Add(x.Timings.Total)
	var notes []string
	// The server's Date (1 s resolution) was set between start and end.
	if date := c.resp.header.Get("Date"); date != "" {
		if d, err := http.ParseTime(date); err == nil {
			switch {
			case d.After(end.Add(skewTolerance + time.Second)):
				notes = append(notes, "the server's Date header is "+age(d.Sub(end))+" ahead of this machine's clock")
			case d.Before(start.Add(-skewTolerance - time.Second)):
				notes = append(notes, "the server's Date header is "+age(start.Sub(d))+" behind this machine's clock")
			}
		}
	}
	for _, j := range c.jwts() {
		if j.err != nil {
			continue
		}
		cl := j.claims
		if cl.hasIat {
			if iat := unixTime(cl.iat); iat.After(end.Add(skewTolerance)) {
				notes = append(notes, fmt.Sprintf("the %s's iat is %s in the future of this machine's clock (validators reject tokens issued in the future)", j.name, age(iat.Sub(end))))
			}
		}
		if cl.hasNbf {
			if nbf := unixTime(cl.nbf); nbf.After(end.Add(skewTolerance)) {
				notes = append(notes, fmt.Sprintf("the %s's nbf is %s in the future of this machine's clock", j.name, age(nbf.Sub(end))))
			}
		}
		if cl.hasExp {
			if exp := unixTime(cl.exp); !exp.After(end) {
				notes = append(notes, fmt.Sprintf("the %s was already expired when it arrived (exp %s before this machine's clock)", j.name, age(end.Sub(exp))))
			}
		}
	}
	if len(notes) > 0 {
		r.add("clock skew: "+strings.Join(notes, "; "), "")
	}
}

func checkScopeNarrowed(c *ctx, r report) {
	granted := c.resp.get("scope")
	if granted == "" {
		return // absent: the requested scope was granted (RFC 6749 §5.1)
	}
	requested, ok := c.all.get("scope")
	fromAuth := false
	if !ok && c.grant == grantAuthCode && c.auth != nil && c.auth.hasScope {
		requested, ok, fromAuth = c.auth.scope, true, true
	}
	if !ok || strings.TrimSpace(requested) == "" || requested == granted {
		return
	}
	have := scopeList(granted)
	var missing []string
	for _, s := range scopeList(requested) {
		if !scopeGranted(s, have, c) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the server granted fewer scopes than requested: missing %s (requested %q, granted %q)", strings.Join(missing, " "), requested, granted)
	if fromAuth && r.guess {
		// The requested scope comes from a guessed authorize request.
		r.addSev(flow.SeverityInfo, guessPrefix+msg, "")
		return
	}
	r.add(msg, "")
}

// scopeList splits a scope string on spaces (and commas: GitHub, Facebook).
func scopeList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '+' })
}

// scopeGranted matches a requested scope against the granted ones,
// tolerating the ways providers echo scopes: Google expands "email" to
// ".../auth/userinfo.email", Entra drops the resource prefix and expands
// ".default", openid and offline_access are implied by the tokens returned.
func scopeGranted(s string, have []string, c *ctx) bool {
	ls := strings.ToLower(s)
	switch {
	case ls == "openid" && c.resp.get("id_token") != "":
		return true
	case ls == "offline_access" && c.resp.get("refresh_token") != "":
		return true
	case strings.HasSuffix(ls, "/.default") || ls == ".default":
		return len(have) > 0
	}
	seg := ls[strings.LastIndexByte(ls, '/')+1:]
	for _, h := range have {
		lh := strings.ToLower(h)
		if lh == ls || lh == seg || strings.HasSuffix(lh, "/"+seg) || strings.HasSuffix(lh, "."+seg) || strings.HasSuffix(ls, "/"+lh) {
			return true
		}
	}
	return false
}
