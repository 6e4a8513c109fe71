package router

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/internal/reqctx"
)

// reply returns a handler that writes body.
func reply(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }
}

// fakeFallback answers "fallback <METHOD> <path>" and checks that it never
// crashes on a missing route context.
func fakeFallback() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = chi.RouteContext(r.Context()) // may be nil; must not be dereferenced blindly
		io.WriteString(w, "fallback "+r.Method+" "+r.URL.Path)
	}
}

func testHandler(t *testing.T, h http.Handler, method, target string) (int, string, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w.Code, w.Body.String(), w.Header()
}

func newApp() *Router {
	r := New()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Mw", "root")
			next.ServeHTTP(w, req)
		})
	})
	r.Get("/users", reply("go list"))
	r.Get("/users/{id}", func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "go user "+chi.URLParam(req, "id")+" "+req.PathValue("id"))
	})
	r.Get("/strict", reply("go strict")).Allow()
	r.Post("/strict", reply("go strict post"))
	r.Route("/api", func(r *Router) {
		r.Get("/items/{id}", reply("go item"))
		r.Route("/v2", func(r *Router) {
			r.Get("/deep", reply("go deep"))
		})
	})
	sub := New()
	sub.Get("/", reply("go admin index"))
	sub.Put("/settings", reply("go settings"))
	r.Mount("/admin", sub)
	r.Group(func(r *Router) {
		r.Delete("/grouped", reply("go grouped"))
	})
	r.Fallback(fakeFallback())
	return r
}

func TestRouterDispatch(t *testing.T) {
	r := newApp()
	tests := []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"native", "GET", "/users", 200, "go list"},
		{"param", "GET", "/users/7", 200, "go user 7 7"},
		{"unknown path", "GET", "/nope", 200, "fallback GET /nope"},
		{"method mismatch", "POST", "/users", 200, "fallback POST /users"},
		{"method mismatch with param", "DELETE", "/users/7", 200, "fallback DELETE /users/7"},
		{"HEAD follows GET", "HEAD", "/users", 200, ""},
		{"unknown method", "PROPFIND", "/users", 200, "fallback PROPFIND /users"},
		{"subrouter native", "GET", "/api/items/1", 200, "go item"},
		{"subrouter miss", "GET", "/api/nope", 200, "fallback GET /api/nope"},
		{"subrouter mismatch", "POST", "/api/items/1", 200, "fallback POST /api/items/1"},
		{"subrouter root", "GET", "/api", 200, "fallback GET /api"},
		{"nested subrouter", "GET", "/api/v2/deep", 200, "go deep"},
		{"nested subrouter miss", "GET", "/api/v2/x", 200, "fallback GET /api/v2/x"},
		{"nested subrouter mismatch", "PUT", "/api/v2/deep", 200, "fallback PUT /api/v2/deep"},
		{"mount native", "PUT", "/admin/settings", 200, "go settings"},
		{"mount index", "GET", "/admin/", 200, "go admin index"},
		{"mount index no slash", "GET", "/admin", 200, "go admin index"},
		{"mount miss", "GET", "/admin/x", 200, "fallback GET /admin/x"},
		{"mount mismatch", "GET", "/admin/settings", 200, "fallback GET /admin/settings"},
		{"group native", "DELETE", "/grouped", 200, "go grouped"},
		{"group mismatch", "GET", "/grouped", 200, "fallback GET /grouped"},
		{"allow native", "POST", "/strict", 200, "go strict post"},
		{"allow 405", "PUT", "/strict", 405, ""},
		{"allow unknown method", "PROPFIND", "/strict", 200, "fallback PROPFIND /strict"},
		{"escaped slash", "GET", "/x%2Fy", 200, "fallback GET /x/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, hdr := testHandler(t, r, tc.method, tc.path)
			if code != tc.code || body != tc.body {
				t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
			}
			if got := hdr.Get("X-Mw"); got != "root" {
				t.Errorf("root middleware: got %q, want %q", got, "root")
			}
		})
	}
}

