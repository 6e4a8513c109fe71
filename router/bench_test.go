package router

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// benchRoutes registers the same native routes on a graft Router and on a
// bare chi mux.
var benchPaths = []string{"/", "/users", "/users/42", "/users/42/posts/7", "/api/v1/items/9", "/static/css/site.css"}

func benchHandler(w http.ResponseWriter, _ *http.Request) {}

// BenchmarkRouter compares native Go routes served by a graft Router that
// has a fallback configured with the same routes on bare chi.
func BenchmarkRouter(b *testing.B) {
	g := New()
	g.Get("/", benchHandler)
	g.Get("/users", benchHandler).Name("users")
	g.Get("/users/{id}", benchHandler).Name("user")
	g.Get("/users/{id}/posts/{post}", benchHandler)
	g.Route("/api/v1", func(r *Router) { r.Get("/items/{id}", benchHandler) })
	g.Get("/static/*", benchHandler)
	g.Fallback(http.NotFoundHandler())

	c := chi.NewRouter()
	c.Get("/", benchHandler)
	c.Get("/users", benchHandler)
	c.Get("/users/{id}", benchHandler)
	c.Get("/users/{id}/posts/{post}", benchHandler)
	c.Route("/api/v1", func(r chi.Router) { r.Get("/items/{id}", benchHandler) })
	c.Get("/static/*", benchHandler)

	reqs := make([]*http.Request, len(benchPaths))
	for i, p := range benchPaths {
		reqs[i] = httptest.NewRequest("GET", p, nil)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"graft", g}, {"chi", c}} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				for _, req := range reqs {
					bc.h.ServeHTTP(w, req)
				}
			}
		})
	}
}
