package migrate

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/internal/browsertest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// xssPayload is markup that would run script, or add an element, if the
// console wrote it into the page unescaped.
const xssPayload = `<img id="pwn" src="x" onerror="window.pwned=1"><script>window.pwned=2</script>"'><b id="pwn2">`

// TestConsoleShowsMismatchesAsText puts markup where clients and apps
// control what the console shows of a mismatch (the request's query, the
// candidate's body and a response header) and checks, in headless
// Chromium, that it is shown as text: no element is added, no script runs.
func TestConsoleShowsMismatchesAsText(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const route = "GET /api/diff/{id}"
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: route, Stage: StageShadow}}}, func(r *router.Router) {
		r.Get("/api/diff/{id}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Note", xssPayload)
			writeJSONBody(w, fmt.Sprintf(`{"id":%s,"name":"Ada Lovelace","email":%q}`, chi.URLParam(r, "id"), xssPayload))
		})
	})
	srv := consoleServer(t, e.m, ConsoleOptions{}, nil)
	for i := range 3 {
		if code, body := e.get(t, fmt.Sprintf("/api/diff/%d?q=%s", i, url.QueryEscape(xssPayload))); code != 200 {
			t.Fatalf("GET /api/diff/%d: %d %q", i, code, body)
		}
	}
	e.settle()

	wd := browsertest.Start(t)
	wd.Navigate(t, srv.URL+"/")
	card := `section[data-route="` + route + `"]`
	if n := wd.Execute(t, `return document.querySelectorAll('`+card+` details.mismatch').length`); n == float64(0) {
		t.Fatalf("the console shows no mismatch:\n%s", wd.Source(t))
	}
	if got := wd.Execute(t, `return String(window.pwned)`); got != "undefined" {
		t.Errorf("a script from a mismatch ran: window.pwned = %v", got)
	}
	if got := wd.Execute(t, `return document.querySelectorAll('#pwn, #pwn2, script').length`); got != float64(0) {
		t.Errorf("the console has %v elements from the mismatches:\n%s", got, wd.Source(t))
	}
	text, _ := wd.Execute(t, `return document.querySelector('`+card+`').textContent`).(string)
	if !strings.Contains(text, "X-Note: "+xssPayload) {
		t.Errorf("the candidate's header is not shown as text:\n%s", text)
	}
}

// TestConsoleInventoryShowsRoutesAsText puts markup where the Python app
// controls what the console's inventory page shows (a rule, an endpoint,
// a view, the reason a rule is untranslatable) and checks, in headless
// Chromium, that it is shown as text.
func TestConsoleInventoryShowsRoutesAsText(t *testing.T) {
	e := newEnv(t, http.NotFoundHandler(), Options{}, func(r *router.Router) { r.Get("/x", okHandler) })
	routes := func(context.Context) (*wsgi.AppRouteMap, error) {
		return &wsgi.AppRouteMap{Framework: "flask", Routes: []wsgi.AppRoute{
			{Framework: "flask", Rule: "/x" + xssPayload, Pattern: "/x", Methods: []string{"GET"}, Endpoint: xssPayload, View: xssPayload},
			{Framework: "flask", Rule: "/y" + xssPayload, Untranslatable: xssPayload, Methods: []string{"GET"}},
		}}, nil
	}
	srv := httptest.NewServer(e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{}), PythonRoutes: routes}))
	t.Cleanup(srv.Close)

	wd := browsertest.Start(t)
	wd.Navigate(t, srv.URL+"/console/inventory")
	if n := wd.Execute(t, `return document.querySelectorAll('tr.python-route').length`); n != float64(2) {
		t.Fatalf("the inventory shows %v routes, want 2:\n%s", n, wd.Source(t))
	}
	if got := wd.Execute(t, `return String(window.pwned)`); got != "undefined" {
		t.Errorf("a script from the route map ran: window.pwned = %v", got)
	}
	if got := wd.Execute(t, `return document.querySelectorAll('#pwn, #pwn2, script').length`); got != float64(0) {
		t.Errorf("the inventory has %v elements from the route map:\n%s", got, wd.Source(t))
	}
	text, _ := wd.Execute(t, `return document.querySelector('#python-routes').textContent`).(string)
	if strings.Count(text, xssPayload) != 5 {
		t.Errorf("the route map's markup is not shown as text 5 times:\n%s", text)
	}
}
