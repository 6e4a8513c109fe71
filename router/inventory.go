package router

import "strings"

// RouteInfo is one line of the route inventory. Its JSON form, for a debug
// endpoint or a migration report, has snake_case keys: host, method,
// pattern, name, target, allow, implicit.
type RouteInfo struct {
	// Host is the host rule the route belongs to ("api.example.com",
	// "*.example.com"), "" for the default host or a plain Router. Set
	// by [Hosts.Inventory] only.
	Host string `json:"host"`
	// Method is the HTTP method, or "*" for every method (Handle, Mount,
	// the fallback).
	Method string `json:"method"`
	// Pattern is the full chi pattern, including the prefixes of Route
	// and Mount.
	Pattern string `json:"pattern"`
	// Name is the route name given with [Route.Name], or "".
	Name string `json:"name"`
	// Target says who serves the route.
	Target Target `json:"target"`
	// Allow is true when a method mismatch on the pattern gets a 405
	// rather than the fallback (see [Route.Allow]).
	Allow bool `json:"allow"`
	// Implicit is true for a route the Router added on its own: the HEAD
	// route of a GET route's pattern, served by the GET handler with the
	// body discarded, until a HEAD route is registered on the pattern
	// (see [Router.Get]); or the path of a sub-Router's prefix without
	// its trailing slash, which chi serves with the sub-Router's "/"
	// route (r.Route("/api", ...) with a route for "/" serves "/api/"
	// and "/api"), with Of set.
	Implicit bool `json:"implicit"`
	// Of is, for an implicit route at a sub-Router's prefix, the pattern
	// of the "/" route that serves it ("/api/" for "/api"): its stage key
	// is Method and Of. "" otherwise.
	Of string `json:"of,omitempty"`
}

// Inventory lists every route of the Router's tree (the Router made by
// [New] and everything derived from or mounted into it) in registration
// order, with routers attached by [Router.Mount] expanded in place. The
// fallbacks are listed as "* prefix/*" with [TargetFallback]. Use it for
// docs, a debug endpoint or migration reports.
func (r *Router) Inventory() []RouteInfo {
	var out []RouteInfo
	r.reg.list("", &out)
	return out
}

func (g *registry) list(prefix string, out *[]RouteInfo) {
	g.mu.RLock()
	entries := append([]*entry(nil), g.entries...)
	g.mu.RUnlock()
	for _, e := range entries {
		if e.sub != nil {
			e.sub.list(join(prefix, e.pattern), out)
			continue
		}
		g.mu.RLock()
		ri := RouteInfo{
			Method: e.method, Pattern: join(prefix, e.pattern), Name: e.name,
			Target: e.target, Allow: e.allow, Implicit: e.implicit,
		}
		also := ""
		switch {
		case e.also != "":
			also = join(prefix, e.also)
		case e.root && prefix != "" && !strings.HasSuffix(prefix, "/"):
			also = prefix
		}
		g.mu.RUnlock()
		*out = append(*out, ri)
		if also != "" {
			*out = append(*out, RouteInfo{Method: ri.Method, Pattern: also, Target: ri.Target, Allow: ri.Allow, Implicit: true, Of: ri.Pattern})
		}
	}
}

// URL builds the path of the route called name, substituting the
// parameters given as key/value pairs ("id", "42"). Values are
// percent-encoded with [Escape]: UTF-8, a space as "%20", "+" as "%2B", and
// "/" kept only in the catch-all "*" (but for one that would start the
// path with "//", a scheme-relative URL: "/%2F"). The path is absolute
// even when the Router is mounted into another one. URL returns an error
// wrapping [ErrUnknownRoute], [ErrMissingParam], [ErrUnknownParam],
// [ErrInvalidParam] (empty value, no match for the parameter's regexp,
// the character after the parameter, a dot segment) or [ErrOddParams].
func (r *Router) URL(name string, pairs ...string) (string, error) {
	g := r.reg
	for {
		g.mu.RLock()
		p := g.parent
		g.mu.RUnlock()
		if p == nil {
			break
		}
		g = p
	}
	t := g.lookup(name)
	if t == nil {
		return "", errorf(ErrUnknownRoute, name)
	}
	return t.build(name, pairs)
}
