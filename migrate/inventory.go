package migrate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/graft-dev/graft/internal/chipattern"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// Inventory is the migration inventory: the Python app's own routes
// ([wsgi.Container.AppRoutes]) joined with the Go router's
// ([router.Router.Inventory]). Build it with [NewInventory]; it encodes
// to JSON as is and prints as a table with [Inventory.WriteTable].
type Inventory struct {
	// Framework is the Python app's framework ("flask", "django",
	// "bottle", "falcon", "pyramid", "unknown", "mixed").
	Framework string `json:"framework"`
	// Python has one line per Python route, in the framework's order.
	Python []PythonRoute `json:"python"`
	// GoOnly lists the Go routes that match no Python route: new Go-only
	// routes, or a typo in a pattern meant to take over a Python route.
	GoOnly []GoRoute `json:"go_only"`
	// Conflicts lists the Go routes that overlap a Python route without
	// matching it exactly.
	Conflicts []Conflict `json:"conflicts"`
	// Coverage counts the Python routes Go serves.
	Coverage Coverage `json:"coverage"`
}

// PythonRoute is one Python route and who serves it now.
type PythonRoute struct {
	// Rule, Pattern, Untranslatable, Methods, Endpoint and View are the
	// Python route's (see [wsgi.AppRoute]). Methods is nil for a route
	// that takes any method.
	Rule    string `json:"rule"`
	Pattern string `json:"pattern"`
	// Alternate is the other form the route serves without a redirect
	// (see [wsgi.AppRoute].Alternate): a Flask rule's with
	// strict_slashes=False, a Falcon route's with its last field empty;
	// "" for other routes. Go serves such a
	// route when it serves both patterns.
	Alternate      string   `json:"alternate,omitempty"`
	Untranslatable string   `json:"untranslatable,omitempty"`
	Methods        []string `json:"methods"`
	Endpoint       string   `json:"endpoint"`
	View           string   `json:"view"`
	// Go lists the Go routes with the same pattern (up to parameter
	// names) and constraints, one per method, with their stage.
	Go []GoRoute `json:"go"`
	// Status is "go" when Go serves every method of the route at the go
	// stage (on Pattern and on Alternate, if any), "migrating" when a Go
	// route exists for some method but not every method is served by Go
	// yet (missing, or in the python, shadow or canary stage, or served on
	// one of Pattern and Alternate only), "python" when no Go route
	// matches it, and
	// "unknown" when its pattern cannot be translated (see
	// Untranslatable), so that it cannot be matched.
	Status string `json:"status"`
	// Note, when not "", says what a Go route counted as matching leaves
	// to Python all the same: the decimal digits other than 0-9 that
	// Flask's int and float converters (and a Pyramid, Bottle or Django
	// re_path regex's \d) also take (see [wsgi.RouteParam].PythonRegex) and a Go route's
	// [0-9]+ does not;
	// such paths miss the Go route and reach Python's fallback; the
	// empty rest that a Python catch-all takes and a Go {*:.+} refuses,
	// likewise. Or the slash form (Pattern or Alternate) that Go does
	// not serve. Or, the other way, what a Go route counted as matching
	// takes from Python: the empty rest ("/files/") that chi's * takes
	// and a Python path converter refuses with a 404.
	Note string `json:"note,omitempty"`
}

// GoRoute is a Go route of the router's inventory.
type GoRoute struct {
	// Method is the route's method, "*" for every method.
	Method string `json:"method"`
	// Pattern is the route's full chi pattern.
	Pattern string `json:"pattern"`
	// Name is the route's name, if any.
	Name string `json:"name,omitempty"`
	// Route is the staged route whose stage this is, "METHOD /pattern",
	// the route's name in the stages file, in GET /routes and on the
	// console's cards: Method and Pattern, but for the path of a
	// sub-Router's prefix without its slash ("/api", which chi serves
	// with the sub-Router's "/" route: see [router.RouteInfo].Of), whose
	// Route is that "/" route's ("GET /api/"). "" for a route of every
	// method, which is not staged.
	Route string `json:"route,omitempty"`
	// Stage is the stage requests see (the effective stage): always go
	// without a Migrator, and for routes that are not staged (every
	// method, Mount).
	Stage Stage `json:"stage"`
	// Unmatched is set in GoOnly for a Go route whose parameters take a
	// few literal values ("/{lang:(?:en-us|fr|de)}/about/"), of which
	// some paths are Python routes and others match none: it lists the
	// others ("/de/about/"), which Go adds.
	Unmatched []string `json:"unmatched,omitempty"`
}

