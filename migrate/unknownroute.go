package migrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graft-dev/graft/internal/chipattern"
	"github.com/graft-dev/graft/router"
)

// maxListedRoutes is how many staged routes an unknown-route error lists.
const maxListedRoutes = 10

// unknownRoute is the error for a route that names no staged route. It
// says what to write instead: the staged routes of the same shape (the
// pattern with every parameter alike, so that Flask's <id>, Django's
// <int:id> and another name in braces find chi's {id}, under any method),
// else the staged routes there are, else that there are none yet. A HEAD
// that is not staged but whose GET is gets told that it follows the GET's
// line.
func unknownRoute(route string, routes map[string]router.StagedRoute) error {
	keys := make([]string, 0, len(routes))
	for k := range routes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	msg := fmt.Sprintf("migrate: unknown route %q (no Go route has this method and pattern", route)
	method, pattern, _ := strings.Cut(route, " ")
	method, shape := strings.ToUpper(strings.TrimSpace(method)), patternShape(strings.TrimSpace(pattern))
	same, other := ofShape(method, shape, keys)
	var gets []string // for a HEAD, the GET routes whose line it follows
	if method == "HEAD" && len(same) == 0 {
		for _, k := range other {
			if strings.HasPrefix(k, "GET ") {
				gets = append(gets, k)
			}
		}
	}
	switch like := append(same, other...); {
	case len(gets) > 0 && !strings.Contains(pattern, "<"):
		return fmt.Errorf("%s; HEAD follows the line of %s: list that route)", msg, quoteList(gets, " or "))
	case len(like) > 0 && strings.Contains(pattern, "<"):
		return fmt.Errorf("%s; did you mean %s? Patterns are chi's, {id}, not Flask's <id>, Django's <int:id> or Bottle's <id:int>%s)", msg, quoteList(like, " or "), emptyRest("; ", pattern, like))
	case len(like) > 0:
		return fmt.Errorf("%s; did you mean %s?%s)", msg, quoteList(like, " or "), emptyRest(" ", pattern, like))
	case len(keys) == 0:
		return fmt.Errorf("%s; the router has no route for one method yet: register the Go routes before migrate.New)", msg)
	case len(slashed(method, shape, keys)) > 0:
		return fmt.Errorf("%s; did you mean %s? chi treats /a and /a/ as two routes%s)",
			msg, quoteList(slashed(method, shape, keys), " or "), ifTrue(strings.Contains(pattern, "<"), ", and patterns are chi's, {id}, not Flask's <id>, Django's <int:id> or Bottle's <id:int>"))
	case len(mounted(method, shape, keys)) > 0:
		return fmt.Errorf("%s; did you mean %s? A route is named by its Go route's full pattern, with the prefix it is mounted at: a file written for another mount prefix names none)",
			msg, quoteList(mounted(method, shape, keys), " or "))
	case len(misspelt(method, shape, keys)) > 0:
		return fmt.Errorf("%s; did you mean %s? The pattern differs by a letter or two%s)",
			msg, quoteList(misspelt(method, shape, keys), " or "), ifTrue(strings.Contains(pattern, "<"), ", and patterns are chi's, {id}, not Flask's <id>, Django's <int:id> or Bottle's <id:int>"))
	case len(keys) > maxListedRoutes:
		return fmt.Errorf("%s; the routes that can be staged: %s and %d more; the admin API's GET /routes lists them all)",
			msg, quoteList(keys[:maxListedRoutes], ", "), len(keys)-maxListedRoutes)
	default:
		return fmt.Errorf("%s; the routes that can be staged: %s)", msg, quoteList(keys, ", "))
	}
}

// mounted returns the staged routes of method (keys, sorted) whose
// pattern differs from shape (a patternShape) only by a prefix of whole
// segments, one way or the other: "GET /shop/api/search" for "GET
// /api/search" and the reverse, as a stages file written for another
// mount prefix (the examples' -mount) names them. The root "/" is no
// one's suffix.
func mounted(method, shape string, keys []string) []string {
	var out []string
	for _, k := range keys {
		m, p, _ := strings.Cut(k, " ")
		ps := patternShape(p)
		if m != method || ps == "/" || shape == "/" || ps == shape {
			continue
		}
		if strings.HasSuffix(shape, ps) && strings.HasPrefix(ps, "/") || strings.HasSuffix(ps, shape) && strings.HasPrefix(shape, "/") {
			out = append(out, k)
		}
	}
	return out
}

// unknownRoute is the error for route, which names none of m's staged
// routes, or is not "METHOD /pattern" at all.
func (m *Migrator) unknownRoute(route string) error {
	if _, err := normalizeRoute(route); err != nil {
		return err
	}
	routes, _ := m.routes()
	return unknownRoute(route, routes)
}

