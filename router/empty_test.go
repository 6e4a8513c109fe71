package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// requireAuth answers 401 unless the request has "Authorization: ok".
func requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "ok" {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// A sub-router with no Go route must still run its Use middlewares before
// its fallback, whether made by Route, attached by Mount or reached through
// Group, with its own fallback or an inherited one: chi serves an empty mux
// without them, which would send unauthenticated requests to Python.
func TestEmptySubRouterRunsMiddlewares(t *testing.T) {
	const fb = "fallback GET " // fakeFallback's answer, before the path
	tests := []struct {
		name  string
		build func() *Router
		path  string
		want  string // body with authorization; without it: 401 "denied"
	}{
		{"Route, own fallback", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Use(requireAuth)
				api.Fallback(fakeFallback())
			})
			return r
		}, "/api/x", fb + "/api/x"},
		{"Route, fallback of the parent set before", func() *Router {
			r := New()
			r.Fallback(fakeFallback())
			r.Route("/api", func(api *Router) { api.Use(requireAuth) })
			return r
		}, "/api/x", fb + "/api/x"},
		{"Route, fallback of the parent set after", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) { api.Use(requireAuth) })
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"Route, mount point itself", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) { api.Use(requireAuth) })
			r.Fallback(fakeFallback())
			return r
		}, "/api", fb + "/api"},
		{"Route, parent with routes", func() *Router {
			r := New()
			r.Get("/", reply("home"))
			r.Route("/api", func(api *Router) { api.Use(requireAuth) })
			r.Fallback(fakeFallback())
			return r
		}, "/api/", fb + "/api/"},
		{"Route, no fallback", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) { api.Use(requireAuth) })
			return r
		}, "/api/x", "404 page not found\n"},
		{"Mount, own fallback", func() *Router {
			r, api := New(), New()
			api.Use(requireAuth)
			api.Fallback(fakeFallback())
			r.Mount("/api", api)
			return r
		}, "/api/x", fb + "/api/x"},
		{"Mount, fallback of the parent set before", func() *Router {
			r, api := New(), New()
			r.Fallback(fakeFallback())
			api.Use(requireAuth)
			r.Mount("/api", api)
			return r
		}, "/api/x", fb + "/api/x"},
		{"Mount, fallback of the parent set after", func() *Router {
			r, api := New(), New()
			api.Use(requireAuth)
			r.Mount("/api", api)
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"Mount, Use after Mount", func() *Router {
			r, api := New(), New()
			r.Mount("/api", api)
			api.Use(requireAuth)
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"Mount, no fallback", func() *Router {
			r, api := New(), New()
			api.Use(requireAuth)
			r.Mount("/api", api)
			return r
		}, "/api/x", "404 page not found\n"},
		{"Group, own fallback", func() *Router {
			r := New()
			r.Group(func(g *Router) {
				g.Use(requireAuth)
				g.Fallback(fakeFallback())
			})
			return r
		}, "/x", fb + "/x"},
		{"Group in Route, own fallback", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Group(func(g *Router) {
					g.Use(requireAuth)
					g.Fallback(fakeFallback())
				})
			})
			return r
		}, "/api/x", fb + "/api/x"},
		{"Group in Route, fallback of the parent", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Use(requireAuth)
				api.Group(func(g *Router) {})
			})
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"Route in Group", func() *Router {
			r := New()
			r.Group(func(g *Router) {
				g.Route("/api", func(api *Router) { api.Use(requireAuth) })
			})
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"Mount in Group", func() *Router {
			r, api := New(), New()
			api.Use(requireAuth)
			r.Group(func(g *Router) { g.Mount("/api", api) })
			r.Fallback(fakeFallback())
			return r
		}, "/api/x", fb + "/api/x"},
		{"nested Route, outer with a route", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Get("/ok", reply("ok"))
				api.Route("/v1", func(v1 *Router) { v1.Use(requireAuth) })
			})
			r.Fallback(fakeFallback())
			return r
		}, "/api/v1/x", fb + "/api/v1/x"},
		{"nested Route, both empty", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Use(requireAuth)
				api.Route("/v1", func(v1 *Router) {})
			})
			r.Fallback(fakeFallback())
			return r
		}, "/api/v1/x", fb + "/api/v1/x"},
		{"nested Route, inner own fallback", func() *Router {
			r := New()
			r.Route("/api", func(api *Router) {
				api.Route("/v1", func(v1 *Router) {
					v1.Use(requireAuth)
					v1.Fallback(reply("v1 fallback"))
				})
			})
			r.Fallback(fakeFallback())
			return r
		}, "/api/v1/x", "v1 fallback"},
		{"Mount in Route in Mount, fallback of the root set last", func() *Router {
			r, a, b := New(), New(), New()
			b.Use(requireAuth)
			a.Route("/r", func(ar *Router) { ar.Mount("/b", b) })
			r.Mount("/a", a)
			r.Fallback(fakeFallback())
			return r
		}, "/a/r/b/x", fb + "/a/r/b/x"},
		{"Mount of a tree with an empty Route, fallback of the root set first", func() *Router {
			r, a := New(), New()
			r.Fallback(fakeFallback())
			a.Route("/r", func(ar *Router) { ar.Use(requireAuth) })
			r.Mount("/a", a)
			return r
		}, "/a/r/x", fb + "/a/r/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.build()
			for _, method := range []string{"GET", "POST"} {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest(method, tc.path, nil))
				if w.Code != http.StatusUnauthorized || w.Body.String() != "denied\n" {
					t.Errorf("%s %s without authorization: got %d %q, want 401 denied", method, tc.path, w.Code, w.Body.String())
				}
			}
			w := httptest.NewRecorder()
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("Authorization", "ok")
			r.ServeHTTP(w, req)
			if w.Body.String() != tc.want {
				t.Errorf("GET %s with authorization: got %d %q, want %q", tc.path, w.Code, w.Body.String(), tc.want)
			}
		})
	}
}

// The fallback handed down to sub-routers follows chi's rules: a sub-router
// keeps its own, a Group's fallback runs behind the group's middlewares, and
// an unrelated path still reaches the root fallback without the sub-router's
// middlewares.
func TestEmptySubRouterFallbackInheritance(t *testing.T) {
	r := New()
	r.Route("/api", func(api *Router) { api.Use(requireAuth) })
	r.Route("/own", func(own *Router) { own.Fallback(reply("own")) })
	r.Group(func(g *Router) {
		g.Use(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("X-Group", "1")
				next.ServeHTTP(w, req)
			})
		})
		g.Fallback(reply("group"))
	})
	later := New()
	r.Mount("/later", later)

	for _, tc := range []struct{ path, want, group string }{
		{"/other", "group", "1"},
		{"/own/x", "own", ""},
		{"/later/x", "group", "1"},
		{"/api/x", "denied\n", ""},
	} {
		code, body, hdr := testHandler(t, r, "GET", tc.path)
		if body != tc.want || hdr.Get("X-Group") != tc.group {
			t.Errorf("GET %s: got %d %q X-Group %q, want %q X-Group %q", tc.path, code, body, hdr.Get("X-Group"), tc.want, tc.group)
		}
	}

	d := &Dispatch{}
	req := httptest.NewRequest("GET", "/later/x", nil)
	r.ServeHTTP(httptest.NewRecorder(), req.WithContext(WithDispatch(req.Context(), d)))
	if !d.Fallback {
		t.Error("GET /later/x: Dispatch.Fallback not set")
	}
}
