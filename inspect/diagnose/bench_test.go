package diagnose

import (
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

func BenchmarkDiagnose(b *testing.B) {
	benches := []struct {
		name string
		x    *flow.Exchange
	}{
		{"invalid_grant JSON", exchange(flow.LabelToken, tokenURL, 400, jsonCT+"\nCache-Control: no-store",
			`{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.\r\nTrace ID: 0000\r\nCorrelation ID: 0000","error_codes":[70008],"timestamp":"2024-01-01 00:00:00Z"}`)},
		{"Cloudflare HTML", exchange(flow.LabelToken, tokenURL, 403, "Server: cloudflare\nCF-RAY: 634f162b7a3bcadc-ARN\nContent-Type: text/html; charset=UTF-8",
			cloudflarePage)},
		// Decided by the wording classifier: no rule knows this envelope.
		{"message envelope, wording", exchange(flow.LabelToken, tokenURL, 400, "Content-Type: application/x-amz-json-1.1",
			`{"__type":"NotAuthorizedException","message":"Invalid Refresh Token"}`)},
		// The info fallback for an API's 403 with a JWT access token.
		{"API 403 refusal", func() *flow.Exchange {
			x := exchange(flow.LabelNone, apiURL, 403, jsonCT+"\nServer: api-gw", `{"message":"Forbidden"}`)
			x.Request.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGk6Ly9vcmRlcnMiLCJzY29wZSI6Im9yZGVycy5yZWFkIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln")
			return x
		}()},
	}
	for _, bb := range benches {
		if Diagnose(bb.x) == nil {
			b.Fatalf("%s: no diagnosis", bb.name)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Diagnose(bb.x)
			}
		})
	}
}

// cloudflarePage is a Cloudflare block page of realistic size (~7 KiB).
var cloudflarePage = `<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
<script>(function(){if(document.addEventListener&&window.XMLHttpRequest&&JSON&&JSON.stringify){var e=function(a){var c=document.getElementById("error-feedback-survey")}}})();</script>
</head>
<body>
  <div id="cf-wrapper">
    <div class="cf-alert cf-alert-error cf-cookie-error" id="cookie-alert" data-translate="enable_cookies">Please enable cookies.</div>
    <div id="cf-error-details" class="cf-error-details-wrapper">
      <div class="cf-wrapper cf-header cf-error-overview">
        <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
        <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> as.example</h2>
      </div>
      <div class="cf-section cf-wrapper">
        <div class="cf-columns two">
          <div class="cf-column">
            <h2 data-translate="blocked_why_headline">Why have I been blocked?</h2>
            <p data-translate="blocked_why_detail">This website is using a security service to protect itself from online attacks. The action you just performed triggered the security solution. There are several actions that could trigger this block including submitting a certain word or phrase, a SQL command or malformed data.</p>
          </div>
          <div class="cf-column">
            <h2 data-translate="blocked_resolve_headline">What can I do to resolve this?</h2>
            <p data-translate="blocked_resolve_detail">You can email the site owner to let them know you were blocked. Please include what you were doing when this page came up and the Cloudflare Ray ID found at the bottom of this page.</p>
          </div>
        </div>
      </div>
      <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
        <p class="text-13">
          <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">634f162b7a3bcadc</strong></span>
          <span class="cf-footer-separator sm:hidden">&bull;</span>
          <span id="cf-footer-item-ip" class="cf-footer-item hidden sm:block sm:mb-1">Your IP: <button type="button" id="cf-footer-ip-reveal" class="cf-footer-ip-reveal-btn">Click to reveal</button></span>
          <span class="cf-footer-separator sm:hidden">&bull;</span>
          <span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span> <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" id="brand_link" target="_blank">Cloudflare</a></span>
        </p>
      </div>
    </div>
  </div>
</body>
</html>`

// BenchmarkNoDiagnosis: successful exchanges that still reach Diagnose
// (labeled ones: inspect skips parsed token successes): an authorization
// endpoint's 43 KiB login page and a discovery document. Neither may be
// diagnosed, and the wording classifier must not run on them.
func BenchmarkNoDiagnosis(b *testing.B) {
	page := "<!DOCTYPE html><html><head><title>Sign in to your account</title><script>" + strings.Repeat("var a = function(){ return 1 };\n", 600) +
		"</script></head><body><h1>Sign in</h1><form>" + strings.Repeat("<div class=\"x\"><input name=\"a\" type=\"text\"/></div>\n", 500) + "</form></body></html>"
	benches := []struct {
		name string
		x    *flow.Exchange
	}{
		{"login page", exchange(flow.LabelAuthorize, "https://as.example/authorize", 200, htmlCT, page)},
		{"discovery JSON", exchange(flow.LabelDiscovery, "https://as.example/.well-known/openid-configuration", 200, jsonCT, `{"issuer":"https://as.example","token_endpoint":"https://as.example/token"}`)},
	}
	for _, bb := range benches {
		if d := Diagnose(bb.x); d != nil {
			b.Fatalf("%s: diagnosed as %s", bb.name, d.Cause)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Diagnose(bb.x)
			}
		})
	}
}
