package fallback

import (
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Whatever the request path, a name the Static accepts is a valid,
// clean fs.FS name, and nothing outside the root is ever served.
func FuzzStaticPath(f *testing.F) {
	for _, s := range []string{"/static/css/app.css", "/static/../secret.txt", "/static/..%2fsecret.txt",
		"/static/%2e%2e/secret.txt", `/static/..\secret.txt`, "/static/a%00b", "/static//x", "/static/./x",
		"/static/escape.txt", "/static/sub/up/secret.txt", "/static/%252e%252e/secret.txt"} {
		f.Add(s)
	}
	root, _ := staticTree(f)
	s, err := NewStaticDir(root)
	if err != nil {
		f.Fatal(err)
	}
	s.Prefix = "/static/"
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.URL = u
		if name, code := s.name(req); code == 200 {
			if strings.Contains("/"+name+"/", "/../") || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
				t.Fatalf("%q: accepted name %q", target, name)
			}
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if strings.Contains(w.Body.String(), "SECRET") {
			t.Fatalf("%q: served the file outside the root", target)
		}
	})
}

// Whatever X-Accel-Redirect says, the file opened is inside the location.
func FuzzAccelRedirect(f *testing.F) {
	for _, s := range []string{"/protected/a.txt", "/protected/../secret.txt", "/protected/..%2fsecret.txt",
		"/protected/link-out.txt", "/protected/sub/b.txt?x=1", "/protected/%2e%2e/secret.txt", "/protected//etc/passwd",
		"/protected/./a.txt", `/protected/..\secret.txt`, "/other/a.txt"} {
		f.Add(s)
	}
	base, err := os.MkdirTemp("", "graft-fuzz-accel-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "files")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte("SECRET"), 0o644)
	os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "link-out.txt"))
	s := &Sendfile{Locations: map[string]string{"/protected/": dir}}
	f.Fuzz(func(t *testing.T, uri string) {
		file, err := s.openAccel(uri)
		if err != nil {
			return
		}
		defer file.Close()
		b, _ := io.ReadAll(file)
		if strings.Contains(string(b), "SECRET") {
			t.Fatalf("%q opened a file outside the location", uri)
		}
	})
}
