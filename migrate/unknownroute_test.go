package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
	"github.com/prometheus/client_golang/prometheus"
)

// An unknown route tells the user what to write instead: the staged route
// it resembles (a Flask <id> or Django <int:id> for chi's {id}, another
// method on the same pattern), or the routes there are, or that there are
// none yet (migrate.New called before the routes were registered).
func TestUnknownRouteHint(t *testing.T) {
	noop := func(http.ResponseWriter, *http.Request) {}
	full := func(r *router.Router) {
		r.Get("/api/users/{id}", noop)
		r.Get("/api/files/{id:[0-9]{3}}", noop)
		r.Post("/login", noop)
		r.Get("/files/*", noop)
		r.Get("/docs/{*:.+}", noop)
		r.Fallback(http.NotFoundHandler())
	}
	many := func(r *router.Router) {
		full(r)
		for i := range 12 {
			r.Get(fmt.Sprintf("/a%02d", i), noop)
		}
		r.Get("/zz/products/{id}", noop)
	}
	for _, tc := range []struct {
		name   string
		routes func(*router.Router)
		route  string
		want   []string
	}{
		{"Flask's converter syntax", full, "GET /api/users/<id>", []string{`did you mean "GET /api/users/{id}"? Patterns are chi's, {id}, not Flask's <id>`}},
		{"Django's converter syntax", full, "GET /api/users/<int:id>", []string{`did you mean "GET /api/users/{id}"?`}},
		{"another parameter name", full, "GET /api/users/{user_id}", []string{`did you mean "GET /api/users/{id}"?`}},
		{"a regexp with braces", full, "GET /api/files/<int:id>", []string{`did you mean "GET /api/files/{id:[0-9]{3}}"?`}},
		{"another method", full, "POST /api/users/{id}", []string{`did you mean "GET /api/users/{id}"?`}},
		// It said only "did you mean", as if HEAD needed a line of its own.
		{"HEAD of a GET route", full, "HEAD /api/users/{id}", []string{`HEAD follows the line of "GET /api/users/{id}": list that route`}},
		// The catch-all forms are alike: chi's "*", graft's constrained
		// one ("{*:.+}", which the route map writes for a path converter)
		// and Flask's and Django's <path:p>. They said "the routes that
		// can be staged", as if nothing were alike.
		{"the route map's pattern for a chi catch-all", full, "GET /files/{*:[^/].*}", []string{`did you mean "GET /files/*"?`,
			`"GET /files/*" also takes the empty rest ("/files/"), which Flask's, Django's and Bottle's path converters refuse`}},
		{"Flask's path converter", full, "GET /files/<path:name>", []string{`did you mean "GET /files/*"? Patterns are chi's`}},
		// Bottle's and Pyramid's forms: they listed every route.
		{"Pyramid's stararg", full, "GET /files/*rest", []string{`did you mean "GET /files/*"?)`}}, // takes the empty rest, as chi's *
		{"Pyramid's stararg for a constrained catch-all", full, "GET /docs/*subpath", []string{`did you mean "GET /docs/{*:.+}"?)`}},
		{"Bottle's path filter", full, "GET /files/<p:path>", []string{`did you mean "GET /files/*"? Patterns are chi's, {id}, not Flask's <id>, Django's <int:id> or Bottle's <id:int>`,
			`"GET /files/*" also takes the empty rest ("/files/"), which Flask's, Django's and Bottle's path converters refuse`}},
		{"Bottle's int filter", full, "GET /api/users/<id:int>", []string{`did you mean "GET /api/users/{id}"? Patterns are chi's, {id}, not Flask's <id>, Django's <int:id> or Bottle's <id:int>`}},
		{"chi's catch-all for a constrained one", full, "GET /docs/*", []string{`did you mean "GET /docs/{*:.+}"?)`}},
		{"another constrained catch-all", full, "GET /docs/{*:[^/].*}", []string{`did you mean "GET /docs/{*:.+}"?)`}},
		{"a catch-all for a parameter", full, "GET /api/users/*", []string{`the routes that can be staged`}},
		// A stages file written for another mount prefix (the examples'
		// -mount) listed every route, leaving the user to spot the prefix.
		{"a prefix too many", full, "GET /shop/api/users/{id}", []string{`did you mean "GET /api/users/{id}"? A route is named by its Go route's full pattern, with the prefix it is mounted at`}},
		{"a prefix missing", full, "GET /users/{id}", []string{`did you mean "GET /api/users/{id}"? A route is named`}},
		{"a prefix, another method", full, "POST /shop/login", []string{`did you mean "POST /login"?`}},
		{"not a prefix of whole segments", full, "POST /xlogin", []string{`did you mean "POST /login"? The pattern differs by a letter or two)`}}, // a typo, not a mount prefix
		{"not a prefix of whole segments, nor a typo", full, "POST /xyzlogin", []string{`the routes that can be staged`}},
		// A trailing slash too many or missing (Django's routes end in
		// one, Flask's seldom) listed every route.
		{"a slash too many", full, "GET /api/users/{id}/", []string{`did you mean "GET /api/users/{id}"? chi treats /a and /a/ as two routes`}},
		{"a slash too many, POST", full, "POST /login/", []string{`did you mean "POST /login"?`}},
		{"a slash too many, Django's syntax", full, "GET /api/users/<int:id>/", []string{`did you mean "GET /api/users/{id}"?`}},
		// A misspelt segment listed the routes, the first ten in
		// alphabetical order: among many, not the one meant.
		{"a letter missing", full, "GET /api/user/{id}", []string{`did you mean "GET /api/users/{id}"? The pattern differs by a letter or two)`}},
		{"letters swapped, Flask's syntax", full, "GET /api/fiels/<int:id>", []string{`did you mean "GET /api/files/{id:[0-9]{3}}"? The pattern differs by a letter or two, and patterns are chi's`}},
		{"letter case", full, "POST /Login", []string{`did you mean "POST /login"?`}},
		{"a typo among many routes", many, "GET /zz/prodcts/{id}", []string{`did you mean "GET /zz/products/{id}"?`}},
		{"too far for a typo", full, "GET /api/usrs-x/{id}", []string{`the routes that can be staged`}},
		{"nothing alike", full, "GET /api/users/id", []string{`the routes that can be staged: "GET /api/files/{id:[0-9]{3}}", "GET /api/users/{id}", "GET /docs/{*:.+}", "GET /files/*", "POST /login")`}},
		{"no route yet", func(r *router.Router) { r.Fallback(http.NotFoundHandler()) }, "GET /x", []string{"the router has no route for one method yet: register the Go routes before migrate.New"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := router.New()
			tc.routes(r)
			_, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), Routes: []RouteConfig{{Route: tc.route, Stage: StagePython}}})
			if err == nil {
				t.Fatal("New accepted an unknown route")
			}
			prefix := fmt.Sprintf("migrate: unknown route %q (no Go route has this method and pattern", tc.route)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("New: %v\nwant it to start with %s", err, prefix)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v\nwant it to say %s", err, w)
				}
			}
		})
	}

	t.Run("the admin API says the same", func(t *testing.T) {
		r := router.New()
		full(r)
		m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		h := m.Handler(AdminOptions{})
		for _, req := range []*http.Request{
			httptest.NewRequest("GET", "/routes?route=GET+/api/users/<id>", nil),
			httptest.NewRequest("POST", "/routes", bytes.NewBufferString(`{"route": "GET /api/users/<id>", "stage": "python"}`)),
			httptest.NewRequest("POST", "/force-python", bytes.NewBufferString(`{"route": "GET /api/users/<id>", "on": true}`)),
		} {
			req.Host = "localhost"
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var out struct{ Error string }
			json.Unmarshal(w.Body.Bytes(), &out)
			if w.Code != http.StatusBadRequest || !strings.Contains(out.Error, `did you mean "GET /api/users/{id}"?`) {
				t.Errorf("%s %s: %d %s, want 400 with the hint", req.Method, req.URL, w.Code, w.Body)
			}
		}
		req := httptest.NewRequest("GET", "/routes?route=/api/users/{id}", nil) // no method
		req.Host = "localhost"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `is not \"METHOD /pattern\"`) {
			t.Errorf("GET /routes?route=/api/users/{id}: %d %s, want 400 saying the route is not METHOD /pattern", w.Code, w.Body)
		}
	})
}

// A route whose pattern does not begin with "/" says what to write: the
// route map's PYTHON ROUTE column shows Django's routes without it
// ("api/items/<int:pk>/"), and a user copying one into the stages file
// was told only that it is not "METHOD /pattern". Pyramid's static views
// too ("static/*subpath"), which the message named as Django's only.
func TestRouteWithoutSlashHint(t *testing.T) {
	for _, route := range []string{"GET api/items/<int:pk>/", "GET  en-us/shop/me/", "GET static/*subpath"} {
		t.Run(route, func(t *testing.T) {
			want := `the pattern begins with "/" (the route map's PYTHON ROUTE column writes Django's routes and Pyramid's static views without it): name the Go route, the GO PATTERN column`
			_, err := ParseFile([]byte(`{"routes": [{"route": "` + route + `", "stage": "python"}]}`))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseFile: %v\nwant it to say %s", err, want)
			}
			r := router.New()
			r.Get("/api/items/{pk:[0-9]+}/", func(http.ResponseWriter, *http.Request) {})
			r.Fallback(http.NotFoundHandler())
			_, err = New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), Routes: []RouteConfig{{Route: route, Stage: StagePython}}})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("New: %v\nwant it to say %s", err, want)
			}
		})
	}
}
