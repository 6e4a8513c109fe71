package router

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Route middlewares are those of With and of a Group's Use: chi bakes them
// into each route registered through the inline mux, in front of the
// handler, so that they would run before anything the Router puts in the
// handler's place. The Router registers its routes on the base mux instead
// and places them itself: behind the empty-parameter guard and, for a
// staged route, inside the Go share (StagedRoute.Go), so that a request
// the route does not serve (the fallback's share of a staged route, an
// empty parameter) never meets them.
//
// Middlewares that wrap a sub-Router as a whole (its own Use, or those of
// With and Group that a Route or Mount is registered under) are not route
// middlewares: chi runs them for every request under the sub-Router's
// pattern, its fallback included, so they also run for the fallback's
// share of its staged routes.

// routeMiddlewares returns the middlewares of With and of a Group's Use
// that apply to a route registered through r now (none for a Router made
// by New or Route), and records that r has a route, for Use.
func (r *Router) routeMiddlewares() chi.Middlewares {
	if r.mux == r.base {
		return nil
	}
	r.routed = true
	return r.mux.Middlewares()
}

// behind returns h behind mws, as chi's inline mux chains them.
func behind(mws chi.Middlewares, h http.Handler) http.Handler {
	if h == nil || len(mws) == 0 {
		return h
	}
	return chi.Chain(mws...).Handler(h)
}

// inlineRoute is the handler a route registered through With or a Group
// gives chi: h, which runs the route middlewares mws inside (see behind).
// [Router.Routes] reports it to chi.Walk as chi reports an inline route,
// with mws as the route's middlewares.
type inlineRoute struct {
	h   http.Handler
	mws chi.Middlewares
}

func (ir *inlineRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) { ir.h.ServeHTTP(w, r) }

// inline returns what chi registers for h, a route's handler with the
// route middlewares mws placed inside it.
func inline(mws chi.Middlewares, h http.Handler) http.Handler {
	if h == nil || len(mws) == 0 {
		return h
	}
	return &inlineRoute{h: h, mws: mws}
}

// walkable returns chi's routes with each inlineRoute shown as chi shows
// an inline route: a *chi.ChainHandler whose Middlewares are the route's.
func walkable(routes []chi.Route) []chi.Route {
	for i, rt := range routes {
		var hs map[string]http.Handler
		for m, h := range rt.Handlers {
			ir, ok := h.(*inlineRoute)
			if !ok {
				continue
			}
			if hs == nil {
				hs = make(map[string]http.Handler, len(rt.Handlers))
				for k, v := range rt.Handlers {
					hs[k] = v
				}
			}
			hs[m] = chi.Chain(ir.mws...).Handler(ir.h)
		}
		if hs != nil {
			routes[i].Handlers = hs
		}
	}
	return routes
}
