package inspect

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Factories for the hops of a login on the OP (idp.example.com).

// authorizeToLogin is the authorize request answered by a redirect to the
// OP's login page.
func (s *scen) authorizeToLogin(p kv, d time.Duration) *flow.Exchange {
	return exch("GET", s.issuer+"/authorize?"+p.encode(), at(d), resp(302, "", "", "Location", "/login?authRequestID=ar-"+s.state))
}

// loginPage, loginPost and finalRedirect are the hops: the login form, its
// POST (a redirect to the OP's callback) and the OP's redirect to the
// redirect URI with the authorization response q.
func (s *scen) loginPage(d time.Duration) *flow.Exchange {
	return exch("GET", s.issuer+"/login?authRequestID=ar-"+s.state, at(d), resp(200, "text/html", "<form method=post><input name=password></form>"))
}

func (s *scen) loginPost(d time.Duration, referer bool) *flow.Exchange {
	opts := []xopt{at(d), body("application/x-www-form-urlencoded", "username=alice&password=CANARY-pw"), resp(302, "", "", "Location", "/authorize/callback?id=ar-"+s.state)}
	if referer {
		opts = append(opts, hdr("Referer", s.issuer+"/login?authRequestID=ar-"+s.state))
	}
	return exch("POST", s.issuer+"/login", opts...)
}

func (s *scen) finalRedirect(q kv, d time.Duration) *flow.Exchange {
	return exch("GET", s.issuer+"/authorize/callback?id=ar-"+s.state, at(d), resp(302, "", "", "Location", s.redirect+"?"+q.encode()))
}

// respQuery is the authorization response of s.
func (s *scen) respQuery() kv { return kv{{"code", s.code}, {"state", s.state}, {"iss", s.issuer}} }

// login is discovery, authorize and the three hops; the client never
// requests its callback through the proxy.
func (s *scen) login() []*flow.Exchange {
	return []*flow.Exchange{s.discovery(), s.authorizeToLogin(s.authParams(), -30*time.Second),
		s.loginPage(-29 * time.Second), s.loginPost(-20*time.Second, true), s.finalRedirect(s.respQuery(), -19*time.Second)}
}

func init() {
	checkCases = append(checkCases, traceCases...)
}

// traceCases are the table rows of the tracing findings.
var traceCases = []checkCase{
	{name: "final redirect with another issuer's iss", id: IDIssMismatch, fire: true,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:4] },
		x: func(s *scen) *flow.Exchange {
			return s.finalRedirect(s.respQuery().set("iss", "https://evil.example.net"), -19*time.Second)
		},
		msg: `"https://evil.example.net"`, sev: flow.SeverityError},
	{name: "final redirect with its issuer's iss", id: IDIssMismatch,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:4] },
		x:     func(s *scen) *flow.Exchange { return s.finalRedirect(s.respQuery(), -19*time.Second) }},
	{name: "callback with another issuer's iss", id: IDIssMismatch, fire: true,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:2] },
		x: func(s *scen) *flow.Exchange {
			return exch("GET", s.redirect+"?"+s.respQuery().set("iss", "https://evil.example.net").encode())
		}},
	{name: "final redirect with a state nobody sent", id: IDStateUnknown, fire: true,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:4] },
		x: func(s *scen) *flow.Exchange {
			return s.finalRedirect(s.respQuery().set("state", "st-forged-123"), -19*time.Second)
		},
		msg: "matches no authorize request", sev: flow.SeverityWarn},
	{name: "callback with a state nobody sent", id: IDStateUnknown, fire: true,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:2] },
		x: func(s *scen) *flow.Exchange {
			return exch("GET", s.redirect+"?"+s.respQuery().set("state", "st-forged-123").encode())
		}},
	{name: "final redirect with the sent state", id: IDStateUnknown,
		setup: func(s *scen) []*flow.Exchange { return s.login()[:4] },
		x:     func(s *scen) *flow.Exchange { return s.finalRedirect(s.respQuery(), -19*time.Second) }},
	{name: "callback when no authorize request was seen", id: IDStateUnknown,
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.discovery()} },
		x:     func(s *scen) *flow.Exchange { return s.callback() }},
	{name: "token request of a client whose authorize was not seen", id: IDAuthorizeUnseen, fire: true,
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.discovery()} },
		x:     tok(same), msg: "oauthproxy browser", sev: flow.SeverityInfo},
	{name: "token request after its authorize", id: IDAuthorizeUnseen, x: tok(same)},
	{name: "token-only: failed exchange with another redirect_uri than the last success", id: IDRedirectChanged, fire: true,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams().set("code", "CANARY-code-ok"), at(-time.Minute))}
		},
		x:   tok(set("redirect_uri", "https://app.example.com/callback/"), jsonResp(400, map[string]any{"error": "invalid_grant"})),
		msg: "trailing slash", sev: flow.SeverityWarn},
	{name: "token-only: failed exchange with the same redirect_uri", id: IDRedirectChanged,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams().set("code", "CANARY-code-ok"), at(-time.Minute))}
		},
		x: tok(same, jsonResp(400, map[string]any{"error": "invalid_grant"}))},
	{name: "token-only: successful exchange with another redirect_uri", id: IDRedirectChanged,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams().set("code", "CANARY-code-ok"), at(-time.Minute))}
		},
		x: tok(set("redirect_uri", "https://app.example.com/callback/"))},
	{name: "one verifier sent with two codes", id: IDVerifierReused, fire: true,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams().set("code", "CANARY-code-first"), at(-time.Minute))}
		},
		x: tok(same), msg: "already sent with another code", sev: flow.SeverityWarn},
	{name: "each code with its own verifier", id: IDVerifierReused,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams().set("code", "CANARY-code-first").set("code_verifier", "CANARY-verifier-other-0123456789abcdefghijklmnopqrstu"), at(-time.Minute))}
		},
		x: tok(same)},
	{name: "the same code retried with its verifier", id: IDVerifierReused,
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.token(s.tokenParams(), at(-time.Minute))}
		},
		x: tok(same)},
}

