package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/browsertest"
	"github.com/graft-dev/graft/wsgi"
)

const (
	testToken    = "alice-secret-token"
	testPassword = "correct horse battery staple"
)

// startSite prepares the embedded project as the command does (a fresh
// database in a temp dir), starts its workers and serves newHandler on a
// test server.
func startSite(t *testing.T, mount string, goRoutes bool) *httptest.Server {
	t.Helper()
	o := options{
		mount: mount, goRoutes: goRoutes, Flags: opstest.Flags(t),
		adminUser: "admin", adminPassword: testPassword, tokens: tokenFlag{testToken: "alice"},
	}
	log := opstest.Logger()
	app, h := startProject(t, o, log)
	return opstest.Serve(t, app, h)
}

// startProject unpacks and prepares the embedded project with o as the
// command does (a fresh database in a temp dir) and starts its workers;
// it returns them and newHandler over them, for opstest.Serve or
// opstest.ServeStaged, which stop the workers.
func startProject(t *testing.T, o options, log *slog.Logger) (*wsgi.Container, http.Handler) {
	t.Helper()
	dir, state := opstest.Unpack(t, pyapp, "pyapp"), t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := prepare(ctx, o, dir, state)
	if err != nil {
		t.Fatal(err)
	}
	app, err := startApp(o, p, log)
	if err != nil {
		t.Fatal(err)
	}
	return app, newHandler(app, o, p.staticDir, log, nil)
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, u string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func decode(t *testing.T, r response) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%d %q: %v", r.status, r.body, err)
	}
	return v
}

const bearer = "Bearer " + testToken

// TestGoRouteMatchesDjango checks that Go's whoami answers what the Django
// view it replaced answers (-go=false rolls it back), and that the API
// area needs the token either way.
func TestGoRouteMatchesDjango(t *testing.T) {
	goSrv := startSite(t, "/legacy", true)
	pySrv := startSite(t, "/legacy", false)
	g := get(t, goSrv.URL+"/legacy/api/whoami/", "Authorization", bearer)
	p := get(t, pySrv.URL+"/legacy/api/whoami/", "Authorization", bearer)
	if g.header.Get("X-Served-By") != "go" || p.header.Get("X-Served-By") != "python" {
		t.Fatalf("X-Served-By: %q and %q, want go and python", g.header.Get("X-Served-By"), p.header.Get("X-Served-By"))
	}
	gv, pv := decode(t, g), decode(t, p)
	want := map[string]any{"username": "alice", "auth_type": "Bearer", "notes_url": "/legacy/api/notes/"}
	if fmt.Sprint(gv) != fmt.Sprint(want) || fmt.Sprint(pv) != fmt.Sprint(want) {
		t.Errorf("whoami: Go %v, Django %v, want %v", gv, pv, want)
	}
	if g.status != p.status || g.header.Get("Content-Type") != p.header.Get("Content-Type") {
		t.Errorf("Go %d %q, Django %d %q", g.status, g.header.Get("Content-Type"), p.status, p.header.Get("Content-Type"))
	}
	// The scheme is case-insensitive (RFC 9110 §11.1).
	if r := get(t, goSrv.URL+"/legacy/api/whoami/", "Authorization", "bearer "+testToken); r.status != 200 {
		t.Errorf("a lower-case bearer scheme: %d %q", r.status, r.body)
	}
	// No token, a wrong one, or a client's Remote-User header: Go's 401,
	// with or without the Go route.
	for _, srv := range []*httptest.Server{goSrv, pySrv} {
		for _, h := range [][]string{nil, {"Authorization", "Bearer nope"}, {"Remote-User", "alice"}, {"Authorization", testToken}} {
			for _, path := range []string{"/legacy/api/whoami/", "/legacy/api/notes/"} {
				r := get(t, srv.URL+path, h...)
				if r.status != 401 || r.header.Get("X-Served-By") != "go" || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("GET %s with %q: %d %v %q, want Go's 401", path, h, r.status, r.header, r.body)
				}
			}
		}
	}
}

