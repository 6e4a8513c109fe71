package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/migrate"
)

// stagedUsers is how many token users the staged site knows: tok-N is
// user-N's token.
const stagedUsers = 200

// startStagedSite is startSite with a copy of stages.json and the admin
// API on a real -admin-bind listener; it returns the server and the admin
// URL.
func startStagedSite(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	tokens := tokenFlag{testToken: "alice"}
	for i := range stagedUsers {
		tokens[fmt.Sprintf("tok-%d", i)] = fmt.Sprintf("user-%d", i)
	}
	o := options{
		Flags: opstest.Flags(t), mount: "/legacy", goRoutes: true,
		adminUser: "admin", adminPassword: testPassword, tokens: tokens,
		migrate: migration.Flags{Stages: opstest.StagesFile(t, ""), AdminBind: "127.0.0.1:0"},
	}
	log := opstest.Logger()
	app, h := startProject(t, o, log)
	srv, admin, _ := opstest.ServeStaged(t, app, h, o.migrate.Stages, log)
	return srv, admin
}

// TestShadowMeta runs the Go port of api/meta/ in the shadow stage against
// Django: clients get Django's answer, and the datetime Django writes to
// the millisecond and Go to the microsecond shows up at /released.
func TestShadowMeta(t *testing.T) {
	srv, admin := startStagedSite(t)
	const route, n = "GET /legacy/api/meta/", 3
	for range n {
		r := get(t, srv.URL+"/legacy/api/meta/", "Authorization", bearer)
		if r.status != 200 || r.header.Get("X-Served-By") != "python" || !strings.Contains(r.body, `"released": "2024-05-01T12:00:00.123Z"`) {
			t.Fatalf("GET /legacy/api/meta/ in shadow: %d %v %q, want Django's answer", r.status, r.header, r.body)
		}
	}
	// Without a token, bearerAuth answers before the stage is looked at.
	if r := get(t, srv.URL+"/legacy/api/meta/"); r.status != 401 {
		t.Errorf("without a token: %d", r.status)
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared == n
	})
	if st.Counts.Mismatched != n || len(st.MismatchPointers) != 1 || st.MismatchPointers["/released"] != n {
		t.Errorf("counts %+v, pointers %v; want every comparison to differ at /released only", st.Counts, st.MismatchPointers)
	}
	if len(st.RecentMismatches) == 0 || !strings.Contains(st.RecentMismatches[0].Diff, "2024-05-01T12:00:00.123456Z") ||
		st.RecentMismatches[0].RequestHeader.Get("Authorization") == bearer {
		t.Errorf("recent mismatches (the token must be redacted): %+v", st.RecentMismatches)
	}
	page := get(t, admin+"/")
	if page.status != 200 || !strings.Contains(page.body, `<td class="mono">/released</td>`) {
		t.Errorf("the console does not show the mismatch: %d\n%s", page.status, page.body)
	}
}

// TestCanaryWhoami checks the canary of api/whoami/: half of the users
// Go authenticated are served by Go, each on one side, and the reverse
// shadow matches Django.
func TestCanaryWhoami(t *testing.T) {
	srv, admin := startStagedSite(t)
	const route = "GET /legacy/api/whoami/"
	sides := map[string]int{}
	first := map[int]string{}
	for i := range stagedUsers {
		r := get(t, srv.URL+"/legacy/api/whoami/", "Authorization", fmt.Sprintf("Bearer tok-%d", i))
		if r.status != 200 || !strings.Contains(r.body, fmt.Sprintf(`"user-%d"`, i)) {
			t.Fatalf("GET /legacy/api/whoami/ as user-%d: %d %q", i, r.status, r.body)
		}
		first[i] = r.header.Get("X-Served-By")
		sides[first[i]]++
	}
	if sides["go"] < stagedUsers*35/100 || sides["python"] < stagedUsers*35/100 || sides["go"]+sides["python"] != stagedUsers {
		t.Errorf("at 50%%: %v of %d users", sides, stagedUsers)
	}
	for i := range 20 {
		if r := get(t, srv.URL+"/legacy/api/whoami/", "Authorization", fmt.Sprintf("Bearer tok-%d", i)); r.header.Get("X-Served-By") != first[i] {
			t.Errorf("user-%d went to %s, then to %s", i, first[i], r.header.Get("X-Served-By"))
		}
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the reverse-shadow comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared > 0 && st.Counts.Compared+st.Counts.Dropped >= int64(sides["go"])/4
	})
	if st.Counts.Mismatched != 0 {
		t.Errorf("Go's whoami differs from Django's: %v %+v", st.MismatchPointers, st.RecentMismatches)
	}
}
