package migrate_test

import (
	"net/http"
	"os"

	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

func ExampleNewInventory() {
	// What wsgi.Container.AppRoutes reports for a small Django app.
	py := &wsgi.AppRouteMap{Framework: "django", Routes: []wsgi.AppRoute{
		{Rule: "articles/<int:pk>/", Pattern: "/articles/{pk:[0-9]+}/", Endpoint: "article"},
		{Rule: "articles/<int:pk>/edit/", Pattern: "/articles/{pk:[0-9]+}/edit/", Endpoint: "edit", Methods: []string{"GET", "POST"}},
		{Rule: "tags/<slug:s>/", Pattern: "/tags/{s:[-a-zA-Z0-9_]+}/", Endpoint: "tag"},
	}}
	r := router.New()
	ok := func(w http.ResponseWriter, r *http.Request) {}
	r.Get("/articles/{id:[0-9]+}/", ok)
	r.Get("/articles/{id:[0-9]+}/edit/", ok)
	r.Get("/tags/{s}/", ok) // accepts what Django's slug does not
	r.Get("/healthz", ok)

	inv := migrate.NewInventory(py, r.Inventory(), nil)
	inv.WriteTable(os.Stdout)
	// Output:
	// PYTHON ROUTE (django)           METHODS   GO PATTERN                   GO SERVES  STATUS
	// articles/<int:pk>/ [article]    any       /articles/{pk:[0-9]+}/       GET:go     go
	// articles/<int:pk>/edit/ [edit]  GET,POST  /articles/{pk:[0-9]+}/edit/  GET:go     migrating
	// tags/<slug:s>/ [tag]            any       /tags/{s:[-a-zA-Z0-9_]+}/    -          python
	//
	// Go routes that match no Python route:
	//   GET /healthz (go)
	//
	// Conflicts:
	//   constraint: Go GET /tags/{s}/ vs Python tags/<slug:s>/: constraint: Go's parameter accepts any segment, Python's only /[-a-zA-Z0-9_]+/
	//
	// 1 of 3 Python routes (33%) served by Go; 1 migrating, 0 untranslatable
}
