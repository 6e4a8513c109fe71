package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/wsgi"
)

// startShop writes the embedded app to a temp dir, as the command does,
// starts its workers and serves newHandler on a test server. It returns the
// server with the Go routes on, and one sharing the same workers with them
// rolled back to Flask (-go=false).
func startShop(t *testing.T, mount string) (goSrv, pySrv *httptest.Server) {
	t.Helper()
	log := opstest.Logger()
	o := options{mount: mount, goRoutes: true, Flags: opstest.Flags(t)}
	app, cat := startShopApp(t, o, log)
	goSrv = opstest.Serve(t, app, newHandler(app, cat, o, log, nil))
	o.goRoutes = false
	pySrv = httptest.NewServer(newHandler(app, cat, o, log, nil))
	t.Cleanup(pySrv.Close) // before goSrv's cleanup stops the workers
	return goSrv, pySrv
}

// startShopApp writes the embedded app to a temp dir, as the command does,
// loads its catalog and starts its workers with o, for opstest.Serve or
// opstest.ServeStaged, which stop them.
func startShopApp(t *testing.T, o options, log *slog.Logger) (*wsgi.Container, *catalog) {
	t.Helper()
	dir := opstest.Unpack(t, pyapp, "pyapp")
	cat, err := loadCatalog(dir + "/shop/products.json")
	if err != nil {
		t.Fatal(err)
	}
	app, err := startApp(o, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	return app, cat
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u, ctype, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c == nil {
		c = http.DefaultClient
	}
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

// TestMigratedRoutesMatchFlask checks that Go's versions of the migrated
// routes answer exactly what Flask's do, byte for byte, for hits and misses.
func TestMigratedRoutesMatchFlask(t *testing.T) {
	goSrv, pySrv := startShop(t, "/shop")
	for _, path := range []string{
		"/shop/api/products",
		"/shop/api/products/1",
		"/shop/api/products/3",
		"/shop/api/products/99",
	} {
		t.Run(path, func(t *testing.T) {
			g := do(t, nil, "GET", goSrv.URL+path, "", "")
			p := do(t, nil, "GET", pySrv.URL+path, "", "")
			if g.header.Get("X-Served-By") != "go" || p.header.Get("X-Served-By") != "python" {
				t.Fatalf("X-Served-By: Go server %q, rolled-back server %q; want go and python",
					g.header.Get("X-Served-By"), p.header.Get("X-Served-By"))
			}
			if g.status != p.status || g.body != p.body {
				t.Errorf("Go answered %d %q\nFlask answered %d %q", g.status, g.body, p.status, p.body)
			}
			if g.header.Get("Content-Type") != p.header.Get("Content-Type") {
				t.Errorf("Content-Type: Go %q, Flask %q", g.header.Get("Content-Type"), p.header.Get("Content-Type"))
			}
		})
	}
	// The JSON's links, built by Go, lead to the Flask page and back to Go.
	var prod map[string]any
	g := do(t, nil, "GET", goSrv.URL+"/shop/api/products/2", "", "")
	if err := json.Unmarshal([]byte(g.body), &prod); err != nil {
		t.Fatal(err)
	}
	if page := do(t, nil, "GET", goSrv.URL+prod["url"].(string), "", ""); page.status != 200 || !strings.Contains(page.body, "<h1>Moka pot</h1>") {
		t.Errorf("GET %v: %d %q", prod["url"], page.status, page.body)
	}
	if self := do(t, nil, "GET", goSrv.URL+prod["api_url"].(string), "", ""); self.body != g.body {
		t.Errorf("GET %v: %q, want %q", prod["api_url"], self.body, g.body)
	}
}

// TestOtherDigitsReachFlask checks what the inventory's note on
// <int:pid> says: Flask's int converter takes every decimal digit
// (/api/products/١ is product 1), Go's {id:[0-9]+} does not, and such a
// path reaches Flask through the fallback, which answers as Go does for
// /api/products/1.
func TestOtherDigitsReachFlask(t *testing.T) {
	goSrv, _ := startShop(t, "/shop")
	ascii := do(t, nil, "GET", goSrv.URL+"/shop/api/products/1", "", "")
	for _, path := range []string{"/shop/api/products/%D9%A1", "/shop/api/products/%EF%BC%91"} { // Arabic-Indic, fullwidth 1
		other := do(t, nil, "GET", goSrv.URL+path, "", "")
		if ascii.header.Get("X-Served-By") != "go" || other.header.Get("X-Served-By") != "python" {
			t.Errorf("X-Served-By: %q for /1, %q for %s; want go, then python", ascii.header.Get("X-Served-By"), other.header.Get("X-Served-By"), path)
		}
		if other.status != 200 || other.body != ascii.body {
			t.Errorf("GET %s: %d %q; want Flask's product 1, %q", path, other.status, other.body, ascii.body)
		}
	}
}

// TestLinksUnderMount checks that Flask's url_for builds links under the
// prefix Go mounted it at, and that nothing outside the prefix reaches it.
func TestLinksUnderMount(t *testing.T) {
	srv, _ := startShop(t, "/shop")
	page := do(t, nil, "GET", srv.URL+"/shop/", "", "")
	if page.status != 200 || page.header.Get("X-Served-By") != "python" {
		t.Fatalf("GET /shop/: %d %v", page.status, page.header)
	}
	for _, link := range []string{
		`href="/shop/"`, `href="/shop/cart"`, `href="/shop/api/products"`,
		`href="/shop/products/1"`, `href="/shop/api/products/1"`,
	} {
		if !strings.Contains(page.body, link) {
			t.Errorf("the Flask index has no %s:\n%s", link, page.body)
		}
	}
	if r := do(t, nil, "GET", srv.URL+"/shop/products/1", "", ""); !strings.Contains(r.body, `action="/shop/cart"`) {
		t.Errorf("the product form does not post under the prefix:\n%s", r.body)
	}
	// /shop without the slash is Flask's redirect, under the prefix.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r := do(t, c, "GET", srv.URL+"/shop", "", ""); r.status/100 != 3 || !strings.HasSuffix(r.header.Get("Location"), "/shop/") {
		t.Errorf("GET /shop: %d Location %q, want a redirect to /shop/", r.status, r.header.Get("Location"))
	}
	// Outside the prefix: Go's landing page and Go's 404, never Flask.
	if r := do(t, nil, "GET", srv.URL+"/", "", ""); r.status != 200 || !strings.Contains(r.body, "This page is Go") {
		t.Errorf("GET /: %d %q", r.status, r.body)
	}
	if r := do(t, nil, "GET", srv.URL+"/products/1", "", ""); r.status != 404 || r.header.Get("X-Served-By") != "" {
		t.Errorf("GET /products/1 outside the prefix: %d %v, want Go's 404", r.status, r.header)
	}
}

var requestIDInPage = regexp.MustCompile(`<code id="request-id">([^<]*)</code>`)

// TestRequestIDShared checks that the id in the X-Request-ID header is the
// one Flask saw as environ["graft.request_id"].
func TestRequestIDShared(t *testing.T) {
	srv, _ := startShop(t, "/shop")
	seen := map[string]bool{}
	for _, path := range []string{"/shop/", "/shop/products/4", "/shop/cart"} {
		r := do(t, nil, "GET", srv.URL+path, "", "")
		id := r.header.Get("X-Request-Id")
		m := requestIDInPage.FindStringSubmatch(r.body)
		if id == "" || m == nil || m[1] != id {
			t.Fatalf("GET %s: X-Request-ID %q, Flask printed %q", path, id, m)
		}
		if seen[id] {
			t.Errorf("request id %s used twice", id)
		}
		seen[id] = true
	}
}

// TestPostToMigratedPathReachesFlask checks that Go took over GET only:
// POST on the same path, and the session and form around it, are Flask's.
func TestPostToMigratedPathReachesFlask(t *testing.T) {
	srv, _ := startShop(t, "/shop")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	r := do(t, c, "POST", srv.URL+"/shop/api/products/2", "application/json", `{"quantity": 3}`)
	if r.status != 200 || r.header.Get("X-Served-By") != "python" || !strings.Contains(r.body, `"cart_count":3`) {
		t.Fatalf("POST /shop/api/products/2: %d %v %q", r.status, r.header, r.body)
	}
	if !strings.Contains(r.body, `"cart_url":"/shop/cart"`) {
		t.Errorf("cart_url is not under the prefix: %q", r.body)
	}
	if g := do(t, c, "GET", srv.URL+"/shop/api/products/2", "", ""); g.header.Get("X-Served-By") != "go" {
		t.Errorf("GET on the same path was served by %q, want go", g.header.Get("X-Served-By"))
	}

	// The HTML form: POST, redirect to the cart under the prefix, flash
	// message and cart from the session cookie.
	form := url.Values{"product": {"1"}, "quantity": {"2"}}.Encode()
	r = do(t, c, "POST", srv.URL+"/shop/cart", "application/x-www-form-urlencoded", form)
	if r.status != 200 || !strings.Contains(r.body, "<h1>Your cart</h1>") {
		t.Fatalf("POST /shop/cart: %d %q", r.status, r.body)
	}
	for _, want := range []string{"Added 2 × Espresso cup", `3 × <a href="/shop/products/2">Moka pot</a>`,
		`2 × <a href="/shop/products/1">Espresso cup</a>`, `<span id="total">121.70</span>`, "Cart (5)"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the cart page has no %q:\n%s", want, r.body)
		}
	}
	if r := do(t, c, "POST", srv.URL+"/shop/api/products/99", "application/json", `{}`); r.status != 404 || r.body != "{\"error\":\"not found\"}\n" {
		t.Errorf("POST /shop/api/products/99: %d %q", r.status, r.body)
	}
}

