package diff

import (
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// secretPair is a laptop (A) and server (B) client_credentials request whose
// client_secret values are a and b.
func secretPair(a, b string) ([]*flow.Exchange, []*flow.Exchange) {
	req := func(secret string, o opt) []*flow.Exchange {
		return []*flow.Exchange{exchange(0, "POST", "https://idp.test/oauth2/token",
			labelled(flow.LabelToken, "client_credentials"),
			form("grant_type", "client_credentials", "client_id", "svc", "client_secret", secret), o)}
	}
	return req(a, ok()), req(b, respond(401, "application/json", `{"error":"invalid_client"}`, 0))
}

func secretReason(r *Report) (kind string) {
	for _, v := range r.Verdict {
		if v.Field == "client_secret" {
			return v.Kind
		}
	}
	return ""
}

// TestFingerprintSchemesCompare: laptop against server still finds equal
// and different secrets whether each side is raw or redacted, for a
// guessable secret (argon2id) and a random-looking one (forced argon2id as
// a client_secret); captures keyed with different keys are reported as not
// comparable instead of different.
func TestFingerprintSchemesCompare(t *testing.T) {
	const strong = "Zq3v8Lw0Xr5nT1bY6cK9pE2hJ7sD4fG0aM5uQ8iV"
	for _, secret := range []string{"hunter2-secret", strong} {
		for _, tt := range []struct {
			name             string
			redactA, redactB bool
		}{{"raw/raw", false, false}, {"redacted/raw", true, false}, {"raw/redacted", false, true}, {"redacted/redacted", true, true}} {
			t.Run(secret[:6]+"/"+tt.name, func(t *testing.T) {
				for _, other := range []string{secret, secret + "x"} {
					a, b := secretPair(secret, other)
					if tt.redactA {
						a = redactAll(a)
					}
					if tt.redactB {
						b = redactAll(b)
					}
					got, want := secretReason(Compare(a, b, Options{})), ""
					if other != secret {
						want = "param-value"
					}
					if got != want {
						t.Errorf("B secret %q: got reason %q, want %q", other, got, want)
					}
				}
			})
		}
	}

	a, b := secretPair(strong, strong)
	redact.SetKey([]byte("laptop-and-server-key-0123456789"))
	a = redactAll(a)
	redact.SetKey([]byte("some-other-key-0123456789abcdef"))
	b = redactAll(b)
	redact.SetKey(nil)
	r := Compare(a, b, Options{})
	if got := secretReason(r); got != "param-incomparable" {
		t.Fatalf("different keys: got reason %q, want param-incomparable (%v)", got, kinds(r))
	}
	for _, v := range r.Verdict {
		if v.Kind == "param-incomparable" && !strings.Contains(v.Summary, "different fingerprint keys") {
			t.Errorf("summary %q, want it to say different fingerprint keys", v.Summary)
		}
	}
}