// Conflict is a Go route that overlaps a Python route without matching
// it.
type Conflict struct {
	// Kind is one of:
	//   - "partial": the Go pattern captures only part of the Python
	//     route ("/users/me" or "/users/{id:[0-9]+}" against Flask's
	//     "/users/<name>"); the rest stays with Python.
	//   - "shadows": the Go pattern captures all of a more specific Python
	//     route ("/users/{id}" against "/users/me"), which Python's own
	//     precedence would have sent elsewhere.
	//   - "constraint": same shape, but the parameter constraints differ
	//     (Django's <int:pk> against a Go {pk} that accepts letters).
	//   - "trailing-slash": the patterns differ only by a trailing slash,
	//     which chi treats as two routes and Flask and Django redirect.
	Kind string `json:"kind"`
	// Go is the Go route.
	Go GoRoute `json:"go"`
	// PythonRule and PythonPattern identify the Python route.
	PythonRule    string `json:"python_rule"`
	PythonPattern string `json:"python_pattern"`
	// Detail says what differs.
	Detail string `json:"detail"`
}

// Coverage counts the Python routes Go serves.
type Coverage struct {
	// Total is the number of Python routes; Served, how many have Status
	// "go"; Migrating, how many "migrating"; Unknown, how many cannot be
	// matched (untranslatable patterns).
	Total     int `json:"total"`
	Served    int `json:"served"`
	Migrating int `json:"migrating"`
	Unknown   int `json:"unknown"`
	// Percent is Served/Total in percent, 0 with no Python routes.
	Percent float64 `json:"percent"`
	// Summary is "N of M Python routes (P%) served by Go".
	Summary string `json:"summary"`
}

