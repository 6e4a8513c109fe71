package router

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Hosts dispatches requests to a Router per host, like Tornado's
// Application.add_handlers with HostMatches and DefaultHostMatches.
//
// A host rule is an exact name ("api.example.com") or a wildcard
// ("*.example.com", which matches any name ending in ".example.com" but
// not "example.com" itself). Rules match r.Host case-insensitively, without
// the port and a trailing dot. Only r.Host is read: X-Forwarded-Host counts
// only once a trusted-proxy middleware in front has copied it into r.Host.
//
// For each request the candidates are, in order: the exact rule, the
// wildcard rules from the longest suffix to the shortest, then the default
// Router. The first candidate with a Go route for the method and path
// serves the request; when none has one, the first candidate serves it (its
// fallback, 405 or 404 applies). A request matching no rule and no
// default goes to the fallback set with [Hosts.Fallback], or gets a 404.
//
// The zero value is not usable; make one with [NewHosts]. Register rules
// before serving.
type Hosts struct {
	exact    map[string]*hostRule
	wild     []*hostRule // longest suffix first
	def      *Router
	fallback http.Handler
	order    []*hostRule // registration order, for the inventory
	pool     sync.Pool   // *chi.Context for Match
}

type hostRule struct {
	pattern string
	router  *Router
}

var _ http.Handler = (*Hosts)(nil)

// NewHosts returns a Hosts with no rules.
func NewHosts() *Hosts {
	h := &Hosts{exact: make(map[string]*hostRule)}
	h.pool.New = func() any { return chi.NewRouteContext() }
	return h
}

// Host returns the Router for the host rule pattern, creating it with
// [New] on first use. It panics on an invalid pattern: empty, a "*" that is
// not a leading "*.", a port, or characters other than letters, digits,
// "-", "." and "_".
func (h *Hosts) Host(pattern string) *Router {
	key := normalizeRule(pattern)
	if r := h.exact[key]; r != nil {
		return r.router
	}
	for _, r := range h.wild {
		if r.pattern == key {
			return r.router
		}
	}
	rule := &hostRule{pattern: key, router: New()}
	if strings.HasPrefix(key, "*.") {
		h.wild = append(h.wild, rule)
		// Longest suffix first, stable for equal lengths.
		for i := len(h.wild) - 1; i > 0 && len(h.wild[i].pattern) > len(h.wild[i-1].pattern); i-- {
			h.wild[i], h.wild[i-1] = h.wild[i-1], h.wild[i]
		}
	} else {
		h.exact[key] = rule
	}
	h.order = append(h.order, rule)
	return rule.router
}

// Default sets the Router for requests whose host matches no rule, or whose
// rule's Router has no route for them (Tornado's default_host). Without
// one, those requests go to [Hosts.Fallback].
func (h *Hosts) Default(r *Router) {
	if r == nil {
		panic("router: Hosts.Default(nil)")
	}
	h.def = r
}

// Fallback sets the handler for requests that match no host rule when no
// default Router is set. It is not inherited by the host Routers: give
// them [Router.Fallback] too. The zero default replies 404.
func (h *Hosts) Fallback(fb http.Handler) {
	if fb == nil {
		panic("router: Hosts.Fallback(nil)")
	}
	h.fallback = fb
}

// ServeHTTP dispatches the request to a host Router.
func (h *Hosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := HostName(r.Host)
	var first *Router
	try := func(rt *Router) bool {
		if first == nil {
			first = rt
		}
		if r := routable(r, rt); h.match(rt, r) {
			rt.ServeHTTP(w, r)
			return true
		}
		return false
	}
	if rule := h.exact[name]; rule != nil && try(rule.router) {
		return
	}
	for _, rule := range h.wild {
		if strings.HasSuffix(name, rule.pattern[1:]) && try(rule.router) {
			return
		}
	}
	if h.def != nil && try(h.def) {
		return
	}
	switch {
	case first != nil:
		first.ServeHTTP(w, r)
	case h.fallback != nil:
		MarkFallback(r.Context())
		h.fallback.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Hosts) match(rt *Router, r *http.Request) bool {
	rctx := h.pool.Get().(*chi.Context)
	rctx.Reset()
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}
	ok := rt.Match(rctx, r.Method, path)
	h.pool.Put(rctx)
	return ok
}

// Inventory lists the routes of every host Router, in the order the rules
// were added, with [RouteInfo.Host] set, then those of the default Router
// with Host "".
func (h *Hosts) Inventory() []RouteInfo {
	var out []RouteInfo
	for _, rule := range h.order {
		for _, ri := range rule.router.Inventory() {
			ri.Host = rule.pattern
			out = append(out, ri)
		}
	}
	if h.def != nil {
		out = append(out, h.def.Inventory()...)
	}
	return out
}

// HostName returns the host name of a Host header value as host rules see
// it: lower-case, without the port, the IPv6 brackets or a trailing dot.
func HostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

func normalizeRule(p string) string {
	key := strings.TrimSuffix(strings.ToLower(p), ".")
	rest := strings.TrimPrefix(key, "*.")
	if rest == "" {
		panic(fmt.Sprintf("router: invalid host rule %q", p))
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			panic(fmt.Sprintf("router: invalid host rule %q: only exact names and a leading \"*.\" are supported", p))
		}
	}
	return key
}
