package fallback

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// TestStaticNotFound: with Static.NotFound set, every request Static would
// answer 404 goes to it (the Python app, whose 404 page clients keep),
// and nothing else does; without it, Static answers 404 itself.
func TestStaticNotFound(t *testing.T) {
	fsys := fstest.MapFS{
		"app.css":      {Data: []byte("body{}")},
		"app.css.gz":   {Data: []byte("gz")},
		"img/logo.svg": {Data: []byte("<svg/>")},
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "python 404 for "+r.URL.Path)
	})
	for _, tc := range []struct {
		name, method, path string
		status             int
		toNotFound         bool
	}{
		{"file", "GET", "/static/app.css", 200, false},
		{"head of a file", "HEAD", "/static/app.css", 200, false},
		{"missing file", "GET", "/static/missing.css", 404, true},
		{"head of a missing file", "HEAD", "/static/missing.css", 404, true},
		{"directory", "GET", "/static/img", 404, true},
		{"directory with a slash", "GET", "/static/img/", 404, true},
		{"dot-dot", "GET", "/static/img/../app.css", 404, true},
		{"variant by name", "GET", "/static/app.css.gz", 404, true},
		{"outside the prefix", "GET", "/other/app.css", 404, true},
		{"method not allowed", "POST", "/static/missing.css", 405, false},
	} {
		for _, set := range []bool{false, true} {
			name := tc.name
			if set {
				name += "/NotFound set"
			}
			t.Run(name, func(t *testing.T) {
				s := NewStatic(fsys)
				s.Prefix = "/static/"
				if set {
					s.NotFound = notFound
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				got := w.Body.String() == "python 404 for "+tc.path
				if want := set && tc.toNotFound; got != want {
					t.Fatalf("body %q: from NotFound %v, want %v", w.Body, got, want)
				}
				if set && tc.toNotFound && w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q, want NotFound's", w.Header().Get("Content-Type"))
				}
			})
		}
	}
}