// aboveInfo lists the findings of x above info.
func aboveInfo(x *flow.Exchange) []string {
	var out []string
	for _, f := range x.OAuth.Findings {
		if f.Severity != flow.SeverityInfo {
			out = append(out, f.ID+"/"+string(f.Severity))
		}
	}
	return out
}

// TestLoginAcrossHops: the client reads the code from the OP's final
// redirect and never requests its callback through the proxy; the token
// request is still linked (certain) and checked, every exchange carries
// the login id, and the token exchange has the trace line.
func TestLoginAcrossHops(t *testing.T) {
	tests := []struct {
		name      string
		token     func(s *scen) *flow.Exchange
		want      string // finding id, "" for none above info
		wantTrace string
	}{
		{"happy path", tok(same), "", "login idp.example.com: authorize → 3 hops → callback → token 200 ok"},
		{"redirect_uri trailing slash", tok(set("redirect_uri", "https://app.example.com/callback/"), jsonResp(400, map[string]any{"error": "invalid_grant"})),
			IDRedirectMismatch, "login idp.example.com: authorize → 3 hops → callback → token 400 redirect-uri-mismatch"},
		{"wrong verifier", tok(set("code_verifier", "CANARY-verifier-wrong-0123456789abcdefghijklmnopqrst"), jsonResp(400, map[string]any{"error": "invalid_grant"})),
			IDPKCEMismatch, "login idp.example.com: authorize → 3 hops → callback → token 400 pkce-mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			xs := s.login()
			x := tt.token(s)
			inspectAll(in, append(xs, x)...)
			authz := xs[1]
			for _, h := range xs[1:] {
				if h.OAuth.Login != authz.ID {
					t.Errorf("%s %s: got login %q, want %q", h.Request.Method, h.Request.URL, h.OAuth.Login, authz.ID)
				}
			}
			for _, h := range xs[2:] {
				if h.OAuth.Label != flow.LabelHop {
					t.Errorf("%s %s: got label %q, want %q", h.Request.Method, h.Request.URL, h.OAuth.Label, flow.LabelHop)
				}
			}
			if x.OAuth.Login != authz.ID || x.OAuth.LoginLink != flow.LinkCertain {
				t.Errorf("token: got login %q link %q, want %q certain", x.OAuth.Login, x.OAuth.LoginLink, authz.ID)
			}
			got := aboveInfo(x)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("token: got findings %v, want none above info", got)
			case tt.want != "":
				if f, ok := finding(x, tt.want); !ok || f.Severity != flow.SeverityError {
					t.Errorf("token: got findings %v, want %s at error", got, tt.want)
				}
			}
			if x.OAuth.LoginTrace != tt.wantTrace {
				t.Errorf("trace: got %q, want %q", x.OAuth.LoginTrace, tt.wantTrace)
			}
		})
	}
}

// TestHopLinks: how each hop is tied to its login.
func TestHopLinks(t *testing.T) {
	tests := []struct {
		name     string
		referer  bool
		parallel bool // a second login of another state is open on the OP
		wantLink string
	}{
		{"POST with Referer of a login page", true, false, flow.LinkCertain},
		{"POST without Referer, the only open login", false, false, flow.LinkGuess},
		{"POST without Referer, two open logins", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			xs := []*flow.Exchange{s.discovery(), s.authorizeToLogin(s.authParams(), 0), s.loginPage(time.Second)}
			if tt.parallel {
				o := *s
				o.state = "st-other"
				xs = append(xs, o.authorizeToLogin(o.authParams(), 2*time.Second))
			}
			post := s.loginPost(3*time.Second, tt.referer)
			inspectAll(in, append(xs, post)...)
			if post.OAuth.LoginLink != tt.wantLink {
				t.Errorf("login POST: got link %q (login %q), want %q", post.OAuth.LoginLink, post.OAuth.Login, tt.wantLink)
			}
			if tt.wantLink != "" && post.OAuth.Login != xs[1].ID {
				t.Errorf("login POST: got login %q, want %q", post.OAuth.Login, xs[1].ID)
			}
		})
	}
}

