package diagnose

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// WordRule is one entry of the wording classifier: when no provider or
// gateway rule recognised a failed response, the words of its messages
// decide. The classifier tries the rules in table order (more specific
// meanings first: "client secret expired" is about the secret, "refresh
// token expired" about the grant) and the first rule whose words occur in
// any message wins; the deciding words are quoted in the evidence.
type WordRule struct {
	// ID names the entry (unique), e.g. "words-ip".
	ID string
	// Words is a case-insensitive regexp; its match is quoted as the
	// deciding words.
	Words string
	// Cause is the diagnosis; its category is the classifier's answer.
	Cause string
	// NetworkOnly marks words that may also decide a response that is not
	// a failure by status (a block page served with 200 or 503).
	NetworkOnly bool
}

// wordSource is the source shown for a classifier diagnosis.
const wordSource = "oauthproxy wording classifier (issue 11): the words of the error message, read from any envelope"

// wordRules is the classifier's table. English first, then the Chinese
// texts of the providers already covered (WeChat, WeCom, DingTalk,
// Alipay, Feishu, QQ, Weibo).
var wordRules = []WordRule{
	{ID: "words-bot-challenge", Words: `captcha|enable javascript|verify (that )?you are (a )?human|are you a robot|bot (protection|detection|challenge)|just a moment\.\.\.|人机验证`, Cause: CauseBotChallenge, NetworkOnly: true},
	{ID: "words-ip", Words: `\bip\b|\bip.?address|white.?list|allow.?list|白名单|ip地址`, Cause: CauseIPNotAllowlisted, NetworkOnly: true},
	{ID: "words-geo", Words: `(country|countries|region|geo.?(location|graphic)|territor\w*|your location).{0,40}(not (allowed|available|supported|permitted)|blocked|restricted|denied|unavailable)|(not available|unavailable|blocked|restricted) in your (country|region|location)|地区|国家`, Cause: CauseGeoBlocked, NetworkOnly: true},
	{ID: "words-app-not-live", Words: `not (been |yet )?(reviewed|approved|verified|published|audited|online)|unaudited|unapproved|unverified app|verification process|being tested|test users?\b|testers|审核|未上线`, Cause: CauseAppNotLive},
	{ID: "words-firewall", Words: `firewall|web.?filter|url.?filter|content.?filter|filtering|application control|blocked by (your |the )?(administrator|admin|organi[sz]ation|company|network|security|it)|security (service|gateway|appliance|solution)|\bproxy\b|防火墙|拦截`, Cause: CauseNetworkBlock, NetworkOnly: true},
	{ID: "words-rate", Words: `rate.?limit|too many requests|throttl|quota|频率|频繁|超限`, Cause: CauseRateLimited},
	{ID: "words-unsupported-grant", Words: `unsupported.{0,20}grant|grant.?type.{0,30}(unsupported|not supported|unknown)`, Cause: CauseGrantTypeUnsupported},
	{ID: "words-grant-not-enabled", Words: `grant.?type.{0,60}not (allowed|enabled|authori[sz]ed|permitted|configured)|not (allowed|authori[sz]ed|permitted) to use .{0,30}grant|direct access grants`, Cause: CauseGrantTypeNotEnabled},
	{ID: "words-multiple-auth", Words: `(multiple|more than one|two) (client )?(credentials|authentication (methods|mechanisms)|auth methods)|cannot supply multiple|one client authentication method`, Cause: CauseClientAuthMultiple},
	{ID: "words-redirect", Words: `redirect|callback|reply.?(url|address)|return.?url|app'?s domains|(url|domain)\b.{0,40}(isn't|not|is not) (included|registered|allowed|listed)|回调|重定向`, Cause: CauseRedirectURIMismatch},
	{ID: "words-pkce", Words: `pkce|code.?verifier|code.?challenge|proof key`, Cause: CausePKCEMismatch},
	{ID: "words-refresh-token", Words: `refresh.?token|刷新令牌`, Cause: CauseRefreshTokenInvalid},
	{ID: "words-user-agent", Words: `user.?agent`, Cause: CauseInvalidRequest},
	{ID: "words-content-type", Words: `content.?type|media.?type|x-www-form-urlencoded`, Cause: CauseContentTypeWrong},
	{ID: "words-missing-parameter", Words: `(missing|no|absent|required) (the )?(required )?(\w+ )?(parameter|argument|field|header|code|grant.?type|client.?id)\b|parameter.{0,20}(missing|absent|required)|缺少|缺失`, Cause: CauseInvalidRequest},
	{ID: "words-code-used", Words: `(already|been|was) (used|redeemed|exchanged)|used (more than )?once|已(被)?使用`, Cause: CauseCodeReused},
	{ID: "words-code-expired", Words: `code.{0,30}expired|expired.{0,20}code|授权码.{0,10}过期`, Cause: CauseCodeExpired},
	// "code" alone is too common ("error code: 1020", "status code"): it
	// needs a qualifier.
	{ID: "words-code", Words: `authori[sz]ation.?code|auth.?code|verification code|(invalid|expired|wrong|bad|unknown|the|this|your) code\b|\bcode (is |was |has )?(invalid|not valid|not found|unknown|incorrect|wrong)|授权码`, Cause: CauseCodeInvalid},
	{ID: "words-access-token", Words: `(access|bearer|id|oauth|auth\w*).?token.{0,40}(invalid|expired|revoked|malformed|signature|not valid)|(invalid|expired|revoked|malformed|bad) (access |bearer |oauth )*token|token.{0,20}(expired|revoked|invalid|not valid|not active|rejected)|令牌.{0,10}(无效|过期)`, Cause: CauseAccessTokenInvalid},
	{ID: "words-api-key", Words: `api.?key|subscription.?key|access.?key|apikey`, Cause: CauseAPIKeyInvalid},
	{ID: "words-secret", Words: `secret|密钥|秘钥`, Cause: CauseInvalidClientSecret},
	{ID: "words-assertion", Words: `assertion`, Cause: CauseAssertionInvalid},
	{ID: "words-signature", Words: `signature|签名|验签`, Cause: CauseSignatureInvalid},
	{ID: "words-platform", Words: `client.?type|application type|platform`, Cause: CauseAppPlatformMismatch},
	{ID: "words-app-disabled", Words: `(app|application|client|account|project)\b.{0,20}(disabled|suspended|deactivated)|应用.{0,6}(停用|禁用)`, Cause: CauseAppUnavailable},
	{ID: "words-client", Words: `certificate|client.?id|\bapp.?id\b|client (credential|authentication|auth)|(invalid|unknown|wrong|bad) client|client\b.{0,20}(invalid|unknown|not found)|客户端|应用不存在`, Cause: CauseInvalidClient},
	{ID: "words-consent", Words: `consent|同意`, Cause: CauseConsentRequired},
	{ID: "words-scope", Words: `\bscopes?\b|insufficient.{0,20}(scope|privilege)`, Cause: CauseScopeNotAuthorized},
	{ID: "words-policy", Words: `polic(y|ies)|conditional access|策略`, Cause: CauseOrgPolicy},
	{ID: "words-role", Words: `\broles?\b|not assigned|not a member|assignment`, Cause: CauseAppRoleNotAssigned},
	{ID: "words-not-registered", Words: `not (registered|enrolled|subscribed|provisioned|installed)|not (enabled|activated) for`, Cause: CauseAppUnavailable},
	{ID: "words-blocked", Words: `\bblock(ed|s)?\b|屏蔽`, Cause: CauseNetworkBlock, NetworkOnly: true},
	{ID: "words-permission", Words: `permission|not (allowed|authori[sz]ed|permitted|entitled)|unauthori[sz]ed|(can ?not|can't|cannot|no|not have) access|restrict(ed|ions?)|access (is )?denied|\bdenied\b|insufficient|privilege|权限|无权|未授权|禁止`, Cause: CausePermissionDenied},
	{ID: "words-grant", Words: `expired|revoked|redeemed|\bgrant\b|过期|失效`, Cause: CauseInvalidGrant},
	{ID: "words-request", Words: `required|invalid (request|parameter|argument|input)|malformed|bad request|parameter|argument|参数`, Cause: CauseInvalidRequest},
}

