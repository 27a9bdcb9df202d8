package inspect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// checkCase is one bad case or its good twin for a check.
type checkCase struct {
	name string
	id   string
	// fire says whether id must be reported (bad case) or not (good twin).
	fire bool
	// setup runs before x; nil means discovery, authorize and callback.
	setup func(s *scen) []*flow.Exchange
	x     func(s *scen) *flow.Exchange
	// msg must appear in the finding's message when fire is true.
	msg string
	// sev is the wanted severity when set.
	sev  flow.Severity
	opts Options
}

func withMeta(key string, v any) func(map[string]any) {
	return func(d map[string]any) { d[key] = v }
}

func noSetup(*scen) []*flow.Exchange { return nil }

// authWith is the standard setup with changed authorize parameters.
func authWith(f func(p kv) kv, mods ...func(map[string]any)) func(s *scen) []*flow.Exchange {
	return func(s *scen) []*flow.Exchange {
		return []*flow.Exchange{s.discovery(mods...), s.authorize(f(s.authParams())), s.callback()}
	}
}

// tok is a token exchange with changed parameters.
func tok(f func(p kv) kv, opts ...xopt) func(s *scen) *flow.Exchange {
	return func(s *scen) *flow.Exchange { return s.token(f(s.tokenParams()), opts...) }
}

func same(p kv) kv { return p }

func set(name, v string) func(kv) kv { return func(p kv) kv { return p.set(name, v) } }
func del(name string) func(kv) kv    { return func(p kv) kv { return p.del(name) } }

func redirectTo(v string) func(s *scen) *flow.Exchange { return tok(set("redirect_uri", v)) }

func withIDToken(mods ...func(map[string]any)) func(s *scen) *flow.Exchange {
	return func(s *scen) *flow.Exchange {
		return s.token(s.tokenParams(), s.okResp(s.idToken(mods...)))
	}
}

