package router

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// Stager decides who serves a request that a staged Go route matched: the
// Go handler, the fallback (the Python app), or one of them while the other
// runs on a copy for comparison. The router only hands the choice over; the
// migrate package implements Stager (stages, shadowing, canary rollout).
//
// ServeStaged is called for every request a staged route matches, with
// chi's route context set, inside the middlewares that also run for the
// fallback (the Use middlewares of the Routers the request passed, and
// those of With and Group that a Route or Mount on its way was registered
// under) and before the route's own middlewares (those of [Router.With]
// and of a Group's Use on the Router that registered the route). It must
// serve the request through route.Go, which runs the route's own
// middlewares and then its handler, or route.Fallback, which does not run
// them (route.Fallback is nil when no fallback covers the route): the
// fallback's share of a route is answered as if Go had no such route.
type Stager interface {
	ServeStaged(w http.ResponseWriter, r *http.Request, route StagedRoute)
}

// StagedRoute is one staged Go route: a route registered for one method
// (Get, Post, Method, Handle("GET /path", ...), ...). Routes that match
// every method (Handle without a method, Mount) are not staged: Go always
// serves them.
type StagedRoute struct {
	// Method is the route's method ("GET").
	Method string
	// Pattern is the route's full chi pattern, with the prefixes of Route
	// and Mount ("/api/users/{id}").
	Pattern string
	// Go is the route's Go handler behind the route's own middlewares
	// (those of [Router.With] and of a Group's Use), which run only when
	// Go serves: serving the request with Go runs them, in chi's order.
	Go http.Handler
	// Fallback is the fallback that serves the route's requests that Go
	// does not serve (see [Router.Fallback]), or nil when no fallback
	// covers the route.
	Fallback http.Handler
}

// Key returns "METHOD /pattern", the name of the route in stage
// configurations ("GET /api/users/{id}").
func (s StagedRoute) Key() string { return s.Method + " " + s.Pattern }

// SetStager makes s decide who serves the requests of every staged route of
// the Router's tree, including routes registered before the call and the
// routes of Routers mounted into it; nil restores the default (Go serves).
// Call it on the Router made by [New] that serves requests.
func (r *Router) SetStager(s Stager) {
	g := r.reg.root()
	if s == nil {
		g.stager.Store(nil)
		return
	}
	g.stager.Store(&s)
}

// StagedRoutes lists the staged routes of the Router's tree in
// registration order, with their full patterns, Go handlers and the
// fallback that covers each (nil when none does). Call it once the routes
// and fallbacks are registered.
func (r *Router) StagedRoutes() []StagedRoute {
	var out []StagedRoute
	r.reg.staged("", &out)
	return out
}

// stagedHandler is what chi calls for a staged route: it hands the request
// to the tree's Stager, or to the Go handler when there is none.
type stagedHandler struct {
	h      http.Handler // the Go share: the route's own middlewares, then its handler
	method string
	router *Router // the Router the route was registered on
	local  string  // pattern on the Router

	once sync.Once
	root *registry
	full string // full pattern, set by once
}

// stage wraps h for a route registered with one method (h is not nil:
// see mustHandle).
func (r *Router) stage(method, pattern string, h http.Handler) http.Handler {
	if h == nil || method == "*" {
		return h
	}
	return &stagedHandler{h: h, method: method, router: r, local: pattern}
}

// staged records in the inventory that the route's handler h (as given to
// chi) is staged, when it is.
func (rt *Route) staged(h http.Handler) *Route {
	if sh, ok := h.(*stagedHandler); ok {
		rt.router.reg.mu.Lock()
		rt.entry.stage = sh
		rt.router.reg.mu.Unlock()
	}
	return rt
}

func (s *stagedHandler) resolve() {
	s.once.Do(func() {
		s.root = s.router.reg.root()
		s.full = s.router.reg.fullPattern(join(s.router.prefix, s.local))
	})
}

func (s *stagedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.resolve()
	st := s.root.stager.Load()
	if st == nil {
		s.h.ServeHTTP(w, r)
		return
	}
	(*st).ServeStaged(w, r, s.route(s.full))
}

func (s *stagedHandler) route(pattern string) StagedRoute {
	sr := StagedRoute{Method: s.method, Pattern: pattern, Go: s.h}
	if fb := s.router.state.fallback; fb != nil {
		sr.Fallback = fb
	}
	return sr
}

// stagerBox holds a registry's Stager; only the root registry's is used.
type stagerBox = atomic.Pointer[Stager]

// root returns the registry of the outermost tree g is mounted in.
func (g *registry) root() *registry {
	for {
		g.mu.RLock()
		p := g.parent
		g.mu.RUnlock()
		if p == nil {
			return g
		}
		g = p
	}
}

// fullPattern prefixes p, a pattern of g's tree, with the mount patterns
// of the trees g is mounted in.
func (g *registry) fullPattern(p string) string {
	for {
		g.mu.RLock()
		parent, prefix := g.parent, g.prefix
		g.mu.RUnlock()
		if parent == nil {
			return p
		}
		p, g = join(prefix, p), parent
	}
}

func (g *registry) staged(prefix string, out *[]StagedRoute) {
	g.mu.RLock()
	entries := append([]*entry(nil), g.entries...)
	g.mu.RUnlock()
	for _, e := range entries {
		g.mu.RLock()
		sub, sh := e.sub, e.stage
		g.mu.RUnlock()
		switch {
		case sub != nil:
			sub.staged(join(prefix, e.pattern), out)
		case sh != nil:
			*out = append(*out, sh.route(join(prefix, e.pattern)))
		}
	}
}
