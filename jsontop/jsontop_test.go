package jsontop

import (
	"maps"
	"testing"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string // nil: not an object
	}{
		{"strings and others", `{"grant_type":"client_credentials","n":1.0,"b":true,"z":null,"o":{ "a" : [1, 2] }}`,
			map[string]string{"grant_type": "client_credentials", "n": "1.0", "b": "true", "z": "", "o": `{"a":[1,2]}`}},
		{"escapes", `{"s":"a\"b\u00e9"}`, map[string]string{"s": `a"bé`}},
		{"empty object", `{}`, map[string]string{}},
		{"duplicate name: last wins", `{"a":"1","a":"2"}`, map[string]string{"a": "2"}},
		{"array", `[1,2]`, nil},
		{"null", `null`, nil},
		{"form body", `a=b&c=d`, nil},
		{"truncated", `{"a":"b"`, nil},
		{"empty", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Members([]byte(tt.in))
			if ok != (tt.want != nil) || !maps.Equal(got, tt.want) {
				t.Errorf("Members(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
			}
		})
	}
}
