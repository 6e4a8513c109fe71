package router

import (
	"errors"
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
		if dotSegment(arg, false) || dotSegment(rest, true) {
			// Clients would remove the dot segment: refused.
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("URL(%q, %q) = %q, %v; want ErrInvalidParam", arg, rest, u, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("URL(%q, %q): %v", arg, rest, err)
		}
		if strings.Count(u, "/") != 4+strings.Count(rest, "/") {
			t.Fatalf("URL(%q, %q) = %q: a slash leaked out of the parameter", arg, rest, u)
		}
		ref, err := url.ParseRequestURI(u)
		if err != nil {
			t.Fatalf("URL(%q, %q) = %q: not a valid request URI: %v", arg, rest, u, err)
		}
		// A client resolving it as a link keeps it as it is.
		base := &url.URL{Scheme: "http", Host: "h", Path: "/x/y"}
		if res := base.ResolveReference(ref); res.Host != "h" || res.EscapedPath() != u {
			t.Fatalf("URL(%q, %q) = %q, which a client resolves to %s", arg, rest, u, res)
		}
		gotArg, gotRest = "<not routed>", ""
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", u, nil))
		if gotArg != arg || gotRest != rest {
			t.Fatalf("URL(%q, %q) = %q routed back as (%q, %q)", arg, rest, u, gotArg, gotRest)
		}
	})
}
