package fallback

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// A Go route, or a sub-Router's middleware, in front of a real Flask app
// cannot be stepped around by escaping part of the path: Flask gets
// PATH_INFO decoded, so "/%73ecret" is its /secret and "/admin%2Fusers"
// its /admin/users, and the router must route them as such. Before, chi
// routed on the escaped form, matched no Go route and handed them to the
// app, unguarded. The same held for a fragment sent in the request line
// (no wsgi.Guard in front here): the container drops it, chi did not. And
// Flask upper-cases REQUEST_METHOD, so "get /secret" was its GET /secret
// while chi, whose methods are case-sensitive, matched no GET route: the
// container now refuses such a method, as gunicorn does.
func TestEscapedPathReachesNoGuardedPython(t *testing.T) {
	py := pythontest.Python(t, "flask")
	logs := &pythontest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsgi.New(wsgi.Config{App: "guardedapp:app", Python: py, Dir: td, Workers: 1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })

	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "go: login required", http.StatusForbidden)
		})
	}
	r := router.New()
	r.With(deny).Get("/secret", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go secret")) })
	r.Route("/admin", func(s *router.Router) {
		s.Use(deny) // guards the Python views under /admin as well
		s.Get("/panel", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go panel")) })
	})
	r.Fallback(&Handler{App: c, Logger: logger})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"go route", "GET", "/secret", 403, "go: login required\n"},
		{"go route, escaped letter", "GET", "/%73ecret", 403, "go: login required\n"},
		{"go route, all escaped", "GET", "/%73%65%63%72%65%74", 403, "go: login required\n"},
		{"python for another method", "POST", "/secret", 200, "python secret /secret"},
		{"sub-router", "GET", "/admin/users", 403, "go: login required\n"},
		{"sub-router, escaped letter", "GET", "/%61dmin/users", 403, "go: login required\n"},
		{"sub-router, escaped slash", "GET", "/admin%2Fusers", 403, "go: login required\n"},
		{"sub-router, escaped slash lower-case", "GET", "/admin%2fpanel", 403, "go: login required\n"},
		{"go route, fragment", "GET", "/secret#x", 403, "go: login required\n"},
		{"go route, escaped letter and fragment", "GET", "/sec%72et#", 403, "go: login required\n"},
		{"go route, absolute form with a fragment", "GET", "http://example.com/secret#x", 403, "go: login required\n"},
		{"sub-router, fragment", "GET", "/admin/users#", 403, "go: login required\n"},
		{"go route, leading double slash", "GET", "//secret", 403, "go: login required\n"},
		{"go route, leading slashes", "GET", "///secret", 403, "go: login required\n"},
		{"go route, leading escaped slash", "GET", "/%2Fsecret", 403, "go: login required\n"},
		{"sub-router, leading double slash", "GET", "//admin/users", 403, "go: login required\n"},
		{"unguarded, leading double slash", "GET", "//public/x", 200, "python public //public/x"},
		{"lower-case method", "get", "/secret", 400, "Bad Request\n"},
		{"mixed-case method", "Post", "/secret", 400, "Bad Request\n"},
		{"unguarded, escaped", "GET", "/p%75blic/a%2Fb", 200, "python public /public/a/b"},
		{"unguarded, escaped hash", "GET", "/public/a%23b", 200, "python public /public/a#b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A raw request line: Go's client would escape or drop parts
			// of these targets.
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", tc.method, tc.path)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || string(body) != tc.body {
				t.Errorf("%s %s: got %d %q, want %d %q\n%s", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.body, logs)
			}
		})
	}
}
