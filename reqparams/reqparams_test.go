package reqparams

import (
	"fmt"
	"testing"
)

func TestParseBody(t *testing.T) {
	const mp = "multipart/form-data; boundary=XB"
	mpBody := "--XB\r\nContent-Disposition: form-data; name=\"client_secret\"\r\n\r\ns3cr3t\r\n--XB--\r\n"
	tests := []struct {
		name, ct, body string
		kind           Kind
		guessed        bool
		want           string // fmt of Params
	}{
		{"empty", "application/json", "", KindNone, false, "[]"},
		{"form", "application/x-www-form-urlencoded; charset=utf-8", "grant_type=client_credentials&client_secret=a%2Bb+c\n", KindForm, false,
			"[{grant_type client_credentials form} {client_secret a+b c form}]"},
		{"form keeps duplicates and bad escapes", "application/x-www-form-urlencoded", "a=1&a=%zz&&b", KindForm, false,
			"[{a 1 form} {a %zz form} {b  form}]"},
		{"json object", "application/json", ` {"client_secret":"s\"x","n":1.0,"z":null,"o":{"a":[1]}} `, KindJSON, false,
			`[{client_secret s"x json} {n 1.0 json} {o {"a":[1]} json} {z  json}]`},
		{"json under another content type", "text/plain", `{"client_secret":"x"}`, KindJSON, false, "[{client_secret x json}]"},
		{"json under form content type is a form", "application/x-www-form-urlencoded", `{"a":"b"}`, KindForm, false, `[{{"a":"b"}  form}]`},
		{"json array is other", "application/json", `[1,2]`, KindOther, false, "[]"},
		{"broken json is other", "application/json", `{"a":`, KindOther, false, "[]"},
		{"form without content type", "", "client_id=x&client_secret=y", KindOther, true, "[{client_id x form} {client_secret y form}]"},
		{"form as text/plain", "text/plain", "client_secret=y", KindOther, true, "[{client_secret y form}]"},
		{"prose is not a form", "", "a = b", KindOther, false, "[]"},
		{"xml is other", "application/xml", "<a>b=c</a>", KindOther, false, "[]"},
		{"multipart", mp, mpBody, KindMultipart, false, "[{client_secret s3cr3t multipart}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseBody(tt.ct, []byte(tt.body))
			if gotP := fmt.Sprint([]Param(got.Params)); got.Kind != tt.kind || got.Guessed != tt.guessed || gotP != tt.want {
				t.Errorf("ParseBody(%q, %q) = %s %v %s; want %s %v %s", tt.ct, tt.body, got.Kind, got.Guessed, gotP, tt.kind, tt.guessed, tt.want)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	l := Request("client_id=q&x=%41", "application/json", []byte(`{"client_secret":"j"}`))
	if got, want := fmt.Sprint([]Param(l)), "[{client_id q query} {x A query} {client_secret j json}]"; got != want {
		t.Errorf("Request = %s; want %s", got, want)
	}
	if v, ok := l.Get("client_secret"); !ok || v != "j" {
		t.Errorf("Get(client_secret) = %q, %v; want j, true", v, ok)
	}
	if l.Has("nope") {
		t.Errorf("Has(nope) = true; want false")
	}
	if got := l.Values()["x"]; len(got) != 1 || got[0] != "A" {
		t.Errorf("Values()[x] = %v; want [A]", got)
	}
}

func TestJSONBounded(t *testing.T) {
	b := []byte("{")
	for i := 0; i < Max+50; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"k%04d":"v"`, i)
	}
	b = append(b, '}')
	if got := len(ParseBody("application/json", b).Params); got != Max {
		t.Errorf("params of a %d-member object = %d; want %d", Max+50, got, Max)
	}
}
