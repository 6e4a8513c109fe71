package migrate

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

func TestSegmentValues(t *testing.T) {
	for re, want := range map[string][]string{
		"(?:en-us|fr)":    {"en-us", "fr"},
		"en-us|fr":        {"en-us", "fr"},
		"(en|fr|de)":      {"de", "en", "fr"},
		"e[ns]":           {"en", "es"},
		"v[12]?x":         {"v1x", "v2x", "vx"},
		"fr":              {"fr"},
		"[0-9]+":          nil,
		"(?i)en|fr":       nil, // any letter case: not a few texts
		"en|":             nil, // the empty value, which chi never gives
		"a/b|c":           nil,
		"[a-z]{2}":        nil,
		"(?:a|b)(?:c|d)":  {"ac", "ad", "bc", "bd"},
		"[a-z][a-z][a-z]": nil, // more than maxVariants
	} {
		if got := segmentValues(re); !slices.Equal(got, want) {
			t.Errorf("segmentValues(%q) = %q, want %q", re, got, want)
		}
	}
}

// TestInventoryAlternation: a parameter that takes a few literal values
// stands for one path per value, so that a Go route for every language
// ("/{lang:(?:en-us|fr)}/shop/me/") is joined to the per-language routes
// of Django's i18n_patterns, and Go routes per language to a Flask rule
// with <any(en, fr):lang>. Until 2026-12-02 the first was a "shadows"
// conflict with each language's route, which stayed "python", and the
// second "partial" conflicts.
func TestInventoryAlternation(t *testing.T) {
	i18n := []wsgi.AppRoute{pyRoute("en-us/shop/me/", "/en-us/shop/me/"), pyRoute("fr/shop/me/", "/fr/shop/me/")}
	anyRule := pyRoute("/<any(en, fr):lang>/hello", "/{lang:(?:en|fr)}/hello", "GET", "HEAD", "OPTIONS")
	anyRule.Params = []wsgi.RouteParam{{Name: "lang", Converter: "any", Regex: "(?:en|fr)"}}
	type conflict struct{ kind, goRoute, pyRule string }
	for _, tc := range []struct {
		name      string
		py        []wsgi.AppRoute
		stages    []RouteConfig
		goRoutes  func(r *router.Router)
		status    map[string]string
		goOnly    []string // "METHOD pattern", with " unmatched PATHS"
		conflicts []conflict
		notes     []string
	}{
		{
			name: "one Go route for every language of i18n_patterns",
			py:   i18n,
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:(?:en-us|fr)}/shop/me/", okHandler)
			},
			status: map[string]string{"en-us/shop/me/": "go", "fr/shop/me/": "go"},
		},
		{
			name:   "in shadow: both migrating",
			py:     i18n,
			stages: []RouteConfig{{Route: "GET /{lang:(?:en-us|fr)}/shop/me/", Stage: StageShadow}},
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:(?:en-us|fr)}/shop/me/", okHandler)
			},
			status: map[string]string{"en-us/shop/me/": "migrating", "fr/shop/me/": "migrating"},
		},
		{
			name: "a language Python does not serve is Go's",
			py:   i18n,
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:(?:en-us|fr|de)}/shop/me/", okHandler)
			},
			status: map[string]string{"en-us/shop/me/": "go", "fr/shop/me/": "go"},
			goOnly: []string{"GET /{lang:(?:en-us|fr|de)}/shop/me/ unmatched /de/shop/me/"},
		},
		{
			name: "one language only",
			py:   i18n,
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:(?:fr)}/shop/me/", okHandler)
			},
			status: map[string]string{"en-us/shop/me/": "python", "fr/shop/me/": "go"},
		},
		{
			name: "a parameter after the language still compared",
			py:   []wsgi.AppRoute{pyRoute("en-us/shop/<int:id>/", "/en-us/shop/{id:[0-9]+}/"), pyRoute("fr/shop/<int:id>/", "/fr/shop/{id:[0-9]+}/")},
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:(?:en-us|fr)}/shop/{id}/", okHandler)
			},
			status: map[string]string{"en-us/shop/<int:id>/": "python", "fr/shop/<int:id>/": "python"},
			conflicts: []conflict{
				{"shadows", "GET /{lang:(?:en-us|fr)}/shop/{id}/", "en-us/shop/<int:id>/"},
				{"shadows", "GET /{lang:(?:en-us|fr)}/shop/{id}/", "fr/shop/<int:id>/"},
			},
		},
		{
			name: "any letters for the language: still a conflict",
			py:   i18n,
			goRoutes: func(r *router.Router) {
				r.Get("/{lang:[a-z-]+}/shop/me/", okHandler)
			},
			status: map[string]string{"en-us/shop/me/": "python", "fr/shop/me/": "python"},
			conflicts: []conflict{
				{"shadows", "GET /{lang:[a-z-]+}/shop/me/", "en-us/shop/me/"},
				{"shadows", "GET /{lang:[a-z-]+}/shop/me/", "fr/shop/me/"},
			},
		},
		{
			name: "Flask any: one Go route per language",
			py:   []wsgi.AppRoute{anyRule},
			goRoutes: func(r *router.Router) {
				r.Get("/en/hello", okHandler)
				r.Get("/fr/hello", okHandler)
			},
			status: map[string]string{"/<any(en, fr):lang>/hello": "go"},
		},
		{
			name: "Flask any: one language ported",
			py:   []wsgi.AppRoute{anyRule},
			goRoutes: func(r *router.Router) {
				r.Get("/en/hello", okHandler)
			},
			status: map[string]string{"/<any(en, fr):lang>/hello": "migrating"},
			notes:  []string{"/<any(en, fr):lang>/hello"},
		},
		{
			name: "Flask any: the same alternation",
			py:   []wsgi.AppRoute{anyRule},
			goRoutes: func(r *router.Router) {
				r.Get("/{l:en|fr}/hello", okHandler)
			},
			status: map[string]string{"/<any(en, fr):lang>/hello": "go"},
		},
		{
			name: "Flask any: another alternation",
			py:   []wsgi.AppRoute{anyRule},
			goRoutes: func(r *router.Router) {
				r.Get("/{l:(?:en|de)}/hello", okHandler)
			},
			status: map[string]string{"/<any(en, fr):lang>/hello": "migrating"},
			goOnly: []string{"GET /{l:(?:en|de)}/hello unmatched /de/hello"},
			notes:  []string{"/<any(en, fr):lang>/hello"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := router.New()
			tc.goRoutes(r)
			r.Fallback(http.NotFoundHandler())
			var m *Migrator
			if tc.stages != nil {
				var err error
				if m, err = New(r, Options{Routes: tc.stages, Logger: discardLogger()}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					m.Shutdown(ctx)
				})
			}
			inv := NewInventory(&wsgi.AppRouteMap{Framework: "django", Routes: tc.py}, r.Inventory(), m)
			var notes []string
			for _, l := range inv.Python {
				if want := tc.status[l.Rule]; l.Status != want {
					t.Errorf("%s: status %q, want %q (go %+v, note %q)", l.Rule, l.Status, want, l.Go, l.Note)
				}
				if l.Note != "" {
					notes = append(notes, l.Rule)
				}
			}
			if !slices.Equal(notes, tc.notes) {
				t.Errorf("notes on %q, want %q", notes, tc.notes)
			}
			var goOnly []string
			for _, g := range inv.GoOnly {
				s := g.Method + " " + g.Pattern
				if len(g.Unmatched) > 0 {
					s += " unmatched " + strings.Join(g.Unmatched, ",")
				}
				goOnly = append(goOnly, s)
			}
			if !slices.Equal(goOnly, tc.goOnly) {
				t.Errorf("go-only %q, want %q", goOnly, tc.goOnly)
			}
			var conflicts []conflict
			for _, c := range inv.Conflicts {
				conflicts = append(conflicts, conflict{c.Kind, c.Go.Method + " " + c.Go.Pattern, c.PythonRule})
			}
			if !slices.Equal(conflicts, tc.conflicts) {
				t.Errorf("conflicts %v, want %v", conflicts, tc.conflicts)
			}
			var buf bytes.Buffer
			if err := inv.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			for _, g := range inv.GoOnly {
				if len(g.Unmatched) > 0 && !strings.Contains(buf.String(), "its paths "+strings.Join(g.Unmatched, ", ")+" only") {
					t.Errorf("table does not list the unmatched paths:\n%s", buf.String())
				}
			}
		})
	}
}

