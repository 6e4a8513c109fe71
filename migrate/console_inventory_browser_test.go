package migrate

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/browsertest"
	"github.com/graft-dev/graft/router"
)

// TestConsoleInventoryInBrowser goes, in headless Chromium and with the
// keyboard alone, from the console to the route inventory and back: from
// a route's card to its lines of the inventory (the Flask rule it
// serves, shown as text), from there back to the card (the next Tab goes
// into it), and from the top of the page to the whole inventory and back.
// The pages log no error. Until 2026-12-03 the console had no link to the
// inventory, which only GET /inventory answered, as JSON.
func TestConsoleInventoryInBrowser(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const users = "GET /api/users/{id:[0-9]+}"
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/diff/{id}", Stage: StageShadow}, {Route: users, Stage: StageShadow}}}, func(r *router.Router) {
		diffRoutes(r)
		r.Get("/api/users/{id:[0-9]+}", okHandler)
	})
	srv := httptest.NewServer(e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{}), PythonRoutes: py.AppRoutes}))
	t.Cleanup(srv.Close)

	wd := browsertest.Start(t)
	wd.ScreenshotOnFailure(t, "console-inventory")
	tabTo := func(css string) int {
		t.Helper()
		for n := 1; n <= 80; n++ {
			wd.Keys(t, browsertest.Tab)
			if wd.Execute(t, `return document.activeElement.matches('`+css+`')`) == true {
				return n
			}
		}
		t.Fatalf("80 Tabs did not reach %s:\n%s", css, wd.Source(t))
		return 0
	}
	waitFor := func(path string) {
		t.Helper()
		wd.WaitFor(t, func() bool {
			return wd.Execute(t, `return document.readyState`) == "complete" && strings.HasPrefix(wd.CurrentURL(t), srv.URL+path)
		})
	}
	text := func(css string) string {
		v, _ := wd.Execute(t, `const e = document.querySelector('`+css+`'); return e ? e.textContent : ''`).(string)
		return v
	}

	wd.Navigate(t, srv.URL+"/")
	wd.CheckLog(t, "on load")
	card := `section[data-route="` + users + `"]`

	// From the route's card to its lines of the inventory.
	tabTo(card + ` a.inventory-route`)
	wd.Keys(t, browsertest.Enter)
	waitFor("/console/inventory?route=")
	if u, err := url.Parse(wd.CurrentURL(t)); err != nil || u.Path != "/console/inventory" || u.Query().Get("route") != users {
		t.Errorf("the route's inventory link led to %s", wd.CurrentURL(t))
	}
	if got := text(`#inventory-route`); got != users {
		t.Errorf("the inventory page is about %q, want %q", got, users)
	}
	if got := wd.Execute(t, `return document.querySelectorAll('tr.python-route').length`); got != float64(1) {
		t.Errorf("%v Python routes shown for %s, want 1:\n%s", got, users, wd.Source(t))
	}
	if got := text(`tr.python-route td`); !strings.HasPrefix(got, "/api/users/<int:user_id>") {
		t.Errorf("the route's Python rule is shown as %q, want the Flask rule as text", got)
	}
	if got := text(`tr.python-route [data-status]`); got != "migrating" {
		t.Errorf("status %q, want migrating (Go's route is in shadow)", got)
	}
	wd.CheckLog(t, "on the route's inventory")

	// Back to the route's card by its Go route's link.
	tabTo(`tr.python-route a[href^="../#route-"]`)
	wd.Keys(t, browsertest.Enter)
	waitFor("/#route-")
	form := `form.stage-form[data-route="` + users + `"]`
	if n := tabTo(form + ` select[name="stage"]`); n != 1 {
		t.Errorf("back from the inventory, %d Tabs to the route's stage select, want 1: the link does not lead to the route's card", n)
	}

	// The whole inventory from the top of the page, and back.
	wd.Navigate(t, srv.URL+"/")
	tabTo(`#inventory-link`)
	wd.Keys(t, browsertest.Enter)
	waitFor("/console/inventory")
	if got := text(`#coverage`); !strings.Contains(got, "Python routes") {
		t.Errorf("the inventory's coverage is %q", got)
	}
	if n := wd.Execute(t, `return document.querySelectorAll('tr.python-route').length`); n.(float64) < 10 {
		t.Errorf("the whole inventory shows %v Python routes", n)
	}
	wd.CheckLog(t, "on the inventory")
	tabTo(`#back`)
	wd.Keys(t, browsertest.Enter)
	wd.WaitFor(t, func() bool { return wd.CurrentURL(t) == srv.URL+"/" && text(card+` [data-effective]`) == "shadow" })
	wd.CheckLog(t, "at the end")
}
