package wsgi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pythonLines runs a Python program in testdata/ and decodes one JSON
// value per line of its output into out's elements.
func pythonLines(t *testing.T, env []string, args ...string) [][]any {
	t.Helper()
	cmd := exec.Command(pythontest.Python(t), args...)
	cmd.Dir = testdataDir(t)
	cmd.Env = append(cmd.Environ(), append(env, "PYTHONPATH="+testdataDir(t))...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("%v: %v", args, err)
	}
	var rows [][]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row []any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%v: bad line %q: %v", args, line, err)
		}
		rows = append(rows, row)
	}
	return rows
}

// flaskListing is what Flask itself reports (flask routes): rule,
// endpoint and methods of every rule of rmflask's app or api app that
// Flask serves (a build_only rule only builds URLs: Flask answers 404).
const flaskListing = `
import json, sys, rmflask
app = getattr(rmflask, sys.argv[1])
for r in app.url_map.iter_rules():
    if not r.build_only:
        print(json.dumps([r.rule, r.endpoint, " ".join(sorted(r.methods))]))
`

func routeRows(m *AppRouteMap, mount string) [][]any {
	var rows [][]any
	for _, r := range m.Routes {
		if r.Mount == mount {
			rows = append(rows, []any{r.Rule, r.Endpoint, strings.Join(r.Methods, " ")})
		}
	}
	return rows
}

func appRoutes(t *testing.T, c *Container) *AppRouteMap {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := c.AppRoutes(ctx)
	if err != nil {
		t.Fatalf("AppRoutes: %v", err)
	}
	return m
}