// TestAuthorizationResponses: the code is read wherever it shows up.
func TestAuthorizationResponses(t *testing.T) {
	tests := []struct {
		name string
		resp func(s *scen) *flow.Exchange
	}{
		{"final redirect, query", func(s *scen) *flow.Exchange { return s.finalRedirect(s.respQuery(), time.Second) }},
		{"final redirect, fragment", func(s *scen) *flow.Exchange {
			return exch("GET", s.issuer+"/resume", at(time.Second), hdr("Referer", s.issuer+"/login?authRequestID=ar-"+s.state),
				resp(303, "", "", "Location", s.redirect+"#"+s.respQuery().encode()))
		}},
		{"form_post page", func(s *scen) *flow.Exchange {
			page := fmt.Sprintf(`<html><body onload="document.forms[0].submit()"><form method="post" action="%s"><input type="hidden" name="code" value="%s"/><input type='hidden' name='state' value='%s'/></form></body></html>`, s.redirect, s.code, s.state)
			return exch("POST", s.issuer+"/consent", at(time.Second), body("application/x-www-form-urlencoded", "allow=1"), resp(200, "text/html; charset=utf-8", page))
		}},
		{"proxied callback on localhost", func(s *scen) *flow.Exchange {
			return exch("GET", s.redirect+"?"+s.respQuery().encode(), at(time.Second), resp(200, "text/plain", "ok"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			s.redirect = "http://localhost:8765/cb"
			in := New(Options{})
			authz := s.authorizeToLogin(s.authParams(), 0)
			r := tt.resp(s)
			x := s.token(s.tokenParams().set("code_verifier", "CANARY-verifier-wrong-0123456789abcdefghijklmnopqrst"), at(2*time.Second), jsonResp(400, map[string]any{"error": "invalid_grant"}))
			inspectAll(in, s.discovery(), authz, r, x)
			if r.OAuth.Login != authz.ID {
				t.Errorf("response: got login %q, want %q", r.OAuth.Login, authz.ID)
			}
			if x.OAuth.LoginLink != flow.LinkCertain {
				t.Errorf("token: got link %q, want certain", x.OAuth.LoginLink)
			}
			if f, ok := finding(x, IDPKCEMismatch); !ok || f.Severity != flow.SeverityError {
				t.Errorf("token: got %v, want %s at error", ids(x), IDPKCEMismatch)
			}
		})
	}
}

// TestNeverLinked: token requests with codes never seen issued are not
// linked to an authorize request that cannot have issued them, so no
// correlation finding above info appears.
func TestNeverLinked(t *testing.T) {
	wrong := "CANARY-verifier-wrong-0123456789abcdefghijklmnopqrst"
	tests := []struct {
		name  string
		setup func(s *scen) []*flow.Exchange
	}{
		{"authorize answered 403", func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), exch("GET", s.issuer+"/authorize?"+s.authParams().encode(), at(-time.Second), resp(403, "text/html", "<h1>Access denied</h1>"))}
		}},
		{"authorize answered error=access_denied", func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), exch("GET", s.issuer+"/authorize?"+s.authParams().encode(), at(-time.Second),
				resp(302, "", "", "Location", s.redirect+"?error=access_denied&state="+s.state))}
		}},
		{"access_denied after the login hops", func(s *scen) []*flow.Exchange {
			return append(s.login()[:4], s.finalRedirect(kv{{"error", "access_denied"}, {"state", s.state}}, -19*time.Second))
		}},
		{"authorize older than the code lifetime", func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(), s.authorizeToLogin(s.authParams(), -6*time.Minute)}
		}},
		{"authorize at another issuer", func(s *scen) []*flow.Exchange {
			o := *s
			o.issuer = "https://other.example.org"
			return []*flow.Exchange{s.discovery(), o.discovery(), o.authorizeToLogin(o.authParams(), -time.Second)}
		}},
		{"authorize at another host, issuer unknown", func(s *scen) []*flow.Exchange {
			o := *s
			o.issuer = "https://login.other.example"
			return []*flow.Exchange{s.discovery(), o.authorizeToLogin(o.authParams(), -time.Second)}
		}},
		{"authorize that already issued its code", func(s *scen) []*flow.Exchange {
			o := *s
			o.code = "CANARY-code-issued"
			return o.login()
		}},
		{"two authorize requests in flight", func(s *scen) []*flow.Exchange {
			o := *s
			o.state = "st-two"
			return []*flow.Exchange{s.discovery(), s.authorizeToLogin(s.authParams(), -2*time.Second), o.authorizeToLogin(o.authParams(), -time.Second)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			inspectAll(in, tt.setup(s)...)
			// Same client_id and redirect_uri: a guess would find the
			// authorize request if it were not excluded.
			x := s.token(s.tokenParams().set("code", "CANARY-code-never-seen").set("code_verifier", wrong),
				jsonResp(400, map[string]any{"error": "invalid_grant"}))
			inspectAll(in, x)
			if got := aboveInfo(x); len(got) > 0 {
				t.Errorf("token: got %v, want no finding above info", got)
			}
			if x.OAuth.LoginLink != "" || x.OAuth.Login != x.ID {
				t.Errorf("token: got login %q link %q, want a login of its own", x.OAuth.Login, x.OAuth.LoginLink)
			}
			if _, ok := finding(x, IDAuthorizeUnseen); ok {
				t.Errorf("token: got %s, but the client's authorize leg was seen", IDAuthorizeUnseen)
			}
		})
	}
}