// TestInventoryAlternationApps joins the route maps of a real Django
// project (i18n_patterns, per language) and of a real Flask app
// (<any(en, fr):lang>) with Go routes that take the languages together
// or one by one.
func TestInventoryAlternationApps(t *testing.T) {
	for _, tc := range []struct {
		name, app string
		goRoutes  func(r *router.Router)
		status    map[string]string
	}{
		{"django i18n_patterns, one Go route", "djangoi18n.wsgi:application", func(r *router.Router) {
			r.Get("/{lang:(?:en-us|fr)}/shop/me/", okHandler)
		}, map[string]string{"en-us/shop/me/": "go", "fr/shop/me/": "go", "api/lang/": "python"}},
		{"flask any, one Go route per language", "flaskmig:app", func(r *router.Router) {
			r.Get("/en/hello", okHandler)
			r.Get("/fr/hello", okHandler)
		}, map[string]string{"/<any(en, fr):lang>/hello": "go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startPython(t, tc.app)
			py := appRoutes(t, c)
			r := router.New()
			tc.goRoutes(r)
			inv := NewInventory(py, r.Inventory(), nil)
			got := map[string]string{}
			for _, l := range inv.Python {
				if _, ok := tc.status[l.Rule]; ok {
					got[l.Rule] = l.Status
				}
			}
			for rule, want := range tc.status {
				if got[rule] != want {
					t.Errorf("%s: status %q, want %q (routes %+v)", rule, got[rule], want, inv.Python)
				}
			}
			if len(inv.Conflicts) > 0 || len(inv.GoOnly) > 0 {
				t.Errorf("conflicts %+v, go-only %+v: want none", inv.Conflicts, inv.GoOnly)
			}
		})
	}
}

