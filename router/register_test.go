package router

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestNilHandler checks that a nil handler panics at registration, with
// the router's prefix, rather than on the route's first request.
func TestNilHandler(t *testing.T) {
	var nilFunc http.HandlerFunc
	for name, register := range map[string]func(r *Router){
		"Get":          func(r *Router) { r.Get("/x", nil) },
		"Post":         func(r *Router) { r.Post("/x", nilFunc) },
		"Method":       func(r *Router) { r.Method("PUT", "/x", nil) },
		"MethodFunc":   func(r *Router) { r.MethodFunc("PUT", "/x", nil) },
		"Handle":       func(r *Router) { r.Handle("/x", nil) },
		"Handle GET":   func(r *Router) { r.Handle("GET /x", nilFunc) },
		"HandleFunc":   func(r *Router) { r.HandleFunc("/x", nil) },
		"With().Get":   func(r *Router) { r.With(func(h http.Handler) http.Handler { return h }).Get("/x", nil) },
		"Group Handle": func(r *Router) { r.Group(func(g *Router) { g.Handle("/x", nil) }) },
		"Route Get":    func(r *Router) { r.Route("/api", func(s *Router) { s.Get("/x", nil) }) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "router: nil handler") {
					t.Fatalf("panic %v, want a router: nil handler panic", p)
				}
			}()
			register(New())
		})
	}
}
