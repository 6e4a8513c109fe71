package main

import (
	"net/http"

	"github.com/graft-dev/graft/examples/internal/inventory"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// apiRoutes serves GET /api/routes: the migration inventory (the Python
// app's routes, under mount, joined with r's Go routes) when app is a
// wsgi.Container, else the Go routes alone.
func apiRoutes(app http.Handler, mount string, r *router.Router) http.HandlerFunc {
	if c, ok := app.(*wsgi.Container); ok {
		return inventory.Handler(c, mount, r)
	}
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Inventory()) }
}
