package main

import (
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// The built command with -stages and -admin-bind gives its admin handler
// the Django project's route map (main.go's o.migrate.PythonRoutes): GET
// /inventory and the console's inventory page list the project's URL
// names (pyapp/notes/urls.py) with their migration state (stages.json's
// shadow and canary routes migrating), one Go has not taken as python,
// and a Go route of the example (identity.go's GET /legacy/me/) as Go's.
func TestInventoryPages(t *testing.T) {
	pythontest.Python(t, "django") // fails saying what to install
	bin := opstest.Build(t, "django")
	s := opstest.Start(t, "django", bin, t.TempDir(),
		"-workers", "1", "-admin-password", "x", "-stages", opstest.StagesFile(t, ""), "-admin-bind", "127.0.0.1:0")
	opstest.CheckInventory(t, s.Admin, "django", []opstest.PythonLine{
		{Rule: "api/meta/", Endpoint: "api_meta", Status: "migrating", Go: "GET shadow"},
		{Rule: "api/whoami/", Endpoint: "api_whoami", Status: "migrating", Go: "GET canary"},
		{Rule: "notes/<int:pk>/", Endpoint: "note_detail", Status: "python"},
		{Rule: "api/notes/", Endpoint: "api_notes", Status: "python"},
	}, []opstest.GoLine{"GET /legacy/me/ go"})
}
