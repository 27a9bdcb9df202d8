package redact

import (
	"strings"
	"testing"
)

func TestHTMLInputs(t *testing.T) {
	tests := []struct {
		name, in, gone, keep string
	}{
		{"form_post code", `<form method="post"><input type="hidden" name="code" value="SplxlOBeZQQYbYS6WxSbIA"/><input type="hidden" name="state" value="af0ifjsldkj"/></form>`, "SplxlOBeZQQYbYS6WxSbIA", "af0ifjsldkj"},
		{"value before name, single quotes", `<INPUT value='tok.en.val' TYPE=hidden NAME='id_token'>`, "tok.en.val", "NAME='id_token'"},
		{"unquoted", `<input name=access_token value=abcdef123>`, "abcdef123", "name=access_token"},
		{"not secret", `<input name="username" value="alice">`, "", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(HTMLInputs([]byte(tt.in)))
			if tt.gone != "" && strings.Contains(got, tt.gone) {
				t.Errorf("got %s, still contains %q", got, tt.gone)
			}
			if tt.gone != "" && !strings.Contains(got, Fingerprint(tt.gone)) {
				t.Errorf("got %s, want fingerprint %s", got, Fingerprint(tt.gone))
			}
			if !strings.Contains(got, tt.keep) {
				t.Errorf("got %s, want it to keep %q", got, tt.keep)
			}
		})
	}
}
