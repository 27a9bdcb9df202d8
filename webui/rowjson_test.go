package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

// plainRow is Row without methods: what encoding/json makes of it.
type plainRow Row

// fullRow has every field of Row set, so that a field added to Row and
// not to appendRow fails TestAppendRowMatchesJSON.
func fullRow() Row {
	r := Row{ID: "00000000-0000-4000-8000-000000000001", Seq: 7, Time: time.Date(2025, 3, 1, 12, 0, 1, 123456789, time.FixedZone("x", 3600)),
		Method: "POST", URL: "https://login.example.test/oauth2/token?a=1&b=<2>", Host: "login.example.test", Path: "/oauth2/token?a=1&b=<2>",
		Status: 400, Error: "oauthproxy: upstream \"x\" said \\ no\n", DurationMS: 12.345, OAuth: "token", GrantType: "authorization_code",
		Issuer: "https://login.example.test", Login: "L1", Failed: true, Badge: &Badge{Level: "error", ID: "grant/code-reused"},
		Findings: []Brief{{ID: "code-reused", Severity: "error"}, {ID: "pkce-missing", Severity: "warn"}}, Cause: "grant/code-reused"}
	v := reflect.ValueOf(r)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			panic("fullRow leaves Row." + v.Type().Field(i).Name + " zero")
		}
	}
	return r
}

func TestAppendRowMatchesJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "ctl \x00\x01\b\f\n\r\t\x1f\x7f",
		"naïve ünïcode ✓ 🔑", "bad utf8 \xff\xfe tail", "\xe2\x80\xa8 line sep \xe2\x80\xa9", "cut \xe2\x80"}
	rows := map[string]Row{"zero": {}, "full": fullRow()}
	for i, s := range strs {
		r := fullRow()
		r.ID, r.URL, r.Error, r.Login, r.Cause = s, s, s, s, s
		r.Findings[0].ID, r.Badge.ID = s, s
		rows[fmt.Sprintf("strings %d %.12q", i, s)] = r
	}
	for _, f := range []float64{0, 0.001, 1e-7, 123456.789, 1e21, 1e20, -3.5} {
		r := fullRow()
		r.DurationMS = f
		rows[fmt.Sprint("float ", f)] = r
	}
	r := fullRow()
	r.Badge, r.Findings, r.Failed, r.Time = nil, []Brief{}, false, time.Time{}
	rows["no badge, empty findings, zero time"] = r
	for name, r := range rows {
		t.Run(name, func(t *testing.T) {
			want, werr := json.Marshal(plainRow(r))
			got, gerr := appendRow(nil, &r)
			if (werr != nil) != (gerr != nil) || werr == nil && !bytes.Equal(got, want) {
				t.Errorf("appendRow:\n got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
			}
		})
	}
	for _, bad := range []Row{{DurationMS: math.NaN()}, {DurationMS: math.Inf(1)}, {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if _, err := appendRow(nil, &bad); err == nil {
			t.Errorf("appendRow(%+v): no error, want encoding/json's", bad)
		}
	}
}

// FuzzAppendRow: for any strings and numbers, appendRow writes what
// encoding/json writes.
func FuzzAppendRow(f *testing.F) {
	f.Add("https://a.example.test/?x=1&y=<2>", "err \"q\" \\", "L1", 12.5, int64(1740830400))
	f.Add("\xff\xfe\x00\u2028", "naïve ✓", "", 1e-7, int64(-62135596800))
	f.Fuzz(func(t *testing.T, u, e, login string, dur float64, sec int64) {
		r := fullRow()
		r.URL, r.Path, r.Error, r.Login, r.Badge.ID, r.Findings[1].ID = u, u, e, login, e, login
		r.DurationMS = dur
		r.Time = time.Unix(sec%(400*365*86400), 0).UTC()
		want, werr := json.Marshal(plainRow(r))
		got, gerr := appendRow(nil, &r)
		if (werr != nil) != (gerr != nil) || werr == nil && !bytes.Equal(got, want) {
			t.Errorf("appendRow:\n got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
		}
	})
}

// BenchmarkEncodeRow: appendRow against encoding/json for a refused
// token exchange's row (two findings, a diagnosis).
func BenchmarkEncodeRow(b *testing.B) {
	r := fullRow()
	r.URL, r.Path, r.Error = "https://login.example.test/oauth2/token", "/oauth2/token", ""
	b.Run("appendRow", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := appendRow(make([]byte, 0, 1024), &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := json.Marshal(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
