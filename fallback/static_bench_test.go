package fallback

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkStatic serves a hashed file with a gzip variant, as browsers
// ask for it.
func BenchmarkStatic(b *testing.B) {
	root, _ := staticTree(b)
	s, err := NewStaticDir(root)
	if err != nil {
		b.Fatal(err)
	}
	s.Prefix = "/static/"
	for _, bc := range []struct{ name, target, enc string }{
		{"hashed/gzip", "/static/css/app.3f2a9c1b4d5e.css", "gzip"},
		{"plain/identity", "/static/css/app.css", ""},
		{"not-modified", "/static/css/app.css", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.target, nil)
			if bc.enc != "" {
				req.Header.Set("Accept-Encoding", bc.enc)
			}
			if bc.name == "not-modified" {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				req.Header.Set("If-None-Match", w.Header().Get("Etag"))
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != 200 && w.Code != 304 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
