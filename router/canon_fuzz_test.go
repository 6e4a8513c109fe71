package router

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzEscapedPath checks, for any request target net/http accepts, that a
// request the Router hands to its fallback is not one whose path, as a
// WSGI app gets it (the target cut at '#' and '?', percent-decoded once)
// and Flask matches it (leading slashes made one), a Go route serves: the
// fallback must never see a Go route's path.
func FuzzEscapedPath(f *testing.F) {
	for _, s := range []string{"/secret", "/%73ecret", "/admin%2Fx", "/admin/x", "/secret#x", "/sec%72et#",
		"/files/a%2Fb", "/%66iles/a%2fb", "/x%23y", "/admin%2f..%2fsecret", "//secret", "/secret?x#y",
		"///secret", "/%2Fsecret", "//admin/x", "//files/a%2Fb", "//%2F/files/x"} {
		f.Add(s)
	}
	r := New()
	r.Get("/secret", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go")) })
	r.Get("/files/{name}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go")) })
	r.Route("/admin", func(s *Router) {
		s.Get("/panel", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go")) })
		s.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go admin")) }))
	})
	r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fallback")) }))
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n")))
		if err != nil {
			return // net/http refuses it: no handler runs
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Body.String() != "fallback" {
			return
		}
		p, _, _ := strings.Cut(req.RequestURI, "#")
		p, _, _ = strings.Cut(p, "?")
		if i := strings.Index(p, "://"); i >= 0 { // absolute-form
			p = p[i+3:]
			if j := strings.IndexByte(p, '/'); j >= 0 {
				p = p[j:]
			} else {
				p = "/"
			}
		}
		decoded, err := url.PathUnescape(p)
		if err != nil {
			return
		}
		decoded = "/" + strings.TrimLeft(decoded, "/") // Werkzeug strips leading slashes
		if decoded == "/secret" || strings.HasPrefix(decoded, "/files/") && !strings.Contains(decoded[len("/files/"):], "/") && len(decoded) > len("/files/") ||
			decoded == "/admin" || strings.HasPrefix(decoded, "/admin/") {
			t.Errorf("GET %s reached the fallback, whose app sees %q: a Go route's path", target, decoded)
		}
	})
}
