package fallback

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graft-dev/graft/router"
)

// staticTree writes a STATIC_ROOT-like tree under a new directory and
// returns the root (dir/static) and a file outside it (dir/secret.txt).
func staticTree(t testing.TB) (root, secret string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "static")
	files := map[string]string{
		"css/app.css":                 "body{color:red}",
		"css/app.3f2a9c1b4d5e.css":    "body{color:red}",
		"css/app.3f2a9c1b4d5e.css.gz": gz(t, "body{color:red}"),
		"css/app.3f2a9c1b4d5e.css.br": "BROTLI-BYTES",
		"js/app.js":                   strings.Repeat("console.log(1);\n", 100),
		"js/app.js.gz":                gz(t, strings.Repeat("console.log(1);\n", 100)),
		"data.unknownext":             "<html><body>sniffed</body></html>",
		"blob.unknownext":             "x",
		"blob.unknownext.gz":          gz(t, "x"),
		"sub/inner.txt":               "inner",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secret = filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside the root, and two that leave it.
	for link, target := range map[string]string{
		"css/alias.css":   "app.css",
		"escape.txt":      "../secret.txt",
		"abs-escape.txt":  secret,
		"sub/dirlink/":    "",
		"sub/up":          "../..",
		"sub/upfile.txt":  "../../secret.txt",
		"sub/inlink.txt":  "inner.txt",
		"sub/dotdot-in":   "../css",
		"sub/loop":        "loop",
		"sub/missing.txt": "nowhere.txt",
	} {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	return root, secret
}

func gz(t testing.TB, s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStaticDir(t *testing.T) {
	root, _ := staticTree(t)
	s, err := NewStaticDir(root)
	if err != nil {
		t.Fatal(err)
	}
	s.Prefix = "/static/"
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "css", "app.css"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	// The ETag of app.css, to send it back.
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/static/css/app.css", nil))
	etag := w.Header().Get("Etag")
	if w.Code != 200 || etag == "" || w.Header().Get("Last-Modified") != "Fri, 02 Jan 2026 03:04:05 GMT" {
		t.Fatalf("GET app.css: %d %v", w.Code, w.Header())
	}

	// The gzip variant of app.js: its ETag and length.
	req := httptest.NewRequest("GET", "/static/js/app.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w = httptest.NewRecorder()
	s.ServeHTTP(w, req)
	gzEtag := w.Header().Get("Etag")
	gzInfo, err := os.Stat(filepath.Join(root, "js", "app.js.gz"))
	if err != nil || w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET app.js gzip: %d %v %v", w.Code, w.Header(), err)
	}
	gzLen := strconv.FormatInt(gzInfo.Size(), 10)
	// Answers other than a 200 or a 206 carry none of the variant's body
	// headers: a length with no body leaves the client waiting for it.
	noFile := map[string]string{"Content-Length": "", "Content-Encoding": "", "Etag": "", "Last-Modified": "", "Cache-Control": ""}

	const immutable = "public, max-age=31536000, immutable"
	tests := []struct {
		name, method, target string
		header               map[string]string
		code                 int
		body                 string // "" checks nothing; "-" wants an empty body
		want                 map[string]string
	}{
		{name: "plain file", target: "/static/css/app.css", code: 200, body: "body{color:red}",
			want: map[string]string{"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60",
				"Content-Length": "15", "Accept-Ranges": "bytes", "Vary": "", "Content-Encoding": ""}},
		{name: "head", method: "HEAD", target: "/static/css/app.css", code: 200, body: "-",
			want: map[string]string{"Content-Length": "15", "Etag": etag}},
		{name: "if-none-match", target: "/static/css/app.css", header: map[string]string{"If-None-Match": etag}, code: 304, body: "-",
			want: map[string]string{"Etag": etag, "Content-Length": ""}},
		{name: "if-none-match other", target: "/static/css/app.css", header: map[string]string{"If-None-Match": `"other"`}, code: 200},
		{name: "if-none-match star", target: "/static/css/app.css", header: map[string]string{"If-None-Match": "*"}, code: 304},
		{name: "if-modified-since same", target: "/static/css/app.css",
			header: map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"}, code: 304},
		{name: "if-modified-since older", target: "/static/css/app.css",
			header: map[string]string{"If-Modified-Since": "Thu, 01 Jan 2026 03:04:05 GMT"}, code: 200},
		{name: "range", target: "/static/css/app.css", header: map[string]string{"Range": "bytes=0-3"}, code: 206, body: "body",
			want: map[string]string{"Content-Range": "bytes 0-3/15"}},
		{name: "suffix range", target: "/static/css/app.css", header: map[string]string{"Range": "bytes=-4"}, code: 206, body: "red}"},
		{name: "unsatisfiable range", target: "/static/css/app.css", header: map[string]string{"Range": "bytes=100-"}, code: 416,
			want: map[string]string{"Content-Range": "bytes */15"}},
		{name: "if-range matching etag", target: "/static/css/app.css",
			header: map[string]string{"Range": "bytes=0-3", "If-Range": etag}, code: 206, body: "body"},
		{name: "if-range stale etag", target: "/static/css/app.css",
			header: map[string]string{"Range": "bytes=0-3", "If-Range": `"stale"`}, code: 200, body: "body{color:red}"},
		{name: "if-match fails", target: "/static/css/app.css", header: map[string]string{"If-Match": `"stale"`}, code: 412},
		{name: "hashed name immutable", target: "/static/css/app.3f2a9c1b4d5e.css", code: 200, body: "body{color:red}",
			want: map[string]string{"Cache-Control": immutable, "Vary": "Accept-Encoding", "Content-Encoding": ""}},
		{name: "brotli preferred", target: "/static/css/app.3f2a9c1b4d5e.css", header: map[string]string{"Accept-Encoding": "gzip, br"},
			code: 200, body: "BROTLI-BYTES",
			want: map[string]string{"Content-Encoding": "br", "Content-Type": "text/css; charset=utf-8", "Vary": "Accept-Encoding",
				"Cache-Control": immutable, "Content-Length": "12"}},
		{name: "gzip when br refused", target: "/static/css/app.3f2a9c1b4d5e.css",
			header: map[string]string{"Accept-Encoding": "br;q=0, gzip;q=0.5"}, code: 200,
			want: map[string]string{"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}},
		{name: "star accepts br", target: "/static/css/app.3f2a9c1b4d5e.css", header: map[string]string{"Accept-Encoding": "*"},
			code: 200, want: map[string]string{"Content-Encoding": "br"}},
		{name: "identity only", target: "/static/css/app.3f2a9c1b4d5e.css", header: map[string]string{"Accept-Encoding": "identity"},
			code: 200, body: "body{color:red}", want: map[string]string{"Content-Encoding": "", "Vary": "Accept-Encoding"}},
		{name: "gzip variant range", target: "/static/js/app.js", header: map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-1"},
			code: 206, body: "\x1f\x8b", want: map[string]string{"Content-Encoding": "gzip", "Content-Type": "text/javascript; charset=utf-8"}},
		{name: "gzip variant", target: "/static/js/app.js", header: map[string]string{"Accept-Encoding": "gzip"}, code: 200,
			want: map[string]string{"Content-Length": gzLen, "Content-Encoding": "gzip", "Etag": gzEtag}},
		{name: "gzip variant head", method: "HEAD", target: "/static/js/app.js", header: map[string]string{"Accept-Encoding": "gzip"},
			code: 200, body: "-", want: map[string]string{"Content-Length": gzLen, "Content-Encoding": "gzip"}},
		{name: "gzip variant if-match fails", target: "/static/js/app.js",
			header: map[string]string{"Accept-Encoding": "gzip", "If-Match": `"other"`}, code: 412, body: "-", want: noFile},
		{name: "gzip variant if-unmodified-since fails", target: "/static/js/app.js", code: 412, body: "-", want: noFile,
			header: map[string]string{"Accept-Encoding": "gzip", "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}},
		{name: "gzip variant not modified", target: "/static/js/app.js",
			header: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzEtag}, code: 304, body: "-",
			want: map[string]string{"Content-Length": "", "Content-Encoding": "", "Content-Type": "", "Etag": gzEtag,
				"Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}},
		{name: "gzip variant unsatisfiable range", target: "/static/js/app.js",
			header: map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=99999-"}, code: 416,
			want: map[string]string{"Content-Length": "", "Content-Encoding": "", "Etag": "", "Cache-Control": "",
				"Content-Range": "bytes */" + gzLen}},
		{name: "gzip variant if-range stale", target: "/static/js/app.js",
			header: map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-3", "If-Range": `"stale"`}, code: 200,
			want: map[string]string{"Content-Length": gzLen, "Content-Encoding": "gzip"}},
		{name: "compressed variant asked for itself", target: "/static/js/app.js.gz", code: 404},
		{name: "unknown type sniffed", target: "/static/data.unknownext", code: 200,
			want: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "unknown type compressed sniffed from the uncompressed file", target: "/static/blob.unknownext",
			header: map[string]string{"Accept-Encoding": "gzip"}, code: 200,
			want: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"}},
		{name: "symlink inside root", target: "/static/css/alias.css", code: 200, body: "body{color:red}"},
		{name: "symlink to a dir inside root", target: "/static/sub/dotdot-in/app.css", code: 200, body: "body{color:red}"},
		{name: "missing", target: "/static/css/nope.css", code: 404},
		{name: "dangling symlink", target: "/static/sub/missing.txt", code: 404},
		{name: "symlink loop", target: "/static/sub/loop", code: 404},
		{name: "directory", target: "/static/css", code: 404},
		{name: "directory slash", target: "/static/css/", code: 404},
		{name: "prefix itself", target: "/static/", code: 404},
		{name: "outside prefix", target: "/other/css/app.css", code: 404},
		{name: "post", method: "POST", target: "/static/css/app.css", code: 405, want: map[string]string{"Allow": "GET, HEAD"}},
		{name: "dotdot", target: "/static/../secret.txt", code: 404},
		{name: "dotdot inside", target: "/static/css/../css/app.css", code: 404},
		{name: "encoded dotdot slash", target: "/static/..%2fsecret.txt", code: 404},
		{name: "encoded dotdot slash upper", target: "/static/..%2Fsecret.txt", code: 404},
		{name: "encoded dots", target: "/static/%2e%2e/secret.txt", code: 404},
		{name: "encoded nul", target: "/static/css/app.css%00.png", code: 404},
		{name: "backslash", target: `/static/..\secret.txt`, code: 404},
		{name: "encoded backslash", target: "/static/..%5csecret.txt", code: 404},
		{name: "double slash", target: "/static//etc/passwd", code: 404},
		{name: "dot segment", target: "/static/./css/app.css", code: 404},
		{name: "relative symlink out of root", target: "/static/escape.txt", code: 404},
		{name: "absolute symlink out of root", target: "/static/abs-escape.txt", code: 404},
		{name: "symlinked dir out of root", target: "/static/sub/up/secret.txt", code: 404},
		{name: "symlink from subdir out of root", target: "/static/sub/upfile.txt", code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequest(method, "/", nil)
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			req.URL = u
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Fatalf("%s %s: status %d, want %d; body %q", method, tc.target, w.Code, tc.code, w.Body.String())
			}
			if strings.Contains(w.Body.String(), "SECRET") {
				t.Fatalf("served the file outside the root")
			}
			switch tc.body {
			case "":
			case "-":
				if w.Body.Len() != 0 {
					t.Errorf("body %q, want none", w.Body.String())
				}
			default:
				if w.Body.String() != tc.body {
					t.Errorf("body %q, want %q", w.Body.String(), tc.body)
				}
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// Traversal attempts over a real connection, bytes as the client sends
// them: net/http's server does not clean the path, the Static must.
func TestStaticRawTraversal(t *testing.T) {
	root, _ := staticTree(t)
	s, err := NewStaticDir(root)
	if err != nil {
		t.Fatal(err)
	}
	r := router.New()
	s.Prefix = "/static/"
	r.Handle("/static/*", s)
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, target := range []string{
		"/static/../secret.txt",
		"/static/..%2fsecret.txt",
		"/static/..%2Fsecret.txt",
		"/static/%2e%2e%2fsecret.txt",
		`/static/..\secret.txt`,
		"/static/..%5csecret.txt",
		"/static/css/app.css%00",
		"/static/escape.txt",
		"/static/abs-escape.txt",
		"/static/sub/up/secret.txt",
		"/static/sub/up/static/../secret.txt",
		"/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
	} {
		t.Run(target, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 404 {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
			if bytes.Contains(b, []byte("SECRET")) || bytes.Contains(b, []byte("root:")) {
				t.Errorf("served a file outside the root: %q", b)
			}
		})
	}
}

// An embedded tree has no modification times: the ETag comes from the
// content, and there is no Last-Modified.
func TestStaticFS(t *testing.T) {
	fsys := fstest.MapFS{
		"app.0123456789ab.js":    {Data: []byte("let a = 1;")},
		"app.0123456789ab.js.br": {Data: []byte("BR")},
		"img/logo.svg":           {Data: []byte("<svg/>")},
		"dir/x":                  {Data: []byte("x")},
	}
	s := NewStatic(fsys)
	s.MaxAge = -1
	h := http.StripPrefix("/assets", s)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/assets/img/logo.svg", nil))
	etag := w.Header().Get("Etag")
	if w.Code != 200 || w.Body.String() != "<svg/>" || !strings.HasPrefix(etag, `"`) ||
		w.Header().Get("Last-Modified") != "" || w.Header().Get("Content-Type") != "image/svg+xml" ||
		w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("got %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	req := httptest.NewRequest("GET", "/assets/img/logo.svg", nil)
	req.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 304 {
		t.Errorf("If-None-Match: got %d, want 304", w.Code)
	}

	req = httptest.NewRequest("GET", "/assets/app.0123456789ab.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Body.String() != "BR" || w.Header().Get("Content-Encoding") != "br" || w.Header().Get("Etag") == etag ||
		w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("got %q %v", w.Body.String(), w.Header())
	}
	w = httptest.NewRecorder()
	http.StripPrefix("/assets/", s).ServeHTTP(w, httptest.NewRequest("GET", "/assets/img/logo.svg", nil))
	if w.Code != 200 || w.Body.String() != "<svg/>" {
		t.Errorf("behind StripPrefix with the slash: %d %q", w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/assets/dir", nil))
	if w.Code != 404 {
		t.Errorf("directory: got %d, want 404", w.Code)
	}
}

// Content ETags are cached per file: the br variant of app.css and a file
// called app.cssbr do not share one, whichever is served first.
func TestStaticContentETagPerFile(t *testing.T) {
	fsys := fstest.MapFS{
		"app.css":    {Data: []byte("body{}")},
		"app.css.br": {Data: []byte("BROTLI")},
		"app.cssbr":  {Data: []byte("another file")},
	}
	type fetch struct{ target, accept string }
	variant, other := fetch{"/app.css", "br"}, fetch{"/app.cssbr", ""}
	etag := func(s *Static, f fetch) string {
		req := httptest.NewRequest("GET", f.target, nil)
		if f.accept != "" {
			req.Header.Set("Accept-Encoding", f.accept)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", f.target, w.Code)
		}
		return w.Header().Get("Etag")
	}
	// Each file's ETag when it is the first one served.
	alone := map[fetch]string{variant: etag(NewStatic(fsys), variant), other: etag(NewStatic(fsys), other)}
	if alone[variant] == alone[other] {
		t.Fatalf("two contents, one ETag %s", alone[variant])
	}
	for _, order := range [][]fetch{{variant, other}, {other, variant}} {
		t.Run(strings.TrimPrefix(order[0].target, "/")+" first", func(t *testing.T) {
			s := NewStatic(fsys)
			for _, f := range order {
				if got := etag(s, f); got != alone[f] {
					t.Errorf("%s (Accept-Encoding %q): ETag %s, want %s", f.target, f.accept, got, alone[f])
				}
			}
		})
	}
}

// serveWithin serves req with h, failing the test if h has not returned
// after a few seconds (it then keeps running).
func serveWithin(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	select {
	case <-done:
		return w
	case <-time.After(5 * time.Second):
		t.Fatalf("%s %s still blocked after 5s", req.Method, req.URL)
		return nil
	}
}

// mkfifo makes a FIFO at path, and when the test ends opens it for writing
// and closes it, to release a reader blocked in opening it.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// A FIFO is not a regular file: 404, without opening it (which blocks
// until a writer comes), as a file or as a precompressed variant.
func TestStaticNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "real.txt"), []byte("real"), 0o644); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, filepath.Join(dir, "pipe.txt"))
	mkfifo(t, filepath.Join(dir, "real.txt.gz"))
	s, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target, accept string
		code                 int
		body                 string
	}{
		{"fifo", "/pipe.txt", "", 404, ""},
		{"fifo variant", "/real.txt", "gzip", 200, "real"},
		{"fifo variant asked for itself", "/real.txt.gz", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.target, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			w := serveWithin(t, s, req)
			if w.Code != tc.code || tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.code, tc.body)
			}
			if got := w.Header().Get("Content-Encoding"); got != "" {
				t.Errorf("Content-Encoding %q", got)
			}
		})
	}
}

func TestStaticCustomImmutable(t *testing.T) {
	s := NewStatic(fstest.MapFS{"main.a1b2c3d4.js": {Data: []byte("x")}, "main.js": {Data: []byte("y")}})
	s.Immutable = func(name string) bool { return strings.Count(name, ".") == 2 }
	s.MaxAge = 10 * time.Minute
	for target, want := range map[string]string{
		"/main.a1b2c3d4.js": "public, max-age=31536000, immutable",
		"/main.js":          "public, max-age=600",
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if got := w.Header().Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", target, got, want)
		}
	}
}

func TestHashedName(t *testing.T) {
	for name, want := range map[string]bool{
		"app.3f2a9c1b4d5e.css":          true,
		"css/app.3f2a9c1b4d5e.css":      true,
		"admin/js/core.0123456789ab.js": true,
		"app.3f2a9c1b4d5e.css.gz":       true,
		"app.3f2a9c1b4d5e.css.br":       true,
		"app.css":                       false,
		"app.3f2a9c1b4d5.css":           false, // 11 digits
		"app.3F2A9C1B4D5E.css":          false, // Django writes lowercase
		"3f2a9c1b4d5e.css/x":            false,
		"app.3f2a9c1b4d5e":              false, // no extension
	} {
		if got := HashedName(name); got != want {
			t.Errorf("HashedName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAcceptsEncoding(t *testing.T) {
	tests := []struct {
		header []string
		coding string
		want   bool
	}{
		{nil, "gzip", false},
		{[]string{""}, "gzip", false},
		{[]string{"gzip"}, "gzip", true},
		{[]string{"GZIP"}, "gzip", true},
		{[]string{"deflate, gzip;q=0.8"}, "gzip", true},
		{[]string{"gzip;q=0"}, "gzip", false},
		{[]string{"gzip; q=0.000"}, "gzip", false},
		{[]string{"gzip;q=bad"}, "gzip", false},
		{[]string{"gzip;q=1e-3"}, "gzip", false},
		{[]string{"gzip;q=.5"}, "gzip", true},
		{[]string{"*"}, "br", true},
		{[]string{"*;q=0"}, "br", false},
		{[]string{"*, br;q=0"}, "br", false},
		{[]string{"deflate", "br"}, "br", true},
		{[]string{"brotli"}, "br", false},
		{[]string{"identity"}, "gzip", false},
	}
	for _, tc := range tests {
		if got := acceptsEncoding(tc.header, tc.coding); got != tc.want {
			t.Errorf("acceptsEncoding(%q, %q) = %v, want %v", tc.header, tc.coding, got, tc.want)
		}
	}
}

func FuzzAcceptsEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "br;q=0.5, gzip;q=1", "*;q=0", ";;;,,,=q", "gzip;q=1e400", "br;Q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := acceptsEncoding([]string{s}, "gzip")
		// Splitting the same items over two field lines changes nothing.
		if i := strings.IndexByte(s, ','); i >= 0 {
			if two := acceptsEncoding([]string{s[:i], s[i+1:]}, "gzip"); two != got {
				t.Errorf("%q: one line %v, two lines %v", s, got, two)
			}
		}
	})
}

// A Static with no files is a programming error answered 500, not a panic.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestStaticZeroValue(t *testing.T) {
	w := httptest.NewRecorder()
	(&Static{Logger: discardLogger()}).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 {
		t.Errorf("got %d, want 500", w.Code)
	}
}

// TestStaticContentTypeEveryEncoding: a name whose extension has no type
// gets the type sniffed from its own content, whichever encoding is sent.
// Static sent application/octet-stream when it chose NAME.gz or NAME.br
// (the compressed bytes are not to be sniffed) and text/html for NAME
// itself: a browser took the page for a download, or the reverse.
func TestStaticContentTypeEveryEncoding(t *testing.T) {
	const page = "<!DOCTYPE html><html><body>sniffed</body></html>"
	binary := "\x00\x01\x02\x03binary"
	files := map[string]string{
		"page.unknownext":    page,
		"page.unknownext.gz": gz(t, page),
		"page.unknownext.br": "BROTLI-BYTES",
		"bin.unknownext":     binary,
		"bin.unknownext.gz":  gz(t, binary),
		"known.css":          "body{}",
		"known.css.gz":       gz(t, "body{}"),
	}
	dir := t.TempDir()
	mapFS := fstest.MapFS{}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		mapFS[name] = &fstest.MapFile{Data: []byte(body)} // no ModTime, as embed.FS
	}
	fromDir, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name string
		s    *Static
	}{{"dir", fromDir}, {"fs", NewStatic(mapFS)}} {
		st.s.Logger = discardLogger()
		for _, tc := range []struct{ file, ctype string }{
			{"page.unknownext", "text/html; charset=utf-8"},
			{"bin.unknownext", "application/octet-stream"},
			{"known.css", "text/css; charset=utf-8"},
		} {
			for _, enc := range []struct{ method, accept, rng, encoding string }{
				{"GET", "", "", ""},
				{"GET", "gzip", "", "gzip"},
				{"HEAD", "gzip", "", "gzip"},
				{"GET", "gzip", "bytes=0-1", "gzip"},
				{"GET", "", "bytes=0-1", ""},
				{"GET", "br", "", "br"},
			} {
				if _, ok := files[tc.file+map[string]string{"": "", "gzip": ".gz", "br": ".br"}[enc.encoding]]; !ok {
					continue
				}
				t.Run(st.name+"/"+tc.file+"/"+enc.method+" "+enc.accept+" "+enc.rng, func(t *testing.T) {
					req := httptest.NewRequest(enc.method, "/"+tc.file, nil)
					req.Header.Set("Accept-Encoding", enc.accept)
					if enc.rng != "" {
						req.Header.Set("Range", enc.rng)
					}
					w := serveWithin(t, st.s, req)
					if w.Code != 200 && w.Code != 206 {
						t.Fatalf("status %d", w.Code)
					}
					if got := w.Header().Get("Content-Encoding"); got != enc.encoding {
						t.Fatalf("Content-Encoding %q, want %q", got, enc.encoding)
					}
					if got := w.Header().Get("Content-Type"); got != tc.ctype {
						t.Errorf("Content-Type %q, want %q", got, tc.ctype)
					}
					if enc.method == "GET" && enc.encoding == "" && enc.rng == "" && w.Body.String() != files[tc.file] {
						t.Errorf("body %q, want the whole file", w.Body.String())
					}
				})
			}
		}
	}
}
