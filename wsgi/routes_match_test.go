package wsgi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
)

// flaskMatch prints what Flask's own url_map routes each path of argv
// (percent-decoded, as PATH_INFO) to: [path, endpoint, {param:
// str(value)}], endpoint "" for a 404 or a redirect (a strict-slashes
// rule).
const flaskMatch = `
import json, sys, rmflask
from urllib.parse import unquote
from werkzeug.exceptions import HTTPException
a = rmflask.app.url_map.bind("localhost")
for path in sys.argv[1:]:
    try:
        ep, args = a.match(unquote(path), "GET")
        print(json.dumps([path, ep, {k: str(v) for k, v in args.items()}]))
    except HTTPException:
        print(json.dumps([path, "", {}]))
`

// djangoMatch does the same with Django's resolve().
const djangoMatch = `
import json, sys, django
django.setup()
from urllib.parse import unquote
from django.urls import Resolver404, resolve
for path in sys.argv[1:]:
    try:
        m = resolve(unquote(path))
        print(json.dumps([path, m.view_name, {k: str(v) for k, v in m.kwargs.items()}]))
    except Resolver404:
        print(json.dumps([path, "", {}]))
`

// TestAppRoutesMatchFramework: a translated pattern matches what the
// framework matches, with the same parameter values. Every sample path
// is routed by the framework itself (Flask's url_map, Django's resolve)
// and by graft's router (chi's, with graft's rules: a catch-all takes no
// newline) holding the GET routes of the route map: where the
// framework picks a route with a pattern, chi must pick it too with the
// same values, and a route chi picks must be the framework's (a Flask
// rule with strict_slashes=False is registered with its Alternate too,
// the other slash form Flask serves without a redirect). Routes
// whose parameter is followed by text it may hold (/dot/<name>.json)
// must be untranslatable: chi would end the value at the first "." where
// Flask and Django backtrack (they answer /dot/a.b.json with "a.b").
//
// A path converter is the constrained catch-all {*:re}, which refuses
// the empty rest (/files/, /docs/) as Flask and Django do, and takes a
// Flask rest whose first character is its one newline (/files/%0Aab).
//
// Left out on purpose: paths with decimal digits other than 0-9 (Flask
// takes them, the pattern keeps 0-9: see PythonRegex).
func TestAppRoutesMatchFramework(t *testing.T) {
	const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	for _, tc := range []struct {
		name   string
		app    string
		env    []string
		script []string
		paths  []string
		// endpoints that must be untranslatable for the reason above
		untranslatable []string
	}{
		{
			name: "flask", app: "rmflask:app", script: []string{"-c", flaskMatch},
			paths: []string{"/", "/items/12", "/items/x", "/users/bob/", "/users/bob", "/users/a.b/",
				"/files/a/b.txt", "/u/" + uuid, "/price/1.5", "/price/1", "/delta/-3", "/delta/4",
				"/lang/en/home", "/lang/de/home", "/code/ab", "/code/abc", "/shop/", "/shop/cart/3",
				"/dot/a.json", "/dot/a.b.json", "/pair/b.c", "/pair/b.c.d", "/post/my-12", "/post/my-post-12",
				"/v/3.json", "/v/3.4.json", "/v/x.json", "/loose/", "/loose", "/loose/3", "/loose/3/",
				"/cdn/a.css", // a build_only rule: Flask answers 404
				// Python's "." takes no newline, "[^/]" does
				"/files/a%0Ab", "/files/a/b%0A", "/files/a%0A", "/users/a%0Ab/",
				// werkzeug's "[^/].*?" takes a first character that is a
				// newline, and no empty rest
				"/files/%0Aab", "/files/%0A", "/files/%0Aa%0Ab", "/files/", "/files"},
			untranslatable: []string{"dot", "pair", "post"},
		},
		{
			name: "django", app: "rmdjango.wsgi:application", script: []string{"-c", djangoMatch},
			env: []string{"GRAFT_DJANGO_DB=" + filepath.Join(t.TempDir(), "db.sqlite3"), "DJANGO_SETTINGS_MODULE=rmdjango.settings"},
			paths: []string{"/", "/articles/7/", "/articles/x/", "/tags/a-b_c/", "/tags/a.b/", "/u/" + uuid + "/",
				"/docs/a/b", "/archive/2024/05/", "/archive/24/05/", "/day/2024/05/", "/day/24/05/", "/day/2024/5x/", "/shop/", "/shop/items/3/", "/shop/items/3/edit/",
				"/shop/api/ping/2/", "/shop/api/legacy/ABC/", "/shop/api/legacy/abc/",
				"/dot/a.json", "/dot/a.b.json", "/post/my-12/", "/post/my-post-12/",
				"/v/3.json", "/v/3.4.json", "/v/x.json",
				"/docs/a%0Ab", "/docs/%0Aab", "/docs/a/b%0A", "/docs/%0A",
				// Django's ".+" takes no empty rest
				"/docs/", "/docs"},
			untranslatable: []string{"dot", "post"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pythontest.Python(t, tc.name)
			c, _ := newContainer(t, Config{App: tc.app, Env: tc.env})
			m := appRoutes(t, c)
			mux := router.New()
			translated := map[string]bool{}
			for _, r := range m.Routes {
				if slices.Contains(tc.untranslatable, r.Endpoint) {
					if r.Pattern != "" || !strings.Contains(r.Untranslatable, "chi ends the value there") {
						t.Errorf("%s (%s): pattern %q untranslatable %q; want untranslatable: chi ends the value at the first character of the text after it",
							r.Endpoint, r.Rule, r.Pattern, r.Untranslatable)
					}
				}
				if r.Pattern == "" || r.Endpoint == "" || (r.Methods != nil && !slices.Contains(r.Methods, http.MethodGet)) {
					continue
				}
				translated[r.Endpoint] = true
				mux.Get(r.Pattern, chiRecorder(r))
				if r.Alternate != "" {
					mux.Get(r.Alternate, chiRecorder(r))
				}
			}
			want := pythonLines(t, tc.env, append(tc.script, tc.paths...)...)
			if len(want) != len(tc.paths) {
				t.Fatalf("the framework answered %d paths of %d", len(want), len(tc.paths))
			}
			for _, row := range want {
				path, pyEndpoint, pyParams := row[0].(string), row[1].(string), row[2].(map[string]any)
				var got struct {
					Endpoint string
					Params   map[string]any
				}
				got.Endpoint, got.Params = chiRouted(t, mux, path)
				if !translated[pyEndpoint] && got.Endpoint == "" {
					continue // neither routes it through a translated pattern
				}
				if got.Endpoint != pyEndpoint || fmt.Sprint(got.Params) != fmt.Sprint(pyParams) {
					t.Errorf("GET %s: %s routes it to %q %v, graft's router (translated patterns) to %q %v",
						path, tc.name, pyEndpoint, pyParams, got.Endpoint, got.Params)
				}
			}
		})
	}
}

// chiRecorder answers the endpoint of r and its parameter values as chi
// found them, by the Python names (a path converter's is chi's "*").
func chiRecorder(r AppRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		params := map[string]any{}
		for i, p := range r.Params {
			key := p.Name
			if endsInCatchAll(r.Pattern) && i == len(r.Params)-1 {
				key = "*"
			}
			params[p.Name] = chi.URLParam(req, key)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"endpoint": r.Endpoint, "params": params})
	}
}

// chiRouted is the endpoint and parameter values the chiRecorder that
// mux routes a GET of path to answers: "" and nil when no route takes it.
func chiRouted(t *testing.T, mux http.Handler, path string) (string, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var got struct {
		Endpoint string         `json:"endpoint"`
		Params   map[string]any `json:"params"`
	}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return got.Endpoint, got.Params
}