func TestAllowHeader(t *testing.T) {
	r := newApp()
	code, _, hdr := testHandler(t, r, "DELETE", "/strict")
	if code != 405 {
		t.Fatalf("got %d, want 405", code)
	}
	if got, want := hdr.Get("Allow"), "GET, HEAD, POST"; got != want {
		t.Errorf("Allow: got %q, want %q", got, want)
	}
}

// A pattern with a route for every method has no method to refuse: Allow
// does nothing there, in either order, and the inventory says so.
func TestAllowEveryMethod(t *testing.T) {
	r := New()
	r.Handle("/any", reply("go any")).Allow()
	r.Handle("/both", reply("go any"))
	r.Get("/both", reply("go get")).Allow()
	r.Get("/later", reply("go get")).Allow()
	r.Handle("/later", reply("go any")) // chi gives it every method, GET too
	r.Fallback(fakeFallback())

	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/any", "go any"},
		{"POST", "/any", "go any"},
		{"DELETE", "/any", "go any"},
		{"GET", "/both", "go get"},
		{"POST", "/both", "go any"},
		{"PUT", "/both", "go any"},
		{"POST", "/later", "go any"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body, hdr := testHandler(t, r, tc.method, tc.path)
			if code != 200 || body != tc.body || hdr.Get("Allow") != "" {
				t.Errorf("got %d %q Allow %q, want 200 %q", code, body, hdr.Get("Allow"), tc.body)
			}
		})
	}
	t.Run("inventory", func(t *testing.T) {
		for _, ri := range r.Inventory() {
			if ri.Allow {
				t.Errorf("%s %s marked Allow", ri.Method, ri.Pattern)
			}
		}
	})
}

func TestNoFallbackKeepsChiDefaults(t *testing.T) {
	r := New()
	r.Get("/a", reply("a"))
	if code, _, _ := testHandler(t, r, "GET", "/b"); code != 404 {
		t.Errorf("miss: got %d, want 404", code)
	}
	code, _, hdr := testHandler(t, r, "POST", "/a")
	// chi adds one Allow field per method, in no set order; the GET route
	// also serves HEAD.
	allow := hdr.Values("Allow")
	slices.Sort(allow)
	if code != 405 || !slices.Equal(allow, []string{"GET", "HEAD"}) {
		t.Errorf("mismatch: got %d Allow %q, want 405 Allow GET, HEAD", code, allow)
	}
}

// A graft app that is still all Python has no Go route: chi then skips the
// middlewares and has no route context. The Router must still run them.
func TestEmptyRouterRunsMiddlewares(t *testing.T) {
	r := New()
	var ran bool
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			ran = true
			next.ServeHTTP(w, req)
		})
	})
	r.Fallback(fakeFallback())
	code, body, _ := testHandler(t, r, "GET", "/anything")
	if code != 200 || body != "fallback GET /anything" || !ran {
		t.Errorf("got %d %q ran=%v, want 200 fallback, ran", code, body, ran)
	}
}

// A Fallback set after the sub-routers exist still reaches them, and a
// sub-router's own Fallback wins.
func TestFallbackPropagation(t *testing.T) {
	r := New()
	r.Route("/own", func(r *Router) {
		r.Get("/x", reply("x"))
		r.Fallback(reply("own fallback"))
	})
	r.Route("/late", func(r *Router) { r.Get("/x", reply("x")) })
	child := New()
	child.Route("/deep", func(r *Router) { r.Get("/x", reply("x")) })
	r.Mount("/child", child)
	r.Fallback(reply("root fallback"))

	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/own/y", "own fallback"},
		{"POST", "/own/x", "own fallback"},
		{"GET", "/late/y", "root fallback"},
		{"POST", "/late/x", "root fallback"},
		{"GET", "/child/deep/y", "root fallback"},
		{"POST", "/child/deep/x", "root fallback"},
		{"GET", "/child/deep/x", "x"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if _, body, _ := testHandler(t, r, tc.method, tc.path); body != tc.want {
				t.Errorf("got %q, want %q", body, tc.want)
			}
		})
	}
}