// NewInventory joins the Python route map py with goRoutes, the Go
// router's inventory ([router.Router.Inventory] or
// [router.Hosts.Inventory]). The stage of each Go route comes from m (its
// effective stage, see [Migrator.Route]); a nil m means every Go route is
// at the go stage. Fallback entries and routes of other hosts than the
// default one are ignored, and so are the implicit HEAD routes of GET
// routes (the GET route stands for both). The implicit route at a
// sub-Router's prefix ("/api", served by the "/api/" route: see
// [router.RouteInfo].Of) is a Go route with the stage of the route it
// follows.
//
// A Python route is matched by a Go route with the same segments, the same
// parameter positions and the same constraints (parameter names may
// differ). A parameter whose constraint is a few literal values (an
// alternation, "/{lang:(?:en-us|fr)}/shop/me/", or Flask's <any(en,
// fr):lang>) stands for one path per value: such a Go route matches each
// Python route that one of its paths equals (the per-language routes of
// Django's i18n_patterns), and the paths that match no Python route are
// listed in GoOnly with [GoRoute].Unmatched; a Python route with such a
// parameter is served when Go serves each of its paths, with one route or
// one per value. Methods are compared as Python declares them, leaving out the
// HEAD and OPTIONS Flask adds to every rule (Go's GET routes serve HEAD);
// a route that declares no methods (a plain Django view) is served by Go
// when Go serves GET.
func NewInventory(py *wsgi.AppRouteMap, goRoutes []router.RouteInfo, m *Migrator) *Inventory {
	inv := &Inventory{Framework: "unknown", Python: []PythonRoute{}, GoOnly: []GoRoute{}, Conflicts: []Conflict{}}
	var pyRoutes []wsgi.AppRoute
	if py != nil {
		inv.Framework = py.Framework
		pyRoutes = py.Routes
	}
	type goEntry struct {
		GoRoute
		segs    []segment
		vars    []variant // the paths of an alternation (see variants), nil for others
		covered []bool    // per variant: equal to a Python route's path
		matched bool
	}
	var gos []*goEntry
	impliedHead := make(map[string]bool) // patterns whose HEAD a GET route implies
	for _, ri := range goRoutes {
		if ri.Method == http.MethodHead && ri.Implicit && ri.Of == "" && ri.Host == "" {
			impliedHead[ri.Pattern] = true
		}
	}
	for _, ri := range goRoutes {
		if ri.Target != router.TargetGo || ri.Host != "" || ri.Implicit && ri.Of == "" {
			continue // implicit HEAD routes follow their GET route
		}
		if ri.Method == http.MethodHead && impliedHead[ri.Of] {
			continue // HEAD at a sub-Router's prefix, implied by its GET route too
		}
		g := &goEntry{GoRoute: GoRoute{Method: ri.Method, Pattern: ri.Pattern, Name: ri.Name, Stage: StageGo}}
		if ri.Method != "*" {
			staged := router.StagedRoute{Method: ri.Method, Pattern: ri.Pattern}
			if ri.Of != "" {
				staged.Pattern = ri.Of // a sub-Router's prefix, served by its "/" route
			}
			g.Route = staged.Key()
			if m != nil {
				if st, ok := m.Route(g.Route); ok {
					g.Stage = st.Effective
				}
			}
		}
		g.segs = parseSegments(ri.Pattern)
		g.vars = variants(ri.Pattern, g.segs)
		g.covered = make([]bool, len(g.vars))
		gos = append(gos, g)
	}
	pySegs := make([][]segment, len(pyRoutes))
	pyVars := make([][]variant, len(pyRoutes))
	altSegs := make([][]segment, len(pyRoutes))
	for i, pr := range pyRoutes {
		if pr.Pattern != "" {
			pySegs[i] = parseSegments(pr.Pattern)
			widen(pySegs[i], pr.Params)
			// Flask's and Django's path converters refuse an empty rest
			// (chi's catch-all and a regex's (?P<p>.*) take it).
			if n := len(pySegs[i]); n > 0 && pySegs[i][n-1].catchAll && len(pr.Params) > 0 && pr.Params[len(pr.Params)-1].Converter == "path" {
				pySegs[i][n-1].nonEmpty = true
			}
			pyVars[i] = variants(pr.Pattern, pySegs[i])
			if pr.Alternate != "" {
				altSegs[i] = parseSegments(pr.Alternate)
				widen(altSegs[i], pr.Params)
			}
		}
	}
	for i, pr := range pyRoutes {
		line := PythonRoute{Rule: pr.Rule, Pattern: pr.Pattern, Alternate: pr.Alternate, Untranslatable: pr.Untranslatable,
			Methods: pr.Methods, Endpoint: pr.Endpoint, View: viewName(pr), Go: []GoRoute{}}
		if pr.Pattern == "" {
			line.Status = "unknown"
			inv.Python = append(inv.Python, line)
			continue
		}
		var onMain, onAlt, slashed []GoRoute
		perVar := make([][]GoRoute, len(pyVars[i])) // Go routes serving one path of Python's alternation
		joinedVars := false
		for _, g := range gos {
			if !methodsOverlap(g.Method, pr.Methods) {
				continue
			}
			if altSegs[i] != nil {
				if rel, _ := relate(g.segs, altSegs[i]); rel == relEqual || rel == relASCII {
					line.Go = append(line.Go, g.GoRoute)
					onAlt = append(onAlt, g.GoRoute)
					g.matched = true
					continue
				}
			}
			rel, detail := relate(g.segs, pySegs[i])
			switch rel {
			case relEqual, relASCII:
				line.Go = append(line.Go, g.GoRoute)
				onMain = append(onMain, g.GoRoute)
				g.matched = true
				if rel == relASCII {
					line.Note = detail
				}
				continue
			case relWider, relNarrower, relOverlap:
				if k, note := joinPaths(g.segs, g.vars, g.covered, pySegs[i], pyVars[i]); k != nil {
					// Paths of an alternation on either side are equal.
					line.Go = append(line.Go, g.GoRoute)
					g.matched = true
					if note != "" {
						line.Note = joinNote(line.Note, note)
					}
					if pyVars[i] == nil {
						onMain = append(onMain, g.GoRoute)
						continue
					}
					joinedVars = true
					for _, kk := range k {
						perVar[kk] = append(perVar[kk], g.GoRoute)
					}
					continue
				}
				kind := "partial"
				switch {
				case sameShape(g.segs, pySegs[i]):
					kind = "constraint"
				case rel == relWider:
					kind = "shadows"
				}
				inv.Conflicts = append(inv.Conflicts, Conflict{Kind: kind, Go: g.GoRoute, PythonRule: pr.Rule, PythonPattern: pr.Pattern, Detail: detail})
			case relNone:
				if g.Pattern != pr.Pattern && strings.TrimSuffix(g.Pattern, "/") == strings.TrimSuffix(pr.Pattern, "/") {
					slashed = append(slashed, g.GoRoute)
				}
				continue
			}
			g.matched = true // it overlaps a Python route: not Go-only
		}
		for _, g := range slashed {
			// A trailing-slash conflict unless Go serves the Python
			// pattern for the method as well (chi serves "/api" with the
			// "/api/" route of a sub-Router: see router.RouteInfo.Of).
			if !slices.ContainsFunc(onMain, func(o GoRoute) bool { return o.Method == g.Method || o.Method == "*" }) {
				inv.Conflicts = append(inv.Conflicts, Conflict{Kind: "trailing-slash", Go: g, PythonRule: pr.Rule, PythonPattern: pr.Pattern,
					Detail: fmt.Sprintf("Go serves %s, Python %s: chi treats them as two routes", g.Pattern, pr.Pattern)})
			}
		}
		line.Status = routeStatus(pr.Methods, line.Go)
		if joinedVars && line.Status == "go" {
			// Go serves some paths of Python's alternation with routes of
			// their own: the route is Go's when each of its paths is.
			var left []string
			for k, v := range pyVars[i] {
				if routeStatus(pr.Methods, append(slices.Clip(onMain), perVar[k]...)) != "go" {
					left = append(left, v.pattern())
				}
			}
			if len(left) > 0 {
				line.Status = "migrating"
				line.Note = joinNote(line.Note, fmt.Sprintf("Go does not serve %s for every method at the go stage: those requests reach Python",
					strings.Join(left, ", ")))
			}
		}
		if pr.Alternate != "" && line.Status == "go" {
			// Flask serves both forms: Go serves the route when it serves
			// both, every method at the go stage.
			for _, f := range []struct {
				pattern string
				gos     []GoRoute
			}{{pr.Pattern, onMain}, {pr.Alternate, onAlt}} {
				if routeStatus(pr.Methods, f.gos) != "go" {
					line.Status = "migrating"
					line.Note = joinNote(line.Note, fmt.Sprintf("Flask serves both %s and %s without a redirect (strict_slashes=False); Go does not serve %s for every method at the go stage: those requests reach Python",
						pr.Pattern, pr.Alternate, f.pattern))
				}
			}
		}
		inv.Python = append(inv.Python, line)
	}
	for _, g := range gos {
		if !g.matched {
			inv.GoOnly = append(inv.GoOnly, g.GoRoute)
			continue
		}
		// The paths of a Go alternation that touch no Python route.
		var unmatched []string
		for j, v := range g.vars {
			if g.covered[j] {
				continue
			}
			touched := false
			for x, pr := range pyRoutes {
				if pySegs[x] != nil && methodsOverlap(g.Method, pr.Methods) {
					if rel, _ := relate(v.segs, pySegs[x]); rel != relNone {
						touched = true
						break
					}
				}
			}
			if !touched {
				unmatched = append(unmatched, v.pattern())
			}
		}
		if len(unmatched) > 0 {
			gr := g.GoRoute
			gr.Unmatched = unmatched
			inv.GoOnly = append(inv.GoOnly, gr)
		}
	}
	c := &inv.Coverage
	for _, l := range inv.Python {
		c.Total++
		switch l.Status {
		case "go":
			c.Served++
		case "migrating":
			c.Migrating++
		case "unknown":
			c.Unknown++
		}
	}
	if c.Total > 0 {
		c.Percent = float64(c.Served) * 100 / float64(c.Total)
	}
	c.Summary = fmt.Sprintf("%d of %d Python routes (%.0f%%) served by Go", c.Served, c.Total, c.Percent)
	return inv
}

