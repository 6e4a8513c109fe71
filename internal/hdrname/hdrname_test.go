package hdrname

import (
	"net/http"
	"slices"
	"testing"
)

func TestIs(t *testing.T) {
	tests := []struct {
		k, name string
		want    bool
	}{
		{"X-Forwarded-For", "X-Forwarded-For", true},
		{"x-forwarded-for", "X-Forwarded-For", true},
		{"X_Forwarded_For", "X-Forwarded-For", true},
		{"X_forwarded_for", "X-Forwarded-For", true}, // net/http's canonical form of X_FORWARDED_FOR
		{"X-FORWARDED_FOR", "X-Forwarded-For", true},
		{"Script-Name", "SCRIPT_NAME", true},
		{"script_name", "SCRIPT_NAME", true},
		{"Forwarded", "Forwarded", true},
		{"X-Forwarded-Fo", "X-Forwarded-For", false},
		{"X-Forwarded-Fox", "X-Forwarded-For", false},
		{"X.Forwarded.For", "X-Forwarded-For", false},
		{"X Forwarded For", "X-Forwarded-For", false},
		{"XForwarded-For", "X-Forwarded-For", false},
		{"Forwarded-", "Forwarded", false},
		{"Accept", "Forwarded", false},
		{"", "Forwarded", false},
		{"X-Forwarded-F\xcfr", "X-Forwarded-For", false},
		// Only ASCII letters fold: K (U+212A KELVIN SIGN) is not k.
		{"\u212a", "K", false},
	}
	for _, tc := range tests {
		t.Run(tc.k+"/"+tc.name, func(t *testing.T) {
			if got := Is(tc.k, tc.name); got != tc.want {
				t.Errorf("Is(%q, %q) = %v, want %v", tc.k, tc.name, got, tc.want)
			}
		})
	}
}

func TestAddVary(t *testing.T) {
	for _, tc := range []struct {
		name string
		vary []string
		want []string
	}{
		{"none", nil, []string{"Cookie"}},
		{"other", []string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{"listed", []string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{"second line", []string{"Accept", " Cookie "}, []string{"Accept", " Cookie "}},
		{"star", []string{"*"}, []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.vary {
				h.Add("Vary", v)
			}
			AddVary(h, "Cookie")
			if got := h.Values("Vary"); !slices.Equal(got, tc.want) {
				t.Errorf("Vary %q, want %q", got, tc.want)
			}
		})
	}
}
