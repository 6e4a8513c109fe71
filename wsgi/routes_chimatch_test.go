package wsgi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/internal/pythontest"
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

// pythonWide reports whether graft's router routes path, which pat does
// not, once each parameter's Regex is widened to its PythonRegex: what
// Python's pattern takes besides (other decimal digits), documented, not
// matched.
func pythonWide(path, pat string, params []RouteParam) bool {
	wide := pat
	for i, p := range params {
		if p.PythonRegex == "" {
			continue
		}
		key := p.Name
		if endsInCatchAll(pat) && i == len(params)-1 {
			key = "*"
		}
		wide = strings.Replace(wide, "{"+key+":"+p.Regex+"}", "{"+key+":"+p.PythonRegex+"}", 1)
	}
	if wide == pat {
		return false
	}
	matched, _ := routeOnChi(path, params, wide)
	return matched
}

// askRouteOracle asks a framework's oracle (bottleMatch, falconMatch,
// pyramidMatch) about rule and path: it answers the rule as worker.py
// cut it, as a wirePiece of kind, whether the framework's router matched
// path, and its values into groups. ok is false when the framework
// refuses the rule.
func askRouteOracle(t *testing.T, oracle *pythontest.Oracle, kind, rule, path string, groups any) (piece wirePiece, matched, ok bool) {
	t.Helper()
	var out []json.RawMessage
	oracle.Ask(t, []any{rule, path}, &out)
	if out == nil {
		return piece, false, false
	}
	piece.Kind = kind
	json.Unmarshal(out[0], &piece.Parts)
	json.Unmarshal(out[1], &matched)
	json.Unmarshal(out[2], groups)
	return piece, matched, true
}