type compiledWord struct {
	*WordRule
	re *regexp.Regexp
	// lits holds lower-case strings one of which occurs in any text re
	// matches (nil: no such set): a cheap test before the regexp.
	lits []string
}

var compiledWords = func() []compiledWord {
	out := make([]compiledWord, len(wordRules))
	for i := range wordRules {
		expr := `(?i)` + wordRules[i].Words
		out[i] = compiledWord{&wordRules[i], regexp.MustCompile(expr), requiredLiterals(expr)}
	}
	return out
}()

// message is one text the classifier reads, with where it came from, and
// the text in lower case for the literal prefilter.
type message struct{ from, text, lower string }

// statusWords are texts that only repeat the status line; they say nothing.
var statusWords = map[string]bool{
	"unauthorized": true, "forbidden": true, "access denied": true, "bad request": true, "error": true,
	"proxy authentication required": true, "not authorized": true, "unauthorised": true, "denied": true,
}

// statusPrefixRE matches what precedes a reason phrase: "403 ",
// "Error 401 - ", "HTTP 403: ".
var statusPrefixRE = regexp.MustCompile(`^(?:(?:http|error)\s*)?(?:\d{3}\s*[-:.]?\s*)?`)

func isStatusText(s string) bool {
	l := strings.ToLower(strings.Trim(strings.TrimSpace(s), ".!"))
	if statusWords[l] {
		return true
	}
	return statusWords[strings.TrimSpace(statusPrefixRE.ReplaceAllString(l, ""))]
}

