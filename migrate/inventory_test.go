package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

func okHandler(w http.ResponseWriter, r *http.Request) {}

func pyRoute(rule, pattern string, methods ...string) wsgi.AppRoute {
	r := wsgi.AppRoute{Framework: "django", Rule: rule, Pattern: pattern, Endpoint: rule}
	if len(methods) > 0 {
		r.Methods = methods
	}
	return r
}

// flaskNumber is a Flask route whose one parameter is a number
// converter: its pattern keeps to 0-9, its PythonRegex (werkzeug's \d)
// takes every decimal digit.
func flaskNumber(rule, pattern, re, wide string) wsgi.AppRoute {
	r := pyRoute(rule, pattern, "GET", "HEAD", "OPTIONS")
	r.Framework = "flask"
	r.Params = []wsgi.RouteParam{{Name: "n", Converter: "int", Regex: re, PythonRegex: wide}}
	return r
}

// pathRoute is a Python route ending in a path converter.
func pathRoute(rule, pattern string) wsgi.AppRoute {
	r := pyRoute(rule, pattern)
	r.Params = []wsgi.RouteParam{{Name: "*", Converter: "path"}}
	return r
}

func TestInventoryJoin(t *testing.T) {
	type conflict struct{ kind, goRoute, pyRule string }
	for _, tc := range []struct {
		name      string
		py        []wsgi.AppRoute
		goRoutes  func(r *router.Router)
		status    map[string]string // Python rule -> status
		goOnly    []string          // "METHOD pattern"
		conflicts []conflict
		summary   string
		notes     []string // Python rules with a note
	}{
		{
			name: "exact match up to parameter names and equivalent regexps",
			py: []wsgi.AppRoute{
				pyRoute("items/<int:pk>/", "/items/{pk:[0-9]+}/"),
				pyRoute("^archive/(?P<y>\\d{4})/$", `/archive/{y:\d{4}}/`),
				pyRoute("about/", "/about/"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/items/{id:[0-9]+}/", okHandler)
				r.Get("/archive/{year:[0-9]{4}}/", okHandler)
			},
			status:  map[string]string{"items/<int:pk>/": "go", "^archive/(?P<y>\\d{4})/$": "go", "about/": "python"},
			summary: "2 of 3 Python routes (67%) served by Go",
		},
		{
			name: "constraint differs: Django <int:pk> against a Go {pk} that accepts letters",
			py:   []wsgi.AppRoute{pyRoute("items/<int:pk>/", "/items/{pk:[0-9]+}/")},
			goRoutes: func(r *router.Router) {
				r.Get("/items/{pk}/", okHandler)
			},
			status:    map[string]string{"items/<int:pk>/": "python"},
			conflicts: []conflict{{"constraint", "GET /items/{pk}/", "items/<int:pk>/"}},
			summary:   "0 of 1 Python routes (0%) served by Go",
		},
		{
			name: "Go captures part of a Python route",
			py:   []wsgi.AppRoute{pyRoute("/users/<name>", "/users/{name}", "GET", "HEAD", "OPTIONS")},
			goRoutes: func(r *router.Router) {
				r.Get("/users/me", okHandler)
			},
			status:    map[string]string{"/users/<name>": "python"},
			conflicts: []conflict{{"partial", "GET /users/me", "/users/<name>"}},
		},
		{
			name: "Go shadows a more specific Python route",
			py: []wsgi.AppRoute{
				pyRoute("/users/me", "/users/me", "GET", "HEAD", "OPTIONS"),
				pyRoute("/users/<int:id>", "/users/{id:[0-9]+}", "GET", "HEAD", "OPTIONS"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/users/{id}", okHandler)
			},
			status: map[string]string{"/users/me": "python", "/users/<int:id>": "python"},
			conflicts: []conflict{
				{"shadows", "GET /users/{id}", "/users/me"},
				{"constraint", "GET /users/{id}", "/users/<int:id>"},
			},
		},
		{
			name: "catch-alls",
			py: []wsgi.AppRoute{
				pyRoute("docs/<path:p>", "/docs/*"),
				pyRoute("static/a.css", "/static/a.css"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/docs/*", okHandler)
				r.Get("/static/*", okHandler)
				r.Get("/docs/intro/{x}", okHandler)
			},
			status: map[string]string{"docs/<path:p>": "go", "static/a.css": "python"},
			conflicts: []conflict{
				{"partial", "GET /docs/intro/{x}", "docs/<path:p>"},
				{"shadows", "GET /static/*", "static/a.css"},
			},
		},
		{
			name: "catch-alls and the end of the other pattern, the empty rest",
			py: []wsgi.AppRoute{
				pyRoute("files", "/files"),
				pathRoute("p/<path:rest>", "/p/*"),
				pathRoute("q/<path:rest>", "/q/*"),
				pyRoute("^r/(?P<rest>.*)$", "/r/*"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/files/*", okHandler) // chi 404s /files
				r.Get("/p", okHandler)       // Python 404s /p
				r.Get("/p/", okHandler)      // path converters refuse the empty rest
				r.Get("/q/*", okHandler)     // equal, though it also takes /q/: a note
				r.Get("/r/*", okHandler)     // (?P<rest>.*) takes the empty rest too
			},
			status: map[string]string{"files": "python", "p/<path:rest>": "python", "q/<path:rest>": "go", "^r/(?P<rest>.*)$": "go"},
			goOnly: []string{"GET /files/*", "GET /p", "GET /p/"},
			// /q/, which Python answers 404, is Go's from the canary
			// stage on: a note, as the unknown-route hint says (it had
			// none).
			notes: []string{"q/<path:rest>"},
		},
		{
			name: "constrained catch-alls, as the route map writes path converters",
			py: []wsgi.AppRoute{
				pathRoute("p/<path:rest>", "/p/{*:.+}"),
				pathRoute("/q/<path:rest>", "/q/{*:[^/].*}"),
				pathRoute("s/<path:rest>", "/s/{*:.+}"),
				pyRoute("^r/(?P<rest>.*)$", "/r/*"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/p/", okHandler)           // the empty rest, which {*:.+} refuses
				r.Get("/q/{*:[^/].*}", okHandler) // the same
				r.Get("/s/*", okHandler)          // equal, though it also takes /s/: a note
				r.Get("/r/{*:.+}", okHandler)     // equal, though it leaves /r/ to Python
			},
			status: map[string]string{"p/<path:rest>": "python", "/q/<path:rest>": "go", "s/<path:rest>": "go", "^r/(?P<rest>.*)$": "go"},
			goOnly: []string{"GET /p/"},
			// /r/ reaches Python only: a note, as for Flask's other
			// digits (it had none, and /r/ was lost with Python); /s/
			// is Go's, which Python answers 404: a note too.
			notes: []string{"s/<path:rest>", "^r/(?P<rest>.*)$"},
		},
		{
			name: "methods: Flask's HEAD and OPTIONS are implied, Django's undeclared methods need GET",
			py: []wsgi.AppRoute{
				pyRoute("/cart", "/cart", "GET", "HEAD", "OPTIONS", "POST"),
				pyRoute("/login", "/login", "OPTIONS", "POST"),
				pyRoute("plain/", "/plain/"),
			},
			goRoutes: func(r *router.Router) {
				r.Get("/cart", okHandler)
				r.Post("/login", okHandler)
				r.Get("/plain/", okHandler)
				r.Delete("/cart", okHandler) // Python takes no DELETE on /cart
			},
			status:  map[string]string{"/cart": "migrating", "/login": "go", "plain/": "go"},
			goOnly:  []string{"DELETE /cart"},
			summary: "2 of 3 Python routes (67%) served by Go",
		},
		{
			name: "Flask numbers take every decimal digit: Go's [0-9]+ matches with a note, not a conflict",
			py: []wsgi.AppRoute{
				flaskNumber("/p/<int:n>", "/p/{n:[0-9]+}", "[0-9]+", `\p{Nd}+`),
				flaskNumber("/q/<int:n>", "/q/{n:[0-9]+}", "[0-9]+", `\p{Nd}+`),
				flaskNumber("/r/<int:n>", "/r/{n:[0-9]+}", "[0-9]+", `\p{Nd}+`),
				flaskNumber("/v<int:n>.json", "/v{n:[0-9]+}.json", "[0-9]+", `\p{Nd}+`),
				flaskNumber("/s/<int(signed=True):n>", "/s/{n:-?[0-9]+}", "-?[0-9]+", `-?\p{Nd}+`),
				pyRoute("d/<int:pk>/", "/d/{pk:[0-9]+}/"), // Django's int is [0-9]+
			},
			goRoutes: func(r *router.Router) {
				r.Get("/p/{id:[0-9]+}", okHandler)   // equal but for other digits: a note
				r.Get("/q/{id:\\p{Nd}+}", okHandler) // Python's own: equal
				r.Get("/r/{id}", okHandler)          // any segment: wider, a conflict
				r.Get("/v{id:[0-9]+}.json", okHandler)
				r.Get("/s/{id:[0-9]+}", okHandler) // not signed: narrower, a conflict
				r.Get("/d/{id:[0-9]+}/", okHandler)
			},
			status: map[string]string{"/p/<int:n>": "go", "/q/<int:n>": "go", "/r/<int:n>": "python",
				"/v<int:n>.json": "go", "/s/<int(signed=True):n>": "python", "d/<int:pk>/": "go"},
			conflicts: []conflict{
				{"constraint", "GET /r/{id}", "/r/<int:n>"},
				{"constraint", "GET /s/{id:[0-9]+}", "/s/<int(signed=True):n>"},
			},
			notes:   []string{"/p/<int:n>", "/v<int:n>.json"},
			summary: "4 of 6 Python routes (67%) served by Go",
		},
		{
			name: "Go-only routes, trailing slashes and untranslatable routes",
			py: []wsgi.AppRoute{
				pyRoute("orders/", "/orders/"),
				{Rule: "paint/<color:c>/", Untranslatable: "custom converter"},
			},
			goRoutes: func(r *router.Router) {
				r.Get("/orders", okHandler)
				r.Get("/healthz", okHandler)
				r.Handle("/metrics", http.HandlerFunc(okHandler))
			},
			status:    map[string]string{"orders/": "python", "paint/<color:c>/": "unknown"},
			goOnly:    []string{"GET /orders", "GET /healthz", "* /metrics"},
			conflicts: []conflict{{"trailing-slash", "GET /orders", "orders/"}},
			summary:   "0 of 2 Python routes (0%) served by Go",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := router.New()
			tc.goRoutes(r)
			inv := NewInventory(&wsgi.AppRouteMap{Framework: "django", Routes: tc.py}, r.Inventory(), nil)
			for _, l := range inv.Python {
				if want, ok := tc.status[l.Rule]; ok && l.Status != want {
					t.Errorf("%s: status %q, want %q (go %+v)", l.Rule, l.Status, want, l.Go)
				}
			}
			var goOnly []string
			for _, g := range inv.GoOnly {
				if g.Method != "HEAD" {
					goOnly = append(goOnly, g.Method+" "+g.Pattern)
				}
			}
			if !slices.Equal(goOnly, tc.goOnly) {
				t.Errorf("go-only %q, want %q", goOnly, tc.goOnly)
			}
			var got []conflict
			for _, c := range inv.Conflicts {
				if c.Go.Method != "HEAD" {
					got = append(got, conflict{c.Kind, c.Go.Method + " " + c.Go.Pattern, c.PythonRule})
				}
			}
			if !slices.Equal(got, tc.conflicts) {
				t.Errorf("conflicts %+v\nwant %+v\n(%+v)", got, tc.conflicts, inv.Conflicts)
			}
			if tc.summary != "" && inv.Coverage.Summary != tc.summary {
				t.Errorf("summary %q, want %q", inv.Coverage.Summary, tc.summary)
			}
			var notes []string
			for _, l := range inv.Python {
				if l.Note != "" {
					notes = append(notes, l.Rule)
					if !strings.Contains(l.Note, "other decimal digits") && !strings.Contains(l.Note, "empty rest") ||
						!strings.Contains(l.Note, "reach Python") && !strings.Contains(l.Note, "leave those requests to Python") {
						t.Errorf("%s: note %q", l.Rule, l.Note)
					}
				}
			}
			if !slices.Equal(notes, tc.notes) {
				t.Errorf("notes on %q, want %q", notes, tc.notes)
			}
			var buf bytes.Buffer
			if err := inv.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), inv.Coverage.Summary) {
				t.Errorf("table (%v):\n%s", err, buf.String())
			}
			if _, err := json.Marshal(inv); err != nil {
				t.Error(err)
			}
		})
	}
}

// Stages come from the Migrator; the admin API serves the inventory of a
// real Flask app.
func TestInventoryStagesAndAdmin(t *testing.T) {
	c := startPython(t, "flaskmig:app")
	e := newEnv(t, c, Options{Routes: []RouteConfig{{Route: "GET /api/users/{user_id:[0-9]+}", Stage: StageShadow}}}, func(r *router.Router) {
		r.Get("/api/order/{id:[0-9]+}", okHandler)
		r.Get("/api/users/{user_id:[0-9]+}", okHandler)
		r.Get("/api/items", okHandler)
		r.Get("/api/new", okHandler)
	})
	admin := httptest.NewServer(e.m.Handler(AdminOptions{PythonRoutes: c.AppRoutes}))
	t.Cleanup(admin.Close)
	resp, err := http.Get(admin.URL + "/inventory")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /inventory: %d %s", resp.StatusCode, body)
	}
	var inv Inventory
	if err := json.Unmarshal(body, &inv); err != nil {
		t.Fatal(err)
	}
	status := map[string]PythonRoute{}
	for _, l := range inv.Python {
		status[l.Rule] = l
	}
	for rule, want := range map[string]string{
		"/api/order/<int:user_id>": "go",
		"/api/users/<int:user_id>": "migrating", // shadow stage
		"/api/items":               "migrating", // POST still Python
		"/api/side":                "python",
	} {
		if got := status[rule].Status; got != want {
			t.Errorf("%s: status %q, want %q (%+v)", rule, got, want, status[rule].Go)
		}
	}
	if g := status["/api/users/<int:user_id>"].Go; len(g) == 0 || g[0].Stage != StageShadow {
		t.Errorf("users route's Go side %+v, want stage shadow", g)
	}
	if inv.Framework != "flask" || !strings.HasSuffix(inv.Coverage.Summary, "served by Go") || inv.Coverage.Served < 1 {
		t.Errorf("framework %q coverage %+v", inv.Framework, inv.Coverage)
	}
	found := false
	for _, g := range inv.GoOnly {
		found = found || g.Pattern == "/api/new"
	}
	if !found {
		t.Errorf("go-only %+v: want /api/new", inv.GoOnly)
	}

	// A Python side that fails answers 502 with the reason.
	failing := httptest.NewServer(e.m.Handler(AdminOptions{PythonRoutes: func(ctx context.Context) (*wsgi.AppRouteMap, error) {
		return nil, wsgi.ErrTimeout
	}}))
	t.Cleanup(failing.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", failing.URL+"/inventory", nil)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadGateway || !strings.Contains(string(b2), "Python route map") {
		t.Errorf("failing route map: %d %s", resp2.StatusCode, b2)
	}
}

// A Flask rule with strict_slashes=False serves its path with and without
// the trailing slash, with no redirect back to Go: Go serves the route
// only when it serves both forms, and a Go route on the other form is the
// route's, not Go-only or a trailing-slash conflict.
func TestInventoryStrictSlashesFalse(t *testing.T) {
	loose := func(rule, pattern, alt string) wsgi.AppRoute {
		r := pyRoute(rule, pattern, "GET", "HEAD", "OPTIONS")
		r.Framework, r.Alternate = "flask", alt
		return r
	}
	py := []wsgi.AppRoute{
		loose("/a/", "/a/", "/a"),
		loose("/b/", "/b/", "/b"),
		loose("/c/<int:n>", "/c/{n:[0-9]+}", "/c/{n:[0-9]+}/"),
		loose("/d/", "/d/", "/d"),
		pyRoute("/e/", "/e/", "GET", "HEAD", "OPTIONS"), // strict: /e redirects to /e/
	}
	r := router.New()
	r.Get("/a/", okHandler) // one form only
	r.Get("/b/", okHandler) // both
	r.Get("/b", okHandler)
	r.Get("/c/{id:[0-9]+}/", okHandler) // the other form only
	r.Get("/e", okHandler)              // a trailing-slash conflict
	inv := NewInventory(&wsgi.AppRouteMap{Framework: "flask", Routes: py}, r.Inventory(), nil)
	want := map[string]struct {
		status, missing string
	}{
		"/a/": {"migrating", "/a"}, "/b/": {"go", ""}, "/c/<int:n>": {"migrating", "/c/{n:[0-9]+}"},
		"/d/": {"python", ""}, "/e/": {"python", ""},
	}
	for _, l := range inv.Python {
		w := want[l.Rule]
		if l.Status != w.status {
			t.Errorf("%s: status %q, want %q (go %+v)", l.Rule, l.Status, w.status, l.Go)
		}
		if w.missing == "" && l.Note != "" || w.missing != "" && !strings.Contains(l.Note, "does not serve "+w.missing+" for every method") {
			t.Errorf("%s: note %q; want one naming %q", l.Rule, l.Note, w.missing)
		}
	}
	var goOnly []string
	for _, g := range inv.GoOnly {
		goOnly = append(goOnly, g.Method+" "+g.Pattern)
	}
	if !slices.Equal(goOnly, []string{"GET /e"}) {
		t.Errorf("go-only %q, want only GET /e", goOnly)
	}
	if len(inv.Conflicts) != 1 || inv.Conflicts[0].Kind != "trailing-slash" || inv.Conflicts[0].PythonRule != "/e/" {
		t.Errorf("conflicts %+v, want the trailing-slash one of /e/ only", inv.Conflicts)
	}
	if inv.Coverage.Served != 1 || inv.Coverage.Migrating != 2 {
		t.Errorf("coverage %+v", inv.Coverage)
	}
	var buf bytes.Buffer
	if err := inv.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "/a/ and /a") {
		t.Errorf("table (%v):\n%s", err, buf.String())
	}
}

// chi serves a sub-Router's prefix without its slash with the sub-Router's
// "/" route: Go's r.Route("/api", ...) with a "/" route serves Flask's
// "/api" as well as "/api/", at the stage of the "/api/" route, and is
// no trailing-slash conflict.
func TestInventoryPrefixRoot(t *testing.T) {
	py := []wsgi.AppRoute{
		pyRoute("/api", "/api", "GET", "HEAD", "OPTIONS"),
		pyRoute("/api/", "/api/", "GET", "HEAD", "OPTIONS"),
		pyRoute("/admin", "/admin", "GET", "HEAD", "OPTIONS"),
	}
	e := newEnv(t, http.HandlerFunc(okHandler), Options{Routes: []RouteConfig{{Route: "GET /admin/", Stage: StageShadow}}}, func(r *router.Router) {
		r.Route("/api", func(s *router.Router) { s.Get("/", okHandler) })
		admin := router.New()
		admin.Get("/", okHandler)
		r.Mount("/admin", admin)
	})
	inv := e.m.Inventory(&wsgi.AppRouteMap{Framework: "flask", Routes: py})
	for _, l := range inv.Python {
		want := map[string]string{"/api": "go", "/api/": "go", "/admin": "migrating"}[l.Rule]
		if l.Status != want {
			t.Errorf("%s: status %q, want %q (go %+v)", l.Rule, l.Status, want, l.Go)
		}
		if l.Rule == "/admin" && (len(l.Go) != 1 || l.Go[0].Stage != StageShadow) {
			t.Errorf("/admin: go %+v, want GET /admin at the shadow stage of GET /admin/", l.Go)
		}
		// Each Go route names the staged route whose stage it has: its
		// own, or the "/" route's for the prefix without its slash.
		want = map[string]string{"/api": "GET /api/", "/api/": "GET /api/", "/admin": "GET /admin/"}[l.Rule]
		if len(l.Go) != 1 || l.Go[0].Route != want {
			t.Errorf("%s: go %+v, want one Go route whose Route is %s", l.Rule, l.Go, want)
		}
	}
	if len(inv.Conflicts) != 0 {
		t.Errorf("conflicts %+v, want none", inv.Conflicts)
	}
	var goOnly []string
	for _, g := range inv.GoOnly {
		goOnly = append(goOnly, g.Method+" "+g.Pattern)
	}
	if !slices.Equal(goOnly, []string{"GET /admin/"}) {
		t.Errorf("go-only %q, want [GET /admin/]", goOnly)
	}
}

// A Pyramid {id:\d+} and a Bottle <tag:re:\d+>, Python's \d, are served by
// a Go route on [0-9]+: the route map gives the pattern with [0-9] and
// what Python takes besides (other decimal digits) as python_regex, the
// inventory counts the Go route as the route's, with a note, and such a
// path does reach Python through the fallback, as the note says. Until
// 2026-12-03 both routes were untranslatable ("unknown") and the Go
// route Go-only.
func TestInventoryPythonDigits(t *testing.T) {
	for _, tc := range []struct{ app, rule, goPattern, path string }{
		{"pyramidmig:app", `/api/items/{id:\d+}`, "/api/items/{id:[0-9]+}", "/api/items/"},
		{"bottlemig:app", `/api/tags/<tag:re:\d+>`, "/api/tags/{n:[0-9]+}", "/api/tags/"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			c := startPython(t, tc.app)
			e := newEnv(t, &fallback.Handler{App: c}, Options{}, func(r *router.Router) {
				r.Get(tc.goPattern, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"served_by": "go"}`)
				})
			})
			py := appRoutes(t, c)
			inv := NewInventory(py, e.r.Inventory(), e.m)
			var line *PythonRoute
			for i := range inv.Python {
				if inv.Python[i].Rule == tc.rule {
					line = &inv.Python[i]
				}
			}
			if line == nil {
				t.Fatalf("no line for %s in %+v", tc.rule, inv.Python)
			}
			if line.Status != "go" || !strings.Contains(line.Note, "other decimal digits") || line.Untranslatable != "" {
				t.Errorf("%s: status %q note %q untranslatable %q; want go, with a note on the other decimal digits", tc.rule, line.Status, line.Note, line.Untranslatable)
			}
			for _, g := range inv.GoOnly {
				if g.Pattern == tc.goPattern {
					t.Errorf("%s listed as Go-only", tc.goPattern)
				}
			}
			for path, want := range map[string]string{tc.path + "12": "go", tc.path + "١٢": "python"} {
				resp, err := http.Get(e.srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), `"served_by": "`+want+`"`) {
					t.Errorf("GET %s: %d %s; want served by %s", path, resp.StatusCode, body, want)
				}
			}
		})
	}
}

// A Go route narrower than Bottle's int (<id:int>, -?[0-9]+, and the
// other decimal digits) is a constraint conflict whose detail names the
// route map's constraint, the one to give the Go route: it named only
// -?\p{Nd}+, which a Go handler's strconv.Atoi does not read.
func TestInventoryConflictNamesRouteMapConstraint(t *testing.T) {
	r := router.New()
	r.Get("/posts/{id:[0-9]+}", okHandler)
	py := wsgi.AppRoute{Framework: "bottle", Rule: "/posts/<id:int>", Pattern: "/posts/{id:-?[0-9]+}", Methods: []string{"GET", "HEAD"},
		Params: []wsgi.RouteParam{{Name: "id", Converter: "int", Regex: "-?[0-9]+", PythonRegex: `-?\p{Nd}+`}}}
	inv := NewInventory(&wsgi.AppRouteMap{Framework: "bottle", Routes: []wsgi.AppRoute{py}}, r.Inventory(), nil)
	if len(inv.Conflicts) == 0 {
		t.Fatalf("no conflict: %+v", inv.Python)
	}
	want := "Python's /-?[0-9]+/ (the route map's pattern; and the other decimal digits, /-?\\p{Nd}+/)"
	if d := inv.Conflicts[0].Detail; !strings.Contains(d, want) {
		t.Errorf("detail %q\nwant it to say %s", d, want)
	}
}

// Bottle keeps one route per rule and method; the route map lists one per
// rule and callback, with its methods, as Flask's lists a rule with its
// methods: a rule whose GET and POST are one function is one line, served
// by Go when Go serves both (migrating with GET alone), and one whose GET
// and POST are two functions stays two lines, each with its own status.
// Until 2026-12-03 the first was two lines, GET "go" and POST "python",
// which counted half a route as migrated.
func TestInventoryBottleMethods(t *testing.T) {
	c := startPython(t, "bottlemig:app")
	e := newEnv(t, &fallback.Handler{App: c}, Options{}, func(r *router.Router) {
		r.Get("/api/notes/{n:-?[0-9]+}", okHandler)
		r.Get("/login", okHandler)
	})
	py := appRoutes(t, c)
	inv := NewInventory(py, e.r.Inventory(), e.m)
	var got []string
	for _, l := range inv.Python {
		if l.Rule == "/api/notes/<n:int>" || l.Rule == "/login" {
			var served []string
			for _, g := range l.Go {
				served = append(served, g.Method)
			}
			got = append(got, l.Rule+" ["+l.Endpoint+"] "+strings.Join(l.Methods, ",")+" go:"+strings.Join(served, ",")+" "+l.Status)
		}
	}
	want := []string{
		"/api/notes/<n:int> [note] GET,HEAD,POST go:GET migrating",
		"/login [login_form] GET,HEAD go:GET go",
		"/login [login] POST go: python",
	}
	if !slices.Equal(got, want) {
		t.Errorf("inventory lines:\n got %q\nwant %q", got, want)
	}
}
