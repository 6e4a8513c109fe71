package migrate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/browsertest"
)

// TestConsoleInBrowser moves a route from shadow to canary 50% in the
// console, in headless Chromium, and checks that traffic moves: afterwards
// the requests are split between Flask and Go by their sticky key.
func TestConsoleInBrowser(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const route = "GET /api/diff/{id}"
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: route, Stage: StageShadow, Sticky: "header:X-User"}}}, diffRoutes)
	srv := consoleServer(t, e.m, ConsoleOptions{}, nil)

	// served sends n requests, each with its own user, and counts who
	// answered (Flask's email or Go's).
	served := func(n int, prefix string) (python, goCount int) {
		for i := range n {
			code, body := e.get(t, fmt.Sprintf("/api/diff/%d", i), "X-User", fmt.Sprintf("%s-%d", prefix, i))
			switch {
			case code == 200 && strings.Contains(body, "ada@example.com"):
				python++
			case code == 200 && strings.Contains(body, "other@example.com"):
				goCount++
			default:
				t.Fatalf("GET /api/diff/%d: %d %q", i, code, body)
			}
		}
		return python, goCount
	}
	if p, g := served(20, "before"); p != 20 || g != 0 {
		t.Fatalf("in shadow: Python served %d, Go %d; want all by Python", p, g)
	}
	e.settle()

	wd := browsertest.Start(t)
	wd.ScreenshotOnFailure(t, "migrate-console")
	wd.Navigate(t, srv.URL+"/")
	card := `section[data-route="` + route + `"]`
	if got := wd.Execute(t, `return document.querySelector('`+card+` [data-effective]').textContent`); got != "shadow" {
		t.Fatalf("the console shows stage %v, want shadow:\n%s", got, wd.Source(t))
	}
	if got := wd.Execute(t, `return document.querySelector('`+card+` .mismatched').textContent`); got != "20" {
		t.Errorf("the console shows %v mismatches, want 20", got)
	}
	if n := wd.Execute(t, `return document.querySelectorAll('`+card+` details.mismatch').length`); n == float64(0) {
		t.Errorf("the console shows no recent mismatch")
	}

	form := `form.stage-form[data-route="` + route + `"]`
	wd.Click(t, wd.Find(t, form+` select[name="stage"] option[value="canary"]`))
	pct := wd.Find(t, form+` input[name="percent"]`)
	wd.Clear(t, pct)
	wd.SendKeys(t, pct, "50")
	wd.Click(t, wd.Find(t, form+` button[type="submit"]`))
	wd.WaitFor(t, func() bool {
		v := wd.Execute(t, `const e = document.querySelector('`+card+` [data-effective]'); return e ? e.textContent : ''`)
		return v == "canary"
	})
	if u := wd.CurrentURL(t); u != srv.URL+"/#route-1" {
		t.Errorf("after the post the browser is at %s, want the console at the route's card", u)
	}
	if src := wd.Source(t); !strings.Contains(src, "<b>50%</b>") {
		t.Errorf("the console does not show the canary at 50%%:\n%s", src)
	}
	st := e.status(t, route)
	if st.Stage != StageCanary || st.Percent != 50 || st.Config.Sticky != "header:X-User" {
		t.Fatalf("GET /routes: stage %s, %v%%, sticky %q; want canary 50%% by header:X-User", st.Stage, st.Percent, st.Config.Sticky)
	}

	// Traffic moved: about half of the users now get Go's answer.
	const n = 400
	p, g := served(n, "after")
	if g < n*35/100 || p < n*35/100 {
		t.Errorf("at canary 50%%: Python served %d, Go %d of %d users", p, g, n)
	}
	// A request is counted once its handler has returned, which can be
	// just after the client has the response.
	var after RouteStatus
	eventually(t, "the counts", func() bool {
		after = e.status(t, route)
		return after.Counts.Go == int64(g) && after.Counts.Python == int64(20+p)
	})
	// The page shows the split.
	wd.Navigate(t, srv.URL+"/")
	if src := wd.Source(t); !strings.Contains(src, fmt.Sprintf("Go %d", g)) {
		t.Errorf("the console does not show Go's %d requests", g)
	}
}