func TestAppRoutesFlask(t *testing.T) {
	pythontest.Python(t, "flask", "whitenoise")
	want := pythonLines(t, nil, "-c", flaskListing, "app")
	wantAPI := pythonLines(t, nil, "-c", flaskListing, "api")
	for _, tc := range []struct {
		app      string
		wrappers []string
	}{
		{"rmflask:app", []string{}},
		{"rmflask:proxied", []string{"werkzeug.middleware.proxy_fix.ProxyFix"}},
		{"rmflask:closure", []string{"rmflask._closure_wrapper.<locals>.wsgi", "werkzeug.middleware.proxy_fix.ProxyFix"}},
		{"rmflask:wsgi_app_chain", []string{}},
		{"rmflask:whitenoised", []string{"whitenoise.base.WhiteNoise"}},
	} {
		t.Run(tc.app, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: tc.app})
			m := appRoutes(t, c)
			if m.Framework != "flask" || len(m.Apps) != 1 || m.Apps[0].Class != "flask.app.Flask" {
				t.Fatalf("framework %q, apps %+v; want one flask app", m.Framework, m.Apps)
			}
			if !slices.Equal(m.Apps[0].Wrappers, tc.wrappers) {
				t.Errorf("wrappers %q, want %q", m.Apps[0].Wrappers, tc.wrappers)
			}
			if got := routeRows(m, ""); !equalRows(got, want) {
				t.Errorf("routes differ from Flask's own listing:\n got %v\nwant %v", got, want)
			}
		})
	}

	t.Run("Translation", func(t *testing.T) {
		c, _ := newContainer(t, Config{App: "rmflask:app", ScriptName: "/legacy"})
		m := appRoutes(t, c)
		byEndpoint := map[string]AppRoute{}
		for _, r := range m.Routes {
			byEndpoint[r.Endpoint] = r
		}
		for _, tc := range []struct{ endpoint, pattern, untranslatable string }{
			{"index", "/legacy/", ""},
			{"item", "/legacy/items/{item_id:[0-9]+}", ""},
			{"user", "/legacy/users/{name}/", ""},
			{"files", "/legacy/files/{*:[^/].*}", ""},
			{"by_uuid", "/legacy/u/{u:" + reUUIDAny + "}", ""},
			{"price", `/legacy/price/{f:[0-9]+\.[0-9]+}`, ""},
			{"delta", "/legacy/delta/{d:-?[0-9]+}", ""},
			{"page", "", "min, max and fixed_digits"},
			{"lang", "/legacy/lang/{lang:(?:en|fr)}/home", ""},
			{"code", "/legacy/code/{code:[^/]{2}}", ""},
			{"paint", "", "custom converter rmflask.ColorConverter"},
			{"leaf", "", "path parameter <p> is not at the end"},
			{"shop.cart_line", "/legacy/shop/cart/{line:[0-9]+}", ""},
		} {
			r, ok := byEndpoint[tc.endpoint]
			if !ok {
				t.Errorf("no route for endpoint %s", tc.endpoint)
				continue
			}
			if r.Pattern != tc.pattern || !strings.Contains(r.Untranslatable, tc.untranslatable) || (tc.untranslatable == "") != (r.Untranslatable == "") {
				t.Errorf("%s (%s): pattern %q untranslatable %q; want %q, %q", tc.endpoint, r.Rule, r.Pattern, r.Untranslatable, tc.pattern, tc.untranslatable)
			}
		}
		// strict_slashes=False: Flask serves the other slash form too.
		for endpoint, want := range map[string]string{"loose": "/legacy/loose", "loose_n": "/legacy/loose/{n:[0-9]+}/", "user": "", "item": "", "files": ""} {
			if got := byEndpoint[endpoint].Alternate; got != want {
				t.Errorf("%s: alternate %q, want %q", endpoint, got, want)
			}
		}
		it := byEndpoint["item"]
		if it.Module != "rmflask" || it.View != "item" || filepath.Base(it.File) != "__init__.py" || it.Line == 0 {
			t.Errorf("item's view: %s.%s at %s:%d", it.Module, it.View, it.File, it.Line)
		}
		if got := byEndpoint["files"].Params; len(got) != 1 || got[0] != (RouteParam{Name: "p", Converter: "path", Regex: "[^/].*"}) {
			t.Errorf("files params %+v", got)
		}
		// Flask's number converters take every Unicode decimal digit
		// (werkzeug's \d+); the pattern keeps to 0-9, and PythonRegex says
		// what Flask takes besides.
		for _, tc := range []struct {
			endpoint string
			want     RouteParam
		}{
			{"item", RouteParam{Name: "item_id", Converter: "int", Regex: "[0-9]+", PythonRegex: `\p{Nd}+`}},
			{"price", RouteParam{Name: "f", Converter: "float", Regex: `[0-9]+\.[0-9]+`, PythonRegex: `\p{Nd}+\.\p{Nd}+`}},
			{"delta", RouteParam{Name: "d", Converter: "int", Regex: "-?[0-9]+", PythonRegex: `-?\p{Nd}+`}},
			{"by_uuid", RouteParam{Name: "u", Converter: "uuid", Regex: reUUIDAny}},
		} {
			if got := byEndpoint[tc.endpoint].Params; len(got) != 1 || got[0] != tc.want {
				t.Errorf("%s params %+v, want %+v", tc.endpoint, got, tc.want)
			}
		}
		// What Flask does with them, which PythonRegex describes: /items/١٢
		// is item 12, and so is /items/１２ (fullwidth); /price/١.٥ is 1.5.
		srv := httptest.NewServer(c)
		defer srv.Close()
		for path, want := range map[string]string{
			"/legacy/items/%D9%A1%D9%A2": `{"item":12}`, "/legacy/items/%EF%BC%91%EF%BC%92": `{"item":12}`,
			"/legacy/price/%D9%A1.%D9%A5": "1.5", "/legacy/items/%C2%B2": "404",
		} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := strings.TrimSpace(string(b))
			if want == "404" {
				got = strconv.Itoa(resp.StatusCode)
			}
			if !strings.Contains(got, want) {
				t.Errorf("Flask answers GET %s with %d %q; want %q", path, resp.StatusCode, got, want)
			}
		}
	})

	t.Run("DispatcherMiddleware", func(t *testing.T) {
		c, _ := newContainer(t, Config{App: "rmflask:dispatched"})
		m := appRoutes(t, c)
		if m.Framework != "flask" || len(m.Apps) != 2 || m.Apps[0].Mount != "" || m.Apps[1].Mount != "/api" {
			t.Fatalf("framework %q apps %+v", m.Framework, m.Apps)
		}
		if got := routeRows(m, ""); !equalRows(got, want) {
			t.Errorf("root app routes differ:\n got %v\nwant %v", got, want)
		}
		if got := routeRows(m, "/api"); !equalRows(got, wantAPI) {
			t.Errorf("/api app routes differ:\n got %v\nwant %v", got, wantAPI)
		}
		for _, r := range m.Routes {
			if r.Endpoint == "ping" && r.Pattern != "/api/v1/ping" {
				t.Errorf("mounted ping: pattern %q", r.Pattern)
			}
		}
	})
}

func equalRows(a, b [][]any) bool {
	return slices.EqualFunc(a, b, func(x, y []any) bool { return slices.Equal(x, y) })
}

