// Package inventory gives the examples their migration inventory: the
// Python app's routes (wsgi.Container.AppRoutes) joined with the Go
// router's (migrate.NewInventory), as the -routes table and as JSON.
package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// Timeout bounds the route-map call to Python.
const Timeout = 30 * time.Second

// Build asks app for its routes, served under mount ("" for the root),
// and joins them with r's. m, if not nil, gives the stages.
func Build(ctx context.Context, app *wsgi.Container, mount string, r *router.Router, m *migrate.Migrator) (*migrate.Inventory, error) {
	py, err := Routes(app, mount)(ctx)
	if err != nil {
		return nil, err
	}
	return migrate.NewInventory(py, r.Inventory(), m), nil
}

// Routes returns the route map of app, served under mount ("" for the
// root), for migrate.AdminOptions.PythonRoutes: the admin API's GET
// /inventory and the migration console's inventory page.
func Routes(app *wsgi.Container, mount string) func(context.Context) (*wsgi.AppRouteMap, error) {
	return func(ctx context.Context) (*wsgi.AppRouteMap, error) {
		ctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()
		py, err := app.AppRoutes(ctx)
		if err != nil {
			return nil, err
		}
		return py.Under(mount), nil
	}
}

// Print writes the inventory table of app and h (a *router.Router) to w:
// what -routes prints before the example exits.
func Print(w io.Writer, app *wsgi.Container, mount string, h http.Handler) error {
	r, ok := h.(*router.Router)
	if !ok {
		return fmt.Errorf("inventory: the handler is a %T, not a *router.Router", h)
	}
	inv, err := Build(context.Background(), app, mount, r, nil)
	if err != nil {
		return err
	}
	return inv.WriteTable(w)
}

// Handler answers the inventory as JSON (502 with {"error": ...} when
// Python cannot give its routes). r is read at each request, so it may
// be the router the handler is registered on.
func Handler(app *wsgi.Container, mount string, r *router.Router) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		inv, err := Build(req.Context(), app, mount, r, nil)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(inv)
	}
}