// messages returns what the classifier reads: the error code as words,
// the descriptions and messages of any envelope, error headers and, for
// pages, the title and headings, and the leading text when text is set.
func (f *facts) messages(text bool) []message {
	var ms []message
	add := func(from, s string) {
		s = strings.TrimSpace(s)
		if codeLikeRE.MatchString(s) && strings.ContainsAny(s, "_-") {
			s = splitWords(s) // client-not-enrolled
		}
		// The words of a secret the request carried decide nothing.
		s = redact.Echoes(s, f.secrets())
		if s != "" && !isStatusText(s) {
			ms = append(ms, message{from, s, strings.ToLower(s)})
		}
	}
	if f.errCode != "" {
		add("error", splitWords(f.errRaw))
	}
	for _, c := range f.codes {
		if ns, v, _ := strings.Cut(c, ":"); ns == "oauth_problem" {
			add("oauth_problem", v)
		}
	}
	for _, d := range f.descs {
		add("message", d)
	}
	for _, h := range f.hdrTexts {
		name, v, _ := strings.Cut(h, ": ")
		add("header "+name, v)
	}
	for _, p := range f.pageTexts() {
		if text || p.from != "page text" {
			add(p.from, p.text)
		}
	}
	if text {
		if p, ok := f.pageBody(); ok {
			add(p.from, p.text)
		}
	}
	return ms
}

// classify runs the wording classifier on f's messages. networkOnly limits
// it to network words (block pages served with a success or 5xx status).
func classify(f *facts, networkOnly bool) *flow.Diagnosis {
	return classifyWith(f, networkOnly, "")
}

// classifyWith is classify without the word rule named skip.
func classifyWith(f *facts, networkOnly bool, skip string) *flow.Diagnosis {
	// A page served with a success status is read by its title and
	// headings only: login pages say "password", "blocked" and "code" in
	// their text.
	ms := f.messages(!networkOnly || f.status >= 400)
	if len(ms) == 0 {
		return nil
	}
	// A page's title and headings are its statement; its running text
	// is read only when they decide nothing.
	for pass := 0; pass < 2; pass++ {
		for _, w := range compiledWords {
			if (networkOnly && !w.NetworkOnly) || w.ID == skip {
				continue
			}
			for _, m := range ms {
				if (m.from == "page text") != (pass == 1) {
					continue
				}
				if d := wordDiagnosis(w, m); d != nil {
					return d
				}
			}
		}
	}
	return nil
}

// wordDiagnosis is the classifier's answer when w's words occur in m.
func wordDiagnosis(w compiledWord, m message) *flow.Diagnosis {
	if w.lits != nil && !containsAny(m.lower, w.lits) {
		return nil
	}
	loc := w.re.FindStringIndex(m.text)
	if loc == nil {
		return nil
	}
	c := causeByID[w.Cause]
	words := m.text[loc[0]:loc[1]]
	d := fromCause(w.Cause, fmt.Sprintf("The %s says what is wrong in its own words (%q): %s.", wordFrom(m.from), words, lowerFirst(c.Title)), Low,
		fmt.Sprintf("wording %q decides %s (%s)", words, c.Category, w.ID),
		fmt.Sprintf("%s: %q", m.from, m.text)) // shortened by finish, after scrubbing
	d.Source = wordSource
	return d
}

func wordFrom(from string) string {
	switch {
	case strings.HasPrefix(from, "page"):
		return "page"
	case strings.HasPrefix(from, "header "):
		return "response header"
	}
	return "error message"
}

// lowerFirst lower-cases a title's first letter, unless it starts an
// acronym ("API key").
func lowerFirst(s string) string {
	if len(s) < 2 || (s[1] >= 'A' && s[1] <= 'Z') {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
