package migrate

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/router"
)

// chiAccepts reports whether chi takes pattern.
func chiAccepts(pattern string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	chi.NewRouter().Get(pattern, func(http.ResponseWriter, *http.Request) {})
	return true
}

// FuzzRelate checks the inventory's comparison of a Go pattern with a
// Python one against what graft's router does with a path: a pattern is
// equal to itself; "equal" patterns route the path alike, "disjoint"
// ones never both, and a "wider" Go pattern takes every path the Python
// one takes ("narrower" the reverse). Patterns with a parameter followed
// by text in its segment are left out: chi ends such a value at the
// first occurrence of the text, which the comparison does not model (the
// route map refuses such Python patterns).
func FuzzRelate(f *testing.F) {
	for _, s := range [][3]string{
		{"/u/{id}", "/u/{pk}", "/u/1"},
		{"/u/{id:[0-9]+}", "/u/{pk}", "/u/x"},
		{"/u/me", "/u/{name}", "/u/me"},
		{"/f/*", "/f/{x}", "/f/a/b"},
		{"/f/*", "/f/*", "/f/"},
		{"/a/{x:[a-z]+}", "/a/{y:[0-9]+}", "/a/1"},
		{"/v{n:[0-9]+}.json", "/v{n:[0-9]+}.json", "/v1.json"},
		{"/a/{x:(?:a|b)}", "/a/{x:(?:b|a)}", "/a/a"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, g, p, path string) {
		for _, s := range []string{g, p, path} {
			if !utf8.ValidString(s) || len(s) > 80 || !strings.HasPrefix(s, "/") {
				return
			}
		}
		if !chiAccepts(g) || !chiAccepts(p) || tailAfterParam(g) || tailAfterParam(p) {
			return
		}
		gs, ps := parseSegments(g), parseSegments(p)
		if rel, _ := relate(gs, gs); rel != relEqual {
			t.Fatalf("%q compared with itself: %v", g, rel)
		}
		rel, detail := relate(gs, ps)
		path = "/" + strings.TrimLeft(path, "/")
		mg, mp := routes(g, path), routes(p, path)
		bad := false
		switch rel {
		case relEqual:
			bad = mg != mp
		case relNone:
			bad = mg && mp
		case relWider:
			bad = mp && !mg
		case relNarrower:
			bad = mg && !mp
		}
		if bad {
			t.Fatalf("Go %q, Python %q: relation %v (%s), but %q routes to Go %v, to Python %v", g, p, rel, detail, path, mg, mp)
		}
	})
}

// tailAfterParam reports whether a parameter of pattern is followed by
// text in its segment ("{x}.json", "{a}-{b}").
func tailAfterParam(pattern string) bool {
	depth := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 && i+1 < len(pattern) && pattern[i+1] != '/' {
				return true
			}
		}
	}
	return false
}

// routes reports whether graft's router routes path to pattern.
func routes(pattern, path string) bool {
	matched := false
	r := router.New()
	r.Get(pattern, func(http.ResponseWriter, *http.Request) { matched = true })
	req := httptest.NewRequest("GET", "/", nil)
	req.URL.Path, req.URL.RawPath = path, ""
	r.ServeHTTP(httptest.NewRecorder(), req)
	return matched
}