// patternShape returns a route pattern with each parameter, chi's {name}
// or {name:regexp} (whose regexp may hold braces), Flask's or Django's
// <name> or <converter:name> and Bottle's <name:filter>, written as {};
// and each catch-all, chi's "*", graft's constrained "{*:regexp}" (the
// route map's for a path converter), Flask's and Django's <path:name>,
// Bottle's <name:path> and Pyramid's *stararg ending the pattern, written
// as *.
func patternShape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '{':
			start := i
			if i = chipattern.ClosingBrace(p, i); i < 0 {
				i = len(p) // unclosed: the rest is the parameter
			}
			if strings.HasPrefix(p[start:], "{*:") {
				b.WriteString("*")
			} else {
				b.WriteString("{}")
			}
		case '<':
			if j := strings.IndexByte(p[i:], '>'); j > 0 {
				if strings.HasPrefix(p[i:], "<path:") || strings.HasSuffix(p[i:i+j], ":path") {
					b.WriteString("*")
				} else {
					b.WriteString("{}")
				}
				i += j
			} else {
				b.WriteByte(c)
			}
		case '*':
			b.WriteByte(c)
			if pyramidStararg(p[i:]) {
				i = len(p) // the name
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pyramidStararg reports whether p, from a "*", is Pyramid's *stararg
// ending a pattern ("*subpath"), which takes the rest of the path, the
// empty rest too, as chi's "*" does.
func pyramidStararg(p string) bool {
	if len(p) < 2 || p[0] != '*' || p[1] >= '0' && p[1] <= '9' {
		return false
	}
	for _, c := range p[1:] {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// emptyRest says, when pattern ends in a path converter's catch-all
// ("{*:[^/].*}" as the route map writes Flask's <path:p>, or <path:p>
// itself, or Bottle's <p:path>; not Pyramid's *stararg, which takes the
// empty rest) and a route of like ends in chi's plain "*", what differs:
// "*" also takes the empty rest, which the path converter refuses. It
// returns "" otherwise; sep goes before what it says.
func emptyRest(sep, pattern string, like []string) string {
	pattern = strings.TrimSpace(pattern)
	if !strings.HasSuffix(patternShape(pattern), "*") || strings.HasSuffix(pattern, "*") {
		return ""
	}
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 && pyramidStararg(pattern[i:]) {
		return "" // Pyramid's *stararg takes the empty rest too
	}
	for _, k := range like {
		if strings.HasSuffix(k, "/*") {
			_, p, _ := strings.Cut(k, " ")
			return sep + fmt.Sprintf(`%q also takes the empty rest (%q), which Flask's, Django's and Bottle's path converters refuse: to leave that request to Python, register the Go route with %s and name that one`,
				k, strings.TrimSuffix(p, "*"), routeMapCatchAll)
		}
	}
	return ""
}

// quoteList quotes each route and joins them with sep.
func quoteList(routes []string, sep string) string {
	q := make([]string, len(routes))
	for i, r := range routes {
		q[i] = fmt.Sprintf("%q", r)
	}
	return strings.Join(q, sep)
}

// slashed returns the staged routes (keys, sorted) whose pattern is
// shape (a patternShape) with a trailing slash added or taken away, those
// of method first: "GET /api/users/{id}" for "GET /api/users/{id}/".
func slashed(method, shape string, keys []string) []string {
	other := shape + "/"
	if s, ok := strings.CutSuffix(shape, "/"); ok {
		other = s
	}
	if other == "" || other == "//" {
		return nil
	}
	same, rest := ofShape(method, other, keys)
	return append(same, rest...)
}

// ofShape returns the routes of keys whose pattern has shape (a
// patternShape): those of method, and those of other methods.
func ofShape(method, shape string, keys []string) (same, other []string) {
	for _, k := range keys {
		m, p, _ := strings.Cut(k, " ")
		if patternShape(p) != shape {
			continue
		}
		if m == method {
			same = append(same, k)
		} else {
			other = append(other, k)
		}
	}
	return same, other
}

// ifTrue returns s when cond holds, else "".
func ifTrue(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// maxTypo is the most letters (added, removed or changed, ignoring case)
// by which a route's literal segments may differ from a staged route's
// for misspelt to offer it.
const maxTypo = 2

// misspelt returns the staged routes (keys, sorted) whose pattern differs
// from shape (a patternShape) by a typo: the same segments, parameters
// and catch-alls in the same places, and the literal segments within
// maxTypo letters of theirs in all, ignoring case ("/api/user/{id}" for
// "/api/users/{id}", "/Login" for "/login"). Of those, it returns the
// nearest, those of method first.
func misspelt(method, shape string, keys []string) []string {
	segs := strings.Split(shape, "/")
	best := maxTypo + 1
	var same, other []string
	for _, k := range keys {
		m, p, _ := strings.Cut(k, " ")
		ps := strings.Split(patternShape(p), "/")
		if len(ps) != len(segs) {
			continue
		}
		d := 0
		for i := range segs {
			a, b := segs[i], ps[i]
			if param(a) || param(b) {
				if a != b {
					d = maxTypo + 1
				}
			} else {
				d += editDistance(strings.ToLower(a), strings.ToLower(b), maxTypo+1)
			}
			if d > maxTypo {
				break
			}
		}
		if d > best || d > maxTypo {
			continue
		}
		if d < best {
			best, same, other = d, nil, nil
		}
		if m == method {
			same = append(same, k)
		} else {
			other = append(other, k)
		}
	}
	return append(same, other...)
}

// param reports whether seg, a segment of a patternShape, holds a
// parameter or a catch-all.
func param(seg string) bool { return strings.Contains(seg, "{}") || strings.Contains(seg, "*") }

// editDistance returns the Levenshtein distance between a and b (bytes),
// or limit when it is at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			low = min(low, cur[j])
		}
		if low >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
