package opstest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/wsgi"
)

// StagesFile writes stages (the example's stages.json, read from the
// current directory, when "") to a stages file in a temporary directory
// and returns its path: the example's file is never changed.
func StagesFile(t testing.TB, stages string) string {
	t.Helper()
	if stages == "" {
		b, err := os.ReadFile("stages.json")
		if err != nil {
			t.Fatal(err)
		}
		stages = string(b)
	}
	file := filepath.Join(t.TempDir(), "stages.json")
	if err := os.WriteFile(file, []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// ServeStaged starts the migration of h with the stages file and the
// admin API on a real -admin-bind listener (127.0.0.1:0), and serves h
// with Serve. It returns the server, the admin API's base URL and the
// migration. When the test ends the migration stops first, then the
// server, then app's workers. A migration that does not start stops
// app's workers and fails the test.
func ServeStaged(t testing.TB, app *wsgi.Container, h http.Handler, stagesFile string, log *slog.Logger) (*httptest.Server, string, *migration.Migration) {
	t.Helper()
	mg, err := migration.Start(h, migration.Flags{Stages: stagesFile, AdminBind: "127.0.0.1:0"}, log, nil)
	if err != nil {
		app.Shutdown(t.Context())
		t.Fatal(err)
	}
	srv := Serve(t, app, h)
	t.Cleanup(func() { mg.Stop(context.Background()) }) // cleanups run last first: before the server and the workers stop
	return srv, "http://" + mg.AdminAddr(), mg
}

// RouteStatus fetches route's status from GET /routes of the admin API at
// admin, and fails the test if the route is not there.
func RouteStatus(t testing.TB, admin, route string) migrate.RouteStatus {
	t.Helper()
	resp, err := http.Get(admin + "/routes")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var list []migrate.RouteStatus
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("GET /routes: %d %q: %v", resp.StatusCode, b, err)
	}
	for _, st := range list {
		if st.Route == route {
			return st
		}
	}
	t.Fatalf("%s is not in GET /routes: %s", route, b)
	return migrate.RouteStatus{}
}