// TestRemoteUserFromGo checks that the user Go authenticated is the one
// Django's RemoteUserMiddleware logs in, for reads and writes, and that a
// client's Remote-User header logs nobody in.
func TestRemoteUserFromGo(t *testing.T) {
	srv := startSite(t, "/legacy", true)

	r := get(t, srv.URL+"/legacy/api/notes/", "Authorization", bearer, "Remote-User", "admin")
	v := decode(t, r)
	if r.status != 200 || v["user"] != "alice" || r.header.Get("X-Served-By") != "python" {
		t.Fatalf("GET /legacy/api/notes/: %d %v", r.status, v)
	}
	if id := r.header.Get("X-Request-Id"); id == "" || v["request_id"] != id {
		t.Errorf("X-Request-ID %q, Django saw %v", id, v["request_id"])
	}
	notes := v["notes"].([]any)
	if len(notes) != 2 {
		t.Fatalf("alice's notes: %v", notes)
	}
	for _, n := range notes {
		n := n.(map[string]any)
		if n["owner"] != "alice" || !regexp.MustCompile(`^/legacy/notes/\d+/$`).MatchString(n["url"].(string)) {
			t.Errorf("note %v: want alice's, with a reverse() URL under /legacy", n)
		}
	}

	// A write: Django creates the note for the REMOTE_USER, no CSRF token
	// needed for the token-authenticated API.
	req, _ := http.NewRequest("POST", srv.URL+"/legacy/api/notes/", strings.NewReader(`{"title": "From Go's user"}`))
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Content-Type", "application/json")
	if r := do(t, req); r.status != 201 || !strings.Contains(r.body, `"owner": "alice"`) {
		t.Errorf("POST /legacy/api/notes/: %d %q", r.status, r.body)
	}

	// Outside the API, Go authenticates nobody: Remote-User becomes
	// HTTP_REMOTE_USER, which Django ignores.
	for _, h := range []string{"Remote-User", "Remote_User", "X-Remote-User"} {
		page := get(t, srv.URL+"/legacy/", h, "admin")
		if page.status != 200 || strings.Contains(page.body, "signed in as") {
			t.Errorf("GET /legacy/ with %s: admin: %d, signed in:\n%s", h, page.status, page.body)
		}
	}
	// And the admin still wants its login.
	if r := get(t, srv.URL+"/legacy/admin/", "Remote-User", "admin"); r.status != 302 {
		t.Errorf("GET /legacy/admin/ with Remote-User: admin: %d, want the redirect to the login", r.status)
	}
}

var requestIDInPage = regexp.MustCompile(`<code id="request-id">([^<]*)</code>`)

