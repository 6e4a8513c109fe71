package migrate

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
	"github.com/prometheus/client_golang/prometheus"
)

// The admin handler and the console mounted under a prefix with
// http.StripPrefix (docs/migration.md), with or without the prefix's
// trailing slash, serve under it: opened at the prefix without its slash
// they redirect to the prefix with it, relative to where they are, and a
// path the strip left without its leading slash is served as if it had
// it, where net/http's ServeMux redirected both to the site's root,
// outside the prefix (the console's page, its forms, the API).
func TestConsoleMountRoot(t *testing.T) {
	r := router.New()
	r.Get("/x", func(http.ResponseWriter, *http.Request) {})
	r.Fallback(http.NotFoundHandler())
	m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	admin := m.Handler(AdminOptions{Console: m.Console(ConsoleOptions{})})
	alone := m.Console(ConsoleOptions{})
	site := router.New()
	site.Mount("/admin", http.StripPrefix("/admin", admin))
	site.Mount("/console", http.StripPrefix("/console", alone))
	mux := http.NewServeMux()
	mux.Handle("/ops/admin/", http.StripPrefix("/ops/admin/", admin))
	for _, tc := range []struct {
		name     string
		h        http.Handler
		target   string
		code     int
		location string // or, for a 200, a form action the page has
	}{
		{"admin at the prefix", site, "/admin", http.StatusTemporaryRedirect, "./admin/"},
		{"admin at the prefix, with a query", site, "/admin?route=GET+/x", http.StatusTemporaryRedirect, "./admin/?route=GET+/x"},
		{"admin under the prefix", site, "/admin/", http.StatusOK, `action="console/stage"`},
		{"console alone at the prefix", site, "/console", http.StatusTemporaryRedirect, "./console/"},
		{"console alone under the prefix", site, "/console/", http.StatusOK, `action="console/stage"`},
		{"a prefix stripped with its slash", mux, "/ops/admin/", http.StatusOK, `action="console/stage"`},
		{"the API under a prefix stripped with its slash", mux, "/ops/admin/routes?route=GET+/x", http.StatusOK, `"route": "GET /x"`},
		{"the API under a prefix", site, "/admin/routes?route=GET+/x", http.StatusOK, `"route": "GET /x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.target, nil)
			req.Host = "localhost"
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Fatalf("GET %s: %d, want %d (Location %q)", tc.target, w.Code, tc.code, w.Header().Get("Location"))
			}
			if tc.code == http.StatusOK {
				if !strings.Contains(w.Body.String(), tc.location) {
					t.Errorf("GET %s: the page lacks %s", tc.target, tc.location)
				}
			} else if got := w.Header().Get("Location"); got != tc.location {
				t.Errorf("GET %s: Location %q, want %q", tc.target, got, tc.location)
			}
		})
	}
}
