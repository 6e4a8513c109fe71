package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/graft-dev/graft/wsgi"
)

// routeMap returns where the console reads the Python route map for its
// inventory page: ConsoleOptions.PythonRoutes, else the PythonRoutes of
// the admin handler serving the console; nil without either.
func (c *console) routeMap(r *http.Request) func(context.Context) (*wsgi.AppRouteMap, error) {
	if c.pythonRoutes != nil {
		return c.pythonRoutes
	}
	f, _ := r.Context().Value(pythonRoutesCtxKey).(func(context.Context) (*wsgi.AppRouteMap, error))
	return f
}

// inventoryPage is what the inventory template shows: the migration
// inventory ([Migrator.Inventory]) with links to the console's cards, all
// of it or the lines of one staged route.
type inventoryPage struct {
	Nonce     string
	JSON      bool   // the admin handler answers GET inventory
	Route     string // the route whose lines are shown ("GET /x"), "" for all
	Framework string
	Coverage  Coverage
	Python    []inventoryLine
	GoOnly    []inventoryGo
	Conflicts []inventoryConflict
}

// inventoryLine is a Python route of the inventory page.
type inventoryLine struct {
	PythonRoute
	ID      string // the row's id, the same in the full and in a route's view
	Methods string // "GET, HEAD" or "any"
	Served  []inventoryGo
}

// inventoryGo is a Go route of the inventory page, with the fragment of
// the console card of its [GoRoute].Route ("#route-2"), "" for a route
// the console does not show (not staged).
type inventoryGo struct {
	GoRoute
	Card string
}

type inventoryConflict struct {
	Conflict
	Go inventoryGo
}

// inventory serves the inventory page, GET console/inventory, with
// ?route=METHOD+/pattern for the lines of one route.
func (c *console) inventory(w http.ResponseWriter, r *http.Request) {
	routes := c.routeMap(r)
	if routes == nil {
		c.message(w, http.StatusNotFound, "Not found",
			"migrate: console: no route inventory: it needs the Python app's route map, AdminOptions.PythonRoutes (or ConsoleOptions.PythonRoutes for a console served alone).")
		return
	}
	p := inventoryPage{Nonce: styleNonce(), JSON: r.Context().Value(pythonRoutesCtxKey) != nil}
	if q := r.URL.Query(); q.Has("route") {
		if err := repeatedField(q); err != nil {
			c.message(w, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
		key, err := normalizeRoute(q.Get("route"))
		if err != nil {
			c.message(w, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
		p.Route = key
	}
	py, err := routes(r.Context())
	if err != nil {
		c.m.log.Warn("migrate: console inventory", slog.String("error", err.Error()))
		c.message(w, http.StatusBadGateway, "Bad gateway", "migrate: console: reading the Python route map: "+err.Error())
		return
	}
	inv := c.m.Inventory(py)
	cards := map[string]string{}
	for i, st := range c.m.Routes() {
		cards[st.Route] = "#" + cardID(i)
	}
	// A Go route is the card of the staged route whose stage it has
	// (GoRoute.Route: the "/" route of a sub-Router for the path of its
	// prefix), and one of that route's lines.
	link := func(g GoRoute) inventoryGo { return inventoryGo{GoRoute: g, Card: cards[g.Route]} }
	is := func(g GoRoute) bool { return p.Route == "" || g.Route != "" && g.Route == p.Route }
	p.Framework, p.Coverage = inv.Framework, inv.Coverage
	for i, l := range inv.Python {
		line := inventoryLine{PythonRoute: l, ID: fmt.Sprintf("py-%d", i+1), Methods: "any"}
		if l.Methods != nil {
			line.Methods = strings.Join(l.Methods, ", ")
		}
		mine := p.Route == ""
		for _, g := range l.Go {
			line.Served = append(line.Served, link(g))
			mine = mine || is(g)
		}
		if mine {
			p.Python = append(p.Python, line)
		}
	}
	for _, g := range inv.GoOnly {
		if is(g) {
			p.GoOnly = append(p.GoOnly, link(g))
		}
	}
	for _, cf := range inv.Conflicts {
		if is(cf.Go) {
			p.Conflicts = append(p.Conflicts, inventoryConflict{Conflict: cf, Go: link(cf.Go)})
		}
	}
	securityHeaders(w, p.Nonce)
	if err := consoleTemplate.ExecuteTemplate(w, "inventory", p); err != nil {
		c.m.log.Error("migrate: console inventory page", slog.String("error", err.Error()))
	}
}