// TestDjangoUnderPrefix checks Django's views under the prefix: reverse()
// links, redirects, the shared request id, the static files from Go, and
// nothing outside the prefix.
func TestDjangoUnderPrefix(t *testing.T) {
	srv := startSite(t, "/legacy", true)
	page := get(t, srv.URL+"/legacy/")
	if page.status != 200 || page.header.Get("X-Served-By") != "python" {
		t.Fatalf("GET /legacy/: %d %v", page.status, page.header)
	}
	for _, want := range []string{`href="/legacy/"`, `href="/legacy/admin/"`, `href="/legacy/notes/1/"`,
		`<code>/legacy/api/notes/</code>`, `under <code>/legacy</code>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the index has no %s:\n%s", want, page.body)
		}
	}
	if m := requestIDInPage.FindStringSubmatch(page.body); m == nil || m[1] != page.header.Get("X-Request-Id") {
		t.Errorf("X-Request-ID %q, Django printed %q", page.header.Get("X-Request-Id"), m)
	}
	if r := get(t, srv.URL+"/legacy/notes/1/"); r.status != 200 || !strings.Contains(r.body, `href="/legacy/admin/notes/note/1/change/"`) {
		t.Errorf("GET /legacy/notes/1/: %d\n%s", r.status, r.body)
	}
	// APPEND_SLASH and the admin's login redirect stay under the prefix.
	if r := get(t, srv.URL+"/legacy/notes/1"); r.status != 301 || r.header.Get("Location") != "/legacy/notes/1/" {
		t.Errorf("GET /legacy/notes/1: %d Location %q", r.status, r.header.Get("Location"))
	}
	if r := get(t, srv.URL+"/legacy/admin/"); r.status != 302 || r.header.Get("Location") != "/legacy/admin/login/?next=/legacy/admin/" {
		t.Errorf("GET /legacy/admin/: %d Location %q", r.status, r.header.Get("Location"))
	}
	login := get(t, srv.URL+"/legacy/admin/login/?next=/legacy/admin/")
	if !strings.Contains(login.body, `href="/legacy/static/admin/css/base.css"`) {
		t.Fatalf("the login page does not take its CSS from /legacy/static/:\n%s", login.body)
	}
	css := get(t, srv.URL+"/legacy/static/admin/css/base.css")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || css.header.Get("X-Served-By") != "" {
		t.Errorf("GET /legacy/static/admin/css/base.css: %d %v", css.status, css.header)
	}
	for _, path := range []string{"/legacy/static/admin/", "/legacy/static/admin/css/nope.css", "/legacy/static/../settings.py"} {
		if r := get(t, srv.URL+path); r.status != 404 && r.status/100 != 3 {
			t.Errorf("GET %s: %d, want a 404", path, r.status)
		}
	}
	// A file Go does not have gets Django's 404 page, as before the move
	// (Static.NotFound, as docs/migration.md advises while Python runs;
	// until 2026-12-02 Static's plain text "404 page not found").
	if r := get(t, srv.URL+"/legacy/static/admin/css/nope.css"); r.status != 404 || !strings.Contains(r.body, "<h1>Not Found</h1>") {
		t.Errorf("GET /legacy/static/admin/css/nope.css: %d %v %q, want Django's 404 page", r.status, r.header, r.body)
	}
	// Outside the prefix: Go's page and Go's 404.
	if r := get(t, srv.URL+"/"); r.status != 200 || !strings.Contains(r.body, "This page is Go") {
		t.Errorf("GET /: %d %q", r.status, r.body)
	}
	if r := get(t, srv.URL+"/admin/"); r.status != 404 || r.header.Get("X-Served-By") != "" {
		t.Errorf("GET /admin/: %d %v, want Go's 404", r.status, r.header)
	}
}

// TestRootMount serves Django with no prefix.
func TestRootMount(t *testing.T) {
	srv := startSite(t, "", true)
	if r := get(t, srv.URL+"/"); !strings.Contains(r.body, `href="/notes/1/"`) || !strings.Contains(r.body, `href="/admin/"`) {
		t.Errorf("GET /: %d\n%s", r.status, r.body)
	}
	if r := get(t, srv.URL+"/api/whoami/", "Authorization", bearer); r.header.Get("X-Served-By") != "go" || !strings.Contains(r.body, `"notes_url":"/api/notes/"`) {
		t.Errorf("GET /api/whoami/: %d %q", r.status, r.body)
	}
	if r := get(t, srv.URL+"/static/admin/css/base.css"); r.status != 200 {
		t.Errorf("GET /static/admin/css/base.css: %d", r.status)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-token", "a=alice", "-token", "b=bob"})
	if err != nil || o.mount != "/legacy" || !o.goRoutes || o.Python != cli.DefaultPython() ||
		o.tokens["a"] != "alice" || o.tokens["b"] != "bob" || o.adminUser != "admin" ||
		!o.Preload || o.GracefulTimeout != 30*time.Second {
		t.Errorf("parseFlags: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-token", "nouser"}, {"-token", "=bob"}, {"-mount", "legacy"}, {"-mount", "/legacy/"},
		{"-workers", "-1"}, {"-admin-user", ""}, {"extra"}, {"-nope"},
		{"-max-rss", "-1"}, {"-slow-request", "-1s"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

// TestAdminInBrowser logs in to the Django admin under /legacy with
// headless Chromium driven by chromedriver: the login form, its CSRF token
// and cookies, the redirects, and the admin's static files served by Go.
func TestAdminInBrowser(t *testing.T) {
	srv := startSite(t, "/legacy", true)
	wd := browsertest.Start(t)
	wd.ScreenshotOnFailure(t, "django-admin")

	wd.Navigate(t, srv.URL+"/legacy/admin/")
	want := srv.URL + "/legacy/admin/login/?next=/legacy/admin/"
	if u := wd.CurrentURL(t); u != want {
		t.Fatalf("GET /legacy/admin/ ended at %s, want the login page %s", u, want)
	}
	wd.SendKeys(t, wd.Find(t, "#id_username"), "admin")
	wd.SendKeys(t, wd.Find(t, "#id_password"), testPassword)
	wd.Click(t, wd.Find(t, `#login-form input[type="submit"]`))

	wd.WaitFor(t, func() bool { return wd.CurrentURL(t) == srv.URL+"/legacy/admin/" })
	src := wd.Source(t)
	for _, want := range []string{"Site administration", `href="/legacy/admin/notes/note/"`, "Log out"} {
		if !strings.Contains(src, want) {
			t.Errorf("the admin index has no %q:\n%s", want, src)
		}
	}

	// The stylesheet the page links to: the browser loaded it with 200 and
	// applied it, and it is served without cookies.
	href, _ := wd.Execute(t, `return document.querySelector('link[rel="stylesheet"][href$="/base.css"]').href`).(string)
	if href != srv.URL+"/legacy/static/admin/css/base.css" {
		t.Fatalf("base.css link: %q", href)
	}
	resources := wd.Execute(t, `return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])`)
	loaded := false
	for _, e := range resources.([]any) {
		if e := e.([]any); e[0] == href {
			loaded = e[1] == float64(200)
		}
	}
	if !loaded {
		t.Errorf("the browser did not load %s with 200: %v", href, resources)
	}
	if bg := wd.Execute(t, `return getComputedStyle(document.getElementById('header')).backgroundColor`); bg == "rgba(0, 0, 0, 0)" || bg == "" {
		t.Errorf("the admin header has background %v: base.css not applied", bg)
	}
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d %q", href, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The notes' change list, through the admin's own links.
	wd.Navigate(t, srv.URL+"/legacy/admin/notes/note/")
	if src := wd.Source(t); !strings.Contains(src, "Keep the admin in Django") || !strings.Contains(src, "Select note to change") {
		t.Errorf("the notes change list:\n%s", src)
	}
}

// TestAPIAuthWithoutPython checks, against a stand-in for Django, that the
// API area's bearerAuth (api.Use) runs with and without the Go route, and
// that with a registry, as -metrics-bind gives, the router counts requests.
func TestAPIAuthWithoutPython(t *testing.T) {
	for _, goRoutes := range []bool{true, false} {
		t.Run(fmt.Sprintf("go=%v", goRoutes), func(t *testing.T) {
			var reached []string
			var mu sync.Mutex
			django := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				reached = append(reached, r.URL.Path)
				mu.Unlock()
				io.WriteString(w, "django")
			})
			reg := prometheus.NewRegistry()
			o := options{mount: "/legacy", goRoutes: goRoutes, tokens: tokenFlag{testToken: "alice"}, Flags: opstest.Flags(t)}
			srv := httptest.NewServer(newHandler(django, o, t.TempDir(), opstest.Logger(), reg))
			defer srv.Close()
			for _, path := range []string{"/legacy/api/whoami/", "/legacy/api/notes/"} {
				if r := get(t, srv.URL+path); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("GET %s with no token: %d %q, want Go's 401", path, r.status, r.body)
				}
				if r := get(t, srv.URL+path, "Authorization", bearer); r.status != 200 {
					t.Errorf("GET %s with the token: %d %q", path, r.status, r.body)
				}
			}
			if r := get(t, srv.URL+"/legacy/"); r.status != 200 || r.body != "django" {
				t.Errorf("GET /legacy/: %d %q", r.status, r.body)
			}
			want := []string{"/legacy/api/whoami/", "/legacy/api/notes/", "/legacy/"}
			if goRoutes {
				want = want[1:]
			}
			if fmt.Sprint(reached) != fmt.Sprint(want) {
				t.Errorf("Django got %v, want %v", reached, want)
			}
			total := 0.0
			for _, n := range opstest.RequestCounts(t, reg) {
				total += n
			}
			if total != 5 {
				t.Errorf("graft_http_requests_total sums to %v, want 5", total)
			}
		})
	}
}

