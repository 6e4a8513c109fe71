package migrate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/browsertest"
)

// TestConsoleKeyboard does the console's main actions in headless
// Chromium with the keyboard alone (Tab, a letter in a select, typing,
// Enter and Space), as a person without a mouse does: set a route's stage
// and canary percentage, flip its kill switch, flip the global one. After
// each post the browser is back on the console, with its focus where the
// change was made (the next Tab goes into the changed route's card, not
// back to the top of the page), and the page logs no error.
func TestConsoleKeyboard(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const first, route = "GET /api/diff/{id}", "GET /api/order/{id}"
	e := newEnv(t, py, Options{Routes: []RouteConfig{
		{Route: first, Stage: StageShadow},
		{Route: route, Stage: StageShadow, Sticky: "header:X-User"},
	}}, diffRoutes)
	srv := consoleServer(t, e.m, ConsoleOptions{}, nil)
	for i := range 3 {
		e.get(t, fmt.Sprintf("/api/diff/%d", i))
		e.get(t, fmt.Sprintf("/api/order/%d", i))
	}
	e.settle()

	wd := browsertest.Start(t)
	wd.ScreenshotOnFailure(t, "console-keyboard")
	active := func() string {
		s, _ := wd.Execute(t, `const a = document.activeElement; if (!a || a === document.body) return 'body';
			const f = a.closest('form'); return a.tagName.toLowerCase() + (a.name ? '[name=' + a.name + ']' : '') +
			(f ? ' in ' + (f.id || f.className + ' ' + (f.dataset.route || '')) : '')`).(string)
		return s
	}
	// tabTo presses Tab until the element matching css has the focus, and
	// returns how many presses it took.
	tabTo := func(css string) int {
		t.Helper()
		var seen []string
		for n := 1; n <= 80; n++ {
			wd.Keys(t, browsertest.Tab)
			if wd.Execute(t, `return document.activeElement.matches('`+css+`')`) == true {
				return n
			}
			seen = append(seen, active())
		}
		t.Fatalf("80 Tabs did not reach %s; the focus went: %s", css, strings.Join(seen, " → "))
		return 0
	}
	effective := func(r string) string {
		v, _ := wd.Execute(t, `const e = document.querySelector('section[data-route="`+r+`"] [data-effective]'); return e ? e.textContent : ''`).(string)
		return v
	}
	waitLoaded := func(cond func() bool) {
		t.Helper()
		wd.WaitFor(t, func() bool {
			return wd.Execute(t, `return document.readyState`) == "complete" && cond()
		})
	}

	wd.Navigate(t, srv.URL+"/")
	wd.CheckLog(t, "on load")
	form := `form.stage-form[data-route="` + route + `"]`

	// The stage: Tab to the route's select, "c" picks canary, Tab to the
	// percentage, select it all and type 25, Tab to Apply, Enter.
	tabTo(form + ` select[name="stage"]`)
	wd.Keys(t, "c")
	if v := wd.Execute(t, `return document.activeElement.value`); v != "canary" {
		t.Fatalf(`"c" in the stage select chose %v, want canary`, v)
	}
	wd.Keys(t, browsertest.Tab, browsertest.Control, "a", "2", "5", browsertest.Tab)
	if got := active(); !strings.HasPrefix(got, "button") || !strings.Contains(got, route) {
		t.Fatalf("after the percentage, the focus is on %s, want the route's Apply button", got)
	}
	wd.Keys(t, browsertest.Enter)
	waitLoaded(func() bool { return effective(route) == "canary" })
	if st := e.status(t, route); st.Stage != StageCanary || st.Percent != 25 {
		t.Fatalf("after Apply: stage %s %v%%, want canary 25%%", st.Stage, st.Percent)
	}
	if u := wd.CurrentURL(t); !strings.HasPrefix(u, srv.URL+"/") || strings.Contains(u, "console/") {
		t.Errorf("after Apply the browser is at %s, want the console", u)
	}
	wd.CheckLog(t, "after Apply")
	// The next Tab stays in the changed route's card.
	if n := tabTo(form + ` select[name="stage"]`); n != 1 {
		t.Errorf("after Apply, %d Tabs back to the route's stage select, want 1: the focus went back to the top of the page", n)
	}

	// The route's kill switch, with Space.
	tabTo(`form.kill-form[data-route="` + route + `"] button`)
	wd.Keys(t, browsertest.Space)
	waitLoaded(func() bool { return effective(route) == "python" })
	if st := e.status(t, route); !st.ForcePython || st.Effective != StagePython {
		t.Fatalf("after the kill switch: force_python %v, effective %s", st.ForcePython, st.Effective)
	}
	wd.CheckLog(t, "after the kill switch")
	if n := tabTo(form + ` select[name="stage"]`); n != 1 {
		t.Errorf("after the kill switch, %d Tabs to the route's stage select, want 1", n)
	}
	tabTo(`form.kill-form[data-route="` + route + `"] button`)
	wd.Keys(t, browsertest.Enter) // release
	waitLoaded(func() bool { return effective(route) == "canary" })

	// The global kill switch, Shift+Tab from the first route's select.
	wd.Navigate(t, srv.URL+"/")
	tabTo(`form.stage-form[data-route="` + first + `"] select`)
	for range 3 {
		if wd.Execute(t, `return document.activeElement.matches('#global-kill-form button')`) == true {
			break
		}
		wd.Keys(t, browsertest.Shift, browsertest.Tab)
	}
	if got := active(); !strings.Contains(got, "global-kill-form") {
		t.Fatalf("Shift+Tab from the first route did not reach the global kill switch: %s", got)
	}
	wd.Keys(t, browsertest.Enter)
	waitLoaded(func() bool { return wd.Execute(t, `return !!document.getElementById('global-kill')`) == true })
	if !e.m.ForcePython() || effective(route) != "python" || effective(first) != "python" {
		t.Fatalf("after the global kill switch: on %v, %s and %s", e.m.ForcePython(), effective(first), effective(route))
	}
	tabTo(`#global-kill-form button`)
	wd.Keys(t, browsertest.Space)
	waitLoaded(func() bool { return wd.Execute(t, `return !document.getElementById('global-kill')`) == true })
	if e.m.ForcePython() {
		t.Fatal("the global kill switch is still on after its release")
	}
	wd.CheckLog(t, "at the end")
}
