package wsgi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pyRegexMatch answers, for each JSON line [regex, fullmatch, path], how
// Django's RegexPattern.match reads path (the request path without its
// leading "/"): null when Python does not compile the regex, else
// [matched, {group: value}], with fullmatch() for an endpoint whose regex
// ends in "$" and search() otherwise.
const pyRegexMatch = `
import json, re, sys, warnings
warnings.simplefilter("ignore")
cache = {}
for line in sys.stdin:
    rx, full, path = json.loads(line)
    c = cache.get(rx)
    if c is None:
        try:
            c = re.compile(rx)
        except Exception:
            print("null", flush=True)
            continue
        if len(cache) > 1000:
            cache.clear()
        cache[rx] = c
    m = c.fullmatch(path) if full else c.search(path)
    out = [False, {}] if m is None else [True, {k: v for k, v in m.groupdict().items() if v is not None}]
    print(json.dumps(out), flush=True)
`

// FuzzTranslateRegexPython checks the translation of Django regex routes
// against Python's own re: for a regex Python compiles and graft
// translates, graft's router routes a path to the translated pattern
// exactly when Django's RegexPattern matches it, and with the same
// parameter values, but for a path only a parameter's PythonRegex takes
// (Python's \d: other decimal digits, pythonWide). A newline in the rest
// of the path is one of the paths: Python's ".*" stops at it, and graft's
// router does not give a catch-all a value holding one.
func FuzzTranslateRegexPython(f *testing.F) {
	oracle := pythontest.StartOracle(f, "", pyRegexMatch, nil)
	python := func(t *testing.T, re string, full bool, path string) (ok bool, matched bool, groups map[string]string) {
		var out []json.RawMessage
		oracle.Ask(t, []any{re, full, path}, &out)
		if out == nil {
			return false, false, nil
		}
		json.Unmarshal(out[0], &matched)
		json.Unmarshal(out[1], &groups)
		return true, matched, groups
	}

	for _, s := range []struct {
		re, path string
		full     bool
	}{
		{`^a/(?P<n>[0-9]+)/$`, "a/12/", true},
		{`^a/(?P<n>[0-9]{2,3})/$`, "a/1234/", true},
		{`^(?P<url>.*)$`, "x/y", true},
		{`^f/(?P<p>.*)$`, "f/", true},
		{`^x\.y/(?P<a>[^/]{2})\Z`, "x.y/ab", false},
		{`^p/(?P<n>a{,3})/$`, "p/aa/", true},
		{`^p/(?P<n>[[:alpha:]]+)/$`, "p/ab/", true},
		{`^p/(?P<n>[a-z]+|[0-9]+)/$`, "p/a1/", true},
		{`^p/(?P<n>(?i)k)/$`, "p/\u212a/", true},
		{`^v(?P<n>[0-9]+)\.json$`, "v1.json", true},
		{`^(?P<a>[a-z]+)-(?P<b>[0-9]+)/$`, "ab-12/", true},
		{`^(?P<url>.*)$`, "x/a\nb", true},
		{`^f/(?P<p>.*)$`, "f/\n", true},
		{`^f/(?P<p>.*)$`, "f/\nab", true},
		{`^f/(?P<p>.*)\Z`, "f/a\n", false},
		// Python's "$" also matches before a trailing newline: Django's
		// fullmatch() of an endpoint ending in "$" (Django 3.2) does not
		// let it, search() does; "\Z" never does
		{`^a/(?P<n>[a-z]+)$`, "a/ab\n", true},
		{`^a/(?P<n>[a-z]+)$`, "a/ab\n", false},
		{`^a/(?P<n>[^/]+)$`, "a/ab\n", true},
		{`^a/(?P<n>[^/]+)$`, "a/ab\n", false},
		{`^a/$`, "a/\n", false},
		{`^f/(?P<p>.*)$`, "f/ab\n", false},
		{`^f/(?P<p>.+)$`, "f/\n", true},
		{`^f/(?P<p>.+)$`, "f/a/b", true},
		{`^f/(?P<p>.+)\Z`, "f/", false},
		{`^f/(?P<p>[^/].*)$`, "f/\nab", true},
		{`^\n(?P<p>[a-z]+)/$`, "\nab/", true},
		// anchors inside a group: Python's are the whole path's, chi
		// matches the group's constraint against the parameter alone
		{`^a/(?P<n>[a-z]+$\n)/$`, "a/ab\n/", true},
		{`^a/(?P<n>x$)$`, "a/x", true},
		{`^a/(?P<n>\Ax)/$`, "a/x/", true},
		{`^a/(?P<n>^x)/$`, "a/x/", true},
		{`^a/(?P<n>x|\z)/$`, "a/x/", true},
		{`^a/(?P<p>x$|y/z)$`, "a/x", true},
		// \d is [0-9] in the pattern, \p{Nd} in PythonRegex: Python's
		// other decimal digits (a/١٢/) are what PythonRegex takes besides
		{`^a/(?P<n>\d{2})/$`, "a/12/", true},
		{`^a/(?P<n>\d{2})/$`, "a/١٢/", true},
		{`^a/(?P<n>[\d.]+)\Z`, "a/1.١", false},
		{`^f/(?P<p>[\d/]+)$`, "f/1/٢", true},
		{`^a/(?P<n>[^\d/]+)/$`, "a/١/", true},
	} {
		f.Add(s.re, s.path, s.full)
	}
	f.Fuzz(func(t *testing.T, re, path string, full bool) {
		if !utf8.ValidString(re) || !utf8.ValidString(path) || len(re) > 200 || len(path) > 200 {
			return
		}
		if strings.HasPrefix(path, "/") {
			return // the router routes "//x" as "/x", as Werkzeug does, where Django 404s (docs/routing.md)
		}
		pattern, params, why := translate([]wirePiece{{Kind: "regex", Text: re, Fullmatch: full}})
		if why != "" || checkChi(pattern) != nil {
			return
		}
		compiled, pyMatched, groups := python(t, re, full, path)
		if !compiled {
			return // Django could not load the route
		}
		chiMatched, got := routeOnChi("/"+path, params, pattern)
		if pyMatched && !chiMatched && pythonWide("/"+path, pattern, params) {
			return // what PythonRegex takes besides (other decimal digits) is documented, not matched
		}
		if chiMatched != pyMatched {
			t.Fatalf("regex %q (fullmatch %v) -> pattern %q: for %q Python matches %v, chi %v", re, full, pattern, path, pyMatched, chiMatched)
		}
		if !chiMatched {
			return
		}
		for _, p := range params {
			if got[p.Name] != groups[p.Name] {
				t.Fatalf("regex %q -> pattern %q: for %q Python's %s = %q, chi's %q", re, pattern, path, p.Name, groups[p.Name], got[p.Name])
			}
		}
	})
}
