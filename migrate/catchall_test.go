package migrate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
)

// TestCatchAllStages migrates Flask's /files/<path:name> and Django's
// docs/<path:p> with a Go route registered on the route map's pattern
// ("{*:[^/].*}", "{*:.+}"): in every stage, the empty rest (/files/) is
// Python's (its 404) and never reaches the stager (no count, no shadow
// comparison), while a rest the converter takes is served by the stage's
// side and, in shadow, compared. A Go route registered as chi's "/files/*"
// takes the empty rest in canary and go, and shadows it, as documented
// (migration.md, "The route inventory").
func TestCatchAllStages(t *testing.T) {
	for _, fw := range []struct {
		app, prefix, catchAll, key string
	}{
		{"flaskmig:app", "/files/", "{*:[^/].*}", "name"},
		{"djangomig.wsgi:application", "/docs/", "{*:.+}", "p"},
	} {
		c := startPython(t, fw.app)
		for _, pattern := range []string{fw.prefix + fw.catchAll, fw.prefix + "*"} {
			plain := pattern == fw.prefix+"*"
			for _, stage := range []Stage{StagePython, StageShadow, StageCanary, StageGo} {
				t.Run(fmt.Sprintf("%s %s %s", fw.app, pattern, stage), func(t *testing.T) {
					route := "GET " + pattern
					e := newEnv(t, c, Options{Routes: []RouteConfig{{Route: route, Stage: stage, Percent: 100}}}, func(r *router.Router) {
						r.Get(pattern, func(w http.ResponseWriter, req *http.Request) {
							w.Header().Set("X-Side", "go")
							b, _ := json.Marshal(map[string]string{fw.key: router.Param(req, "*")})
							writeJSONBody(w, string(b))
						})
					})
					goServes := stage == StageCanary || stage == StageGo

					code, h, body := e.exchange(t, "GET", fw.prefix+"a/b", "")
					e.settle()
					if code != 200 || (h.Get("X-Side") == "go") != goServes {
						t.Errorf("%sa/b: %d, X-Side %q, %s; want 200 from Go %v", fw.prefix, code, h.Get("X-Side"), body, goServes)
					}
					st := e.status(t, route)
					if stage == StageShadow && (st.Counts.Compared != 1 || st.Counts.Matched != 1) {
						t.Errorf("%sa/b in shadow: counts %+v, diffs %v: want one match", fw.prefix, st.Counts, st.RecentMismatches)
					}
					before := st.Counts

					code, h, body = e.exchange(t, "GET", fw.prefix, "")
					e.settle()
					st = e.status(t, route)
					switch {
					case plain && goServes:
						// chi's "*" takes the empty rest: Go answers it.
						if code != 200 || h.Get("X-Side") != "go" {
							t.Errorf("%s: %d, X-Side %q: want Go's 200 (chi's * takes the empty rest)", fw.prefix, code, h.Get("X-Side"))
						}
					case code != http.StatusNotFound || h.Get("X-Side") != "":
						t.Errorf("%s: %d, X-Side %q, %.80s: want Python's 404", fw.prefix, code, h.Get("X-Side"), body)
					}
					switch {
					case plain && stage == StageShadow:
						if st.Counts.Compared != before.Compared+1 {
							t.Errorf("%s in shadow with chi's *: counts %+v, want one more comparison (Go's * takes it)", fw.prefix, st.Counts)
						}
					case !plain && st.Counts != before:
						t.Errorf("%s: counts went from %+v to %+v: the route took a request it does not match", fw.prefix, before, st.Counts)
					}
				})
			}
		}
	}
}

// TestCatchAllInventory joins real Flask and Django route maps with Go
// catch-all routes: Go's chi-style /files/* is Flask's
// /files/<path:name> (and /docs/* Django's docs/<path:p>) with a note,
// since it also takes the empty rest, which Python answers 404; Go's
// /r/{*:.+} is Django's ^r/(?P<rest>.*)$ with a note, since Django also
// serves /r/, which reaches it through the fallback and would be lost
// with it.
func TestCatchAllInventory(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, `{}`) }
	for _, tc := range []struct {
		app       string
		routes    func(r *router.Router)
		rule      string
		goPattern string
		note      string // "" for none
		empty     string // the empty rest's path, and what answers it
		emptyCode int
	}{
		{"flaskmig:app", func(r *router.Router) { r.Get("/files/*", ok) }, "/files/<path:name>", "/files/*", "also takes the empty rest", "/files/", 200},
		{"djangomig.wsgi:application", func(r *router.Router) { r.Get("/docs/*", ok) }, "docs/<path:p>", "/docs/*", "also takes the empty rest", "/docs/", 200},
		{"djangomig.wsgi:application", func(r *router.Router) { r.Get("/r/{*:.+}", ok) }, "^r/(?P<rest>.*)$", "/r/{*:.+}", "refuses the empty rest", "/r/", 200},
		{"djangomig.wsgi:application", func(r *router.Router) { r.Get("/docs/{*:.+}", ok) }, "docs/<path:p>", "/docs/{*:.+}", "", "/docs/", 404},
	} {
		t.Run(tc.app+" "+tc.goPattern, func(t *testing.T) {
			c := startPython(t, tc.app)
			e := newEnv(t, c, Options{}, tc.routes)
			py, err := c.AppRoutes(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			inv := e.m.Inventory(py)
			var line *PythonRoute
			for i := range inv.Python {
				if inv.Python[i].Rule == tc.rule {
					line = &inv.Python[i]
				}
			}
			switch {
			case line == nil:
				t.Fatalf("no Python route %q in %+v", tc.rule, inv.Python)
			case len(line.Go) != 1 || line.Go[0].Pattern != tc.goPattern || line.Status != "go":
				t.Errorf("%s: Go %+v, status %q; want %s at go", tc.rule, line.Go, line.Status, tc.goPattern)
			case tc.note == "" && line.Note != "", tc.note != "" && !strings.Contains(line.Note, tc.note):
				t.Errorf("%s: note %q, want %q", tc.rule, line.Note, tc.note)
			}
			if len(inv.Conflicts) != 0 {
				t.Errorf("conflicts %+v", inv.Conflicts)
			}
			if code, _ := e.get(t, tc.empty); code != tc.emptyCode {
				t.Errorf("GET %s: %d, want %d", tc.empty, code, tc.emptyCode)
			}
		})
	}
}