// Inventory joins py with the Migrator's router (see [NewInventory]).
func (m *Migrator) Inventory(py *wsgi.AppRouteMap) *Inventory {
	return NewInventory(py, m.r.Inventory(), m)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func viewName(r wsgi.AppRoute) string {
	if r.Module == "" {
		return r.View
	}
	return r.Module + "." + r.View
}

// neededMethods are the methods Go must serve for a Python route to be
// served: its declared methods without the automatic HEAD and OPTIONS,
// GET for a route that declares none.
func neededMethods(methods []string) []string {
	if methods == nil {
		return []string{http.MethodGet}
	}
	var out []string
	hasGet := slices.Contains(methods, http.MethodGet)
	for _, m := range methods {
		if m == http.MethodOptions || (m == http.MethodHead && hasGet) {
			continue
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		out = methods
	}
	return out
}

func methodsOverlap(goMethod string, py []string) bool {
	return goMethod == "*" || py == nil || slices.Contains(py, goMethod)
}

func routeStatus(methods []string, gos []GoRoute) string {
	if len(gos) == 0 {
		return "python"
	}
	for _, need := range neededMethods(methods) {
		ok := false
		for _, g := range gos {
			if (g.Method == need || g.Method == "*") && g.Stage == StageGo {
				ok = true
				break
			}
		}
		if !ok {
			return "migrating"
		}
	}
	return "go"
}

// segment is one "/"-separated piece of a chi pattern.
type segment struct {
	static   string
	param    bool
	re       string // constraint, "" for any text without "/"
	wide     string // a Python parameter's own constraint where wider than re (see widen), else ""
	mixed    string // a segment of text and parameters as written ("v{n:[0-9]+}.json"), else ""
	catchAll bool
	nonEmpty bool // a catch-all that needs one character at least (a Python path converter's, {*:.+})
}

// widen gives the parameter segments of a Python pattern what its
// converters accept where that is wider than the pattern's constraint
// (wsgi.RouteParam.PythonRegex: Flask's numbers take every decimal
// digit). params are the route's parameters, in the pattern's order.
func widen(segs []segment, params []wsgi.RouteParam) {
	k := 0
	for i := range segs {
		switch {
		case segs[i].catchAll:
			k++
		case segs[i].mixed != "":
			n := paramCount(segs[i].mixed)
			wides := make([]string, n)
			any := false
			for j := range wides {
				if k+j < len(params) && params[k+j].PythonRegex != "" {
					wides[j], any = params[k+j].PythonRegex, true
				}
			}
			if any {
				segs[i].wide = mixedRegex(segs[i].mixed, wides)
			}
			k += n
		case segs[i].param:
			if k < len(params) && params[k].PythonRegex != "" {
				segs[i].wide = params[k].PythonRegex
			}
			k++
		}
	}
}

// parseSegments splits a chi pattern. A segment that mixes text and
// parameters ("v{n}.json") is kept as a regex of its own.
func parseSegments(p string) []segment {
	var out []segment
	for _, s := range splitPattern(p) {
		switch {
		case s == "*":
			out = append(out, segment{catchAll: true})
		case strings.HasPrefix(s, "{*:") && chipattern.ClosingBrace(s, 0) == len(s)-1:
			// graft's constrained catch-all, a Python path converter's
			// ({*:.+}): nonEmpty when its regexp refuses the empty rest
			re := s[3 : len(s)-1]
			out = append(out, segment{catchAll: true, re: re, nonEmpty: !fullMatch(re, "")})
		case !strings.Contains(s, "{"):
			out = append(out, segment{static: s})
		case s[0] == '{' && s[len(s)-1] == '}' && chipattern.ClosingBrace(s, 0) == len(s)-1:
			name, re, _ := strings.Cut(s[1:len(s)-1], ":")
			_ = name
			out = append(out, segment{param: true, re: re})
		default:
			out = append(out, segment{param: true, re: mixedRegex(s, nil), mixed: s})
		}
	}
	return out
}

// splitPattern splits at "/" outside braces.
func splitPattern(p string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				if i > 0 {
					out = append(out, p[start:i])
				}
				start = i + 1
			}
		}
	}
	return append(out, p[start:])
}