// TestRootMount serves the app with no prefix: the same routes, at /.
func TestRootMount(t *testing.T) {
	goSrv, pySrv := startShop(t, "")
	g := do(t, nil, "GET", goSrv.URL+"/api/products/1", "", "")
	p := do(t, nil, "GET", pySrv.URL+"/api/products/1", "", "")
	if g.header.Get("X-Served-By") != "go" || g.body != p.body || !strings.Contains(g.body, `"url":"/products/1"`) {
		t.Errorf("Go %v %q\nFlask %q", g.header, g.body, p.body)
	}
	if r := do(t, nil, "GET", goSrv.URL+"/", "", ""); !strings.Contains(r.body, `href="/products/1"`) {
		t.Errorf("GET /: %d %q, want the Flask index", r.status, r.body)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil || o.mount != "/shop" || !o.goRoutes || o.Python != cli.DefaultPython() ||
		!o.Preload || o.GracefulTimeout != 30*time.Second || o.MetricsBind != "" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"-mount", "", "-go=false"}, false},
		{[]string{"-mount", "/a/b"}, false},
		{[]string{"-mount", "shop"}, true},
		{[]string{"-mount", "/shop/"}, true},
		{[]string{"-threads", "0"}, true},
		{[]string{"shop:app"}, true},
		{[]string{"-nope"}, true},
		{[]string{"-preload=false", "-max-requests", "1000", "-max-requests-jitter", "50", "-max-rss", "512",
			"-max-lifetime", "1h", "-slow-request", "5s", "-reload", "-graceful-timeout", "10s",
			"-metrics-bind", "127.0.0.1:9100"}, false},
		{[]string{"-max-requests", "-1"}, true},
		{[]string{"-graceful-timeout", "-1s"}, true},
	}
	for _, tc := range tests {
		_, err := parseFlags(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseFlags(%q) error %v, want error %v", tc.args, err, tc.wantErr)
		}
	}
}

