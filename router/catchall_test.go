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
	r.Route("/m", func(s *Router) {
		s.Get("/d/{*:.+}", seen)
		s.Get("/a/{*:.+}", seen).Allow()
	})
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
		{"POST", "/m/a/x", "/m/a/{*:.+}"}, // Allow's 405 under a prefix
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

// TestCatchAllFind: Find and Match answer for a request as the Router
// serves it: a rest the constrained catch-all's regexp refuses (and an
// empty parameter, which guardParams refuses too) finds no route, and a
// route found is named as written, through Route and Mount. Hosts, which
// asks Match, then gives such a request to the next candidate Router. They
// followed chi's view: "/f/*" for /f/, which the route leaves to the
// fallback.
func TestCatchAllFind(t *testing.T) {
	noop := func(http.ResponseWriter, *http.Request) {}
	r := New()
	r.Get("/f/{*:[^/].*}", noop)
	r.Handle("/h/{*:[a-z]+}", http.HandlerFunc(noop))
	r.Get("/a/{*:.+}", noop).Allow()
	r.Get("/plain/*", noop)
	r.Get("/u/{id}/edit", noop)
	r.Route("/m", func(s *Router) {
		s.Get("/d/{*:.+}", noop)
		s.Get("/a/{*:.+}", noop).Allow()
	})
	sub := New()
	sub.Get("/d/{*:.+}", noop)
	r.Mount("/sub", sub)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/f/a/b", "/f/{*:[^/].*}"},
		{"HEAD", "/f/a", "/f/{*:[^/].*}"},
		{"GET", "/f/", ""},
		{"GET", "/f//x", ""},
		{"POST", "/h/abc", "/h/{*:[a-z]+}"},
		{"POST", "/h/ABC", ""},
		{"GET", "/a/x", "/a/{*:.+}"},
		{"POST", "/a/x", "/a/{*:.+}"}, // Allow's 405
		{"POST", "/a/", ""},
		{"GET", "/plain/", "/plain/*"},
		{"GET", "/plain/a%0Ab", ""}, // "*" refuses a newline
		{"GET", "/u//edit", ""},
		{"GET", "/u/7/edit", "/u/{id}/edit"},
		{"GET", "/m/d/x", "/m/d/{*:.+}"},
		{"GET", "/m/d/", ""},
		{"POST", "/m/a/x", "/m/a/{*:.+}"},
		{"POST", "/m/a/", ""},
		{"GET", "/sub/d/x", "/sub/d/{*:.+}"},
		{"GET", "/sub/d/", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if got := r.Find(chi.NewRouteContext(), tc.method, tc.path); got != tc.want {
				t.Errorf("Find %q, want %q", got, tc.want)
			}
			if got := r.Match(chi.NewRouteContext(), tc.method, tc.path); got != (tc.want != "") {
				t.Errorf("Match %v, want %v", got, tc.want != "")
			}
		})
	}

	t.Run("Hosts", func(t *testing.T) {
		h := NewHosts()
		h.Host("api.example.com").Get("/files/{*:.+}", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("api")) })
		def := New()
		def.Get("/files/*", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("default " + Param(r, "*"))) })
		h.Default(def)
		for path, want := range map[string]string{"/files/a": "api", "/files/": "default "} {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = "api.example.com"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Body.String() != want {
				t.Errorf("%s: %d %q, want %q", path, w.Code, w.Body.String(), want)
			}
		}
	})
}