// paramCount counts the parameters of a segment: its {...} at the top
// level, not the braces of their regexes.
func paramCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '{' {
			n++
			end := chipattern.ClosingBrace(s, i)
			if end < 0 {
				break
			}
			i = end
		}
	}
	return n
}

// mixedRegex turns a segment like "v{n:[0-9]+}.json" into one regex;
// wides[k], when given and not "", replaces the constraint of its k-th
// parameter (see widen).
func mixedRegex(s string, wides []string) string {
	var b strings.Builder
	k := 0
	for i := 0; i < len(s); {
		if s[i] == '{' {
			end := chipattern.ClosingBrace(s, i)
			if end < 0 {
				b.WriteString(regexp.QuoteMeta(s[i:]))
				break
			}
			_, re, ok := strings.Cut(s[i+1:end], ":")
			if !ok || re == "" {
				re = "[^/]+"
			}
			if k < len(wides) && wides[k] != "" {
				re = wides[k]
			}
			k++
			b.WriteString("(?:" + re + ")")
			i = end + 1
			continue
		}
		j := strings.IndexByte(s[i:], '{')
		if j < 0 {
			j = len(s) - i
		}
		b.WriteString(regexp.QuoteMeta(s[i : i+j]))
		i += j
	}
	return b.String()
}

