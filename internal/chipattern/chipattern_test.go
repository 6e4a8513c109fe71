package chipattern

import "testing"

func TestClosingBrace(t *testing.T) {
	for _, tc := range []struct {
		p    string
		open int
		want int
	}{
		{"/{id}", 1, 4},
		{"/{id:[0-9]{4}}/x", 1, 13},
		{"/{a}/{b:x{1,2}y}", 5, 15},
		{"/{id:[0-9]{4}", 1, -1},
		{"/{", 1, -1},
		{"{}", 0, 1},
	} {
		if got := ClosingBrace(tc.p, tc.open); got != tc.want {
			t.Errorf("ClosingBrace(%q, %d) = %d, want %d", tc.p, tc.open, got, tc.want)
		}
	}
}

func TestCatchAll(t *testing.T) {
	for _, tc := range []struct {
		p, chi, re string
		ok         bool
	}{
		{"/files/{*:.+}", "/files/*", ".+", true},
		{"/{*:[^/].*}", "/*", "[^/].*", true},
		{"/f/{*:a{2}}", "/f/*", "a{2}", true},
		{"/files/*", "/files/*", "", false},
		{"/x/{a:[{*:]}", "/x/{a:[{*:]}", "", false}, // a parameter named a
		{"/x/{*}", "/x/{*}", "", false},
		{"/x/{*:}", "/x/{*:}", "", false},
		{"/x/{*:.+}/y", "/x/{*:.+}/y", "", false},
		{"/x/{*:.+", "/x/{*:.+", "", false},
	} {
		chi, re, ok := CatchAll(tc.p)
		if chi != tc.chi || re != tc.re || ok != tc.ok {
			t.Errorf("CatchAll(%q) = %q, %q, %v; want %q, %q, %v", tc.p, chi, re, ok, tc.chi, tc.re, tc.ok)
		}
	}
}
