package router

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Router is a chi router that also keeps route names (for [Router.URL]),
// an inventory of its routes (for [Router.Inventory]) and a fallback that
// receives every request no Go route serves (see [Router.Fallback]).
//
// Make one with [New]. Routers derived with [Router.With],
// [Router.Group] and [Router.Route] share the names and the inventory of
// the Router they come from; a Router made by New and attached with
// [Router.Mount] joins them.
//
// Handlers and middlewares are plain net/http types, so anything written
// for chi works unchanged. Register routes before serving requests; a
// Router is safe for concurrent use once it serves.
type Router struct {
	mux    chi.Router // where routes go; an inline mux after With or Group
	base   *chi.Mux   // the non-inline mux behind mux
	reg    *registry  // names and inventory, shared by the whole tree
	prefix string     // full pattern of base in the tree, "" at the root
	state  *muxState  // per base mux
	// routed is set once a route is registered through an inline Router
	// (With, Group): chi's check that Use comes first does not see it, as
	// the route goes to base (see routeMiddlewares).
	routed bool
}

// muxState is what the Router knows about one chi mux.
type muxState struct {
	// built reports whether chi has built the mux handler, which it does
	// at the first route, mount or With. Before that chi skips the
	// middlewares of Use and calls the NotFound handler directly.
	built bool
	// methods lists the methods registered per pattern, for Allow.
	methods map[string]*methodSet
	// fallback is the NotFound and MethodNotAllowed handler of the mux,
	// set by Fallback or inherited from the Router it is mounted on; nil
	// for chi's defaults.
	fallback http.HandlerFunc
	// subs are the Routers mounted on the mux (by Route, or by Mount of a
	// *Router), for fallback inheritance: chi only propagates its NotFound
	// handler into sub-muxes that are *chi.Mux, and a Router is mounted as
	// itself so that its ServeHTTP guard runs (see Router.ServeHTTP).
	subs []*Router
	// mounts maps the stubs chi registers for each mount ("/static" and
	// "/static/" for Mount("/static", h)) to the name Find gives their
	// requests ("/static/*"; see mountName).
	mounts map[string]mountStub
}

// mountStub is a mount as Find sees its stubs.
type mountStub struct {
	name string     // "/static/*"
	sub  chi.Routes // the mounted handler's routes, or nil
}

// addMount records the stubs of a mount of h at the local pattern.
func (s *muxState) addMount(pattern string, h http.Handler) {
	if s.mounts == nil {
		s.mounts = make(map[string]mountStub)
	}
	m := mountStub{name: wildcard(pattern)}
	m.sub, _ = h.(chi.Routes)
	base := strings.TrimSuffix(m.name, "*")
	s.mounts[base] = m
	if b := strings.TrimSuffix(base, "/"); b != "" {
		s.mounts[b] = m
	}
}

var (
	_ http.Handler = (*Router)(nil)
	_ chi.Routes   = (*Router)(nil)
)

// New returns an empty Router. With no fallback set, unmatched requests get
// chi's defaults: 404, and 405 with an Allow header.
func New() *Router {
	m := chi.NewRouter()
	return &Router{mux: m, base: m, reg: newRegistry(), state: newMuxState()}
}

func newMuxState() *muxState {
	return &muxState{methods: make(map[string]*methodSet)}
}

// ServeHTTP dispatches the request to the matching route, or to the
// fallback. The Use middlewares run even while the Router has no route.
// The request is routed as its decoded path, the one a WSGI app sees:
// "/%73ecret" goes where "/secret" goes, and so does its r.URL (RawPath
// cleared); an escaped slash is kept only for a Go route that takes it.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if (req.URL.RawPath != "" || leadingSlashes(req.URL.Path)) && chi.RouteContext(req.Context()) == nil {
		// The Router the request enters by (not a mounted one): see
		// routable for the path the whole tree routes on.
		req = routable(req, r)
	}
	if !r.state.built {
		// chi would skip the Use middlewares here; a graft app that is
		// still all Python must log and tag its requests all the same, and
		// a sub-router (mounted as a *Router, not as its chi mux, for this
		// reason) must not let a request reach its fallback past an
		// authentication middleware.
		chi.Chain(r.base.Middlewares()...).Handler(r.base.NotFoundHandler()).ServeHTTP(w, req)
		return
	}
	r.base.ServeHTTP(w, req)
}

// Use appends middlewares to the stack of the Router. As with chi, they
// must be added before the first route (a Use after it panics). On a
// Router made by [New] or [Router.Route] they also run for requests that
// go to the fallback, even while the Router (or a sub-Router) has no
// route, and so for the fallback's share of its staged routes. On a
// Router made by [Router.Group] or [Router.With] they are the middlewares
// of the routes registered through it: see [Router.With].
func (r *Router) Use(middlewares ...func(http.Handler) http.Handler) {
	if r.routed {
		panic("router: all middlewares must be defined before routes on a mux (Use after a route of a With or Group Router)")
	}
	r.mux.Use(middlewares...)
}

// With returns a Router that adds middlewares to the routes registered
// through it, as chi's With does. They are the routes' own middlewares:
// for a staged route (see [Stager]) they run only for the requests Go
// serves, never for those the stage gives to the fallback, and they do
// not run for a request that goes to the fallback because no route
// serves it. A [Router.Route] or [Router.Mount] registered through the
// returned Router is different: chi runs the middlewares for every
// request under its pattern, the sub-Router's fallback included, so also
// for the fallback's share of its staged routes.
func (r *Router) With(middlewares ...func(http.Handler) http.Handler) *Router {
	r.state.built = true
	return &Router{mux: r.mux.With(middlewares...), base: r.base, reg: r.reg, prefix: r.prefix, state: r.state}
}

