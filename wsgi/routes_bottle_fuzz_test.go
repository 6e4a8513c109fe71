package wsgi

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// bottleMatch answers, for each JSON line [rule, path], how the worker
// lists a Bottle app holding the one GET route rule (worker.py's
// bottle_routes, loaded from the file) and how Bottle's router reads
// path: null when Bottle refuses the rule, else [parts, matched, {name:
// str(value)}]; a value a filter refuses (float's "1.2.3": Bottle's 400)
// is no match.
const bottleMatch = `
import importlib.util, json, sys, warnings
warnings.simplefilter("ignore")
spec = importlib.util.spec_from_file_location("graft_worker", "worker.py")
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
import bottle
for line in sys.stdin:
    rule, path = json.loads(line)
    try:
        app = bottle.Bottle()
        app.route(rule, "GET", lambda **kw: "")
        parts = worker.bottle_routes(app)[0][0]["pieces"][0]["parts"]
        app.router.match({"PATH_INFO": path, "REQUEST_METHOD": "PUT"})  # compiles every route
    except bottle.HTTPError:
        pass
    except Exception:
        print("null", flush=True)
        continue
    try:
        route, args = app.router.match({"PATH_INFO": path, "REQUEST_METHOD": "GET"})
        out = [parts, True, {k: str(v) for k, v in args.items()}]
    except bottle.HTTPError:
        out = [parts, False, {}]
    print(json.dumps(out), flush=True)
`

// FuzzTranslateBottlePython checks the translation of Bottle rules against
// Bottle itself: for a rule Bottle compiles and graft translates, graft's
// router routes a path to the translated pattern exactly when Bottle's
// router matches it, with the same values (for int and float, which Bottle
// converts, the route only; what a PythonRegex takes besides, other
// decimal digits, Bottle's alone). Left out: a path ending in a newline, which
// Bottle's "$" lets its regex end before (docs/migration.md: not listed,
// on purpose).
func FuzzTranslateBottlePython(f *testing.F) {
	pythontest.Python(f, "bottle")
	oracle := pythontest.StartOracle(f, "", bottleMatch, []string{"bottle"})
	for _, s := range []struct{ rule, path string }{
		{"/a/<x>", "/a/b"},
		{"/a/<n:int>", "/a/-12"},
		{"/a/<n:int>", "/a/1.5"},
		{"/a/<n:int>", "/a/١٢"},
		{"/c/<c:re:\\d+>", "/c/１２"},
		{"/a/<f:float>", "/a/1.5"},
		{"/a/<f:float>", "/a/1.2.3"},
		{"/a/<f:float>", "/a/."},
		{"/p/<p:path>", "/p/a/b"},
		{"/p/<p:path>", "/p/"},
		{"/p/<p:path>", "/p/\na"},
		{"/c/<c:re:[a-z]{2}>", "/c/ab"},
		{"/c/<c:re:a|b>", "/c/b"},
		{"/c/<c:re:[a-z/]+>", "/c/a/b"},
		{"/o/:slug#[a-z-]+#", "/o/a-b"},
		{"/o/:slug", "/o/x"},
		{"/d/<n>.json", "/d/a.b.json"},
		{"/a/<x>/<y>", "/a/b/c"},
		{"/a<x>", "/ab"},
		{"/\\<x>", "/<x>"},
	} {
		f.Add(s.rule, s.path)
	}
	// Short rules and paths: a regex Python backtracks on for long would
	// stall the oracle (and the fuzzer reports a hang of its own).
	f.Fuzz(func(t *testing.T, rule, path string) {
		if !utf8.ValidString(rule) || !utf8.ValidString(path) || len(rule) > 60 || len(path) > 64 {
			return
		}
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasSuffix(path, "\n") {
			return // "//x" is routed as "/x" (docs/routing.md); a trailing newline: above
		}
		var groups map[string]string
		piece, pyMatched, ok := askRouteOracle(t, oracle, "bottle", rule, path, &groups)
		if !ok {
			return // Bottle refuses the rule
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
			t.Fatalf("rule %q -> %q: for %q Bottle matches %v, chi %v", rule, pat, path, pyMatched, chiMatched)
		}
		if !chiMatched {
			return
		}
		for _, p := range params {
			if p.Converter != "int" && p.Converter != "float" && got[p.Name] != groups[p.Name] {
				t.Fatalf("rule %q -> %q: for %q Bottle's %s = %q, chi's %q", rule, pat, path, p.Name, groups[p.Name], got[p.Name])
			}
		}
	})
}