// TestInventoryFalconApp joins the route map of a real Falcon app with Go
// routes: Falcon's /users/{name} also answers /users/ (the field empty,
// the route's Alternate), so a Go route on /users/{name} alone leaves
// that path to Falcon ("migrating"), and with /users/ too Go serves the
// route; /items/{n:int} is matched by a Go route with the same
// constraint.
func TestInventoryFalconApp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		goRoutes func(r *router.Router)
		status   map[string]string
	}{
		{"one form", func(r *router.Router) {
			r.Get("/users/{name}", okHandler)
		}, map[string]string{"/users/{name}": "migrating", "/items/{n:int}": "python"}},
		{"both forms", func(r *router.Router) {
			r.Get("/users/{name}", okHandler)
			r.Get("/users/", okHandler)
			r.Get("/items/{id:[+-]?[0-9]+}", okHandler)
		}, map[string]string{"/users/{name}": "go", "/items/{n:int}": "go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startPython(t, "falconmig:app")
			py := appRoutes(t, c)
			r := router.New()
			tc.goRoutes(r)
			inv := NewInventory(py, r.Inventory(), nil)
			if inv.Framework != "falcon" {
				t.Errorf("framework %q, want falcon", inv.Framework)
			}
			got := map[string]string{}
			for _, l := range inv.Python {
				got[l.Rule] = l.Status
			}
			for rule, want := range tc.status {
				if got[rule] != want {
					t.Errorf("%s: status %q, want %q (routes %+v)", rule, got[rule], want, inv.Python)
				}
			}
			if len(inv.Conflicts) > 0 || len(inv.GoOnly) > 0 {
				t.Errorf("conflicts %+v, go-only %+v: want none", inv.Conflicts, inv.GoOnly)
			}
		})
	}
}