// TestGuessedLink: the only open authorize request of the client is a
// guess; its findings stay at info and say "likely".
func TestGuessedLink(t *testing.T) {
	s := newScen()
	in := New(Options{})
	authz := s.authorizeToLogin(s.authParams(), -time.Second)
	x := s.token(s.tokenParams().set("code", "CANARY-code-unseen").set("code_verifier", "CANARY-verifier-wrong-0123456789abcdefghijklmnopqrst"),
		jsonResp(400, map[string]any{"error": "invalid_grant"}))
	inspectAll(in, s.discovery(), authz, x)
	if x.OAuth.Login != authz.ID || x.OAuth.LoginLink != flow.LinkGuess {
		t.Fatalf("token: got login %q link %q, want %q guess", x.OAuth.Login, x.OAuth.LoginLink, authz.ID)
	}
	f, ok := finding(x, IDPKCEMismatch)
	if !ok || f.Severity != flow.SeverityInfo || !strings.Contains(f.Message, "likely") {
		t.Errorf("token: got %+v, want %s at info saying likely", x.OAuth.Findings, IDPKCEMismatch)
	}
	if x.OAuth.Diagnosis == nil || x.OAuth.Diagnosis.Cause == "pkce-mismatch" {
		t.Errorf("diagnosis: got %+v, want one that does not rest on the guessed finding", x.OAuth.Diagnosis)
	}
	if !strings.Contains(x.OAuth.LoginTrace, "(guessed link)") {
		t.Errorf("trace: got %q, want it to say the link is a guess", x.OAuth.LoginTrace)
	}
}

// TestAmbiguityDecidedPerRequest: two logins overlap, the first
// completes; the second's token request then has one candidate again.
func TestAmbiguityDecidedPerRequest(t *testing.T) {
	s := newScen()
	o := *s
	o.state, o.code = "st-second", "CANARY-code-second"
	in := New(Options{})
	a1 := s.authorizeToLogin(s.authParams(), -3*time.Second)
	a2 := o.authorizeToLogin(o.authParams(), -2*time.Second)
	inspectAll(in, s.discovery(), a1, a2, s.finalRedirect(s.respQuery(), -time.Second), s.token(s.tokenParams()))
	x := o.token(o.tokenParams(), at(time.Second))
	inspectAll(in, x)
	if x.OAuth.Login != a2.ID || x.OAuth.LoginLink != flow.LinkGuess {
		t.Errorf("second token: got login %q link %q, want %q guess", x.OAuth.Login, x.OAuth.LoginLink, a2.ID)
	}
}

// TestConcurrentLogins: ten logins of one client and redirect URI,
// interleaved; each token request is linked to its own authorize request.
func TestConcurrentLogins(t *testing.T) {
	const n = 10
	in := New(Options{})
	base := newScen()
	inspectAll(in, base.discovery())
	ss := make([]*scen, n)
	auths := make([]*flow.Exchange, n)
	for i := range ss {
		s := *base
		s.state = "st-" + strconv.Itoa(i)
		s.code = "CANARY-code-" + strconv.Itoa(i)
		s.verifier = fmt.Sprintf("CANARY-verifier-%02d-0123456789abcdefghijklmnopqrstuvwxyz", i)
		s.challenge = s256(s.verifier)
		s.nonce = "CANARY-nonce-" + strconv.Itoa(i)
		ss[i] = &s
		auths[i] = s.authorizeToLogin(s.authParams(), time.Duration(i)*time.Millisecond)
	}
	var xs []*flow.Exchange
	xs = append(xs, auths...)
	for i := range ss { // login pages in reverse order
		s := ss[n-1-i]
		xs = append(xs, s.loginPage(time.Second), s.loginPost(2*time.Second, true))
	}
	for i := range ss { // final redirects: odd ones first
		s := ss[(2*i+1)%n]
		if i >= n/2 {
			s = ss[2*(i-n/2)]
		}
		xs = append(xs, s.finalRedirect(s.respQuery(), 3*time.Second))
	}
	inspectAll(in, xs...)
	for k := range ss {
		i := (k * 3) % n
		s := ss[i]
		x := s.token(s.tokenParams(), at(4*time.Second), s.okResp(s.idToken()))
		inspectAll(in, x)
		if x.OAuth.Login != auths[i].ID || x.OAuth.LoginLink != flow.LinkCertain {
			t.Errorf("login %d: token got login %q link %q, want %q certain", i, x.OAuth.Login, x.OAuth.LoginLink, auths[i].ID)
		}
		if got := aboveInfo(x); len(got) > 0 {
			t.Errorf("login %d: got findings %v, want none above info", i, got)
		}
	}
	for _, x := range xs {
		if got := aboveInfo(x); len(got) > 0 {
			t.Errorf("%s %s: got findings %v", x.Request.Method, x.Request.URL, got)
		}
	}
}