// TestStartAppHint checks that an interpreter without Flask fails with a
// hint naming -python /usr/bin/python3.
func TestStartAppHint(t *testing.T) {
	dir := opstest.Unpack(t, pyapp, "pyapp")
	// An interpreter that cannot import Flask: a package named flask that
	// fails to import shadows Debian's.
	shadow := t.TempDir()
	os.MkdirAll(shadow+"/flask", 0o755)
	os.WriteFile(shadow+"/flask/__init__.py", []byte("raise ModuleNotFoundError(\"No module named 'flask'\", name='flask')\n"), 0o644)
	script := shadow + "/python"
	if err := os.WriteFile(script, []byte("#!/bin/sh\nPYTHONPATH="+shadow+" exec "+pythontest.Python(t)+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// wsgi.New must return the load error; a hang is a graft bug, reported
	// as a failure rather than a test timeout.
	errc := make(chan error, 1)
	go func() {
		app, err := startApp(options{Flags: scriptFlags(t, script)}, dir, opstest.Logger())
		if app != nil {
			app.Shutdown(context.Background())
		}
		errc <- err
	}()
	var err error
	select {
	case err = <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("wsgi.New did not return within 20s for an app whose import fails")
	}
	if err == nil || !strings.Contains(err.Error(), "-python /usr/bin/python3") || !strings.Contains(err.Error(), "flask") {
		t.Errorf("startApp with no Flask: %v", err)
	}
}

// TestMetrics checks that with a registry, as -metrics-bind gives, the
// router counts the requests of Go's routes and of the fallback.
func TestMetrics(t *testing.T) {
	cat := &catalog{list: []product{{ID: 1, Name: "Espresso cup", PriceCents: 450, Stock: 3}}}
	cat.byID = map[int]product{1: cat.list[0]}
	flask := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "flask") })
	reg := prometheus.NewRegistry()
	o := options{mount: "/shop", goRoutes: true, Flags: opstest.Flags(t)}
	srv := httptest.NewServer(newHandler(flask, cat, o, opstest.Logger(), reg))
	defer srv.Close()
	for _, path := range []string{"/shop/api/products/1", "/shop/api/products/1", "/shop/cart"} {
		if r := do(t, nil, "GET", srv.URL+path, "", ""); r.status != 200 {
			t.Fatalf("GET %s: %d %q", path, r.status, r.body)
		}
	}
	got := opstest.RequestCounts(t, reg)
	want := map[string]float64{
		"go /shop/api/products/{id:[0-9]+} 200": 2,
		"fallback fallback 200":                 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("graft_http_requests_total: %v, want %v", got, want)
	}
}