func TestAppRoutesDjango(t *testing.T) {
	pythontest.Python(t, "django", "whitenoise")
	env := []string{"GRAFT_DJANGO_DB=" + filepath.Join(t.TempDir(), "db.sqlite3"), "DJANGO_SETTINGS_MODULE=rmdjango.settings"}
	want := pythonLines(t, env, "rmdjango/list_urls.py")
	for _, app := range []string{"rmdjango.wsgi:application", "rmdjango.wsgi:whitenoised"} {
		t.Run(app, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: app, Env: env})
			m := appRoutes(t, c)
			if m.Framework != "django" || len(m.Apps) != 1 || m.Apps[0].Class != "django.core.handlers.wsgi.WSGIHandler" {
				t.Fatalf("framework %q apps %+v", m.Framework, m.Apps)
			}
			var got [][]any
			for _, r := range m.Routes {
				got = append(got, []any{r.Rule, r.Endpoint})
			}
			if !equalRows(got, want) {
				t.Errorf("routes differ from Django's admindocs listing:\n got %v\nwant %v", got, want)
			}
		})
	}

	t.Run("Translation", func(t *testing.T) {
		c, _ := newContainer(t, Config{App: "rmdjango.wsgi:application", Env: env})
		m := appRoutes(t, c)
		byRule := map[string]AppRoute{}
		for _, r := range m.Routes {
			byRule[r.Rule] = r
		}
		for _, tc := range []struct {
			rule, pattern, untranslatable, endpoint string
			methods                                 []string
		}{
			{"", "/", "", "index", nil},
			{"articles/<int:pk>/", "/articles/{pk:[0-9]+}/", "", "article", nil},
			{"tags/<slug:slug>/", "/tags/{slug:[-a-zA-Z0-9_]+}/", "", "tag", nil},
			{"u/<uuid:u>/", "/u/{u:" + reUUIDLow + "}/", "", "uuid", nil},
			{"docs/<path:rest>", "/docs/{*:.+}", "", "docs", nil},
			{"paint/<color:c>/", "", "custom converter rmdjango.urls.ColorConverter", "paint", nil},
			{"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", "/archive/{year:[0-9]{4}}/{month:[0-9]{2}}/", "", "archive", nil},
			{`^day/(?P<year>\d{4})/(?P<month>[\d]{2})/$`, "/day/{year:[0-9]{4}}/{month:[0-9]{2}}/", "", "day", nil},
			{"^n/([0-9]+)/$", "", "only named groups", "", nil},
			{"^shop/", "/shop/", "", "shop:home", nil},
			{"^shop/items/<int:pk>/", "/shop/items/{pk:[0-9]+}/", "", "shop:item", []string{"DELETE", "GET", "HEAD", "PUT"}},
			{"^shop/items/<int:pk>/edit/", "/shop/items/{pk:[0-9]+}/edit/", "", "shop:edit", []string{"GET", "POST"}},
			{"^shop/buy/", "/shop/buy/", "", "shop:buy", []string{"POST"}},
			{"^shop/api/ping/<int:version>/", "/shop/api/ping/{version:[0-9]+}/", "", "shop:api:ping", nil},
			{"^shop/api/^legacy/(?P<code>[A-Z]{3})/$", "/shop/api/legacy/{code:[A-Z]{3}}/", "", "shop:api:legacy", nil},
			{"admin/(?P<url>.*)$", "/admin/*", "", "", nil},
			{"admin/r/<int:content_type_id>/<path:object_id>/", "", "path parameter <object_id> is not at the end", "admin:view_on_site", nil},
		} {
			r, ok := byRule[tc.rule]
			if !ok {
				t.Errorf("no route %q", tc.rule)
				continue
			}
			if r.Pattern != tc.pattern || !strings.Contains(r.Untranslatable, tc.untranslatable) || (tc.untranslatable == "") != (r.Untranslatable == "") {
				t.Errorf("%s: pattern %q untranslatable %q; want %q, %q", tc.rule, r.Pattern, r.Untranslatable, tc.pattern, tc.untranslatable)
			}
			if r.Endpoint != tc.endpoint || !slices.Equal(r.Methods, tc.methods) {
				t.Errorf("%s: endpoint %q methods %q; want %q %q", tc.rule, r.Endpoint, r.Methods, tc.endpoint, tc.methods)
			}
		}
		if d := byRule[`^day/(?P<year>\d{4})/(?P<month>[\d]{2})/$`]; len(d.Params) != 2 || d.Params[0].PythonRegex != `\p{Nd}{4}` || d.Params[1].PythonRegex != `[\p{Nd}]{2}` {
			t.Errorf("day: params %+v; want python_regex \\p{Nd}{4} and [\\p{Nd}]{2}", d.Params)
		}
		it := byRule["^shop/items/<int:pk>/"]
		if it.Module != "rmdjango.views" || it.View != "ItemView" || filepath.Base(it.File) != "views.py" || it.Line == 0 {
			t.Errorf("ItemView: %s.%s at %s:%d", it.Module, it.View, it.File, it.Line)
		}
		ed := byRule["^shop/items/<int:pk>/edit/"]
		if ed.View != "edit" || ed.Line == 0 {
			t.Errorf("edit (unwrapped from require_http_methods): %s at line %d", ed.View, ed.Line)
		}
	})
}

