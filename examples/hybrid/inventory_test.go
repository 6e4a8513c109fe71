package main

import (
	"path/filepath"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// The built command with -stages and -admin-bind gives its admin handler
// the Python app's route map (main.go's o.migrate.PythonRoutes): GET
// /inventory and the console's inventory page list the routes of a Flask
// app (testdata/inventoryapp.py's endpoints; the bundled app is plain
// WSGI, with no route map) with their migration state (stages.json's
// shadow and canary routes migrating), the one Go serves as go, one Go
// has not taken as python, and a Go route of the example (GET
// /api/routes) as Go's.
func TestInventoryPages(t *testing.T) {
	pythontest.Python(t, "flask") // fails saying what to install
	bin := opstest.Build(t, "hybrid")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	s := opstest.Start(t, "hybrid", bin, t.TempDir(), "-workers", "1", "-chdir", dir,
		"-stages", opstest.StagesFile(t, ""), "-admin-bind", "127.0.0.1:0", "inventoryapp:app")
	opstest.CheckInventory(t, s.Admin, "flask", []opstest.PythonLine{
		{Rule: "/api/users/<id>", Endpoint: "user", Status: "migrating", Go: "GET shadow"},
		{Rule: "/api/hello/<name>", Endpoint: "hello", Status: "migrating", Go: "GET canary"},
		{Rule: "/api/health", Endpoint: "health", Status: "go", Go: "GET go"},
		{Rule: "/about", Endpoint: "about", Status: "python"},
	}, []opstest.GoLine{"GET /api/routes go"})
}
