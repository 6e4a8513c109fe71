package main

import (
	"net/http"
	"slices"
	"strings"

	"github.com/graft-dev/graft/router"
)

// migratingRoutes registers, on the shop's router s, the Go routes that
// are still being migrated: they are deployed dark, and stages.json puts
// them in the shadow stage (Flask answers, Go's answer is compared) until
// the migration console shows that they answer as Flask does. newHandler
// registers them only with -stages: a route the stages file does not list
// is in stage go, so without the file Go would serve them.
//
// GET /api/search is a port of Flask's api_search with a difference on
// purpose, the kind shadowing exists to catch: Flask matches the query
// case-insensitively, this port does not, so /shop/api/search?q=moka
// finds the "Moka pot" in Flask and nothing in Go. The console shows the
// mismatch at /count and /products/0, with both bodies side by side.
func migratingRoutes(s *router.Router, r *router.Router, cat *catalog, o options) {
	s.Get("/api/search", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query().Get("q")
		items := []map[string]any{}
		for _, p := range cat.list {
			if q != "" && strings.Contains(p.Name, q) { // Flask: q.casefold() in name.casefold()
				items = append(items, productJSON(r, o.mount, p))
			}
		}
		slices.SortStableFunc(items, func(a, b map[string]any) int {
			return strings.Compare(a["name"].(string), b["name"].(string))
		})
		writeJSON(w, http.StatusOK, map[string]any{"query": q, "count": len(items), "products": items})
	}).Name("api_search")
}
