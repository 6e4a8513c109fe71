package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestMountName: a mount's own path, its path with a slash and the paths
// under it are named as the inventory lists the mount (pattern/*), by
// the route context the handler sees and by Find; chi named the first two
// after its stubs ("/m", "/m/", "/r//*").
func TestMountName(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, chi.RouteContext(r.Context()).RoutePattern())
	})
	r := New()
	r.Mount("/m", h)
	r.Route("/r", func(s *Router) {
		s.Get("/*", h)
		s.Get("/{id}/x", h)
	})
	sub := New()
	sub.Get("/", h)
	r.Mount("/s", sub)
	r.Get("/g/*", h)
	r.Fallback(http.NotFoundHandler())
	for _, tc := range []struct{ path, want string }{
		{"/m", "/m/*"}, {"/m/", "/m/*"}, {"/m/a", "/m/*"},
		{"/r", "/r/*"}, {"/r/", "/r/*"}, {"/r/a", "/r/*"}, {"/r/a/x", "/r/{id}/x"},
		{"/s", "/s/"}, {"/s/", "/s/"},
		{"/g/", "/g/*"}, {"/g/a", "/g/*"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if got := rec.Body.String(); got != tc.want && got+"/" != tc.want {
				t.Errorf("RoutePattern %q, want %q", got, tc.want)
			}
			if got := r.Find(chi.NewRouteContext(), "GET", tc.path); got != tc.want {
				t.Errorf("Find %q, want %q", got, tc.want)
			}
		})
	}
}
