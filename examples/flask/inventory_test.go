package main

import (
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// The built command with -stages and -admin-bind gives its admin handler
// the Flask app's route map (main.go's o.migrate.PythonRoutes): GET
// /inventory and the console's inventory page list the shop's Flask
// routes (pyapp/shop/__init__.py's endpoints) with their migration state
// (stages.json's shadow and canary routes migrating), the one that Go
// serves as go, one Go has not taken as python, and a Go route of the
// example (session.go's GET /shop/api/cart) as Go's.
func TestInventoryPages(t *testing.T) {
	pythontest.Python(t, "flask") // fails saying what to install
	bin := opstest.Build(t, "flask")
	s := opstest.Start(t, "flask", bin, t.TempDir(),
		"-workers", "1", "-stages", opstest.StagesFile(t, ""), "-admin-bind", "127.0.0.1:0")
	opstest.CheckInventory(t, s.Admin, "flask", []opstest.PythonLine{
		{Rule: "/api/search", Endpoint: "api_search", Status: "migrating", Go: "GET shadow"},
		{Rule: "/api/products/<int:pid>", Endpoint: "api_product", Status: "migrating", Go: "GET canary"},
		{Rule: "/api/products", Endpoint: "api_products", Status: "go", Go: "GET go"},
		{Rule: "/api/products/<int:pid>", Endpoint: "api_add_to_cart", Status: "python"},
		{Rule: "/cart", Endpoint: "show_cart", Status: "python"},
	}, []opstest.GoLine{"GET /shop/api/cart go", "POST /shop/login go"})
}
