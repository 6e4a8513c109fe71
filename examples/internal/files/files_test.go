package files

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		err  string // "" means valid
	}{
		{"none", nil, ""},
		{"static", []string{"-static", "/static/=" + dir, "-static", "/media/=" + dir}, ""},
		{"sendfile roots", []string{"-sendfile-root", dir, "-sendfile-root", dir}, ""},
		{"no equals", []string{"-static", "/static/"}, "want /PREFIX/=DIR"},
		{"prefix without slashes", []string{"-static", "static=" + dir}, "want /PREFIX/=DIR"},
		{"prefix without trailing slash", []string{"-static", "/static=" + dir}, "want /PREFIX/=DIR"},
		{"empty dir", []string{"-static", "/static/="}, "want /PREFIX/=DIR"},
		{"twice", []string{"-static", "/s/=" + dir, "-static", "/s/=" + dir}, "given twice"},
		{"missing static dir", []string{"-static", "/s/=" + filepath.Join(dir, "nope")}, "-static /s/=" + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"missing root", []string{"-sendfile-root", filepath.Join(dir, "nope")}, "-sendfile-root " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"static dir is a file", []string{"-static", "/s/=" + file}, "-static /s/=" + file + ": not a directory"},
		{"root is a file", []string{"-sendfile-root", file}, "-sendfile-root " + file + ": not a directory"},
		{"empty root", []string{"-sendfile-root", ""}, "empty directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.Register(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				err = f.Validate()
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("got %v, want %q", err, tc.err)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	static, files := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(static, "app.css"), []byte("css"), 0o644)
	os.WriteFile(filepath.Join(files, "report.txt"), []byte("report"), 0o644)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/download" {
			w.Header().Set("X-Sendfile", filepath.Join(files, "report.txt"))
			return
		}
		io.WriteString(w, "app")
	})
	log := slog.New(slog.DiscardHandler)

	var none Flags
	if h, _ := none.Handler(app, log); h == nil {
		t.Fatal("nil handler")
	}
	f := Flags{Static: []Static{{"/static/", static}}, SendfileRoots: []string{files}}
	h, err := f.Handler(app, log)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"/static/app.css":  "css",
		"/download":        "report",
		"/other":           "app",
		"/static/nope.css": "app", // Static.NotFound: the app answers what Static does not have
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Body.String() != want || w.Header().Get("X-Sendfile") != "" {
			t.Errorf("%s: %d %q %v, want %q", target, w.Code, w.Body.String(), w.Header(), want)
		}
	}
	bad := Flags{Static: []Static{{"/static/", filepath.Join(static, "nope")}}}
	if _, err := bad.Handler(app, log); err == nil {
		t.Error("a missing -static directory was accepted")
	}
}

// A -static prefix inside a prefix the app is mounted at wins over the
// app's fallback, in either order of registration; a file it does not
// have goes to the app (Static.NotFound), as docs/migration.md advises
// while Python runs (until 2026-12-02: Static's own plain-text 404).
func TestMountUnderAppPrefix(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.css"), []byte("css"), 0o644)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	f := Flags{Static: []Static{{"/legacy/static/", dir}}}
	log := slog.New(slog.DiscardHandler)
	for _, first := range []string{"static", "app"} {
		t.Run(first+" first", func(t *testing.T) {
			r := router.New()
			fb := &fallback.Handler{App: app, Prefix: "/legacy"}
			mountApp := func() {
				r.Route("/legacy", func(s *router.Router) { s.Fallback(fb) })
			}
			if first == "app" {
				mountApp()
			}
			if err := f.Mount(r, fb, log); err != nil {
				t.Fatal(err)
			}
			if first == "static" {
				mountApp()
			}
			for target, want := range map[string]string{"/legacy/static/x.css": "css", "/legacy/other": "app", "/legacy/static/nope.css": "app"} {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
				if w.Body.String() != want {
					t.Errorf("%s: %q, want %q", target, w.Body.String(), want)
				}
			}
		})
	}
}

// WithSendfile and Front, for mains with routers of their own.
func TestFrontWithSendfile(t *testing.T) {
	static, protected := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(static, "app.css"), []byte("css"), 0o644)
	os.WriteFile(filepath.Join(protected, "r.txt"), []byte("report"), 0o644)
	py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/legacy/dl" {
			w.Header().Set("X-Sendfile", filepath.Join(protected, "r.txt"))
			return
		}
		io.WriteString(w, "py")
	})
	log := slog.New(slog.DiscardHandler)
	f := Flags{Static: []Static{{"/static/", static}}, SendfileRoots: []string{protected}}
	inner := router.New()
	inner.Get("/api/x", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	inner.Get("/static/inner.css", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "inner") })
	inner.Mount("/legacy", &fallback.Handler{App: f.WithSendfile(py, log), Prefix: "/legacy"})
	h, err := f.Front(inner, log)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{"/static/app.css": "css", "/api/x": "go", "/legacy/a": "py", "/legacy/dl": "report",
		"/static/inner.css": "inner"} { // not in the -static dir: h answers it (Static.NotFound)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Body.String() != want {
			t.Errorf("%s: %d %q, want %q", target, w.Code, w.Body.String(), want)
		}
	}
	var none Flags
	if h, _ := none.Front(inner, log); h != http.Handler(inner) {
		t.Error("Front without -static changed the handler")
	}
	if none.WithSendfile(py, log) == nil {
		t.Error("nil handler")
	}
}

// -static mounts send Access-Control-Allow-Origin: * (fallback.Static's
// default, as WhiteNoise does) unless -static-no-cors is given.
func TestStaticNoCORSFlag(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "font.woff2"), []byte("font"), 0o644)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"default", []string{"-static", "/static/=" + dir}, "*"},
		{"no-cors", []string{"-static", "/static/=" + dir, "-static-no-cors"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			h, err := f.Handler(app, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/static/font.woff2", nil))
			if w.Code != 200 || w.Body.String() != "font" {
				t.Fatalf("GET /static/font.woff2: %d %q", w.Code, w.Body.String())
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.want)
			}
		})
	}
}

// Flags.StaticMaxAge is the Cache-Control of -static files whose names
// carry no hash: fallback.Static's 60 s when zero, no-cache when negative
// (the examples' -static-max-age 0, Flask's own static view's answer).
func TestStaticMaxAge(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.css"), []byte("body{}"), 0o644)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	for _, tc := range []struct {
		maxAge time.Duration
		want   string
	}{
		{0, "public, max-age=60"},
		{time.Hour, "public, max-age=3600"},
		{-1, "no-cache"},
	} {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			f := Flags{Static: []Static{{Prefix: "/static/", Dir: dir}}, StaticMaxAge: tc.maxAge}
			h, err := f.Handler(app, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/static/site.css", nil))
			if got := w.Header().Get("Cache-Control"); w.Code != 200 || got != tc.want {
				t.Errorf("GET /static/site.css: %d, Cache-Control %q, want %q", w.Code, got, tc.want)
			}
		})
	}
}
