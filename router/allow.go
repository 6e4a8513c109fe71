package router

import (
	"net/http"
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
}

func (s *methodSet) add(m string) {
	if !s.has(m) {
		s.methods = append(s.methods, m)
	}
}

func (s *methodSet) has(m string) bool { return slices.Contains(s.methods, m) }

// ServeHTTP replies 405 with the registered methods in Allow.
func (s *methodSet) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	allow := slices.Clone(s.methods)
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	w.WriteHeader(http.StatusMethodNotAllowed)
}
