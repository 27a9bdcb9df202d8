package inspect

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestScanObject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want map[string]string // string members
	}{
		{"token response", `{"access_token":"a.b","expires_in":3600,"scope":"x y"}`, true, map[string]string{"access_token": "a.b", "scope": "x y"}},
		{"escapes", `{"a":"q\"uo\\te\u00e9\/"}`, true, map[string]string{"a": "q\"uo\\teé/"}},
		{"nested values skipped", ` { "o" : {"x":"}"} , "l":[1,"]",{}], "s":"v" } `, true, map[string]string{"s": "v"}},
		{"empty object", `{}`, true, map[string]string{}},
		{"array", `[1]`, false, nil},
		{"trailing garbage", `{"a":"b"}x`, false, nil},
		{"unterminated string", `{"a":"b`, false, nil},
		{"missing colon", `{"a" "b"}`, false, nil},
		{"trailing comma", `{"a":"b",}`, false, nil},
		{"control character in string", "{\"a\":\"b\nc\"}", false, nil},
		{"control character in a long string", "{\"a\":\"0123456789abcdef\x1fghij\"}", false, nil},
		{"long string, high bytes", "{\"a\":\"\x7f\u00e9\u00ff0123456789 ~!\xc3\xa9\"}", true, map[string]string{"a": "\x7féÿ0123456789 ~!é"}},
		{"escape after a long run", `{"a":"0123456789abcdef\"x"}`, true, map[string]string{"a": "0123456789abcdef\"x"}},
		{"bare word", `{"a":hello}`, false, nil},
		{"unbalanced nesting", `{"a":{"b":[}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			ok := scanObject([]byte(tc.in), func(name []byte, kind byte, val []byte) {
				if kind == '"' {
					got[string(name)] = string(val)
				}
			})
			if ok != tc.ok {
				t.Fatalf("ok: got %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("members: got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("member %s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// FuzzScanObject compares scanObject with encoding/json on valid objects:
// same string members; and never panics on anything. parseTokenJSON must
// read the same members as copying each value would.
func FuzzScanObject(f *testing.F) {
	f.Add(`{"access_token":"a","n":1,"o":{"x":["y"]},"e":"\u00e9\n"}`)
	f.Add(`{"a":"b",}`)
	f.Add(`{"a":[{"b":"]"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		got := map[string]string{}
		ok := scanObject([]byte(in), func(name []byte, kind byte, val []byte) {
			if kind == '"' {
				got[string(name)] = string(val)
			}
		})
		// parseTokenJSON's shared copy gives the members a copy of each
		// would (as it did before sharing one).
		var want params
		wantOK := scanObject([]byte(in), func(name []byte, kind byte, val []byte) {
			for _, m := range tokenResponseMembers {
				switch {
				case string(name) != m || kind == 'n':
				case m == "error" && kind == '{':
					want = append(want, pv(m, "error"))
				default:
					want = append(want, pv(m, string(val)))
				}
			}
		})
		if pt, ptOK := parseTokenJSON([]byte(in)); ptOK != wantOK || len(pt) != len(want) {
			t.Fatalf("parseTokenJSON(%q) = %q, %v; want %q, %v", in, pt, ptOK, want, wantOK)
		} else {
			for i := range pt {
				if pt[i] != want[i] {
					t.Fatalf("parseTokenJSON(%q) member %d = %q, want %q", in, i, pt[i], want[i])
				}
			}
		}
		var m map[string]any
		// encoding/json replaces invalid UTF-8; scanObject keeps bytes as they are.
		if !utf8.ValidString(in) || json.Unmarshal([]byte(in), &m) != nil || m == nil {
			return
		}
		if !ok {
			t.Fatalf("scanObject rejected a valid object %q", in)
		}
		for k, v := range m {
			if s, isStr := v.(string); isStr && got[k] != s {
				t.Fatalf("member %q: got %q, want %q", k, got[k], s)
			}
		}
	})
}

func TestHasControl(t *testing.T) {
	for n := 0; n < 20; n++ {
		clean := make([]byte, n)
		for i := range clean {
			clean[i] = byte(0x20 + (i*37)%0xe0) // 0x20..0xff
		}
		if hasControl(clean) {
			t.Errorf("hasControl(%q) = true, want false", clean)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0x00, 0x0a, 0x1f} {
				dirty := append([]byte(nil), clean...)
				dirty[i] = c
				if !hasControl(dirty) {
					t.Errorf("hasControl(%q) = false, want true (byte %d)", dirty, i)
				}
			}
		}
	}
}

// pv is a param with only a name and a value.
func pv(name, value string) param { return param{Name: name, Value: value} }

func TestParseTokenJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want params
	}{
		{"token response", `{"access_token":"at.1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt.2","scope":"openid email"}`, true,
			params{pv("access_token", "at.1"), pv("refresh_token", "rt.2"), pv("scope", "openid email")}},
		{"escaped value between plain ones", `{"access_token":"a","error":"bad\"x\u00e9","scope":"s"}`, true,
			params{pv("access_token", "a"), pv("error", "bad\"xé"), pv("scope", "s")}},
		{"error object, null, number", `{"error":{"code":403},"id_token":null,"errcode":40163}`, true,
			params{pv("error", "error"), pv("errcode", "40163")}},
		{"empty string", `{"refresh_token":"","scope":"x"}`, true, params{pv("refresh_token", ""), pv("scope", "x")}},
		{"first of duplicates", `{"error":"a","error":"b"}`, true, params{pv("error", "a"), pv("error", "b")}},
		{"no members read", `{"token_type":"Bearer"}`, true, params{}},
		{"not an object", `{"error":"a"`, false, params{pv("error", "a")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTokenJSON([]byte(tc.in))
			if ok != tc.ok {
				t.Errorf("ok = %v, want %v", ok, tc.ok)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("member %d: got %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
