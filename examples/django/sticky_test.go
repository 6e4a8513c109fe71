package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
)

// TestStickyIdentityDjango checks the canary snippet of docs/migration.md
// for Django: with Options.Identity asking the container (graft:django),
// the user logged in to Django is the sticky key of GET /legacy/me/, a
// route that reads the user through r.With(IdentityMiddleware). The
// percentage is set between the buckets of the user's id ("1") and of the
// client's address, so that the two keys go to different sides.
func TestStickyIdentityDjango(t *testing.T) {
	const route = "GET /legacy/me/"
	user, addr := migrate.Bucket(route, "1"), migrate.Bucket(route, "127.0.0.1")
	if user == addr {
		t.Fatalf("the user's bucket and the address's are both %d: pick another route", user)
	}
	bp := max(user, addr) // the lower bucket gets Go, the higher Python
	goSide := map[bool]string{true: "go", false: "python"}
	wantUser, wantAnon := goSide[user < bp], goSide[addr < bp]

	o := options{
		mount: "/legacy", goRoutes: true, Flags: opstest.Flags(t),
		adminUser: "admin", adminPassword: testPassword, tokens: tokenFlag{testToken: "alice"},
	}
	log := opstest.Logger()
	app, h := startProject(t, o, log)
	stages := opstest.StagesFile(t, fmt.Sprintf(`{"routes": [{"route": %q, "stage": "canary", "percent": %d.%02d, "sticky": "identity"}]}`, route, bp/100, bp%100))
	m, err := migrate.New(h.(*router.Router), migrate.Options{
		StagesFile: stages,
		Logger:     log,
		Identity: func(req *http.Request) string { // as docs/migration.md writes it
			id, err := app.Identity(req.Context(), req)
			if err != nil || id == nil {
				return ""
			}
			return fmt.Sprint(id["id"])
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := opstest.Serve(t, app, h)
	t.Cleanup(func() { m.Shutdown(context.Background()) })

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	side := func() string {
		t.Helper()
		resp, err := cl.Get(srv.URL + "/legacy/me/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Served-By") == "go" {
			return "go"
		}
		return "python" // Django has no me/: a 404 without X-Served-By
	}
	if got := side(); got != wantAnon {
		t.Fatalf("anonymous GET /legacy/me/ served by %s, want %s (bucket %d of the address, Go below %d)", got, wantAnon, addr, bp)
	}
	resp, err := cl.Get(srv.URL + "/legacy/admin/login/?next=/legacy/admin/")
	if err != nil {
		t.Fatal(err)
	}
	mt := csrfInput.FindStringSubmatch(readAll(t, resp))
	if mt == nil {
		t.Fatalf("no CSRF token in the admin's login form")
	}
	resp, err = cl.PostForm(srv.URL+"/legacy/admin/login/?next=/legacy/admin/", url.Values{
		"csrfmiddlewaretoken": {mt[1]}, "username": {"admin"}, "password": {testPassword}, "next": {"/legacy/admin/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("admin login: %d", resp.StatusCode)
	}
	for range 3 {
		if got := side(); got != wantUser {
			t.Fatalf("GET /legacy/me/ logged in as user 1 served by %s, want %s (bucket %d of the user, Go below %d)", got, wantUser, user, bp)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
