package router

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/internal/reqctx"
)

// Target says who serves a route: Go code, or the fallback (typically the
// Python app).
type Target string

// The targets listed in the inventory.
const (
	// TargetGo is a native Go handler.
	TargetGo Target = "go"
	// TargetFallback is the fallback: the WSGI container, or a proxy to
	// the old app.
	TargetFallback Target = "fallback"
)

// Targeter is implemented by handlers that tell the inventory who they
// are when mounted with [Router.Mount]; [github.com/graft-dev/graft/fallback.Handler] reports
// [TargetFallback].
type Targeter interface {
	RouteTarget() Target
}

// Fallback makes h receive every request that no Go route of the Router
// serves: unknown paths, and also known paths requested with another method
// (Go implements GET /users while Python still handles POST /users: the
// POST reaches h, not a 405), unless the route opted into a real 405 with
// [Route.Allow]. The same holds inside routers created with [Router.Route]
// and attached with [Router.Mount], unless they have a fallback of their
// own. The Router's Use middlewares run before h.
//
// Note: inside h, chi's route context may hold a stale pattern ("/api/*")
// and a sub-router relative RoutePath; use r.URL, not them.
func (r *Router) Fallback(h http.Handler) {
	if h == nil {
		panic("router: Fallback(nil)")
	}
	fb := http.HandlerFunc(fallbackHandler{h}.ServeHTTP)
	if r.mux != r.base {
		// As chi does for an inline mux (With, Group): the fallback of
		// the whole mux, behind the group's middlewares.
		fb = chi.Chain(r.mux.Middlewares()...).HandlerFunc(fb).ServeHTTP
	}
	r.setFallback(fb)
	r.reg.add(&entry{method: "*", pattern: wildcard(r.prefix), target: TargetFallback})
}

// setFallback makes fb the fallback of the Router's mux and hands it down
// to the mounted sub-Routers that have none; chi hands it down to mounted
// *chi.Mux handlers.
func (r *Router) setFallback(fb http.HandlerFunc) {
	r.state.fallback = fb
	r.base.NotFound(fb)
	r.base.MethodNotAllowed(fb)
	for _, sub := range r.state.subs {
		sub.inheritFallback(fb)
	}
}

// inheritFallback gives r the fallback fb of the Router it is mounted on,
// unless r has one already, as chi does for a mounted mux.
func (r *Router) inheritFallback(fb http.HandlerFunc) {
	if r.state.fallback == nil {
		r.setFallback(fb)
	}
}

// fallbackHandler marks the request as served by the fallback.
type fallbackHandler struct{ h http.Handler }

func (f fallbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	MarkFallback(r.Context())
	f.h.ServeHTTP(w, r)
}

// Dispatch records what the router did with one request, for access logs
// and metrics: a middleware in front of the router puts an empty *Dispatch
// in the request context with [WithDispatch] and reads it once the
// request is served. Written by the request's goroutine only.
type Dispatch struct {
	// Fallback is true when the request went to a fallback.
	Fallback bool
}

// WithDispatch returns a copy of ctx carrying d for the router to fill in.
func WithDispatch(ctx context.Context, d *Dispatch) context.Context {
	return context.WithValue(ctx, reqctx.DispatchKey, d)
}

// DispatchFrom returns the *Dispatch set with [WithDispatch], or nil.
func DispatchFrom(ctx context.Context) *Dispatch {
	d, _ := ctx.Value(reqctx.DispatchKey).(*Dispatch)
	return d
}

// MarkFallback records in ctx's [Dispatch], if any, that the request went
// to a fallback. Fallback handlers that are mounted rather than set with
// [Router.Fallback] call it themselves.
func MarkFallback(ctx context.Context) {
	if d := DispatchFrom(ctx); d != nil {
		d.Fallback = true
	}
}
