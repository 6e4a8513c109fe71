package router

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
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

// TestCatchAllRoutePattern: a request a constrained catch-all route serves
// has the pattern as written in chi's route context (RoutePattern, which
// the access log's http.route and the metrics' route label read), the
// name the stages and the inventory give the route, not chi's "/x/*":
// for GET, its implied HEAD, Handle, a 405 of Allow, a With route and
// routes of a Route and of a mounted Router.
func TestCatchAllRoutePattern(t *testing.T) {
	seen := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pattern", chi.RouteContext(r.Context()).RoutePattern())
	}
	pattern := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if w.Header().Get("X-Pattern") == "" { // the 405 stub wrote none
				w.Header().Set("X-Pattern", chi.RouteContext(r.Context()).RoutePattern())
			}
		})
	}
	r := New()
	r.Use(pattern)
	r.Get("/f/{*:[^/].*}", seen)
	r.Handle("/h/{*:[a-z]+}", http.HandlerFunc(seen))
	r.Get("/a/{*:.+}", seen).Allow()
	r.With(func(h http.Handler) http.Handler { return h }).Get("/w/{*:.+}", seen)
	r.Get("/plain/*", seen)
	r.Route("/m", func(s *Router) { s.Get("/d/{*:.+}", seen) })
	sub := New()
	sub.Get("/d/{*:.+}", seen)
	r.Mount("/sub", sub)
	r.Fallback(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/f/a/b", "/f/{*:[^/].*}"},
		{"HEAD", "/f/a", "/f/{*:[^/].*}"},
		{"POST", "/h/abc", "/h/{*:[a-z]+}"},
		{"GET", "/a/x", "/a/{*:.+}"},
		{"POST", "/a/x", "/a/{*:.+}"}, // Allow's 405
		{"GET", "/w/x", "/w/{*:.+}"},
		{"GET", "/plain/x", "/plain/*"},
		{"GET", "/m/d/x/y", "/m/d/{*:.+}"},
		{"GET", "/sub/d/x", "/sub/d/{*:.+}"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if got := w.Header().Get("X-Pattern"); got != tc.want {
				t.Errorf("RoutePattern %q (status %d), want %q", got, w.Code, tc.want)
			}
		})
	}
}
