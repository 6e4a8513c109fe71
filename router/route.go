package router

import (
	"strings"

	"github.com/graft-dev/graft/internal/chipattern"
)

// Route is the handle returned by the registration methods, used to name a
// route or to give it a real 405. Ignoring it is fine: chi code that calls
// r.Get(...) as a statement compiles unchanged.
type Route struct {
	router *Router
	entry  *entry
	local  string // pattern on the router's own chi mux
}

// Name names the route, so that [Router.URL] can build its path. Names are
// unique across the whole router tree, including Routers attached with
// [Router.Mount]; a duplicate name, an empty one or a pattern that cannot be
// reversed panics. Name returns rt for chaining.
func (rt *Route) Name(name string) *Route {
	rt.router.reg.addName(name, rt.entry.pattern)
	rt.router.reg.mu.Lock()
	rt.entry.name = name
	rt.router.reg.mu.Unlock()
	return rt
}

// Allow makes a request for the route's pattern with a method that no route
// registers on it get a real "405 Method Not Allowed", with an Allow header
// listing the registered methods, instead of going to the fallback. It
// applies to the pattern, so to every method registered on it, before or
// after the call. Methods that chi does not know (PROPFIND, ...) still go
// to the fallback. A pattern with a route for every method ([Router.Handle]
// without a method), registered before or after the call, has no method to
// refuse: there Allow does nothing, and the inventory does not mark the
// route. Allow returns rt for chaining.
func (rt *Route) Allow() *Route {
	r := rt.router
	set := r.state.methods[rt.local]
	if set.has("*") {
		return rt
	}
	if !set.strict {
		set.strict = true
		// The 405 takes the requests the pattern's routes would take:
		// not an empty parameter, nor a catch-all's rest its regexp
		// refuses (guardParams), which go to the fallback as for GET.
		_, rest := mustCatchAll(rt.entry.pattern)
		stub := guardParams(r, rt.local, rt.entry.pattern, rest, set)
		if c, _, ok := chipattern.CatchAll(rt.entry.pattern); rest != nil && ok {
			// the pattern as written on the Router (the entry's has its prefix)
			set.stub = catchRest{written: strings.TrimSuffix(rt.local, "*") + rt.entry.pattern[len(c)-1:], rest: rest}
		}
		for _, m := range stdMethods {
			if !set.has(m) {
				r.base.Method(m, rt.local, stub)
			}
		}
	}
	set.allowed = append(set.allowed, rt.entry)
	r.reg.mu.Lock()
	rt.entry.allow = true
	r.reg.mu.Unlock()
	return rt
}
