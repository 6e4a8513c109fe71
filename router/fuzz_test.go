package router

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzURL checks that any value reversed into a path routes back to the
// same route and decodes, with Param, to itself.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"foo", "42", "\xe9", "é", "1 + 1", "a b/é", "%", "%2F", "..", ".", "?#", "~-._"} {
		f.Add(s, s)
	}
	var gotArg, gotRest string
	r := New()
	r.Get("/p/{arg}/tail/*", func(_ http.ResponseWriter, req *http.Request) {
		gotArg, gotRest = Param(req, "arg"), Param(req, "*")
	}).Name("p")
	f.Fuzz(func(t *testing.T, arg, rest string) {
		u, err := r.URL("p", "arg", arg, "*", rest)
		if arg == "" {
			if err == nil {
				t.Fatalf("empty arg: no error")
			}
			return
		}
		if err != nil {
			t.Fatalf("URL(%q, %q): %v", arg, rest, err)
		}
		if strings.Count(u, "/") != 4+strings.Count(rest, "/") {
			t.Fatalf("URL(%q, %q) = %q: a slash leaked out of the parameter", arg, rest, u)
		}
		if _, err := url.ParseRequestURI(u); err != nil {
			t.Fatalf("URL(%q, %q) = %q: not a valid request URI: %v", arg, rest, u, err)
		}
		// Dot segments would be cleaned by clients and servers.
		if arg == "." || arg == ".." {
			return
		}
		gotArg, gotRest = "<not routed>", ""
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", u, nil))
		if gotArg != arg || gotRest != rest {
			t.Fatalf("URL(%q, %q) = %q routed back as (%q, %q)", arg, rest, u, gotArg, gotRest)
		}
	})
}
