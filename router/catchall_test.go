package router

import (
	"errors"
	"net/http"
	"slices"
	"testing"
)

// TestConstrainedCatchAll: a pattern ending in "{*:regexp}" takes a
// request only when the rest of the path, decoded, matches the regexp
// whole; chi's "*" takes the empty rest too. "{*:.+}" is Django's
// <path:p>, "{*:[^/].*}" Flask's (werkzeug's "[^/].*?"): neither takes
// /f/, Flask's takes a rest whose first character is a newline, Django's
// no newline at all. The request goes to the fallback, else 404; HEAD,
// Handle and a mounted Route follow the same rule, a plain "*" keeps
// taking the empty rest, and URL builds only values the regexp takes.
func TestConstrainedCatchAll(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(name + " " + Param(r, "*")))
		}
	}
	build := func(fallback bool) *Router {
		r := New()
		r.Get("/d/{*:.+}", answer("django")).Name("django")
		r.Get("/f/{*:[^/].*}", answer("flask"))
		r.Handle("/h/{*:[a-z]+}", answer("handle"))
		r.Get("/plain/*", answer("plain"))
		r.Get("/a/{*:.+}", answer("allow")).Allow()
		r.Get("/u/{id}", answer("user")).Allow()
		r.Route("/m", func(s *Router) { s.Get("/all/{*:.+}", answer("mounted")) })
		if fallback {
			r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("fallback")) }))
		}
		return r
	}
	for _, tc := range []fallbackCase{
		{"GET", "/d/", "fallback", 404},
		{"HEAD", "/d/", "", 404},
		{"GET", "/d/a/b", "django a/b", 200},
		{"GET", "/d/%0A", "fallback", 404},
		{"GET", "/d/a%0Ab", "fallback", 404},
		{"GET", "/d/a%2Fb", "django a/b", 200},
		{"GET", "/d//x", "django /x", 200},
		{"GET", "/f/", "fallback", 404},
		{"GET", "/f/%0Aab", "flask \nab", 200},
		{"GET", "/f/%0A", "flask \n", 200},
		{"GET", "/f/%0Aa%0Ab", "fallback", 404},
		{"GET", "/f/a/b", "flask a/b", 200},
		{"GET", "/f//x", "fallback", 404},
		{"POST", "/h/abc", "handle abc", 200},
		{"POST", "/h/ab1", "fallback", 404},
		{"GET", "/plain/", "plain ", 200},
		// Allow's 405 refuses what the route would take, no more.
		{"POST", "/a/x", "", 405},
		{"POST", "/a/", "fallback", 404},
		{"GET", "/a/", "fallback", 404},
		{"POST", "/u/7", "", 405},
		{"POST", "/u/", "fallback", 404},
		{"GET", "/m/all/", "fallback", 404},
		{"GET", "/m/all/x", "mounted x", 200},
	} {
		checkWithAndWithoutFallback(t, build, tc)
	}

	r := build(false)
	if u, err := r.URL("django", "*", "a/b"); err != nil || u != "/d/a/b" {
		t.Errorf(`URL("django", "*", "a/b") = %q, %v; want "/d/a/b"`, u, err)
	}
	for _, pairs := range [][]string{{"*", ""}, nil, {"*", "a\nb"}} {
		if u, err := r.URL("django", pairs...); !errors.Is(err, ErrInvalidParam) && !errors.Is(err, ErrMissingParam) {
			t.Errorf("URL(django, %q) = %q, %v; want ErrInvalidParam or ErrMissingParam", pairs, u, err)
		}
	}
	var got []string
	for _, ri := range r.Inventory() {
		got = append(got, ri.Method+" "+ri.Pattern)
	}
	for _, want := range []string{"GET /d/{*:.+}", "HEAD /d/{*:.+}", "* /h/{*:[a-z]+}", "GET /m/all/{*:.+}"} {
		if !slices.Contains(got, want) {
			t.Errorf("inventory %q lacks %q", got, want)
		}
	}
}