func TestDispatchMarksFallback(t *testing.T) {
	r := newApp()
	for _, tc := range []struct {
		method, path string
		fallback     bool
	}{
		{"GET", "/users", false},
		{"POST", "/users", true},
		{"GET", "/api/nope", true},
		{"PUT", "/strict", false},
	} {
		for _, carry := range []struct {
			name string
			ctx  func(context.Context, *Dispatch) context.Context
		}{
			{"WithDispatch", WithDispatch},
			{"a layer answering reqctx.DispatchKey", func(ctx context.Context, d *Dispatch) context.Context {
				return &dispatchLayer{Context: ctx, d: d}
			}},
		} {
			d := &Dispatch{}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req = req.WithContext(carry.ctx(req.Context(), d))
			r.ServeHTTP(httptest.NewRecorder(), req)
			if d.Fallback != tc.fallback {
				t.Errorf("%s %s, %s: Fallback=%v, want %v", tc.method, tc.path, carry.name, d.Fallback, tc.fallback)
			}
		}
	}
}

// dispatchLayer is a context layer of a middleware's own that answers
// WithDispatch's key itself (internal/reqctx's DispatchKey), as
// middleware.Stack's record does.
type dispatchLayer struct {
	context.Context
	d *Dispatch
}

func (l *dispatchLayer) Value(key any) any {
	if key == reqctx.DispatchKey {
		return l.d
	}
	return l.Context.Value(key)
}

func TestFindAndPattern(t *testing.T) {
	r := newApp()
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/users/9", "/users/{id}"},
		{"GET", "/api/items/9", "/api/items/{id}"},
		{"POST", "/users/9", ""},
		{"GET", "/nope", ""},
	} {
		if got := r.Find(chi.NewRouteContext(), tc.method, tc.path); got != tc.want {
			t.Errorf("Find(%s %s): got %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestRegistrationPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
	}{
		{"duplicate name", func() {
			r := New()
			r.Get("/a", reply("")).Name("a")
			r.Get("/b", reply("")).Name("a")
		}},
		{"duplicate name across mount", func() {
			r, sub := New(), New()
			r.Get("/a", reply("")).Name("a")
			sub.Get("/b", reply("")).Name("a")
			r.Mount("/sub", sub)
		}},
		{"duplicate name after mount", func() {
			r, sub := New(), New()
			r.Get("/a", reply("")).Name("a")
			r.Mount("/sub", sub)
			sub.Get("/b", reply("")).Name("a")
		}},
		{"duplicate name in subrouter", func() {
			r := New()
			r.Get("/a", reply("")).Name("a")
			r.Route("/s", func(r *Router) { r.Get("/b", reply("")).Name("a") })
		}},
		{"empty name", func() { New().Get("/a", reply("")).Name("") }},
		{"mounted twice", func() {
			r, sub := New(), New()
			sub.Get("/", reply(""))
			r.Mount("/a", sub)
			r.Mount("/b", sub)
		}},
		{"self mount", func() { r := New(); r.Mount("/a", r) }},
		{"nil fallback", func() { New().Fallback(nil) }},
		{"nil mount", func() { New().Mount("/a", nil) }},
		{"nil route fn", func() { New().Route("/a", nil) }},
		{"bad host rule", func() { NewHosts().Host("www.*.com") }},
		{"host rule with port", func() { NewHosts().Host("example.com:80") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("no panic")
				}
				if s, _ := p.(string); !strings.HasPrefix(s, "router: ") {
					t.Errorf("panic %v: want a %q prefix", p, "router: ")
				}
			}()
			tc.fn()
		})
	}
}
