package router

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// mountName names the requests of a mount after the mount's route, as
// the inventory lists it: pattern/* ("/static/*"). chi (v5.5) routes the
// mount's pattern itself and pattern/ to the mounted handler through
// stubs of their own, and records those in the route context: a request
// for /static under Mount("/static", h) was named "/static", one for
// /static/ "/static/" (and "/static//*" under Route("/static") with a
// "/*" route), so that the access log's http.route and the metrics'
// route label named one route three ways, two of them in no inventory.
// The wrapped handler sees chi's RoutePatterns with this level's stub
// replaced by the wildcard, the name [Router.Find] gives it too.
type mountName struct {
	h    http.Handler
	name string // the wildcard pattern, local to the mux ("/static/*")
}

// newMountName wraps h, mounted at the local pattern, so that its stubs
// are named wildcard(pattern); h's chi.Routes (a sub-Router, a chi.Mux)
// are kept, so that chi still walks and finds through it.
func newMountName(pattern string, h http.Handler) http.Handler {
	m := mountName{h: h, name: wildcard(pattern)}
	if rs, ok := h.(chi.Routes); ok {
		return routesMountName{m, rs}
	}
	return m
}

func (m mountName) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if n := len(rctx.RoutePatterns); n > 0 && isMountStub(rctx.RoutePatterns[n-1], m.name) {
			rctx.RoutePatterns[n-1] = m.name
		}
	}
	m.h.ServeHTTP(w, r)
}

// routesMountName is a mountName whose handler has chi.Routes, which it
// passes on (an embedded chi.Routes would be a field named Routes,
// hiding the method).
type routesMountName struct {
	mountName
	rs chi.Routes
}

func (m routesMountName) Routes() []chi.Route          { return m.rs.Routes() }
func (m routesMountName) Middlewares() chi.Middlewares { return m.rs.Middlewares() }
func (m routesMountName) Match(rctx *chi.Context, method, path string) bool {
	return m.rs.Match(rctx, method, path)
}
func (m routesMountName) Find(rctx *chi.Context, method, path string) string {
	return m.rs.Find(rctx, method, path)
}

// isMountStub reports whether p, a pattern chi recorded, is one of the
// stubs chi registers for the mount whose wildcard pattern is name:
// "/static" or "/static/" for "/static/*".
func isMountStub(p, name string) bool {
	base := strings.TrimSuffix(name, "*")        // "/static/"
	return p == base || p+"/" == base && p != "" // "/static/", "/static"
}

// joinPatterns joins the patterns chi recorded level by level into the
// route's full pattern, as the access log names it: a mount's "/*"
// followed by the mounted Router's pattern gives way to it
// ("/static/*" + "/{id}" is "/static/{id}", + "/*" is "/static/*").
func joinPatterns(ps []string) string {
	p := strings.Join(ps, "")
	for strings.Contains(p, "/*/") {
		p = strings.ReplaceAll(p, "/*/", "/")
	}
	for strings.HasSuffix(p, "//") {
		p = p[:len(p)-1]
	}
	return p
}