type relation int

const (
	relNone     relation = iota // disjoint
	relEqual                    // the same paths
	relWider                    // Go matches every path of the Python route, and more
	relNarrower                 // Go matches some paths of the Python route only
	relOverlap                  // they share some paths; neither contains the other
	// relASCII: equal but for paths with decimal digits other than 0-9,
	// which a Python number converter takes and Go's [0-9] does not
	// (see widen), or but for the empty rest, which a Python catch-all
	// takes and Go's {*:.+} does not: they miss the Go route and reach
	// Python, so the route counts as matched, with a note. Or but for
	// the empty rest that Go's * takes and a Python path converter
	// refuses (a 404 there): matched too, with a note.
	relASCII
)

// relate compares a Go pattern with a Python pattern, segment by segment.
func relate(g, p []segment) (relation, string) {
	rel := relEqual
	var details []string
	add := func(r relation, d string) {
		if d != "" {
			details = append(details, d)
		}
		rel = rel.with(r)
	}
	for i := 0; ; i++ {
		switch {
		case i == len(g) && i == len(p):
			return rel, strings.Join(details, "; ")
		case i < len(g) && g[i].catchAll:
			switch {
			case i == len(p):
				return relNone, "" // Python's pattern ended before the "/" chi's catch-all needs
			case i == len(p)-1 && p[i].catchAll && g[i].nonEmpty && !p[i].nonEmpty:
				// Go's {*:.+} against a Python rest that may be empty
				// ((?P<p>.*)$): equal but for the empty rest, which
				// reaches Python through the fallback, as Flask's other
				// digits do (relASCII): matched, with a note.
				return combine(rel, relASCII, append(details, fmt.Sprintf(
					"Go's {*:%s} refuses the empty rest, which Python's takes: those requests reach Python, but would not survive its removal", g[i].re)))
			case i == len(p)-1 && p[i].catchAll && !g[i].nonEmpty && p[i].nonEmpty:
				// Go's chi-style * against a path converter, which refuses
				// the empty rest * takes: matched all the same, what the Go
				// handler answers there (a static mount's 404) being its
				// business, and calling every such mount a conflict would
				// hide real ones; but with a note, as the unknown-route
				// hint says (emptyRest): Go takes that request from
				// Python, which answered 404, from the canary stage on.
				return combine(rel, relASCII, append(details, fmt.Sprintf(
					"Go's %s also takes the empty rest, which Python's path converter refuses (404): Go answers it from the canary stage on (the shadow stage compares it); registered with %s, the Go route would leave those requests to Python",
					catchAllPattern(g[i].re), routeMapCatchAll)))
			case i == len(p)-1 && p[i].catchAll:
				return combine(rel, relEqual, details)
			}
			return combine(rel, relWider, append(details, "Go's catch-all takes the rest of the path"))
		case i < len(p) && p[i].catchAll:
			switch {
			case i == len(g):
				return relNone, "" // Go's pattern ended before the "/" of Python's rest
			case p[i].nonEmpty && i == len(g)-1 && !g[i].param && g[i].static == "":
				return relNone, "" // Go's only rest is the empty one, which Python refuses
			}
			return combine(rel, relNarrower, append(details, "Python's path parameter takes the rest of the path"))
		case i == len(g) || i == len(p):
			return relNone, ""
		}
		r, d := relateSegment(g[i], p[i])
		if r == relNone {
			return relNone, ""
		}
		add(r, d)
	}
}

