package router

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestEmptyParam: a request whose parameter would be empty goes to the
// fallback (else chi's 404), never to the route: chi routed /v/ to
// /v{n:[0-9]+}/ with n = "" and /x//edit to /x/{id:[0-9]+}/edit, past
// the regexp (found by wsgi's FuzzTranslateRegexPython: Django answers
// neither). A catch-all may still be empty.
func TestEmptyParam(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rctx := chi.RouteContext(r.Context())
			w.Write([]byte(name))
			for i, k := range rctx.URLParams.Keys {
				w.Write([]byte(" " + k + "=" + rctx.URLParams.Values[i]))
			}
		}
	}
	build := func(fallback bool) *Router {
		r := New()
		r.Get("/v{n:[0-9]+}/", answer("v"))
		r.Get("/x/{id:[0-9]+}/edit", answer("edit"))
		r.Post("/y/{name}/edit", answer("y"))
		r.Get("/f/*", answer("files"))
		r.Handle("/any/{a}-{b}", answer("any"))
		r.Route("/t/{tenant}", func(s *Router) { s.Get("/x", answer("tenant")) })
		if fallback {
			r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("fallback")) }))
		}
		return r
	}
	for _, tc := range []fallbackCase{
		{"GET", "/v/", "fallback", 404},
		{"HEAD", "/v/", "", 404},
		{"GET", "/v12/", "v n=12", 200},
		{"GET", "/x//edit", "fallback", 404},
		{"GET", "/x/7/edit", "edit id=7", 200},
		{"POST", "/y//edit", "fallback", 404},
		{"GET", "/any/-b", "fallback", 404},
		{"GET", "/any/a-b", "any a=a b=b", 200},
		{"GET", "/t//x", "fallback", 404},
		{"GET", "/t/acme/x", "tenant tenant=acme *=", 200},
		{"GET", "/f/", "files *=", 200},
		{"GET", "/f/a/b", "files *=a/b", 200},
	} {
		checkWithAndWithoutFallback(t, build, tc)
	}
}

// TestCatchAllNewline: a route ending in the catch-all does not take a
// value holding a newline, which Python's "." refuses (Flask's and
// Django's <path:p>, re_path's "(?P<p>.*)$", translated to "*" by the
// route map): the request goes to the fallback (else chi's 404), never to
// the route, escaped slash or not. A parameter ("[^/]+" in Flask and
// Django) still takes one, under a mount too, whose own "*" holds the
// rest of the path.
func TestCatchAllNewline(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(name + " " + Param(r, "*") + Param(r, "name")))
		}
	}
	build := func(fallback bool) *Router {
		r := New()
		r.Get("/f/*", answer("files"))
		r.Handle("/h/*", answer("handle"))
		r.Get("/p/{name}", answer("param"))
		r.Route("/m", func(s *Router) {
			s.Get("/{name}", answer("mounted param"))
			s.Get("/all/*", answer("mounted files"))
		})
		if fallback {
			r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("fallback")) }))
		}
		return r
	}
	for _, tc := range []fallbackCase{
		{"GET", "/f/a%0Ab", "fallback", 404},
		{"HEAD", "/f/a%0Ab", "", 404},
		{"GET", "/f/%0A", "fallback", 404},
		{"GET", "/f/a/b%0A", "fallback", 404},
		{"GET", "/f/a%2Fb%0Ac", "fallback", 404}, // routed on the escaped path
		{"POST", "/h/a%0Ab", "fallback", 404},
		{"GET", "/m/all/a%0Ab", "fallback", 404},
		{"GET", "/f/a%0Db", "files a\rb", 200}, // Python's "." takes a carriage return
		{"GET", "/f/a/b", "files a/b", 200},
		{"GET", "/f/a%2Fb", "files a/b", 200},
		{"GET", "/p/a%0Ab", "param a\nb", 200},
		{"GET", "/m/a%0Ab", "mounted param a\nb", 200},
		{"GET", "/m/all/a", "mounted files a", 200},
	} {
		checkWithAndWithoutFallback(t, build, tc)
	}
}

// fallbackCase is a request and what a Router built with a fallback
// answers (the body) and one built without answers (the status).
type fallbackCase struct {
	method, path string
	want         string // with a fallback
	code         int    // without one
}

// checkWithAndWithoutFallback sends tc's request to build(true) and
// build(false) in a subtest and checks both answers.
func checkWithAndWithoutFallback(t *testing.T, build func(fallback bool) *Router, tc fallbackCase) {
	t.Run(tc.method+" "+tc.path, func(t *testing.T) {
		w := httptest.NewRecorder()
		build(true).ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if got := w.Body.String(); got != tc.want {
			t.Errorf("with a fallback: %q, want %q", got, tc.want)
		}
		w = httptest.NewRecorder()
		build(false).ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("without a fallback: %d %q, want %d", w.Code, w.Body.String(), tc.code)
		}
	})
}
