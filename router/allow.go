package router

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// stdMethods are the methods chi routes; Allow registers a 405 stub for
// each one a pattern lacks.
var stdMethods = [...]string{
	http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead,
	http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut,
	http.MethodTrace, "QUERY",
}

// methodSet is the set of methods registered on one pattern of one mux.
// Once strict (see Route.Allow) it is also the handler chi calls for the
// other methods: a 405 that lists the set.
type methodSet struct {
	methods []string // "*" for a route that matches every method
	strict  bool
	allowed []*entry // the inventory entries Allow was called on
	head    *entry   // the inventory entry of the HEAD route implied by GET, if any
	// rests holds, per method ("*" for Handle's), the constrained
	// catch-all of the route registered on the pattern with it, for
	// Find; stub is the one Allow's 405 stubs check (see guardParams).
	rests map[string]catchRest
	stub  catchRest
}

// catchRest is a route's constrained catch-all: the pattern as written
// on its Router ("/files/{*:.+}") and the regexp its rest must match; the
// zero value stands for a plain "*".
type catchRest struct {
	written string
	rest    *regexp.Regexp
}

// setRest records the catch-all of the route registered for method.
func (s *methodSet) setRest(method, written string, rest *regexp.Regexp) {
	if rest == nil {
		delete(s.rests, method)
		return
	}
	if s.rests == nil {
		s.rests = make(map[string]catchRest)
	}
	s.rests[method] = catchRest{written: written, rest: rest}
}

// restFor returns the catch-all of the route chi finds for method: its
// own, else the one of Handle's route for every method, else, for a
// method no route has, that of Allow's 405 stubs, else, for the HEAD
// that GET implies, the GET route's.
func (s *methodSet) restFor(method string) catchRest {
	if c, ok := s.rests[method]; ok {
		return c
	}
	if c, ok := s.rests["*"]; ok || s.has("*") {
		return c
	}
	if !s.has(method) {
		return s.stub
	}
	if method == http.MethodHead && s.head != nil {
		return s.rests[http.MethodGet]
	}
	return catchRest{}
}

func (s *methodSet) add(m string) {
	if !s.has(m) {
		s.methods = append(s.methods, m)
	}
}

func (s *methodSet) has(m string) bool { return slices.Contains(s.methods, m) }

// ServeHTTP replies 405 with the registered methods in Allow, and no
// body. Its Content-Length: 0 is explicit, so that a HEAD gets it too, as
// a GET does (net/http cannot tell a HEAD handler's empty body from a
// skipped one, and leaves it out).
func (s *methodSet) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	allow := slices.Clone(s.methods)
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusMethodNotAllowed)
}