// TestTokensJoinLogin: userinfo and API calls with the issued access token
// (and a refresh with the issued refresh token) belong to the login.
func TestTokensJoinLogin(t *testing.T) {
	s := newScen()
	in := New(Options{})
	xs := s.login()
	tokenX := s.token(s.tokenParams())
	inspectAll(in, append(xs, tokenX)...)
	login := xs[1].ID
	tests := []struct {
		name string
		x    *flow.Exchange
		want string
	}{
		{"userinfo", exch("GET", s.issuer+"/me", hdr("Authorization", "Bearer "+canaryAccess), jsonResp(200, map[string]any{"sub": "u"})), login},
		{"API call", exch("GET", "https://api.example.com/v1/items", hdr("Authorization", "Bearer "+canaryAccess), jsonResp(200, map[string]any{})), login},
		{"API call with another token", exch("GET", "https://api.example.com/v1/items", hdr("Authorization", "Bearer CANARY-other"), jsonResp(200, map[string]any{})), ""},
		{"refresh", s.refresh(canaryRefresh, "", time.Minute), login},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inspectAll(in, tt.x)
			if tt.x.OAuth.Login != tt.want {
				t.Errorf("got login %q, want %q", tt.x.OAuth.Login, tt.want)
			}
		})
	}
}

// TestTokenOnlyHintOnce: the authorize-unseen hint appears once per client.
func TestTokenOnlyHintOnce(t *testing.T) {
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.discovery())
	var got []string
	for i, client := range []string{"app-1", "app-1", "app-2", "app-1", "app-2"} {
		x := s.token(s.tokenParams().set("client_id", client).set("code", "CANARY-code-"+strconv.Itoa(i)).set("code_verifier", fmt.Sprintf("CANARY-verifier-%02d-0123456789abcdefghijklmnopqrstuvwxyz", i)))
		inspectAll(in, x)
		_, hint := finding(x, IDAuthorizeUnseen)
		got = append(got, fmt.Sprint(hint))
		if x.OAuth.Login != x.ID {
			t.Errorf("token %d: got login %q, want its own id", i, x.OAuth.Login)
		}
	}
	if want := "true false true false false"; strings.Join(got, " ") != want {
		t.Errorf("hints: got %s, want %s", strings.Join(got, " "), want)
	}
}

// TestTraceBounded: open-login state stays bounded by count and age.
func TestTraceBounded(t *testing.T) {
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.discovery())
	for i := range maxTraced + 500 {
		c := *s
		c.state = "st-" + strconv.Itoa(i)
		c.code = "code-" + strconv.Itoa(i)
		d := time.Duration(i) * time.Millisecond
		in.Inspect(c.authorizeToLogin(c.authParams(), d))
		in.Inspect(c.finalRedirect(c.respQuery(), d))
		in.Inspect(c.token(c.tokenParams().set("code_verifier", "v-"+strconv.Itoa(i)), at(d)))
	}
	tr := &in.trace
	for name, n := range map[string]int{"byState": in.byState.len(), "codes": in.codes.len(), "pages": tr.pages.len(), "tokens": tr.tokens.len(), "verifiers": tr.verifiers.len()} {
		if n > maxTraced {
			t.Errorf("%s: got %d entries, want at most %d", name, n, maxTraced)
		}
	}
	if list, _ := in.byClient.get(clientKey(s.client, s.redirect)); len(list) > maxPerKey {
		t.Errorf("byClient list: got %d, want at most %d", len(list), maxPerKey)
	}
	// An hour later every open login has expired.
	late := *s
	late.state = "st-late"
	in.Inspect(late.authorizeToLogin(late.authParams(), 2*maxLoginAge))
	if n := in.byState.len(); n != 1 {
		t.Errorf("byState after an hour: got %d entries, want 1", n)
	}
}

// FuzzFormPost: the form_post reader never panics.
func FuzzFormPost(f *testing.F) {
	f.Add(`<form method="post" action="https://app/cb"><input name="code" value="x"><input name=state value=y></form>`)
	f.Add(`<form action=`)
	f.Add(`<FORM ACTION='x'><INPUT NAME='code' VALUE='&amp;'>`)
	f.Fuzz(func(t *testing.T, s string) {
		formPost([]byte(s), nil)
	})
}

