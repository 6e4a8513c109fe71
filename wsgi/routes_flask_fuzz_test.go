package wsgi

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pyFlaskMatch answers, for each JSON line [rule, path], the route pieces
// the worker sends for a Flask rule (worker.flask_routes) and how
// werkzeug's own Map matches path: [pieces, "match"|"404"|"redirect",
// {param: value, for str values}], or null when werkzeug refuses the
// rule.
const pyFlaskMatch = `
import json, sys, warnings
warnings.simplefilter("ignore")
from werkzeug.exceptions import NotFound, MethodNotAllowed
from werkzeug.routing import Map, Rule, RequestRedirect
import worker
class App:
    view_functions = {}
for line in sys.stdin:
    rule, path = json.loads(line)
    try:
        app = App()
        app.url_map = Map([Rule(rule, endpoint="e", methods=["GET"])])
        pieces = worker.flask_routes(app)[0]["pieces"]
        adapter = app.url_map.bind("h")
    except Exception:
        print("null", flush=True)
        continue
    try:
        _, args = adapter.match(path, "GET")
        out = [pieces, "match", {k: v for k, v in args.items() if isinstance(v, str)}]
    except RequestRedirect:
        out = [pieces, "redirect", {}]
    except (NotFound, MethodNotAllowed):
        out = [pieces, "404", {}]
    except Exception:
        out = [pieces, "error", {}]
    print(json.dumps(out), flush=True)
`

// FuzzTranslateFlaskPython checks the translation of Flask rules against
// werkzeug's own matching: for a rule werkzeug accepts and graft
// translates, graft's router routes a path to the translated pattern
// exactly when werkzeug's Map serves it (a redirect, to the rule's own
// form, is left out: the redirected request comes back through Go), with
// the same values for string parameters. A newline in the path is one of
// the paths: werkzeug's path converter ("[^/].*?") takes one as the rest's
// first character and nowhere else, and so does graft's router with the
// translated {*:[^/].*}; both refuse the empty rest. Paths with decimal
// digits other than 0-9 (see PythonRegex) are left out.
func FuzzTranslateFlaskPython(f *testing.F) {
	dir, err := filepath.Abs(".")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, pyFlaskMatch, []string{"flask"})

	for _, s := range [][2]string{
		{"/a/<int:id>", "/a/12"}, {"/a/<int:id>/", "/a/12/"}, {"/v<int:n>/", "/v/"}, {"/f/<path:p>", "/f/a/b"},
		{"/s/<string(length=2):c>", "/s/ab"}, {"/l/<any(en, fr):l>/x", "/l/fr/x"}, {"/u/<uuid:u>", "/u/00000000-0000-0000-0000-000000000007"},
		{"/p/<x>", "/p/a b"}, {"/fl/<float:f>", "/fl/1.5"}, {"/n/<int(signed=True):n>", "/n/-3"}, {"/caf\u00e9/<x>", "/caf\u00e9/y"},
		{"/a/<x>.<y>", "/a/b.c"}, {"/s/<string(minlength=0):c>/", "/s//"}, {"/d/<x>/", "/d/x"}, {"/e/<int:n>", "/e/012"},
		{"/f/<path:p>", "/f/a\nb"}, {"/f/<path:p>", "/f/a/b\n"}, {"/f/<path:p>", "/f/\nab"}, {"/f/<path:p>", "/f/\na\nb"},
		{"/g/<x>", "/g/a\nb"}, {"/f/<path:p>", "/f/"}, {"/f/<path:p>", "/f/\n"}, {"/<path:p>", "/"},
		{"/<path:p>", "/\n"}, {"/f/<path:p>/", "/f/a/"}, {"/x", "/x\n"}, {"/\u00e9/<x>", "/\u00e9/\n"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rule, path string) {
		if !utf8.ValidString(rule) || !utf8.ValidString(path) || len(rule) > 100 || len(path) > 100 ||
			!strings.HasPrefix(rule, "/") || strings.ContainsAny(rule, "\x00\n\r") || strings.ContainsAny(path, "\x00\r") {
			return
		}
		path = "/" + strings.TrimLeft(path, "/") // the router routes leading slashes as one, as werkzeug does
		var out []json.RawMessage
		oracle.Ask(t, []string{rule, path}, &out)
		if out == nil {
			return // werkzeug refuses the rule
		}
		var pieces []wirePiece
		var verdict string
		var args map[string]string
		json.Unmarshal(out[0], &pieces)
		json.Unmarshal(out[1], &verdict)
		json.Unmarshal(out[2], &args)
		pattern, params, why := translate(pieces)
		if why != "" || checkChi(pattern) != nil || verdict == "redirect" || verdict == "error" {
			return
		}
		for _, p := range params {
			if p.PythonRegex != "" && strings.ContainsFunc(path, func(r rune) bool { return r > 0x7f }) {
				return // other decimal digits: see PythonRegex
			}
		}
		goMatched, got := routeOnChi(path, params, pattern)
		if goMatched != (verdict == "match") {
			t.Fatalf("rule %q -> pattern %q: for %q werkzeug answers %s, graft's router matched %v", rule, pattern, path, verdict, goMatched)
		}
		for k, v := range args {
			if got[k] != v {
				t.Fatalf("rule %q -> pattern %q: for %q werkzeug's %s = %q, the router's %q", rule, pattern, path, k, v, got[k])
			}
		}
	})
}