// A port in use fails the command before Python starts (run returns at
// once with the bind error; the metrics port likewise).
func TestBusyPort(t *testing.T) { opstest.BusyPort(t, run) }

// TestMigrationFailsFirst: a busy -admin-bind or a broken -stages file
// fails before Python starts.
func TestMigrationFailsFirst(t *testing.T) { opstest.MigrationFailsFirst(t, run) }

// A mistake in the command line exits 2 naming its flag, a missing
// directory 1, by cli.Main's rule, before Python starts.
func TestUsageErrors(t *testing.T) { opstest.UsageErrors(t, run, true) }

// TestAdminStaticFlags: the admin's static files, which Go serves, follow
// -static-no-cors and -static-max-age as -static mounts do.
func TestAdminStaticFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "admin", "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "admin", "css", "base.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	django := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "django") })
	opstest.StaticFlags(t, func(t *testing.T, args []string) http.Header {
		o, err := parseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(newHandler(django, o, dir, opstest.Logger(), nil))
		defer srv.Close()
		r := get(t, srv.URL+"/legacy/static/admin/css/base.css")
		if r.status != 200 || r.body != "body{}" {
			t.Fatalf("GET /legacy/static/admin/css/base.css: %d %q, want the file from Go", r.status, r.body)
		}
		return r.header
	})
}
