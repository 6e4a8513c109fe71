package opstest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/graft-dev/graft/migrate"
)

// PythonLine is a Python route an example's inventory must list.
type PythonLine struct {
	// Rule and Endpoint name the route as the app's source does: Flask's
	// rule and endpoint, Django's route and URL name.
	Rule, Endpoint string
	// Status is the line's migration status (go, migrating, python).
	Status string
	// Go is the Go route serving it, "METHOD stage" ("GET canary"), ""
	// for none.
	Go string
}

// GoLine is a Go route an example's inventory must list among the
// Go-only routes, "METHOD /pattern stage" ("GET /shop/api/cart go").
type GoLine string

// CheckInventory fetches GET /inventory and the console's inventory page
// (console/inventory) from the admin API at admin (an example started
// with -admin-bind, see [Start]) and fails t unless both list each of
// python, with its status and the stage of the Go route serving it, and
// each of goOnly as a Go-only route with its stage. framework is the
// route map's framework ("flask").
func CheckInventory(t *testing.T, admin, framework string, python []PythonLine, goOnly []GoLine) {
	t.Helper()
	get := func(t *testing.T, path string) string {
		t.Helper()
		res, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			if len(b) > 300 {
				b = append(b[:300], "..."...)
			}
			t.Fatalf("GET %s: %d %q, want 200 (is the admin handler given the Python route map, AdminOptions.PythonRoutes?)", path, res.StatusCode, b)
		}
		return string(b)
	}

	t.Run("GET /inventory", func(t *testing.T) {
		var inv migrate.Inventory
		if body := get(t, "/inventory"); json.Unmarshal([]byte(body), &inv) != nil {
			t.Fatalf("GET /inventory: %q is not an inventory", body)
		}
		if inv.Framework != framework {
			t.Errorf("framework %q, want %q", inv.Framework, framework)
		}
		for _, w := range python {
			i := slices.IndexFunc(inv.Python, func(l migrate.PythonRoute) bool { return l.Rule == w.Rule && l.Endpoint == w.Endpoint })
			if i < 0 {
				t.Errorf("no Python route %s [%s]", w.Rule, w.Endpoint)
				continue
			}
			l := inv.Python[i]
			var gos []string
			for _, g := range l.Go {
				gos = append(gos, g.Method+" "+string(g.Stage))
			}
			if want := []string{w.Go}; l.Status != w.Status || w.Go == "" && len(gos) != 0 || w.Go != "" && !slices.Equal(gos, want) {
				t.Errorf("%s [%s]: status %s, Go %q; want %s, %q", w.Rule, w.Endpoint, l.Status, gos, w.Status, w.Go)
			}
		}
		for _, w := range goOnly {
			if !slices.ContainsFunc(inv.GoOnly, func(g migrate.GoRoute) bool { return g.Method+" "+g.Pattern+" "+string(g.Stage) == string(w) }) {
				t.Errorf("no Go-only route %s in %+v", w, inv.GoOnly)
			}
		}
	})

	t.Run("console/inventory", func(t *testing.T) {
		page := get(t, "/console/inventory")
		if !strings.Contains(page, "framework <b>"+framework+"</b>") {
			t.Errorf("the page does not name the framework %s", framework)
		}
		rows := regexp.MustCompile(`(?s)<tr id="py-\d+" class="python-route".*?</tr>`).FindAllString(page, -1)
		for _, w := range python {
			i := slices.IndexFunc(rows, func(r string) bool {
				return strings.Contains(r, `data-rule="`+escape(w.Rule)+`"`) && strings.Contains(r, `[`+escape(w.Endpoint)+`]`)
			})
			if i < 0 {
				t.Errorf("no row for %s [%s]", w.Rule, w.Endpoint)
				continue
			}
			row := rows[i]
			if !strings.Contains(row, `data-status="`+w.Status+`"`) {
				t.Errorf("the row of %s [%s] has not the status %s:\n%s", w.Rule, w.Endpoint, w.Status, row)
			}
			switch method, stage, _ := strings.Cut(w.Go, " "); {
			case w.Go == "" && strings.Contains(row, `class="stage stage-`):
				t.Errorf("the row of %s [%s] has a Go route:\n%s", w.Rule, w.Endpoint, row)
			case w.Go != "" && !goRoute(method, stage).MatchString(row):
				t.Errorf("the row of %s [%s] has no Go route %s (a link to its card when staged):\n%s", w.Rule, w.Endpoint, w.Go, row)
			}
		}
		items := regexp.MustCompile(`(?s)<ul id="go-only">.*?</ul>`).FindString(page)
		for _, w := range goOnly {
			f := strings.Fields(string(w))
			if len(f) != 3 {
				t.Fatalf("GoLine %q is not METHOD /pattern stage", w)
			}
			if !regexp.MustCompile(goRoute(f[0], f[2]).String() + regexp.QuoteMeta(` <span class="mono">`+escape(f[1])+`</span>`)).MatchString(items) {
				t.Errorf("no Go-only route %s on the page:\n%s", w, items)
			}
		}
	})
}

// goRoute matches a Go route on the inventory page: its method, a link
// to its console card when its stage is not go (a route in the stages
// file), and its stage.
func goRoute(method, stage string) *regexp.Regexp {
	end := `(a|span)`
	if stage != string(migrate.StageGo) {
		end = `a`
	}
	return regexp.MustCompile(`>` + regexp.QuoteMeta(method) + `</` + end + `> ` +
		regexp.QuoteMeta(`<span class="stage stage-`+stage+`">`+stage+`</span>`))
}

// escape is s as the console's html/template writes it in text and
// attributes.
func escape(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "+", "&#43;")
}
