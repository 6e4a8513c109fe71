package wsgi

import (
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/router"
)

// routeOnChi routes a GET of path with graft's router holding patterns
// (a translation's pattern, then its alternates), each serving params,
// as the route-map fuzzers compare with the framework's own router. It
// reports whether a pattern matched, and the value chi gave each
// parameter: the last one of a pattern ending in a catch-all is chi's
// "*". path is set as received, with no RawPath.
func routeOnChi(path string, params []RouteParam, patterns ...string) (bool, map[string]string) {
	matched := false
	got := map[string]string{}
	r := router.New() // what graft serves the patterns with
	for _, pat := range patterns {
		r.Get(pat, func(_ http.ResponseWriter, req *http.Request) {
			matched = true
			for i, p := range params {
				key := p.Name
				if endsInCatchAll(pat) && i == len(params)-1 {
					key = "*"
				}
				got[p.Name] = chi.URLParam(req, key)
			}
		})
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.URL.Path, req.URL.RawPath = path, ""
	r.ServeHTTP(httptest.NewRecorder(), req)
	return matched, got
}
