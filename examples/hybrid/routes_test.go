package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/migrate"
)

// -routes with a Flask app: the joined table, then exit.
func TestRoutesFlag(t *testing.T) {
	dir := t.TempDir()
	app := `from flask import Flask
app = Flask(__name__)

@app.route("/api/users/<int:id>", methods=["GET", "POST"])
def user(id):
    return str(id)

@app.route("/api/health")
def health():
    return "ok"

@app.route("/about")
def about():
    return "about"
`
	if err := os.WriteFile(filepath.Join(dir, "routesapp.py"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	out := opstest.Stdout(t, func() error {
		return run([]string{"-routes", "-python", pythontest.Python(t), "-workers", "1", "-chdir", dir, "routesapp:app"})
	})
	for _, want := range []string{
		"PYTHON ROUTE (flask)",
		"/api/health [health]",
		"GET:go", // GET /api/health is Go's
		"/about [about]",
		"constraint: Go GET /api/users/{id} vs Python /api/users/<int:id>",
		"GET /api/hello/{name} (go)", // Go only
		"1 of 4 Python routes (25%) served by Go",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-routes output lacks %q:\n%s", want, out)
		}
	}
}

// GET /api/routes answers the inventory as JSON; the bundled app is plain
// WSGI, so its routes are unknown and every Go route is Go-only.
func TestAPIRoutes(t *testing.T) {
	srv := startHybrid(t, "")
	resp, err := http.Get(srv.URL + "/api/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv migrate.Inventory
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/routes: %d, %v", resp.StatusCode, err)
	}
	if inv.Framework != "unknown" || len(inv.Python) != 0 || inv.Coverage.Summary != "0 of 0 Python routes (0%) served by Go" {
		t.Errorf("inventory %+v", inv)
	}
	var goOnly []string
	for _, g := range inv.GoOnly {
		goOnly = append(goOnly, g.Method+" "+g.Pattern)
	}
	if got := strings.Join(goOnly, ","); got != "GET /api/health,GET /api/users/{id},GET /api/hello/{name},GET /api/routes" {
		t.Errorf("go-only routes %s", got)
	}
}
