package wsgi

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pyramidMatch answers, for each JSON line [pattern, path], how the worker
// cuts a Pyramid route pattern (worker.py's _pyramid_parts, loaded from
// the file) and how Pyramid's own route matcher reads path: null when
// Pyramid refuses the pattern, else [parts, matched, {name: value}], a
// *stararg's value the list of its segments.
const pyramidMatch = `
import importlib.util, json, sys, warnings
warnings.simplefilter("ignore")
spec = importlib.util.spec_from_file_location("graft_worker", "worker.py")
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
from pyramid.urldispatch import _compile_route
for line in sys.stdin:
    pattern, path = json.loads(line)
    try:
        match = _compile_route(pattern)[0]
        parts = worker._pyramid_parts(pattern)
    except Exception:
        print("null", flush=True)
        continue
    m = match(path)
    d = {} if m is None else {k: list(v) if isinstance(v, tuple) else v for k, v in m.items()}
    print(json.dumps([parts, m is not None, d]), flush=True)
`

// FuzzTranslatePyramidPython checks the translation of Pyramid route
// patterns against Pyramid itself: for a pattern Pyramid compiles and
// graft translates, graft's router routes a path to the translated
// pattern exactly when Pyramid's matcher matches it, with the same
// values (a *stararg's as Pyramid gives it, the segments of chi's
// catch-all value: see pyramidSegments; what a PythonRegex takes
// besides, other decimal digits, Pyramid's alone). Left out: a path ending in a
// newline, which Pyramid's "$" lets its regex end before
// (docs/migration.md: not listed, on purpose).
func FuzzTranslatePyramidPython(f *testing.F) {
	pythontest.Python(f, "pyramid")
	oracle := pythontest.StartOracle(f, "", pyramidMatch, []string{"pyramid"})
	for _, s := range []struct{ pattern, path string }{
		{"/a/{x}", "/a/b"},
		{"/a/{x}/", "/a/b/"},
		{"/a/{n:[0-9]+}", "/a/12"},
		{"/a/{n:[0-9]{4}}", "/a/123"},
		{"/f/*rest", "/f/a/b"},
		{"/f/*rest", "/f/"},
		{"/f/*rest", "/f/a\nb"},
		{"/t/{k}/*p", "/t/x/y"},
		{"/p/{s}.html", "/p/a.b.html"},
		{"/legacy/:slug", "/legacy/x"},
		{"page/{x}", "/page/y"},
		{"/r/{p:.+}", "/r/a/b"},
		{"/r/{p:[a-z/]+}", "/r/a/b"},
		{"/a/{x:a|b}", "/a/b"},
		{"/a/{x:\\d+}", "/a/1"},
		{"/a/{x:\\d+}", "/a/١٢"},
		{"/a/{x:[\\d.]+}", "/a/１.2"},
		{"/a/{x:[a-z]*}", "/a/"},
		{"/a/{x}{y}", "/a/bc"},
		{"/a/*", "/a/"},
		{"/a{x}b", "/axb"},
		{"/a/{x:(?i)k}", "/a/\u212a"},
	} {
		f.Add(s.pattern, s.path)
	}
	// Short rules and paths: a regex Python backtracks on for long would
	// stall the oracle (and the fuzzer reports a hang of its own).
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(path) || len(pattern) > 60 || len(path) > 64 {
			return
		}
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasSuffix(path, "\n") {
			return // "//x" is routed as "/x" (docs/routing.md); a trailing newline: above
		}
		var groups map[string]any
		piece, pyMatched, ok := askRouteOracle(t, oracle, "pyramid", pattern, path, &groups)
		if !ok {
			return // Pyramid refuses the pattern
		}
		pat, params, why := translate([]wirePiece{piece})
		if why != "" || checkChi(pat) != nil {
			return
		}
		chiMatched, got := routeOnChi(path, params, pat)
		if pyMatched && !chiMatched && pythonWide(path, pat, params) {
			return // what PythonRegex takes besides (other decimal digits) is documented, not matched
		}
		if chiMatched != pyMatched {
			t.Fatalf("pattern %q -> %q: for %q Pyramid matches %v, chi %v", pattern, pat, path, pyMatched, chiMatched)
		}
		if !chiMatched {
			return
		}
		for _, p := range params {
			if p.Converter == "*" {
				if g := pyramidSegments(got[p.Name]); fmt.Sprint(g) != fmt.Sprint(groups[p.Name]) {
					t.Fatalf("pattern %q -> %q: for %q Pyramid's %s = %q, chi's %q (segments %q)", pattern, pat, path, p.Name, groups[p.Name], got[p.Name], g)
				}
				continue
			}
			if got[p.Name] != groups[p.Name] {
				t.Fatalf("pattern %q -> %q: for %q Pyramid's %s = %q, chi's %q", pattern, pat, path, p.Name, groups[p.Name], got[p.Name])
			}
		}
	})
}

// pyramidSegments is what Pyramid gives a view for the rest of the path a
// *stararg matched (pyramid.traversal.split_path_info): its segments,
// without empty and "." ones, ".." taking the one before it away.
func pyramidSegments(rest string) []any {
	segs := []any{}
	for _, s := range strings.Split(rest, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	return segs
}