func claim(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

var checkCases = []checkCase{
	// method
	{name: "GET to the token endpoint", id: IDMethod, fire: true, msg: "uses GET", sev: flow.SeverityError,
		x: func(s *scen) *flow.Exchange {
			return exch("GET", s.issuer+"/oauth2/token?"+kv{{"grant_type", "client_credentials"}, {"scope", "x"}}.encode(), s.okResp(""))
		}},
	{name: "POST to the token endpoint", id: IDMethod, x: tok(same)},
	{name: "GET documented by WeChat", id: IDMethod, fire: true, sev: flow.SeverityInfo, msg: "WeChat documents", setup: noSetup,
		x: func(s *scen) *flow.Exchange {
			q := kv{{"appid", "wx123"}, {"secret", canarySecret}, {"code", canaryCode}, {"grant_type", "authorization_code"}}
			return exch("GET", "https://api.weixin.qq.com/sns/oauth2/access_token?"+q.encode(), jsonResp(200, map[string]any{"access_token": canaryAccess, "openid": "o1"}))
		}},

	// content-type
	{name: "JSON body", id: IDContentType, fire: true, msg: "application/json with a JSON body",
		x: func(s *scen) *flow.Exchange {
			return exch("POST", s.issuer+"/oauth2/token", body("application/json", `{"grant_type":"authorization_code","code":"`+canaryCode+`"}`), s.okResp(""))
		}},
	{name: "multipart body", id: IDContentType, fire: true, msg: "multipart",
		x: func(s *scen) *flow.Exchange {
			b := "--XX\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--XX--\r\n"
			return exch("POST", s.issuer+"/oauth2/token", body("multipart/form-data; boundary=XX", b), s.okResp(""))
		}},
	{name: "missing Content-Type", id: IDContentType, fire: true, msg: "no Content-Type",
		x: func(s *scen) *flow.Exchange {
			return exch("POST", s.issuer+"/oauth2/token", body("", s.tokenParams().encode()), s.okResp(""))
		}},
	{name: "form with charset", id: IDContentType,
		x: func(s *scen) *flow.Exchange {
			return exch("POST", s.issuer+"/oauth2/token", body("application/x-www-form-urlencoded; charset=UTF-8", s.tokenParams().encode()), s.okResp(""))
		}},

	// param-duplicated
	{name: "code twice in the body", id: IDParamDup, fire: true, msg: "code 2 times in the body", x: tok(func(p kv) kv { return p.add("code", "CANARY-other") })},
	{name: "client_id in query and body", id: IDParamDup, fire: true, msg: "client_id in both the query and the body",
		x: func(s *scen) *flow.Exchange {
			x := s.token(s.tokenParams())
			x.Request.URL.RawQuery = "client_id=" + s.client
			return x
		}},
	{name: "every parameter once", id: IDParamDup, x: tok(same)},
	{name: "fifty parameters twice: ten listed", id: IDParamDup, fire: true, msg: "p9 2 times in the body; and 40 more", x: tok(func(p kv) kv {
		for i := 0; i < 50; i++ {
			p = p.add(fmt.Sprintf("p%d", i), "a").add(fmt.Sprintf("p%d", i), "b")
		}
		return p
	})},

	// params-in-query
	{name: "client_secret in the query", id: IDParamsInQuery, fire: true, msg: "client_secret in the URL query", sev: flow.SeverityWarn,
		x: func(s *scen) *flow.Exchange {
			x := s.token(s.tokenParams().del("client_secret"))
			x.Request.URL.RawQuery = kv{{"client_secret", canarySecret}}.encode()
			return x
		}},
	{name: "credentials in the body", id: IDParamsInQuery, x: tok(same)},

	// grant-type-missing
	{name: "no grant_type", id: IDGrantMissing, fire: true, msg: "authorization_code is probably meant", x: tok(del("grant_type"))},
	{name: "grant_type present", id: IDGrantMissing, x: tok(same)},
	{name: "GitHub needs no grant_type", id: IDGrantMissing, setup: noSetup,
		x: func(s *scen) *flow.Exchange {
			p := kv{{"client_id", "Iv1.abc"}, {"client_secret", canarySecret}, {"code", canaryCode}}
			return exch("POST", "https://github.com/login/oauth/access_token", formBody(p),
				resp(200, "application/x-www-form-urlencoded", "access_token="+canaryAccess+"&scope=repo&token_type=bearer"))
		}},

	// grant-type-unknown
	{name: "authorization-code with a dash", id: IDGrantUnknown, fire: true, msg: `did you mean "authorization_code"`, x: tok(set("grant_type", "authorization-code"))},
	{name: "client_credential outside WeChat", id: IDGrantUnknown, fire: true, msg: `did you mean "client_credentials"`, x: tok(set("grant_type", "client_credential"))},
	{name: "misspelled device_code URN", id: IDGrantUnknown, fire: true, msg: "urn:ietf:params:oauth:grant-type:device_code", x: tok(set("grant_type", "urn:ietf:params:oauth:grant-type:device-code"))},
	{name: "authorization_code", id: IDGrantUnknown, x: tok(same)},
	{name: "client_credential at WeChat", id: IDGrantUnknown, setup: noSetup,
		x: func(s *scen) *flow.Exchange {
			q := kv{{"grant_type", "client_credential"}, {"appid", "wx1"}, {"secret", canarySecret}}
			return exch("GET", "https://api.weixin.qq.com/cgi-bin/token?"+q.encode(), jsonResp(200, map[string]any{"access_token": canaryAccess, "expires_in": 7200}))
		}},
	{name: "extension grant URI", id: IDGrantUnknown, x: tok(set("grant_type", "http://auth0.com/oauth/grant-type/password-realm"))},

	// grant-type-unsupported
	{name: "client_credentials not supported", id: IDGrantUnsupport, fire: true, msg: "not in grant_types_supported",
		setup: func(s *scen) []*flow.Exchange {
			return []*flow.Exchange{s.discovery(withMeta("grant_types_supported", []string{"authorization_code", "refresh_token"}))}
		},
		x: func(s *scen) *flow.Exchange {
			return s.token(kv{{"grant_type", "client_credentials"}, {"client_id", s.client}, {"client_secret", canarySecret}})
		}},
	{name: "authorization_code supported", id: IDGrantUnsupport,
		setup: authWith(same, withMeta("grant_types_supported", []string{"authorization_code", "refresh_token"})), x: tok(same)},

	// code-missing
	{name: "authorization_code without code", id: IDCodeMissing, fire: true, x: tok(del("code"))},
	{name: "authorization_code with code", id: IDCodeMissing, x: tok(same)},

	// redirect-uri-missing
	{name: "token request without redirect_uri", id: IDRedirectMissing, fire: true, x: tok(del("redirect_uri"))},
	{name: "token request with redirect_uri", id: IDRedirectMissing, x: tok(same)},
	{name: "authorize request had no redirect_uri either", id: IDRedirectMissing, setup: authWith(func(p kv) kv { return p.del("redirect_uri") }), x: tok(del("redirect_uri"))},

	// redirect-uri-mismatch
	{name: "redirect_uri trailing slash", id: IDRedirectMismatch, fire: true, msg: "trailing slash", x: redirectTo("https://app.example.com/callback/")},
	{name: "redirect_uri scheme", id: IDRedirectMismatch, fire: true, msg: "scheme: https vs http", x: redirectTo("http://app.example.com/callback")},
	{name: "redirect_uri host case", id: IDRedirectMismatch, fire: true, msg: "host case", x: redirectTo("https://App.Example.com/callback")},
	{name: "redirect_uri host", id: IDRedirectMismatch, fire: true, msg: "host: app.example.com vs www.example.com", x: redirectTo("https://www.example.com/callback")},
	{name: "redirect_uri loopback names", id: IDRedirectMismatch, fire: true, msg: "different loopback names",
		setup: authWith(set("redirect_uri", "http://localhost:8080/cb")), x: redirectTo("http://127.0.0.1:8080/cb")},
	{name: "redirect_uri explicit default port", id: IDRedirectMismatch, fire: true, msg: "default port is written out", x: redirectTo("https://app.example.com:443/callback")},
	{name: "redirect_uri port", id: IDRedirectMismatch, fire: true, msg: "port: 3000 vs 8080",
		setup: authWith(set("redirect_uri", "http://localhost:3000/cb")), x: redirectTo("http://localhost:8080/cb")},
	{name: "redirect_uri path case", id: IDRedirectMismatch, fire: true, msg: "path case", x: redirectTo("https://app.example.com/Callback")},
	{name: "redirect_uri path", id: IDRedirectMismatch, fire: true, msg: "path: /callback vs /auth/callback", x: redirectTo("https://app.example.com/auth/callback")},
	{name: "redirect_uri query", id: IDRedirectMismatch, fire: true, msg: "query: (none) vs x=1", x: redirectTo("https://app.example.com/callback?x=1")},
	{name: "redirect_uri query with a secret", id: IDRedirectMismatch, fire: true, msg: "query: (none) vs access_token=redacted",
		x: redirectTo("https://app.example.com/callback?access_token=CANARY-in-redirect")},
	{name: "redirect_uri double-encoded", id: IDRedirectMismatch, fire: true, msg: "double-encoded", x: redirectTo(url.QueryEscape("https://app.example.com/callback"))},
	{name: "redirect_uri path percent-encoding", id: IDRedirectMismatch, fire: true, msg: "percent-encoding of the path",
		setup: authWith(set("redirect_uri", "https://app.example.com/a b")), x: redirectTo("https://app.example.com/a%20b")},
	{name: "redirect_uri identical", id: IDRedirectMismatch, x: tok(same)},

	// client-id-mismatch
	{name: "other client_id", id: IDClientIDMismatch, fire: true, msg: `"other-app"`, x: tok(set("client_id", "other-app"))},
	{name: "Basic user name differs", id: IDClientIDMismatch, fire: true, msg: "the Basic user name",
		x: tok(func(p kv) kv { return p.del("client_id").del("client_secret") }, basic("other-app", canarySecret))},
	{name: "same client_id", id: IDClientIDMismatch, x: tok(same)},
	{name: "same client via Basic", id: IDClientIDMismatch, x: tok(func(p kv) kv { return p.del("client_id").del("client_secret") }, basic("app-123", canarySecret))},

	// code-reused
	{name: "code sent twice", id: IDCodeReused, fire: true, msg: "first answer was 200 ok",
		setup: func(s *scen) []*flow.Exchange { return append(s.setup(), s.token(s.tokenParams(), at(time.Second))) },
		x:     tok(same, at(5*time.Second))},
	{name: "code sent once", id: IDCodeReused, x: tok(same)},

	// code-stale
	{name: "code exchanged after 6 minutes", id: IDCodeStale, fire: true, msg: "exchanged 6m0s after the callback", x: tok(same, at(6*time.Minute))},
	{name: "code exchanged after 2 seconds", id: IDCodeStale, x: tok(same, at(2*time.Second))},
	{name: "code lifetime from options", id: IDCodeStale, fire: true, msg: "code lifetime 30s", opts: Options{CodeLifetime: 30 * time.Second}, x: tok(same, at(time.Minute))},

	// pkce-verifier-missing
	{name: "no code_verifier after a challenge", id: IDPKCEVerifierMissing, fire: true, msg: "method S256", x: tok(del("code_verifier"))},
	{name: "code_verifier sent", id: IDPKCEVerifierMissing, x: tok(same)},

	// pkce-verifier-invalid
	{name: "verifier too short", id: IDPKCEVerifierInvalid, fire: true, msg: "14 characters long", x: tok(set("code_verifier", "CANARY-short-v"))},
	{name: "verifier in standard base64", id: IDPKCEVerifierInvalid, fire: true, msg: "standard base64", x: tok(set("code_verifier", "CANARY+verifier/0123456789abcdefghijklmnopqrstuvw="))},
	{name: "verifier of 43 unreserved characters", id: IDPKCEVerifierInvalid, x: tok(same)},
	{name: "redacted verifier too short", id: IDPKCEVerifierInvalid, fire: true, msg: "14 characters long", x: tok(set("code_verifier", redact.Param("code_verifier", "CANARY-short-v")))},
	{name: "redacted verifier of 43 unreserved characters", id: IDPKCEVerifierInvalid, x: tok(set("code_verifier", redact.Param("code_verifier", canaryVerifier)))},

	// pkce-mismatch
	{name: "verifier from another login", id: IDPKCEMismatch, fire: true, msg: "belongs to another authorize request", x: tok(set("code_verifier", "CANARY-verifier-9999999999abcdefghijklmnopqrstuvwxyz"))},
	{name: "challenge in standard base64", id: IDPKCEMismatch, fire: true, msg: "standard base64",
		setup: authWith(set("code_challenge", stdChallenge(canaryVerifier))), x: tok(same)},
	{name: "challenge as hex digest", id: IDPKCEMismatch, fire: true, msg: "hex SHA-256",
		setup: authWith(set("code_challenge", hexChallenge(canaryVerifier))), x: tok(same)},
	{name: "S256 challenge without method", id: IDPKCEMismatch, fire: true, msg: "did not say code_challenge_method=S256",
		setup: authWith(del("code_challenge_method")), x: tok(same)},
	{name: "verifier sent as challenge with S256", id: IDPKCEMismatch, fire: true, msg: "the verifier itself",
		setup: authWith(set("code_challenge", canaryVerifier)), x: tok(same)},
	{name: "S256 verifier matches", id: IDPKCEMismatch, x: tok(same)},
	{name: "correlated by client_id and redirect_uri without a callback", id: IDPKCEMismatch, fire: true,
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.discovery(), s.authorize(s.authParams())} },
		x:     tok(set("code_verifier", "CANARY-verifier-9999999999abcdefghijklmnopqrstuvwxyz"))},
	{name: "two logins in flight for one client, no callback seen", id: IDPKCEMismatch,
		setup: func(s *scen) []*flow.Exchange {
			other := s.authParams().set("state", "st-other").set("code_challenge", s256("CANARY-verifier-other-abcdefghijklmnopqrstuvwxyz0123"))
			return []*flow.Exchange{s.discovery(), s.authorize(s.authParams()), s.authorize(other)}
		},
		x: tok(same)},
	{name: "redacted verifier from another login", id: IDPKCEMismatch, fire: true, msg: "(redacted, S256",
		x: tok(set("code_verifier", redact.Param("code_verifier", "CANARY-verifier-9999999999abcdefghijklmnopqrstuvwxyz")))},
	{name: "redacted verifier matches", id: IDPKCEMismatch, x: tok(set("code_verifier", redact.Param("code_verifier", canaryVerifier)))},
	{name: "redacted plain verifier matches", id: IDPKCEMismatch,
		setup: authWith(func(p kv) kv { return p.set("code_challenge", canaryVerifier).set("code_challenge_method", "plain") }),
		x:     tok(set("code_verifier", redact.Param("code_verifier", canaryVerifier)))},
	{name: "plain verifier matches", id: IDPKCEMismatch,
		setup: authWith(func(p kv) kv { return p.set("code_challenge", canaryVerifier).set("code_challenge_method", "plain") }), x: tok(same)},

	// pkce-unexpected-verifier
	{name: "verifier without challenge", id: IDPKCEUnexpected, fire: true,
		setup: authWith(func(p kv) kv { return p.del("code_challenge").del("code_challenge_method") }), x: tok(same)},
	{name: "no PKCE at all", id: IDPKCEUnexpected,
		setup: authWith(func(p kv) kv { return p.del("code_challenge").del("code_challenge_method") }), x: tok(del("code_verifier"))},

	// pkce-method-unsupported (on the authorize request)
	{name: "plain when only S256 is supported", id: IDPKCEMethod, fire: true, msg: "not in code_challenge_methods_supported", setup: onlyS256,
		x: func(s *scen) *flow.Exchange {
			return s.authorize(s.authParams().set("code_challenge", canaryVerifier).set("code_challenge_method", "plain"))
		}},
	{name: "method omitted when only S256 is supported", id: IDPKCEMethod, fire: true, msg: "without code_challenge_method, which means plain", setup: onlyS256,
		x: func(s *scen) *flow.Exchange {
			return s.authorize(s.authParams().del("code_challenge_method"))
		}},
	{name: "lower-case s256", id: IDPKCEMethod, fire: true, msg: `"s256" is not defined`, setup: noSetup,
		x: func(s *scen) *flow.Exchange { return s.authorize(s.authParams().set("code_challenge_method", "s256")) }},
	{name: "S256 supported", id: IDPKCEMethod, setup: onlyS256,
		x: func(s *scen) *flow.Exchange {
			return s.authorize(s.authParams())
		}},

	// client-auth-multiple
	{name: "Basic and client_secret", id: IDClientAuthMultiple, fire: true, msg: "Authorization: Basic and client_secret in the body", x: tok(same, basic("app-123", canarySecret))},
	{name: "client_secret and client_assertion", id: IDClientAuthMultiple, fire: true, msg: "client_assertion",
		x: tok(func(p kv) kv {
			return p.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer").set("client_assertion", jwt(map[string]any{"iss": "app-123"}))
		})},
	{name: "Basic only", id: IDClientAuthMultiple, x: tok(del("client_secret"), basic("app-123", canarySecret))},

	// client-auth-encoding
	{name: "secret with '/' and '=' not form-encoded", id: IDClientAuthEncoding, fire: true, msg: "client_secret in Basic contains punctuation",
		x: tok(del("client_secret"), basic("app-123", "CANARY/abc="))},
	{name: "client_id with ':' not form-encoded", id: IDClientAuthEncoding, fire: true, msg: "contains ':'", sev: flow.SeverityError, setup: noSetup,
		x: func(s *scen) *flow.Exchange {
			return s.token(kv{{"grant_type", "client_credentials"}, {"client_id", "urn:app:1"}}, basic("urn:app:1", canarySecret))
		}},
	{name: "Basic not base64", id: IDClientAuthEncoding, fire: true, msg: "not the base64", sev: flow.SeverityError,
		x: tok(del("client_secret"), hdr("Authorization", "Basic not*base64"))},
	{name: "secret form-encoded before base64", id: IDClientAuthEncoding,
		x: tok(del("client_secret"), basic("app-123", url.QueryEscape("CANARY/abc=")))},
	{name: "redacted Basic", id: IDClientAuthEncoding,
		x: tok(del("client_secret"), hdr("Authorization", "Basic redacted:sha256:0123456789ab:len=20"))},

	// client-auth-unsupported
	{name: "client_secret_post when only Basic is supported", id: IDClientAuthUnsupported, fire: true, msg: "client_secret_post is not in",
		setup: authWith(same, withMeta("token_endpoint_auth_methods_supported", []string{"client_secret_basic"})), x: tok(same)},
	{name: "public client when none is not supported", id: IDClientAuthUnsupported, fire: true, msg: "none (no client authentication",
		setup: authWith(same, withMeta("token_endpoint_auth_methods_supported", []string{"client_secret_basic"})), x: tok(del("client_secret"))},
	{name: "client_secret_basic supported", id: IDClientAuthUnsupported,
		setup: authWith(same, withMeta("token_endpoint_auth_methods_supported", []string{"client_secret_basic"})),
		x:     tok(del("client_secret"), basic("app-123", canarySecret))},

	// secret-whitespace
	{name: "client_secret with trailing newline", id: IDSecretWhitespace, fire: true, msg: "client_secret argon2id:", x: tok(set("client_secret", canarySecret+"\n"))},
	{name: "Basic secret from echo without -n", id: IDSecretWhitespace, fire: true, msg: "client_secret (Basic)",
		x: tok(del("client_secret"), basic("app-123", canarySecret+"\n"))},
	{name: "client_id with leading space", id: IDSecretWhitespace, fire: true, msg: `client_id " app-123" starts with whitespace`, x: tok(set("client_id", " app-123"))},
	{name: "clean credentials", id: IDSecretWhitespace, x: tok(same)},

	// refresh-token-reused
	{name: "refresh token reused after rotation", id: IDRefreshReused, fire: true, msg: "server rotated it",
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.refresh(canaryRefresh, canaryRefresh2, 0)} },
		x:     func(s *scen) *flow.Exchange { return s.refresh(canaryRefresh, "CANARY-refresh-3", time.Minute) }},
	{name: "refresh token reused without rotation", id: IDRefreshReused,
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.refresh(canaryRefresh, "", 0)} },
		x:     func(s *scen) *flow.Exchange { return s.refresh(canaryRefresh, "", time.Minute) }},
	{name: "rotated refresh token used", id: IDRefreshReused,
		setup: func(s *scen) []*flow.Exchange { return []*flow.Exchange{s.refresh(canaryRefresh, canaryRefresh2, 0)} },
		x:     func(s *scen) *flow.Exchange { return s.refresh(canaryRefresh2, "CANARY-refresh-3", time.Minute) }},

	// jwt-malformed
	{name: "id_token not a JWT", id: IDJWTMalformed, fire: true, msg: "id_token cannot be decoded", sev: flow.SeverityInfo,
		x: func(s *scen) *flow.Exchange {
			return s.token(s.tokenParams(), s.okResp("eyJhbGciOiJSUzI1NiJ9.CANARY-bad"))
		}},
	{name: "id_token claims not JSON", id: IDJWTMalformed, fire: true, msg: "payload",
		x: func(s *scen) *flow.Exchange {
			return s.token(s.tokenParams(), s.okResp("eyJhbGciOiJSUzI1NiJ9."+base64.RawURLEncoding.EncodeToString([]byte("CANARY not json"))+".sig"))
		}},
	{name: "exp as a word", id: IDJWTMalformed, fire: true, msg: "wrong type: exp", x: withIDToken(claim("exp", "tomorrow"))},
	{name: "well-formed id_token", id: IDJWTMalformed, x: tok(same)},

	// id-token-aud
	{name: "aud of another client", id: IDIDTokenAud, fire: true, msg: `"other-app"`, x: withIDToken(claim("aud", "other-app"))},
	{name: "aud list without the client", id: IDIDTokenAud, fire: true, x: withIDToken(claim("aud", []string{"api://x", "other"}))},
	{name: "aud list with the client", id: IDIDTokenAud, x: withIDToken(claim("aud", []string{"api://x", "app-123"}))},

	// nonce-mismatch
	{name: "nonce of another login", id: IDNonceMismatch, fire: true, msg: "differs from nonce", x: withIDToken(claim("nonce", "CANARY-nonce-other"))},
	{name: "nonce missing", id: IDNonceMismatch, fire: true, msg: "has no nonce", x: withIDToken(func(c map[string]any) { delete(c, "nonce") })},
	{name: "nonce matches", id: IDNonceMismatch, x: tok(same)},

	// clock-skew
	{name: "iat 10 minutes in the future", id: IDClockSkew, fire: true, msg: "iat is 10m0s in the future", x: withIDToken(claim("iat", t0.Add(10*time.Minute).Unix()))},
	{name: "expired on arrival", id: IDClockSkew, fire: true, msg: "already expired when it arrived (exp 1h0m0s before",
		x: withIDToken(claim("iat", t0.Add(-2*time.Hour).Unix()), claim("exp", t0.Add(-time.Hour).Unix()))},
	{name: "server Date 7 minutes behind", id: IDClockSkew, fire: true, msg: "Date header is 7m0s behind",
		x: func(s *scen) *flow.Exchange {
			x := s.token(s.tokenParams())
			x.Response.Header.Set("Date", t0.Add(-7*time.Minute).Format(http.TimeFormat))
			return x
		}},
	{name: "clocks agree", id: IDClockSkew,
		x: func(s *scen) *flow.Exchange {
			x := withIDToken(claim("iat", t0.Add(20*time.Second).Unix()))(s)
			x.Response.Header.Set("Date", t0.Add(time.Second).Format(http.TimeFormat))
			return x
		}},

	// scope-narrowed
	{name: "calendar scope not granted", id: IDScopeNarrowed, fire: true, msg: "missing calendar",
		setup: authWith(set("scope", "openid email calendar")), x: tok(same)},
	{name: "client_credentials scope narrowed", id: IDScopeNarrowed, fire: true, msg: "missing write", setup: noSetup,
		x: func(s *scen) *flow.Exchange {
			return s.token(kv{{"grant_type", "client_credentials"}, {"scope", "read write"}}, basic("app-123", canarySecret),
				jsonResp(200, map[string]any{"access_token": canaryAccess, "scope": "read"}))
		}},
	{name: "all scopes granted", id: IDScopeNarrowed, x: tok(same)},
	{name: "Google expands email and profile", id: IDScopeNarrowed, x: func(s *scen) *flow.Exchange {
		return s.token(s.tokenParams(), jsonResp(200, map[string]any{"access_token": canaryAccess, "id_token": s.idToken(),
			"scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"}))
	}},
	{name: "GitHub comma-separated scopes", id: IDScopeNarrowed, setup: authWith(set("scope", "repo gist")),
		x: func(s *scen) *flow.Exchange {
			return s.token(s.tokenParams(), resp(200, "application/x-www-form-urlencoded", "access_token="+canaryAccess+"&scope=gist%2Crepo&token_type=bearer"))
		}},
}

func stdChallenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func hexChallenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// refresh is a refresh_token grant answered with newRT ("" = no rotation).
func (s *scen) refresh(rt, newRT string, d time.Duration) *flow.Exchange {
	r := map[string]any{"access_token": canaryAccess, "token_type": "Bearer", "expires_in": 3600}
	if newRT != "" {
		r["refresh_token"] = newRT
	}
	return exch("POST", s.issuer+"/oauth2/token", at(d),
		formBody(kv{{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", s.client}, {"client_secret", canarySecret}}),
		jsonResp(200, r))
}

// onlyS256 is a discovery document allowing only S256 PKCE.
func onlyS256(s *scen) []*flow.Exchange {
	return []*flow.Exchange{s.discovery(withMeta("code_challenge_methods_supported", []string{"S256"}))}
}

func TestChecks(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			s := newScen()
			in := New(tc.opts)
			setup := s.setup()
			if tc.setup != nil {
				setup = tc.setup(s)
			}
			inspectAll(in, setup...)
			x := tc.x(s)
			inspectAll(in, x)
			f, got := finding(x, tc.id)
			if got != tc.fire {
				t.Fatalf("finding %s reported: got %v, want %v (findings %v, label %q)", tc.id, got, tc.fire, x.OAuth.Findings, x.OAuth.Label)
			}
			if !got {
				return
			}
			if tc.msg != "" && !strings.Contains(f.Message, tc.msg) {
				t.Errorf("message: got %q, want it to contain %q", f.Message, tc.msg)
			}
			if tc.sev != "" && f.Severity != tc.sev {
				t.Errorf("severity: got %s, want %s", f.Severity, tc.sev)
			}
			if f.Fix == "" || f.Category == "" {
				t.Errorf("finding %s without fix or category: %+v", f.ID, f)
			}
		})
	}
}

