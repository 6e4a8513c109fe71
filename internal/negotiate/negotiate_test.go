package negotiate

import (
	"slices"
	"strings"
	"testing"
)

func TestMedia(t *testing.T) {
	offers := []string{"text/html;charset=utf-8", "application/json", "text/plain;charset=utf-8"}
	const html, json, plain = "text/html;charset=utf-8", "application/json", "text/plain;charset=utf-8"
	tests := []struct {
		name   string
		accept []string // nil: no field
		want   string
	}{
		{"no field", nil, html},
		{"empty field", []string{""}, html},
		{"anything", []string{"*/*"}, html},
		{"json", []string{"application/json"}, json},
		{"json refused", []string{"application/json;q=0"}, ""},
		{"json refused, anything else", []string{"application/json;q=0, */*"}, html},
		{"json refused with spaces and case", []string{"Application/JSON ; Q=0.0 , */*;q=0.1"}, html},
		{"json refused over a wildcard", []string{"*/*;q=0.5, application/json;q=0.000"}, html},
		{"json refused, html refused", []string{"text/html;q=0, application/json;q=0, */*;q=0.2"}, plain},
		{"browser", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}, html},
		{"json preferred by q", []string{"text/html;q=0.5, application/json;q=0.9"}, json},
		{"plain preferred", []string{"text/plain, text/html;q=0.9"}, plain},
		{"plain only", []string{"text/plain"}, plain},
		{"type wildcard", []string{"text/*"}, html},
		{"type wildcard with a refusal", []string{"text/*;q=0.3, text/html;q=0"}, plain},
		{"more specific wins over the wildcard's q", []string{"application/*;q=1, application/json;q=0.1, text/*;q=0.2"}, html},
		{"ties go to the handler's order", []string{"application/json, text/html"}, html},
		{"refusal wins among equals", []string{"application/json, application/json;q=0"}, ""},
		{"several fields", []string{"application/json;q=0", "text/html;q=0.1"}, html},
		{"malformed q is 0", []string{"application/json;q=2, text/html;q=0.1"}, html},
		{"q with too many decimals", []string{"application/json;q=0.0001"}, ""},
		{"q in another notation", []string{"application/json;q=1e-3"}, ""},
		{"Java's .2", []string{"text/html;q=.2, *; q=.1"}, html},
		{"lone star", []string{"*"}, html},
		{"no media range at all: no preference", []string{"json, html"}, html},
		{"*/json is no range", []string{"*/json, image/png"}, ""},
		{"accept-ext after q", []string{"application/json;q=0.5;ext=1, text/html;q=0.4"}, json},
		{"range with a parameter the offer has", []string{"text/html;charset=UTF-8"}, html},
		{"range with a parameter the offer lacks", []string{"application/json;version=2"}, ""},
		{"parameter range more specific", []string{"text/html;charset=utf-8;q=0, text/html"}, ""},
		{"unrelated types", []string{"image/png"}, ""},
		{"empty items", []string{" , ,application/json,"}, json},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Media(tc.accept, offers...); got != tc.want {
				t.Errorf("Media(%q) = %q; want %q", tc.accept, got, tc.want)
			}
		})
	}
	if got := Media([]string{"*/*"}); got != "" {
		t.Errorf("Media with no offers = %q", got)
	}
}

func TestWeight(t *testing.T) {
	for _, tc := range []struct {
		params string
		want   float64
	}{
		{"", 1}, {"q=1", 1}, {"q=1.000", 1}, {"q=0", 0}, {" Q = 0.5 ", 0.5}, {"q=0.125", 0.125}, {"q=.5", 0.5},
		{"level=1;q=0.3", 0.3}, {"q=0.3;q=0.9", 0.3}, {"q=1.5", 0}, {"q=2", 0}, {"q=0.1234", 0}, {"q=-0", 0},
		{"q=NaN", 0}, {"q=inf", 0}, {"q=0x1p-1", 0}, {"q=", 0}, {"q=.", 0}, {"q=1.", 1}, {`q="0.5"`, 0},
	} {
		if got := Weight(tc.params); got != tc.want {
			t.Errorf("Weight(%q) = %v; want %v", tc.params, got, tc.want)
		}
	}
}

// Media never panics and answers one of its offers or "", and an offer
// the field refuses by name with q=0 is never the answer.
func FuzzMedia(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json;q=0", "text/*;q=0.5, text/html;q=0", "*; q=.2", ";;,=q/", "a/b;c=\"d;q=0\""} {
		f.Add(s)
	}
	offers := []string{"text/html", "application/json", "text/plain"}
	f.Fuzz(func(t *testing.T, accept string) {
		got := Media([]string{accept}, offers...)
		if got != "" && !slices.Contains(offers, got) {
			t.Fatalf("Media(%q) = %q, not an offer", accept, got)
		}
		for item := range strings.SplitSeq(accept, ",") {
			if strings.TrimSpace(item) == got+";q=0" && !strings.Contains(accept, "\"") {
				// Unless a more specific range (one with parameters) of
				// the same type accepts it, which got cannot have.
				t.Fatalf("Media(%q) = %q, which it refuses", accept, got)
			}
		}
		if w := Weight(accept); w < 0 || w > 1 {
			t.Fatalf("Weight(%q) = %v", accept, w)
		}
	})
}
