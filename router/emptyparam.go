package router

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// emptyParams wraps h, a route's handler as given to chi, so that a
// request chi routed to it with an empty parameter value goes where a
// request no route matches goes: the fallback, else chi's 404.
//
// chi (v5.5) gives a parameter the empty value, without checking its
// regexp, when the parameter's part of the path is empty and the pattern
// goes on after it: "/v{n:[0-9]+}/" takes "/v/", "/x/{id:[0-9]+}/edit"
// takes "/x//edit", "/x/{name}/edit" takes it too. Flask and Django match
// neither (their converters take one character at least), and a Go handler
// would get a value its pattern does not allow. The catch-all ("*") may
// be empty, as in chi.
func emptyParams(r *Router, h http.Handler) http.Handler {
	if h == nil {
		return nil // refused by mustHandle before
	}
	return paramGuard{h: h, base: r.base}
}

type paramGuard struct {
	h    http.Handler
	base *chi.Mux
}

func (g paramGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		p := &rctx.URLParams
		for i, k := range p.Keys {
			if k != "*" && i < len(p.Values) && p.Values[i] == "" {
				g.base.NotFoundHandler().ServeHTTP(w, r)
				return
			}
		}
	}
	g.h.ServeHTTP(w, r)
}
