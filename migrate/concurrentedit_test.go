package migrate

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/router"
)

// TestChangesOfOtherFieldsStay checks that a change of some fields of a
// route (POST /routes, the console's form) keeps the other fields as they
// are in effect when it is made: those set by a change made at the same
// time, and those of an edit of the stages file not picked up yet. Before
// 2026-12-02 the change was built from the configuration read before it
// took the lock: of four POSTs of different fields made at once, the
// last one undid another's field (3 rounds in 20 against the Flask
// example), and a POST or a console Apply made within the poll interval
// of an edit of the file undid that edit's fields.
func TestChangesOfOtherFieldsStay(t *testing.T) {
	const route = "GET /x"
	newMigrator := func(t *testing.T) (*env, string) {
		path := filepath.Join(t.TempDir(), "stages.json")
		writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "canary", "percent": 50}]}`)
		e := newEnv(t, http.NotFoundHandler(), Options{StagesFile: path, PollInterval: time.Hour}, func(r *router.Router) {
			r.Get("/x", func(http.ResponseWriter, *http.Request) {})
		})
		return e, path
	}

	t.Run("concurrent POSTs", func(t *testing.T) {
		e, _ := newMigrator(t)
		for round := range 30 {
			if _, err := e.m.SetRoute("reset", RouteConfig{Route: route, Stage: StageCanary, Percent: 50}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, body := range []string{`"sticky": "header:X-Tenant"`, `"shadow_sample": 0.3`, `"percent": 10`, `"noise_sample": 0.5`, `"ignore": ["/at"]`} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code, out := e.post(t, "/routes", `{"route": "GET /x", `+body+`}`); code != 200 {
						t.Errorf("POST %s: %d %v", body, code, out)
					}
				}()
			}
			wg.Wait()
			c, _ := e.m.Config(route)
			if c.Sticky != "header:X-Tenant" || c.ShadowSample != 0.3 || c.Percent != 10 || c.NoiseSample != 0.5 || !slices.Equal(c.Ignore, []string{"/at"}) {
				t.Fatalf("round %d: %+v, want every field of the five POSTs", round, c)
			}
		}
	})

	edit := `{"routes": [{"route": "GET /x", "stage": "canary", "percent": 50, "sticky": "cookie:uid", "ignore": ["/at"]}]}`
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, e *env)
		want   RouteConfig
	}{
		{"POST after an edit of the file", func(t *testing.T, e *env) {
			if code, out := e.post(t, "/routes", `{"route": "GET /x", "percent": 25}`); code != 200 {
				t.Fatalf("POST: %d %v", code, out)
			}
		}, RouteConfig{Route: route, Stage: StageCanary, Percent: 25, Sticky: "cookie:uid", Ignore: []string{"/at"}}},
		{"console Apply after an edit of the file", func(t *testing.T, e *env) {
			srv := consoleServer(t, e.m, ConsoleOptions{}, nil)
			_, cookie, token := consoleGet(t, srv.URL)
			form := url.Values{"csrf": {token}, "route": {route}, "stage": {"go"}, "percent": {"100"}}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/stage", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", srv.URL)
			req.AddCookie(cookie)
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("Apply: %d", res.StatusCode)
			}
		}, RouteConfig{Route: route, Stage: StageGo, Percent: 100, Sticky: "cookie:uid", Ignore: []string{"/at"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, path := newMigrator(t)
			writeFile(t, path, edit) // not picked up yet: the poll is an hour away
			tc.change(t, e)
			c, _ := e.m.Config(route)
			if !equalConfig(c, tc.want) {
				t.Fatalf("after the change: %+v, want %+v (the edit's sticky and ignore kept)", c, tc.want)
			}
			f, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Routes) != 1 || !equalConfig(f.Routes[0], tc.want) {
				t.Fatalf("stages file: %s", fmt.Sprint(f.Routes))
			}
		})
	}
}