// BenchmarkTraceNonOAuth measures inspection of ordinary API traffic while
// logins are open and tokens remembered (the tracing lookups every
// exchange pays).
func BenchmarkTraceNonOAuth(b *testing.B) {
	in := New(Options{})
	s := newScen()
	in.Inspect(s.discovery())
	for i := range 100 {
		c := *s
		c.state = "st-" + strconv.Itoa(i)
		c.code = "code-" + strconv.Itoa(i)
		in.Inspect(c.authorizeToLogin(c.authParams(), 0))
		in.Inspect(c.finalRedirect(c.respQuery(), 0))
		in.Inspect(c.token(c.tokenParams().set("code_verifier", "v-"+strconv.Itoa(i)), jsonResp(200, map[string]any{"access_token": "at-" + strconv.Itoa(i)})))
	}
	xs := []*flow.Exchange{
		exch("GET", "https://api.example.com/v1/users/42?page=2", jsonResp(200, map[string]any{"id": 42})),
		exch("GET", "https://api.example.com/v1/users/42", hdr("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9."+strings.Repeat("x", 600)+".sig"), jsonResp(200, map[string]any{"id": 42})),
		exch("POST", "https://api.example.com/v1/orders", body("application/json", `{"item":"x"}`), jsonResp(201, map[string]any{"ok": true})),
		exch("GET", "https://cdn.example.com/app.js", resp(200, "application/javascript", "x")),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in.Inspect(xs[i%len(xs)])
		i++
	}
}

// BenchmarkLogins100k runs 100,000 complete logins (authorize, three hops,
// token, userinfo) through one Inspector and reports the live heap after
// 10,000, 50,000 and all of them: flat memory means the three are close.
func BenchmarkLogins100k(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		// The code ledger is bounded on its own (100,000 entries by
		// default); a small one keeps this about the tracing state.
		in := New(Options{Ledger: &MemoryLedger{MaxEntries: 1000}})
		s := newScen()
		in.Inspect(s.discovery())
		var heap10k, heap50k uint64
		for i := range n {
			c := *s
			c.state = "st-" + strconv.Itoa(i)
			c.code = "code-" + strconv.Itoa(i)
			d := time.Duration(i) * 10 * time.Millisecond
			in.Inspect(c.authorizeToLogin(c.authParams(), d))
			in.Inspect(c.loginPage(d))
			in.Inspect(c.loginPost(d, true))
			in.Inspect(c.finalRedirect(c.respQuery(), d))
			access := "at-" + strconv.Itoa(i)
			// Not c.token: its id_token would be kept by the canary check.
			in.Inspect(exch("POST", s.issuer+"/oauth2/token", at(d), formBody(c.tokenParams().set("code_verifier", "v-"+strconv.Itoa(i))), jsonResp(200, map[string]any{"access_token": access})))
			in.Inspect(exch("GET", s.issuer+"/me", at(d), hdr("Authorization", "Bearer "+access), jsonResp(200, map[string]any{"sub": "u"})))
			switch i {
			case 10_000:
				heap10k = liveHeap()
			case 50_000:
				heap50k = liveHeap()
			}
		}
		heapEnd := liveHeap()
		b.ReportMetric(float64(heap10k)/(1<<20), "MiB-heap@10k")
		b.ReportMetric(float64(heap50k)/(1<<20), "MiB-heap@50k")
		b.ReportMetric(float64(heapEnd)/(1<<20), "MiB-heap@100k")
		runtime.KeepAlive(in)
	}
}

