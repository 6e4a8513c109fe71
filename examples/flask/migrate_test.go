package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/migrate"
)

// startStagedShop serves the shop under /shop with a copy of stages.json
// and the admin API on a real -admin-bind listener; it returns the
// server and the admin URL.
func startStagedShop(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	log := opstest.Logger()
	o := options{Flags: opstest.Flags(t), mount: "/shop", goRoutes: true,
		migrate: migration.Flags{Stages: opstest.StagesFile(t, ""), AdminBind: "127.0.0.1:0"}}
	app, cat := startShopApp(t, o, log)
	srv, admin, _ := opstest.ServeStaged(t, app, newHandler(app, cat, o, log, nil), o.migrate.Stages, log)
	return srv, admin
}

// TestShadowSearch runs the Go port of /shop/api/search in the shadow
// stage against Flask: clients get Flask's answers, and the port's
// case-sensitive matching shows up as a mismatch at /count.
func TestShadowSearch(t *testing.T) {
	srv, admin := startStagedShop(t)
	const route = "GET /shop/api/search"
	for _, q := range []string{"Moka", "moka"} {
		r := do(t, http.DefaultClient, "GET", srv.URL+"/shop/api/search?q="+q, "", "")
		if r.status != 200 || r.header.Get("X-Served-By") != "python" || !strings.Contains(r.body, `"count":1`) {
			t.Fatalf("GET /shop/api/search?q=%s in shadow: %d %v %q, want Flask's answer", q, r.status, r.header, r.body)
		}
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared == 2
	})
	if st.Counts.Matched != 1 || st.Counts.Mismatched != 1 || st.MismatchPointers["/count"] != 1 {
		t.Errorf("counts %+v, pointers %v; want q=Moka to match and q=moka to differ at /count", st.Counts, st.MismatchPointers)
	}
	if len(st.RecentMismatches) != 1 || st.RecentMismatches[0].Request != "GET /shop/api/search?q=moka HTTP/1.1" {
		t.Errorf("recent mismatches: %+v", st.RecentMismatches)
	}
	page := do(t, http.DefaultClient, "GET", admin+"/", "", "")
	if page.status != 200 || !strings.Contains(page.body, `<td class="mono">/count</td>`) || !strings.Contains(page.body, "Moka pot") {
		t.Errorf("the console does not show the mismatch: %d\n%s", page.status, page.body)
	}
}

// TestCanaryProduct checks the canary of /shop/api/products/{id}: half of
// the users (the uid cookie) on Go, sticky, with a reverse shadow that
// matches Flask.
func TestCanaryProduct(t *testing.T) {
	srv, admin := startStagedShop(t)
	const route, users = "GET /shop/api/products/{id:[0-9]+}", 200
	sides := map[string]int{}
	first := map[int]string{}
	for i := range users {
		req, _ := http.NewRequest("GET", srv.URL+"/shop/api/products/1", nil)
		req.Header.Set("Cookie", fmt.Sprintf("uid=user-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"Espresso cup"`) {
			t.Fatalf("GET /shop/api/products/1: %d %q", resp.StatusCode, b)
		}
		first[i] = resp.Header.Get("X-Served-By")
		sides[first[i]]++
	}
	if sides["go"] < users*35/100 || sides["python"] < users*35/100 || sides["go"]+sides["python"] != users {
		t.Errorf("at 50%%: %v of %d users", sides, users)
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the reverse-shadow comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared > 0 && st.Counts.Go == int64(sides["go"])
	})
	if st.Stage != migrate.StageCanary || st.Percent != 50 || st.Counts.Mismatched != 0 {
		t.Errorf("stage %s %v%%, counts %+v, mismatches %+v", st.Stage, st.Percent, st.Counts, st.RecentMismatches)
	}
}