// An app graft cannot introspect is "unknown", not an error; and control
// calls neither count as requests nor recycle the worker.
func TestAppRoutesUnknownAndNotARequest(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:hello", MaxRequests: 1})
	pid := c.Status().Workers[0].PID
	for range 5 {
		m := appRoutes(t, c)
		if m.Framework != "unknown" || len(m.Routes) != 0 || len(m.Apps) != 1 || m.Apps[0].Framework != "unknown" {
			t.Fatalf("map %+v; want framework unknown with no routes", m)
		}
	}
	st := c.Status()
	if len(st.Workers) != 1 || st.Workers[0].PID != pid || st.Workers[0].Served != 0 {
		t.Fatalf("after 5 control calls: workers %+v; want pid %d with 0 served", st.Workers, pid)
	}
	b, err := json.Marshal(appRoutes(t, c))
	if err != nil || !strings.Contains(string(b), `"routes":[]`) {
		t.Errorf("JSON %s (%v): want an empty routes array, not null", b, err)
	}
}

// A control call that a transport cannot run is a clear error.
func TestAppRoutesTransportWithoutCalls(t *testing.T) {
	c, err := NewWithTransport(Config{App: "x:y"}, noCallTransport{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppRoutes(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot run control calls") {
		t.Fatalf("err = %v", err)
	}
}

type noCallTransport struct{}

func (noCallTransport) Start(context.Context, *Request) (Exchange, error) { return nil, ErrClosed }
func (noCallTransport) Shutdown(context.Context) error                    { return nil }

// A control call does not wait behind a running request: it takes an idle
// worker, or a free thread of a threaded worker (where it runs on a thread
// of its own while the request goes on).
func TestAppRoutesBesideBusyWorker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		threads int
	}{{"idle worker", 2, 1}, {"threaded worker", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startApp(t, "block", Config{Workers: tc.workers, Threads: tc.threads, Prefetch: -1}, nil)
			done := make(chan string, 1)
			go func() {
				_, body, _ := get(t, nil, "GET", e.srv.URL+"/?tok=b1", nil)
				done <- string(body)
			}()
			waitFor(t, 10*time.Second, "the request to start", func() bool { return exists(e.dir, "b1-started") })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			m, err := e.c.AppRoutes(ctx)
			if err != nil || m.Framework != "unknown" {
				t.Fatalf("AppRoutes beside a running request: %v, %+v", err, m)
			}
			select {
			case b := <-done:
				t.Fatalf("the blocked request ended before it was released: %q", b)
			default:
			}
			touch(t, e.dir, "b1-go")
			if b := <-done; !strings.HasPrefix(b, "released b1") {
				t.Fatalf("blocked request: %q", b)
			}
		})
	}
}

// i18n_patterns() serve one prefix per language whatever language the
// worker's last request activated; a regex without "^" is searched for
// anywhere in the path (unless an endpoint ending in "$", fullmatched).
func TestAppRoutesDjangoI18n(t *testing.T) {
	pythontest.Python(t, "django")
	for _, tc := range []struct {
		name  string
		env   []string
		about []string // the patterns of the about route, in order
		visit string   // served first, to leave its language active
	}{
		{"prefix default", nil, []string{"/en-us/about/", "/fr/about/", "/de/about/"}, "/fr/about/"},
		{"no prefix for the default", []string{"GRAFT_I18N_PREFIX_DEFAULT=0"}, []string{"/about/", "/fr/about/", "/de/about/"}, "/de/about/"},
		{"no LocaleMiddleware", []string{"GRAFT_I18N_LOCALE=0"}, []string{"/en-us/about/"}, "/en-us/about/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "rmi18n.wsgi:application", Env: tc.env})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if code, body := serveBody(ctx, c, tc.visit); code != 200 {
				t.Fatalf("GET %s: %d %s", tc.visit, code, body)
			}
			m := appRoutes(t, c)
			var about []string
			byRule := map[string]AppRoute{}
			for _, r := range m.Routes {
				byRule[r.Rule] = r
				if r.Endpoint == "about" {
					about = append(about, r.Pattern)
				}
			}
			if !slices.Equal(about, tc.about) {
				t.Errorf("about: %q; want %q", about, tc.about)
			}
			for _, u := range []struct{ rule, pattern, untranslatable string }{
				{"blogx/post/<int:id>/", "", "no start anchor"},
				{`zend/(?P<x>[a-z]+)\Z`, "", "no start anchor"},
				{"noanchor/$", "/noanchor/", ""},
			} {
				r, ok := byRule[u.rule]
				if !ok || r.Pattern != u.pattern || !strings.Contains(r.Untranslatable, u.untranslatable) || (u.untranslatable == "") != (r.Untranslatable == "") {
					t.Errorf("%s (%v): pattern %q untranslatable %q; want %q, %q", u.rule, ok, r.Pattern, r.Untranslatable, u.pattern, u.untranslatable)
				}
			}
		})
	}
}