// liveHeap returns the heap in use after a garbage collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestPARLogin: a pushed authorization request starts the login; the
// browser's authorize request with its request_uri and the hops continue
// it; implicit-flow tokens in the response join it too.
func TestPARLogin(t *testing.T) {
	s := newScen()
	in := New(Options{})
	par := exch("POST", s.issuer+"/oauth2/push", at(-3*time.Second), formBody(s.authParams()),
		jsonResp(201, map[string]any{"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60}))
	authz := exch("GET", s.issuer+"/authorize?client_id=app-123&request_uri="+"urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", at(-2*time.Second),
		resp(302, "", "", "Location", "/login?authRequestID=ar-"+s.state))
	xs := []*flow.Exchange{s.discovery(), par, authz, s.loginPage(-time.Second), s.loginPost(-time.Second, true), s.finalRedirect(s.respQuery(), -time.Second)}
	x := s.token(s.tokenParams().set("redirect_uri", s.redirect+"/"), jsonResp(400, map[string]any{"error": "invalid_grant"}))
	inspectAll(in, append(xs, x)...)
	for _, e := range append(xs[2:], x) {
		if e.OAuth.Login != par.ID {
			t.Errorf("%s %s: got login %q, want the PAR request's %q", e.Request.Method, e.Request.URL, e.OAuth.Login, par.ID)
		}
	}
	if f, ok := finding(x, IDRedirectMismatch); !ok || f.Severity != flow.SeverityError {
		t.Errorf("token: got %v, want %s at error", ids(x), IDRedirectMismatch)
	}
	if want := "login idp.example.com: authorize → 3 hops → callback → token 400 redirect-uri-mismatch"; x.OAuth.LoginTrace != want {
		t.Errorf("trace: got %q, want %q", x.OAuth.LoginTrace, want)
	}
}

// TestImplicitTokenJoins: an access token delivered in the fragment of the
// authorization response (implicit or hybrid flow) ties API calls to the
// login.
func TestImplicitTokenJoins(t *testing.T) {
	s := newScen()
	in := New(Options{})
	authz := s.authorizeToLogin(s.authParams().set("response_type", "token"), 0)
	final := s.finalRedirect(nil, time.Second)
	final.Response.Header.Set("Location", s.redirect+"#"+kv{{"access_token", canaryAccess}, {"token_type", "Bearer"}, {"state", s.state}}.encode())
	api := exch("GET", "https://api.example.com/v1/me", at(2*time.Second), hdr("Authorization", "Bearer "+canaryAccess), jsonResp(200, map[string]any{}))
	inspectAll(in, s.discovery(), authz, final, api)
	if final.OAuth.Login != authz.ID || api.OAuth.Login != authz.ID {
		t.Errorf("got logins %q (response) and %q (API call), want %q", final.OAuth.Login, api.OAuth.Login, authz.ID)
	}
}

// TestFailedAuthorizeTrace: a login that fails in the front channel ends
// with a trace line naming the failing step.
func TestFailedAuthorizeTrace(t *testing.T) {
	s := newScen()
	tests := []struct {
		name string
		xs   func() []*flow.Exchange
		want string // trace of the last exchange; "<cause>" is its diagnosis cause
	}{
		{"authorize answered 403 by a WAF", func() []*flow.Exchange {
			return []*flow.Exchange{exch("GET", s.issuer+"/authorize?"+s.authParams().encode(),
				resp(403, "text/html", "<html><title>Attention Required! | Cloudflare</title><body>Sorry, you have been blocked. Cloudflare Ray ID: 8a1b2c3d4e5f6a7b</body></html>", "Server", "cloudflare", "CF-RAY", "8a1b2c3d4e5f6a7b-FRA"))}
		}, "login idp.example.com: authorize 403 <cause>"},
		{"error=access_denied after the login", func() []*flow.Exchange {
			return append(s.login()[1:4], s.finalRedirect(kv{{"error", "access_denied"}, {"state", s.state}}, -19*time.Second))
		}, "login idp.example.com: authorize → 3 hops → error=access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := New(Options{})
			inspectAll(in, s.discovery())
			xs := tt.xs()
			inspectAll(in, xs...)
			last := xs[len(xs)-1]
			want := tt.want
			if strings.Contains(want, "<cause>") {
				if last.OAuth.Diagnosis == nil {
					t.Fatalf("got no diagnosis of the failed authorize request")
				}
				want = strings.Replace(want, "<cause>", last.OAuth.Diagnosis.Cause, 1)
			}
			if last.OAuth.LoginTrace != want {
				t.Errorf("trace: got %q, want %q", last.OAuth.LoginTrace, want)
			}
		})
	}
}

// TestSharedLoginPage: a login page URL without a per-login id, reached by
// two open logins, is tied to neither; once they are over, the next login
// may take it again.
func TestSharedLoginPage(t *testing.T) {
	s := newScen()
	in := New(Options{})
	toLogin := func(c *scen, d time.Duration) *flow.Exchange {
		return exch("GET", c.issuer+"/authorize?"+c.authParams().encode(), at(d), resp(302, "", "", "Location", "/login"))
	}
	page := func(d time.Duration) *flow.Exchange {
		return exch("GET", s.issuer+"/login", at(d), resp(200, "text/html", "<form></form>"))
	}
	a, b := *s, *s
	a.state, b.state = "st-a", "st-b"
	a.code, b.code = "CANARY-code-a", "CANARY-code-b"
	inspectAll(in, s.discovery(), toLogin(&a, 0), toLogin(&b, time.Second))
	p1 := page(2 * time.Second)
	inspectAll(in, p1)
	if p1.OAuth.Login != "" {
		t.Errorf("page of two open logins: got login %q (%s), want none", p1.OAuth.Login, p1.OAuth.LoginLink)
	}
	// Both logins end (their codes are redeemed).
	for _, c := range []*scen{&a, &b} {
		inspectAll(in, c.finalRedirect(c.respQuery(), 3*time.Second), c.token(c.tokenParams().set("code_verifier", "CANARY-verifier-"+c.state+"-0123456789abcdefghijklmnopqrstuvw"), at(4*time.Second)))
	}
	c := *s
	c.state = "st-c"
	third := toLogin(&c, 5*time.Second)
	p2 := page(6 * time.Second)
	inspectAll(in, third, p2)
	if p2.OAuth.Login != third.ID || p2.OAuth.LoginLink != flow.LinkCertain {
		t.Errorf("page of the next login: got login %q link %q, want %q certain", p2.OAuth.Login, p2.OAuth.LoginLink, third.ID)
	}
}

// TestGuessedScope: scope-narrowed that compares with the scope of a
// guessed authorize request stays at info; with the request's own scope it
// keeps its severity.
func TestGuessedScope(t *testing.T) {
	tests := []struct {
		name    string
		scope   string // scope parameter of the token request, "" for none
		wantSev flow.Severity
	}{
		{"scope from the guessed authorize request", "", flow.SeverityInfo},
		{"scope in the token request itself", "openid email profile", flow.SeverityWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			p := s.tokenParams().set("code", "CANARY-code-unseen")
			if tt.scope != "" {
				p = p.set("scope", tt.scope)
			}
			x := s.token(p, jsonResp(200, map[string]any{"access_token": canaryAccess, "scope": "openid"}))
			inspectAll(in, s.discovery(), s.authorizeToLogin(s.authParams(), -time.Second), x)
			if x.OAuth.LoginLink != flow.LinkGuess {
				t.Fatalf("got link %q, want guess", x.OAuth.LoginLink)
			}
			f, ok := finding(x, IDScopeNarrowed)
			if !ok || f.Severity != tt.wantSev {
				t.Errorf("got %+v, want %s at %s", x.OAuth.Findings, IDScopeNarrowed, tt.wantSev)
			}
		})
	}
}

// aborted marks x as left by its client mid-body, as the proxy does.
func aborted(x *flow.Exchange) *flow.Exchange {
	x.Error = flow.ClientAbortedPrefix + "the client closed the connection while " + x.Request.URL.Host + ":443 sent the response body; the upstream response was closed"
	return x
}

// TestClientAbortedHops: a client that leaves an exchange after the server
// answered below 400 (a browser cancelling a redirect it no longer
// follows, a tab closed during a login page's large script) does not fail
// the login: the trace reads on, a 3xx still carries its Location and
// code, and the token request links to the login with certainty. An
// aborted authorize request that got 403 still ends the login failed.
func TestClientAbortedHops(t *testing.T) {
	const happy = "login idp.example.com: authorize → 3 hops → callback → token 200 ok"
	// The script is tied to the login by its Referer, a hop like the others.
	const withScript = "login idp.example.com: authorize → 4 hops → callback → token 200 ok"
	tests := []struct {
		name  string
		abort int // index in login() of the aborted exchange
		// script: a large script of the login page, aborted, before the POST.
		script bool
	}{
		{"authorize's 302 to the login page", 1, false},
		{"login page", 2, false},
		{"login POST's 302", 3, false},
		{"final redirect with the code", 4, false},
		{"login page's script", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScen()
			in := New(Options{})
			xs := s.login()
			var script *flow.Exchange
			if tt.abort >= 0 {
				aborted(xs[tt.abort])
			}
			if tt.script {
				script = aborted(exch("GET", s.issuer+"/static/login.js", at(-29*time.Second),
					resp(200, "application/javascript", strings.Repeat("var x=1;", 512)),
					hdr("Referer", s.issuer+"/login?authRequestID=ar-"+s.state)))
				xs = append(xs[:3], append([]*flow.Exchange{script}, xs[3:]...)...)
			}
			x := s.token(s.tokenParams())
			inspectAll(in, append(xs, x)...)
			for _, h := range xs {
				if h.Error != "" && h.Failed() {
					t.Errorf("%s %s: Failed() = true for a client abort after %d", h.Request.Method, h.Request.URL, h.Response.Status)
				}
				if h.OAuth.LoginTrace != "" {
					t.Errorf("%s %s: got trace %q, want none (the login did not end there)", h.Request.Method, h.Request.URL, h.OAuth.LoginTrace)
				}
			}
			if script != nil && script.OAuth.Diagnosis != nil {
				t.Errorf("aborted script: got diagnosis %s, want none", script.OAuth.Diagnosis.Cause)
			}
			if x.OAuth.Login != xs[1].ID || x.OAuth.LoginLink != flow.LinkCertain {
				t.Errorf("token: got login %q link %q, want %q certain", x.OAuth.Login, x.OAuth.LoginLink, xs[1].ID)
			}
			want := happy
			if tt.script {
				want = withScript
			}
			if x.OAuth.LoginTrace != want {
				t.Errorf("trace: got %q, want %q", x.OAuth.LoginTrace, want)
			}
		})
	}
	t.Run("authorize answered 403 and aborted", func(t *testing.T) {
		s := newScen()
		in := New(Options{})
		authz := aborted(exch("GET", s.issuer+"/authorize?"+s.authParams().encode(),
			resp(403, "text/html", "<html><title>Attention Required! | Cloudflare</title><body>Sorry, you have been blocked. Cloudflare Ray ID: 8a1b2c3d4e5f6a7b</body></html>", "Server", "cloudflare", "CF-RAY", "8a1b2c3d4e5f6a7b-FRA")))
		inspectAll(in, s.discovery(), authz)
		if !authz.Failed() {
			t.Errorf("Failed() = false, want true (403)")
		}
		if authz.OAuth.Diagnosis == nil {
			t.Fatalf("got no diagnosis of the failed authorize request")
		}
		want := "login idp.example.com: authorize 403 " + authz.OAuth.Diagnosis.Cause
		if authz.OAuth.LoginTrace != want {
			t.Errorf("trace: got %q, want %q", authz.OAuth.LoginTrace, want)
		}
		// The login is over: a token request is not tied to it for certain.
		x := s.token(s.tokenParams())
		inspectAll(in, x)
		if x.OAuth.LoginLink == flow.LinkCertain {
			t.Errorf("token: got a certain link to login %q after a failed authorize", x.OAuth.Login)
		}
	})
}