// Group calls fn with a Router that has a copy of the middleware stack, as
// chi's Group does, and returns it. The middlewares fn adds with Use are
// those of the routes registered through the group, as with
// [Router.With].
func (r *Router) Group(fn func(r *Router)) *Router {
	g := r.With()
	if fn != nil {
		fn(g)
	}
	return g
}

// Route mounts a new sub-Router at pattern, lets fn fill it in and returns
// it. Its routes are named and listed with their full pattern, and it
// inherits the fallback.
func (r *Router) Route(pattern string, fn func(r *Router)) *Router {
	if fn == nil {
		panic(fmt.Sprintf("router: attempting to Route() a nil subrouter on %q", pattern))
	}
	m := chi.NewRouter()
	sub := &Router{mux: m, base: m, reg: r.reg, prefix: join(r.prefix, pattern), state: newMuxState()}
	fn(sub)
	r.mount(pattern, sub)
	return sub
}

// Mount attaches h at pattern: h receives every request for pattern,
// pattern/ and pattern/*, whatever the method, with r.URL left unchanged.
//
// When h is a *Router, its names and routes join this Router's (a
// duplicate name panics), it inherits the fallback unless it has its own,
// and [Router.URL] on either builds full paths. A Router can be mounted
// only once. Any other handler is listed in the inventory as one route,
// "* pattern/*", whose target is [TargetGo], or what its RouteTarget
// method returns (see [Targeter]).
func (r *Router) Mount(pattern string, h http.Handler) {
	if h == nil {
		panic(fmt.Sprintf("router: attempting to Mount() a nil handler on %q", pattern))
	}
	full := join(r.prefix, pattern)
	if sub, ok := h.(*Router); ok {
		r.reg.link(sub.reg, full)
		r.mount(pattern, sub)
		r.reg.add(&entry{method: "*", pattern: full, sub: sub.reg})
		return
	}
	target := TargetGo
	if t, ok := h.(Targeter); ok {
		target = t.RouteTarget()
	}
	r.state.built = true
	r.mux.Mount(pattern, newMountName(pattern, h))
	r.state.addMount(pattern, h)
	r.reg.add(&entry{method: "*", pattern: wildcard(full), target: target})
}

// mount attaches the sub-Router itself, not its chi mux: chi would serve an
// empty mux without its Use middlewares, where Router.ServeHTTP runs them.
// chi then no longer hands the fallback down, so mount does it.
func (r *Router) mount(pattern string, sub *Router) {
	r.state.built = true
	r.mux.Mount(pattern, newMountName(pattern, sub))
	r.state.addMount(pattern, sub)
	r.state.subs = append(r.state.subs, sub)
	if r.state.fallback != nil {
		sub.inheritFallback(r.state.fallback)
	}
}

// Routes returns chi's view of the routes, for [chi.Walk], which lists
// the middlewares of With and of a Group's Use with each route as it does
// for chi. See [Router.Inventory] for names and targets.
func (r *Router) Routes() []chi.Route { return walkable(r.base.Routes()) }

// Middlewares returns the middleware stack of the Router.
func (r *Router) Middlewares() chi.Middlewares { return r.base.Middlewares() }

// Match reports whether a Go route (or mount) serves method and path. Pass
// a fresh [chi.NewRouteContext]: it is modified.
func (r *Router) Match(rctx *chi.Context, method, path string) bool {
	return r.Find(rctx, method, path) != ""
}

// Find returns the full pattern of the Go route that serves method and path,
// as written ("/files/{*:.+}", not chi's "/files/*"), or "" when the
// request would go to the fallback: no route, or one whose parameters
// the Router refuses (an empty one, a catch-all's rest that its regexp
// does not take or, for a plain "*", that holds a newline; see
// [Router.Get]). Pass a fresh [chi.NewRouteContext]: it is modified.
func (r *Router) Find(rctx *chi.Context, method, path string) string {
	n0 := len(rctx.RoutePatterns)
	p := r.base.Find(rctx, method, path)
	if n := len(rctx.RoutePatterns); p != "" && n > n0 {
		if m, ok := r.state.mounts[rctx.RoutePatterns[n0]]; ok {
			// A mount's stub, which chi serves with the mounted handler
			// at "/" but does not search: named as the mount (see
			// mountName), then what the mounted routes find at "/".
			rctx.RoutePatterns = append(rctx.RoutePatterns[:n0], m.name)
			if m.sub != nil {
				rctx.RoutePath = "/"
				if m.sub.Find(rctx, method, "/") == "" {
					return ""
				}
			}
			return joinPatterns(rctx.RoutePatterns[n0:])
		}
	}
	if n := len(rctx.RoutePatterns); p == "" || n == 0 || rctx.RoutePatterns[n-1] != p {
		return p // none, or a mounted Router's, which checked its own (chi calls its Find)
	}
	// A route of this Router: the checks of guardParams.
	if emptyParam(&rctx.URLParams) {
		return ""
	}
	if !strings.HasSuffix(p, "*") {
		return p
	}
	v := rctx.URLParam("*")
	if d, err := url.PathUnescape(v); err == nil {
		v = d // path may be the escaped form
	}
	var c catchRest
	if set := r.state.methods[p]; set != nil {
		c = set.restFor(method)
	}
	switch {
	case restRefused(c.rest, v):
		return ""
	case c.rest != nil:
		return c.written
	}
	return p
}

// join appends a chi pattern to the prefix it is mounted under: chi routes
// "/api/x" under Route("/api/") to the sub-router's "/x".
func join(prefix, pattern string) string {
	return strings.TrimSuffix(prefix, "/") + pattern
}

// wildcard returns the catch-all pattern chi registers for a mount.
func wildcard(p string) string {
	if strings.HasSuffix(p, "/") {
		return p + "*"
	}
	return p + "/*"
}
