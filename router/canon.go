package router

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routable returns r with the path rt is to route on, which is the path a
// WSGI app would see, unless a Go route needs the escaped form.
//
// chi routes on r.URL.RawPath whenever net/http keeps one, and net/http
// keeps one for any escape it would not write itself: "/%73ecret" as well
// as "/a%2Fb". A WSGI app gets PATH_INFO decoded ("/secret", "/a/b"), so
// routing on the escaped form let a client reach the fallback (Python)
// with the path of a Go route, past that route and past the middlewares of
// the sub-Router it sits in, by escaping one letter (or a slash).
//
// So the escaped form is kept only for what it can change: an escaped
// slash ("%2F", which a Go route such as "/files/{name}" may take as part
// of a value), and only when a Go route serves the path with it. The rest
// of that form is written as net/http writes a path (every needless
// escape decoded, hex in upper case), so that "/files/%61%2Fb" and
// "/files/a%2Fb" route alike. Every other request is routed on r.URL.Path,
// with RawPath cleared, as if the client had sent its path unescaped;
// [Param] then returns the values as they are.
//
// A '#' the client sent in the path (net/http keeps it, and the RawPath
// with it) starts a fragment, which the WSGI container drops as gunicorn
// does ([github.com/graft-dev/graft/wsgi.Guard] removes it before, when it
// is in front): "/secret#x" is routed, and passed on, as "/secret".
//
// Werkzeug strips the leading slashes of PATH_INFO before it matches a
// rule: Flask serves "//secret" and "///secret" as /secret. A path with
// more than one leading slash is therefore routed, and passed on, with
// one when that path reaches a Go route or a mount (a sub-Router, with
// its middlewares and fallback), so that doubling the first slash cannot
// take a request past a Go route, or past the middlewares of a
// sub-Router, into Flask. Other such paths are left as they are: they
// reach the same fallback either way, and Django serves none of them.
func routable(r *http.Request, rt *Router) *http.Request {
	raw := r.URL.RawPath
	path := r.URL.Path
	if raw == "" && !leadingSlashes(path) {
		return r
	}
	canon, slash := "", false
	if raw != "" {
		if i := strings.IndexByte(raw, '#'); i >= 0 {
			if p, err := url.PathUnescape(raw[:i]); err == nil {
				raw, path = raw[:i], p
			}
		}
		canon, slash = canonicalEscape(raw)
	}
	switch {
	case !slash:
		canon = ""
	case rt.Match(chi.NewRouteContext(), r.Method, canon):
	case leadingSlashes(canon) && rt.Match(chi.NewRouteContext(), r.Method, oneLeadingSlash(canon)):
		canon, path = oneLeadingSlash(canon), oneLeadingSlash(path)
	default:
		canon = ""
	}
	if canon == "" && leadingSlashes(path) && reaches(rt, r.Method, oneLeadingSlash(path)) {
		path = oneLeadingSlash(path)
	}
	if canon == r.URL.RawPath && path == r.URL.Path {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, canon
	r2.URL = &u
	return r2
}

// canonicalEscape returns the escaped path (or part of one) p as net/http
// would write its decoded form, except that escaped slashes stay escaped
// (as "%2F"), and whether p has any. An invalid escape gives ("", false):
// the request is then routed on its decoded path.
func canonicalEscape(p string) (string, bool) {
	pieces := strings.Split(strings.ReplaceAll(p, "%2f", "%2F"), "%2F")
	for i, piece := range pieces {
		d, err := url.PathUnescape(piece)
		if err != nil {
			return "", false
		}
		pieces[i] = (&url.URL{Path: d}).EscapedPath()
	}
	return strings.Join(pieces, "%2F"), len(pieces) > 1
}

// leadingSlashes reports whether p starts with more than one slash.
func leadingSlashes(p string) bool {
	return len(p) > 1 && p[0] == '/' && p[1] == '/'
}

// oneLeadingSlash returns p with its leading slashes made one, as
// Werkzeug matches it.
func oneLeadingSlash(p string) string {
	return "/" + strings.TrimLeft(p, "/")
}

// reaches reports whether path reaches a Go route or a mount of rt's tree
// rather than rt's own fallback: routed with method, or with GET (mounts
// take every method, and chi's Find knows none it was not told of).
func reaches(rt *Router, method, path string) bool {
	for _, m := range [...]string{method, http.MethodGet} {
		rctx := chi.NewRouteContext()
		rt.Find(rctx, m, path)
		if len(rctx.RoutePatterns) > 0 {
			return true
		}
	}
	return false
}
