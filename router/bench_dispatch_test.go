package router

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// BenchmarkFallbackDispatch sends requests that no Go route serves (an
// unknown path, and a known path with another method) to the fallback of
// a graft Router, and the same requests to the NotFound and
// MethodNotAllowed handler of a bare chi mux: the cost of graft's
// dispatch to the fallback (marking it in the request's Dispatch).
func BenchmarkFallbackDispatch(b *testing.B) {
	fb := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	g := New()
	g.Get("/users/{id}", benchHandler)
	g.Fallback(fb)
	c := chi.NewRouter()
	c.Get("/users/{id}", benchHandler)
	c.NotFound(fb)
	c.MethodNotAllowed(fb)
	reqs := []*http.Request{httptest.NewRequest("GET", "/legacy/page", nil), httptest.NewRequest("POST", "/users/42", nil)}
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
