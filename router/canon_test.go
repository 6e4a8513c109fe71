package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A Python app sees PATH_INFO decoded, so the Router must route a request
// as that decoded path: escaping a letter ("/%73ecret") or a slash
// ("/admin%2Fpanel") must not take a request past the Go route that
// serves its path, or past the middlewares of the sub-Router it belongs
// to, into the fallback. An escaped slash still reaches a Go route that
// takes it in a value.
func TestEscapedPathRoutes(t *testing.T) {
	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "denied", http.StatusForbidden)
		})
	}
	newRouter := func() *Router {
		r := New()
		r.Get("/secret", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go secret")) })
		r.Get("/files/{name}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go file " + Param(r, "name"))) })
		r.Route("/admin", func(s *Router) {
			s.Use(deny) // in front of its Go routes and of the fallback under /admin
			s.Get("/panel", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go panel")) })
		})
		r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("fallback " + r.URL.Path + " raw=" + r.URL.RawPath))
		}))
		return r
	}
	hosts := NewHosts()
	hosts.Host("example.com").Get("/secret", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go host secret")) })
	hosts.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fallback " + r.URL.Path)) }))

	tests := []struct {
		name    string
		handler http.Handler
		path    string
		code    int
		body    string
	}{
		{"plain", newRouter(), "/secret", 200, "go secret"},
		{"escaped letter", newRouter(), "/%73ecret", 200, "go secret"},
		{"escaped letters, lower-case hex", newRouter(), "/%73%65%63%72%65%74", 200, "go secret"},
		{"sub-router route, escaped prefix", newRouter(), "/%61dmin/panel", 403, "denied\n"},
		{"sub-router fallback, escaped prefix", newRouter(), "/%61dmin/users", 403, "denied\n"},
		{"sub-router, escaped slash", newRouter(), "/admin%2Fpanel", 403, "denied\n"},
		{"sub-router, escaped slash lower-case", newRouter(), "/admin%2fusers", 403, "denied\n"},
		{"value with an escaped slash", newRouter(), "/files/a%2Fb", 200, "go file a/b"},
		{"value with an escaped slash and letter", newRouter(), "/files/%61%2fb", 200, "go file a/b"},
		{"value decoded once", newRouter(), "/%66iles/%2541", 200, "go file %41"},
		{"value with an escaped plus", newRouter(), "/files/1%2B1", 200, "go file 1+1"},
		{"fallback, escaped slash", newRouter(), "/x%2Fy", 200, "fallback /x/y raw="},
		{"fallback, escaped letter", newRouter(), "/%78", 200, "fallback /x raw="},
		{"fragment in the request line", newRouter(), "/secret#x", 200, "go secret"},
		{"escaped hash is no fragment", newRouter(), "/x%23y", 200, "fallback /x#y raw="},
		{"host, escaped letter", hosts, "/%73ecret", 200, "go host secret"},
		// Werkzeug strips the leading slashes before matching: Flask
		// serves //secret as /secret.
		{"leading double slash", newRouter(), "//secret", 200, "go secret"},
		{"leading slashes", newRouter(), "////secret", 200, "go secret"},
		{"leading escaped slash", newRouter(), "/%2Fsecret", 200, "go secret"},
		{"sub-router fallback, leading double slash", newRouter(), "//admin/users", 403, "denied\n"},
		{"value with an escaped slash, leading double slash", newRouter(), "//files/a%2Fb", 200, "go file a/b"},
		{"fallback, leading double slash kept", newRouter(), "//x", 200, "fallback //x raw="},
		{"host, leading double slash", hosts, "//secret", 200, "go host secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://example.com"+tc.path, nil)
			w := httptest.NewRecorder()
			tc.handler.ServeHTTP(w, req)
			if w.Code != tc.code || w.Body.String() != tc.body {
				t.Errorf("GET %s: got %d %q, want %d %q", tc.path, w.Code, w.Body.String(), tc.code, tc.body)
			}
		})
	}
}