// routeMapCatchAll names the constrained catch-alls the route map writes
// for Flask's and Django's path converters, which refuse the empty rest
// chi's * takes.
const routeMapCatchAll = "the route map's pattern ({*:[^/].*} for Flask's <path:p>, {*:.+} for Django's and Bottle's)"

// catchAllPattern writes a catch-all segment: chi's "*", or graft's
// constrained "{*:re}".
func catchAllPattern(re string) string {
	if re == "" {
		return "*"
	}
	return "{*:" + re + "}"
}

// combine returns rel joined with r (see with), and the details.
func combine(rel, r relation, details []string) (relation, string) {
	return rel.with(r), strings.Join(details, "; ")
}

// with joins what two parts of a comparison found: equal parts change
// nothing, the first difference decides, and two different differences
// make an overlap.
func (rel relation) with(r relation) relation {
	switch {
	case r == relEqual:
		return rel
	case rel == relEqual, rel == r:
		return r
	case r == relASCII: // a real difference decides
		return rel
	case rel == relASCII:
		return r
	}
	return relOverlap
}

func relateSegment(g, p segment) (relation, string) {
	switch {
	case !g.param && !p.param:
		if g.static == p.static {
			return relEqual, ""
		}
		return relNone, ""
	case g.param && !p.param:
		if fullMatch(g.re, p.static) {
			return relWider, fmt.Sprintf("Go's parameter (%s) also takes Python's literal %q", describeRe(g.re), p.static)
		}
		return relNone, ""
	case !g.param && p.param:
		if fullMatch(p.python(), g.static) {
			return relNarrower, fmt.Sprintf("Go's literal %q is one value of Python's parameter (%s)", g.static, describeRe(p.python()))
		}
		return relNone, ""
	}
	pre := p.python()
	if sameRegex(g.re, pre) {
		return relEqual, ""
	}
	if p.wide != "" && sameRegex(g.re, p.re) {
		return relASCII, fmt.Sprintf("Go's %s reads the digits 0-9 only; Python's parameter (%s) also takes the other decimal digits (Arabic-Indic, fullwidth, ...: int() reads them), whose paths miss the Go route and reach Python",
			describeRe(g.re), describeRe(pre))
	}
	switch {
	case g.re == "":
		return relWider, fmt.Sprintf("constraint: Go's parameter accepts any segment, Python's only %s", p.describe())
	case pre == "":
		return relNarrower, fmt.Sprintf("constraint: Go's parameter accepts only %s, Python's any segment", describeRe(g.re))
	}
	return relOverlap, fmt.Sprintf("constraint: Go's parameter accepts %s, Python's %s", describeRe(g.re), p.describe())
}

// describe writes a Python parameter segment's constraint: the route
// map's (the one to give the Go route), and what Python takes besides
// where that is wider (see widen), so that a conflict with Bottle's int
// names -?[0-9]+, not -?\p{Nd}+ alone.
func (s segment) describe() string {
	if s.wide == "" {
		return describeRe(s.re)
	}
	return fmt.Sprintf("%s (the route map's pattern; and the other decimal digits, %s)", describeRe(s.re), describeRe(s.wide))
}

// python returns the constraint a Python parameter segment applies: its
// own where wider than the pattern's (see widen).
func (s segment) python() string {
	if s.wide != "" {
		return s.wide
	}
	return s.re
}

