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
func routable(r *http.Request, rt *Router) *http.Request {
	raw := r.URL.RawPath
	if raw == "" {
		return r
	}
	path := r.URL.Path
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		if p, err := url.PathUnescape(raw[:i]); err == nil {
			raw, path = raw[:i], p
		}
	}
	canon, slash := canonicalEscape(raw)
	if !slash || !rt.Match(chi.NewRouteContext(), r.Method, canon) {
		canon = ""
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