// scriptFlags are the test flags with one worker running interpreter py.
func scriptFlags(t *testing.T, py string) cli.Flags {
	f := opstest.Flags(t)
	f.Python, f.Workers = py, 1
	return f
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

// TestShopStaticFlags: the shop's own static folder, which Go serves,
// follows -static-no-cors and -static-max-age as -static mounts do.
func TestShopStaticFlags(t *testing.T) {
	flask := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "flask") })
	opstest.StaticFlags(t, func(t *testing.T, args []string) http.Header {
		o, err := parseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(newHandler(flask, &catalog{}, o, opstest.Logger(), nil))
		defer srv.Close()
		r := do(t, nil, "GET", srv.URL+"/shop/static/shop.css", "", "")
		if r.status != 200 || r.body == "flask" {
			t.Fatalf("GET /shop/static/shop.css: %d %q, want the file from Go", r.status, r.body)
		}
		return r.header
	})
}

// TestShopStaticNotFound: a file the shop's static folder does not have
// gets Flask's own 404 page, as before Go served the folder
// (Static.NotFound, as docs/migration.md advises while Python runs; until
// 2026-12-02 Static's plain text "404 page not found"), under a mount and
// at the root; the files themselves still come from Go.
func TestShopStaticNotFound(t *testing.T) {
	for _, mount := range []string{"/shop", ""} {
		t.Run("mount="+mount, func(t *testing.T) {
			goSrv, _ := startShop(t, mount)
			if r := do(t, nil, "GET", goSrv.URL+mount+"/static/shop.css", "", ""); r.status != 200 || !strings.Contains(r.body, "font-family") {
				t.Fatalf("GET %s/static/shop.css: %d %q, want the file", mount, r.status, r.body)
			}
			for _, path := range []string{"/static/nope.css", "/static/"} {
				r := do(t, nil, "GET", goSrv.URL+mount+path, "", "")
				if r.status != 404 || r.header.Get("X-Served-By") != "python" || !strings.Contains(r.body, "<p>No such page.</p>") {
					t.Errorf("GET %s%s: %d %v %q, want Flask's 404 page", mount, path, r.status, r.header, r.body)
				}
			}
		})
	}
}