func describeRe(re string) string {
	if re == "" {
		return "any segment"
	}
	return "/" + re + "/"
}

// fullMatch reports whether the constraint re ("" for any segment)
// accepts the whole of s.
func fullMatch(re, s string) bool {
	if re == "" {
		return s != ""
	}
	rx, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && rx.MatchString(s)
}

// sameRegex compares two constraints after simplification, so that
// `\d+` and `[0-9]+` are the same.
func sameRegex(a, b string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" {
		return false
	}
	return canonRe(a) == canonRe(b)
}

func canonRe(s string) string {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return s
	}
	return re.Simplify().String()
}

// sameShape reports whether two patterns have parameters and literals at
// the same places.
func sameShape(g, p []segment) bool {
	if len(g) != len(p) {
		return false
	}
	for i := range g {
		if g[i].param != p[i].param || g[i].catchAll != p[i].catchAll || (!g[i].param && g[i].static != p[i].static) {
			return false
		}
	}
	return true
}

// WriteTable prints the inventory as text tables: the Python routes with
// who serves them, the Go-only routes, the conflicts, the notes (see
// [PythonRoute].Note), and the coverage.
func (inv *Inventory) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PYTHON ROUTE (%s)\tMETHODS\tGO PATTERN\tGO SERVES\tSTATUS\n", inv.Framework)
	for _, l := range inv.Python {
		methods := "any"
		if l.Methods != nil {
			methods = strings.Join(l.Methods, ",")
		}
		pattern := l.Pattern
		switch {
		case pattern == "":
			pattern = "(untranslatable: " + l.Untranslatable + ")"
		case l.Alternate != "":
			pattern += " and " + l.Alternate
		}
		var served []string
		for _, g := range l.Go {
			served = append(served, g.Method+":"+string(g.Stage))
		}
		if len(served) == 0 {
			served = []string{"-"}
		}
		name := l.Rule
		if l.Endpoint != "" {
			name += " [" + l.Endpoint + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, methods, pattern, strings.Join(served, " "), l.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if inv.Framework == "unknown" {
		fmt.Fprintf(w, "(The Python app is neither Flask nor Django, or graft could not find one behind its WSGI wrappers: its routes cannot be listed.)\n")
	}
	if len(inv.GoOnly) > 0 {
		fmt.Fprintf(w, "\nGo routes that match no Python route:\n")
		for _, g := range inv.GoOnly {
			if len(g.Unmatched) > 0 {
				fmt.Fprintf(w, "  %s %s (%s): its paths %s only\n", g.Method, g.Pattern, g.Stage, strings.Join(g.Unmatched, ", "))
				continue
			}
			fmt.Fprintf(w, "  %s %s (%s)\n", g.Method, g.Pattern, g.Stage)
		}
	}
	if len(inv.Conflicts) > 0 {
		fmt.Fprintf(w, "\nConflicts:\n")
		for _, c := range inv.Conflicts {
			fmt.Fprintf(w, "  %s: Go %s %s vs Python %s: %s\n", c.Kind, c.Go.Method, c.Go.Pattern, c.PythonRule, c.Detail)
		}
	}
	first := true
	for _, l := range inv.Python {
		if l.Note == "" {
			continue
		}
		if first {
			fmt.Fprintf(w, "\nNotes:\n")
			first = false
		}
		fmt.Fprintf(w, "  %s: %s\n", l.Rule, l.Note)
	}
	_, err := fmt.Fprintf(w, "\n%s", inv.Coverage.Summary)
	if inv.Coverage.Migrating > 0 || inv.Coverage.Unknown > 0 {
		_, err = fmt.Fprintf(w, "; %d migrating, %d untranslatable", inv.Coverage.Migrating, inv.Coverage.Unknown)
	}
	if err == nil {
		_, err = fmt.Fprintln(w)
	}
	return err
}

// inventoryHandler answers GET /inventory of the admin API.
func (m *Migrator) inventoryHandler(routes func(context.Context) (*wsgi.AppRouteMap, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		py, err := routes(r.Context())
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "migrate: reading the Python route map: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, m.Inventory(py))
	}
}
