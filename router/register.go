package router

import (
	"fmt"
	"net/http"
	"strings"
)

// Handle adds a route for pattern that matches every method, or only one
// when pattern has chi's "METHOD /path" form.
func (r *Router) Handle(pattern string, h http.Handler) *Route {
	method := "*"
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return r.Method(pattern[:i], strings.TrimLeft(pattern[i+1:], " \t"), h)
	}
	mustHandle(method, pattern, h)
	local, rest := mustCatchAll(pattern)
	mws := r.routeMiddlewares()
	r.base.Handle(local, inline(mws, guardParams(r, local, pattern, rest, behind(mws, h))))
	return r.record(method, pattern, local).staged(h)
}

// HandleFunc is [Router.Handle] for a handler function.
func (r *Router) HandleFunc(pattern string, h http.HandlerFunc) *Route {
	return r.Handle(pattern, h)
}

// Method adds a route for pattern that matches method. A GET route also
// serves HEAD (see [Router.Get]). The route is staged (see [Stager]): the
// middlewares of With and of a Group's Use run only for the requests Go
// serves.
func (r *Router) Method(method, pattern string, h http.Handler) *Route {
	method = strings.ToUpper(method)
	mustHandle(method, pattern, h)
	local, rest := mustCatchAll(pattern)
	mws := r.routeMiddlewares()
	h = r.stage(method, pattern, behind(mws, h))
	g := guardParams(r, local, pattern, rest, h)
	r.base.Method(method, local, inline(mws, g))
	rt := r.record(method, pattern, local).staged(h)
	r.followHead(method, pattern, local, g, mws)
	return rt
}

// MethodFunc is [Router.Method] for a handler function.
func (r *Router) MethodFunc(method, pattern string, h http.HandlerFunc) *Route {
	return r.Method(method, pattern, h)
}

// Connect adds a route for pattern that matches the CONNECT method.
func (r *Router) Connect(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodConnect, pattern, h)
}

// Delete adds a route for pattern that matches the DELETE method.
func (r *Router) Delete(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodDelete, pattern, h)
}

// Get adds a route for pattern that matches the GET method. Unlike chi, and
// like http.ServeMux, it also serves HEAD: h runs with the request's method
// HEAD, its body is discarded, and the response has the headers a GET gets,
// Content-Length included when h sets it or writes a small body (up to
// 2 KiB for HTTP/1, 4 KiB for HTTP/2, as net/http buffers), and left out
// when h writes nothing (it may skip the body on HEAD). A HEAD route
// registered on the same pattern, before or after, serves HEAD instead.
// The inventory lists the implied route with [RouteInfo.Implicit].
func (r *Router) Get(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodGet, pattern, h)
}

// Head adds a route for pattern that matches the HEAD method. It takes
// over HEAD from a GET route on the same pattern.
func (r *Router) Head(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodHead, pattern, h)
}

// Options adds a route for pattern that matches the OPTIONS method.
func (r *Router) Options(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodOptions, pattern, h)
}

// Patch adds a route for pattern that matches the PATCH method.
func (r *Router) Patch(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodPatch, pattern, h)
}

// Post adds a route for pattern that matches the POST method.
func (r *Router) Post(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodPost, pattern, h)
}

// Put adds a route for pattern that matches the PUT method.
func (r *Router) Put(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodPut, pattern, h)
}

// Trace adds a route for pattern that matches the TRACE method.
func (r *Router) Trace(pattern string, h http.HandlerFunc) *Route {
	return r.Method(http.MethodTrace, pattern, h)
}

// record adds a registered route to the inventory and returns its handle.
// pattern is the route's pattern as given, local the one chi has (see
// mustCatchAll).
func (r *Router) record(method, pattern, local string) *Route {
	if pattern == "" || pattern[0] != '/' {
		panic(fmt.Sprintf("router: routing pattern must begin with '/' in %q", pattern))
	}
	r.state.built = true
	set := r.state.methods[local]
	if set == nil {
		set = &methodSet{}
		r.state.methods[local] = set
	}
	set.add(method)
	_, rest := mustCatchAll(pattern)
	set.setRest(method, pattern, rest)
	if method == "*" && set.strict {
		// chi gives the new route every method, 405 stubs included: the
		// pattern has nothing left to refuse (see Route.Allow).
		r.reg.mu.Lock()
		for _, e := range set.allowed {
			e.allow = false
		}
		r.reg.mu.Unlock()
	}
	e := &entry{method: method, pattern: join(r.prefix, pattern), target: TargetGo}
	r.markPrefixRoot(e, pattern)
	r.reg.add(e)
	return &Route{router: r, entry: e, local: local}
}

// markPrefixRoot marks e, a route registered as pattern on r, as the "/"
// route that chi also serves at r's prefix without its slash (see
// entry.also and entry.root), so that the inventory lists that path too.
func (r *Router) markPrefixRoot(e *entry, pattern string) {
	if pattern != "/" {
		return
	}
	switch {
	case r.prefix == "":
		e.root = true
	case !strings.HasSuffix(r.prefix, "/"):
		e.also = r.prefix
	}
}

// mustHandle panics when h is nil, a nil http.Handler or a nil
// http.HandlerFunc (r.Get("/x", nil)): chi would register it and the
// route would panic on its first request.
func mustHandle(method, pattern string, h http.Handler) {
	if f, ok := h.(http.HandlerFunc); h == nil || ok && f == nil {
		panic(fmt.Sprintf("router: nil handler for %s %q", method, pattern))
	}
}