// TestChecksCovered makes sure every check in the table has a bad case and
// a good twin above.
func TestChecksCovered(t *testing.T) {
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range checkCases {
		if tc.fire {
			fires[tc.id] = true
		} else {
			silent[tc.id] = true
		}
	}
	for _, c := range Checks() {
		if !fires[c.ID] || !silent[c.ID] {
			t.Errorf("check %s: bad case %v, good twin %v; want both", c.ID, fires[c.ID], silent[c.ID])
		}
	}
}

// TestFindingsSorted checks that findings come most severe first.
func TestFindingsSorted(t *testing.T) {
	s := newScen()
	in := New(Options{})
	inspectAll(in, s.setup()...)
	// info (jwt-malformed on the access token), warn (params-in-query), error (method).
	x := exch("GET", s.issuer+"/oauth2/token?"+s.tokenParams().encode(), jsonResp(200, map[string]any{"access_token": "eyJhbGciOiJub25lIn0.CANARY.x", "id_token": s.idToken()}))
	inspectAll(in, x)
	var ranks []int
	for _, f := range x.OAuth.Findings {
		ranks = append(ranks, f.Severity.Rank())
	}
	if len(ranks) < 3 || !slices.IsSorted(ranks) {
		t.Fatalf("got severities %v (%v), want at least 3, most severe first", ranks, ids(x))
	}
}

// TestRotatedRefresh: rotation is decided on the raw values when both are
// raw, and by fingerprint when either side is one (a redacted capture).
func TestRotatedRefresh(t *testing.T) {
	sent, other := "rt.9fK2xQ7mWp4Lz8Vb3Nc6", "rt.Hy5Tq1Rk8Ds3Jm7Gw2Xe"
	fpSent, fpOther := redact.Fingerprint(sent), redact.Fingerprint(other)
	tests := []struct {
		name      string
		sent, got string
		want      bool
	}{
		{"same raw token back", sent, sent, false},
		{"new raw token", sent, other, true},
		{"no refresh token in the answer", sent, "", false},
		{"capture: same fingerprint", fpSent, fpSent, false},
		{"capture: other fingerprint", fpSent, fpOther, true},
		{"raw sent, its own fingerprint back", sent, fpSent, false},
		{"raw sent, another fingerprint back", sent, fpOther, true},
		{"redacted answer", sent, "[REDACTED]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rotatedRefresh(tc.sent, fingerprint(tc.sent), tc.got); got != tc.want {
				t.Errorf("rotatedRefresh(%q, %q) = %v, want %v", tc.sent, tc.got, got, tc.want)
			}
		})
	}
}
