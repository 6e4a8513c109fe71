package router

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/internal/chipattern"
)

// guardParams wraps h, a route's handler as given to chi, so that a
// request chi routed to it with a parameter value Python refuses goes where
// a request no route matches goes: the fallback, else chi's 404. Such a
// value is an empty one, or a newline in the catch-all.
//
// chi (v5.5) gives a parameter the empty value, without checking its
// regexp, when the parameter's part of the path is empty and the pattern
// goes on after it: "/v{n:[0-9]+}/" takes "/v/", "/x/{id:[0-9]+}/edit"
// takes "/x//edit", "/x/{name}/edit" takes it too. Flask and Django match
// neither (their converters take one character at least), and a Go handler
// would get a value its pattern does not allow. The catch-all ("*") may
// be empty, as in chi.
//
// Nor does a route whose pattern ends in the catch-all take a request
// whose catch-all value holds a newline ("/files/a%0Ab"): Python's "."
// does not match one, so Flask's <path:p> (werkzeug's "[^/].*?"),
// Django's <path:p> (".+") and re_path's "(?P<p>.*)$", which the route map
// translates to "*", refuse it, where chi's "*" takes anything.
//
// A route whose pattern ended in a constrained catch-all ("{*:.+}", see
// mustCatchAll) takes a request only when its catch-all value matches
// rest, the regexp, which then decides alone (pattern is chi's, with "*").
// Such a route's request then has the pattern as written, written, in chi's
// route context (chi.RouteContext(r.Context()).RoutePatterns, which the
// access log's http.route and the metrics' route label are made of):
// "/files/{*:.+}", the name the stages and the inventory give the route,
// not chi's "/files/*".
func guardParams(r *Router, pattern, written string, rest *regexp.Regexp, h http.Handler) http.Handler {
	if h == nil {
		return nil // refused by mustHandle before
	}
	g := paramGuard{h: h, base: r.base, catchAll: strings.HasSuffix(pattern, "*"), rest: rest}
	if c, _, ok := chipattern.CatchAll(written); rest != nil && ok {
		g.shown = written[len(c)-1:] // written may have the Router's prefix
	}
	return g
}

type paramGuard struct {
	h        http.Handler
	base     *chi.Mux
	catchAll bool           // the pattern ends in "*"
	rest     *regexp.Regexp // the catch-all's constraint, nil for a plain "*"
	shown    string         // the constrained catch-all as written ("{*:.+}"), "" for none
}

func (g paramGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if emptyParam(&rctx.URLParams) {
			g.base.NotFoundHandler().ServeHTTP(w, r)
			return
		}
		// The route's own catch-all is the last "*" (a mount's comes
		// before), as chi.URLParam and Param read it; a newline in it is
		// "\n", or "%0A" when chi routed on the escaped path.
		if g.catchAll {
			if restRefused(g.rest, Param(r, "*")) {
				g.base.NotFoundHandler().ServeHTTP(w, r)
				return
			}
			// chi's pattern is the Router's with "*" (the last one
			// recorded: a mount's come before): show the one written.
			if n := len(rctx.RoutePatterns); g.shown != "" && n > 0 && strings.HasSuffix(rctx.RoutePatterns[n-1], "*") {
				last := rctx.RoutePatterns[n-1]
				rctx.RoutePatterns[n-1] = last[:len(last)-1] + g.shown
			}
		}
	}
	g.h.ServeHTTP(w, r)
}

// emptyParam reports whether a parameter other than a catch-all is empty
// in params: the Router leaves such a match to the fallback (guardParams,
// Router.Find).
func emptyParam(params *chi.RouteParams) bool {
	for i, k := range params.Keys {
		if k != "*" && i < len(params.Values) && params.Values[i] == "" {
			return true
		}
	}
	return false
}

// restRefused reports whether the Router leaves a catch-all's decoded
// value v to the fallback: one that rest, a constrained catch-all's
// regexp, does not take, or, for a plain "*" (rest nil), one holding a
// newline (guardParams, Router.Find).
func restRefused(rest *regexp.Regexp, v string) bool {
	if rest != nil {
		return !rest.MatchString(v)
	}
	return strings.IndexByte(v, '\n') >= 0
}
