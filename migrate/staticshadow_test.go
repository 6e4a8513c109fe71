package migrate

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

// TestStaticConditionalShadow moves the static files of a real Flask app
// (its static view, werkzeug's send_file) and of a real Django project
// (WhiteNoise) to fallback.Static and compares them in shadow and in
// reverse shadow. The two sides serve the same bytes with validators of
// their own (werkzeug's ETag "mtime-size-adler32", WhiteNoise's
// "mtime-size" in hex, Static's in base 36), so a browser's conditional
// request, which carries the validators of the side it last heard from,
// is answered 304 (or 206 to a Range with If-Range) by that side and 200
// by the other: each right by its own validators, and not a difference in
// what either serves. Such a request is compared on the full answers of
// both sides and matches; a real difference (other bytes, a 404, a Go
// handler that never answers 304) stays a mismatch.
func TestStaticConditionalShadow(t *testing.T) {
	const file = "/static/app.css"
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "app.css"), []byte("body { color: red; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, fw := range []struct {
		name, app, dir string
		maxAge         time.Duration // Static's, to send the Cache-Control of the Python side
		cacheControl   string
	}{
		{"flask", "flaskmig:app", "testdata/flaskmig/static", -1, "no-cache"},                                // Flask 2.x
		{"django", "djangostatic.wsgi:application", "testdata/djangostatic/static", 0, "public, max-age=60"}, // WhiteNoise
	} {
		t.Run(fw.name, func(t *testing.T) {
			py := startPython(t, fw.app)
			static := func(dir string) http.Handler {
				s, err := fallback.NewStaticDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				s.Prefix, s.MaxAge, s.Logger = "/static/", fw.maxAge, discardLogger()
				return s
			}
			same := static(fw.dir)
			info, err := os.Stat(filepath.Join(fw.dir, "app.css"))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(fw.dir, "app.css"))
			if err != nil {
				t.Fatal(err)
			}
			// A Go port that ignores conditional requests: always the
			// whole file, with the same Last-Modified.
			noConditions := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/css; charset=utf-8")
				w.Header().Set("Cache-Control", fw.cacheControl)
				w.Header().Set("Last-Modified", info.ModTime().UTC().Format(http.TimeFormat))
				w.Write(data)
			})
			newRoute := func(goH http.Handler, stage Stage, sample float64) *env {
				return newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /static/*", Stage: stage, ShadowSample: sample}}},
					func(r *router.Router) { r.Get("/static/*", goH.ServeHTTP) })
			}
			validators := func(stage Stage) (etag, lastModified string) {
				_, h, _ := newRoute(same, stage, 0).exchange(t, http.MethodGet, file, "")
				return h.Get("Etag"), h.Get("Last-Modified")
			}
			pyTag, pyLM := validators(StagePython)
			goTag, goLM := validators(StageGo)
			if pyTag == "" || goTag == "" || pyTag == goTag || pyLM != goLM {
				t.Fatalf("want distinct ETags and one Last-Modified: python %s %s, go %s %s", pyTag, pyLM, goTag, goLM)
			}

			for _, stage := range []struct {
				name   string
				stage  Stage
				sample float64
			}{{"shadow", StageShadow, 0}, {"reverse", StageGo, 1}} {
				for _, c := range []struct {
					name    string
					goH     http.Handler
					method  string
					hdr     []string
					pointer string // "" for a match
				}{
					{"plain", same, "GET", nil, ""},
					{"head", same, "HEAD", nil, ""},
					{"python etag", same, "GET", []string{"If-None-Match", pyTag}, ""},
					{"go etag", same, "GET", []string{"If-None-Match", goTag}, ""},
					{"python etag and date", same, "GET", []string{"If-None-Match", pyTag, "If-Modified-Since", pyLM}, ""},
					{"go etag and date", same, "GET", []string{"If-None-Match", goTag, "If-Modified-Since", goLM}, ""},
					{"head python etag", same, "HEAD", []string{"If-None-Match", pyTag}, ""},
					{"head go etag", same, "HEAD", []string{"If-None-Match", goTag}, ""},
					{"date", same, "GET", []string{"If-Modified-Since", pyLM}, ""},
					{"range", same, "GET", []string{"Range", "bytes=0-9"}, ""},
					{"range if python etag", same, "GET", []string{"Range", "bytes=0-9", "If-Range", pyTag}, ""},
					{"range if go etag", same, "GET", []string{"Range", "bytes=0-9", "If-Range", goTag}, ""},
					// Real differences stay mismatches.
					{"other bytes", static(other), "GET", nil, "body"},
					{"other bytes python etag", static(other), "GET", []string{"If-None-Match", pyTag}, "body"},
					{"other bytes go etag", static(other), "GET", []string{"If-None-Match", goTag}, "body"},
					{"other bytes range if python etag", static(other), "GET", []string{"Range", "bytes=0-9", "If-Range", pyTag}, "body"},
					{"missing python etag", static(empty), "GET", []string{"If-None-Match", pyTag}, "status"},
					{"no 304 from go, date", noConditions, "GET", []string{"If-Modified-Since", pyLM}, "status"},
				} {
					t.Run(stage.name+"/"+c.name, func(t *testing.T) {
						e := newRoute(c.goH, stage.stage, stage.sample)
						e.exchange(t, c.method, file, "", c.hdr...)
						e.settle()
						st, _ := e.m.Route("GET /static/*")
						if c.pointer == "" {
							if st.Counts.Matched != 1 || st.Counts.Mismatched != 0 {
								var diffs []Diff
								for _, mm := range st.RecentMismatches {
									diffs = append(diffs, mm.Diffs...)
								}
								t.Fatalf("counts %+v, diffs %v: want a match", st.Counts, diffs)
							}
							return
						}
						found := false
						for k := range st.MismatchPointers {
							found = found || k == c.pointer || strings.HasPrefix(k, c.pointer+":") // body:line N
						}
						if st.Counts.Mismatched != 1 || !found {
							t.Fatalf("counts %+v, pointers %v: want a mismatch at %s", st.Counts, st.MismatchPointers, c.pointer)
						}
					})
				}
			}
		})
	}
}

// TestStaticNotFoundShadow stages the static route of a real Flask app
// and of a real Django project (WhiteNoise) moved to fallback.Static and
// compares what a user meets besides the files: a missing file, and a
// range past the end of one (416). A missing file is Python's 404 page
// against Static's plain text, a real difference (the page a user sees)
// unless Static.NotFound hands such requests to the Python app, which
// then answers them on both sides (and to the client, in go). Two 416s
// match: their error text is not compared. Their Content-Range ("bytes
// */LENGTH", the file's length, which werkzeug, WhiteNoise and Static all
// send) is, as is that of two 206s: a Static serving another build of a
// file than Python's is a mismatch even where the bytes compared agree
// (until 2026-12-02 it matched, Content-Range being compared only when a
// route listed it).
func TestStaticNotFoundShadow(t *testing.T) {
	for _, fw := range []struct {
		name, app, dir string
		maxAge         time.Duration
		notFoundPage   string // in Python's 404 page
	}{
		{"flask", "flaskmig:app", "testdata/flaskmig/static", -1, "<title>404 Not Found</title>"},
		{"django", "djangostatic.wsgi:application", "testdata/djangostatic/static", 0, "<h1>Not Found</h1>"},
	} {
		t.Run(fw.name, func(t *testing.T) {
			py := startPython(t, fw.app)
			fb := &fallback.Handler{App: py}
			// stale holds another build of app.css (one byte longer) than
			// the one Python serves.
			stale := t.TempDir()
			css, err := os.ReadFile(filepath.Join(fw.dir, "app.css"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(stale, "app.css"), append(css, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			static := func(dir string, notFound http.Handler) http.Handler {
				if dir == "" {
					dir = fw.dir
				}
				s, err := fallback.NewStaticDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				s.Prefix, s.MaxAge, s.Logger, s.NotFound = "/static/", fw.maxAge, discardLogger(), notFound
				return s
			}
			for _, stage := range []struct {
				name   string
				stage  Stage
				sample float64
			}{{"shadow", StageShadow, 0}, {"reverse", StageGo, 1}} {
				for _, c := range []struct {
					name     string
					dir      string // Static's directory; "" for Python's
					notFound http.Handler
					path     string
					hdr      []string
					status   int
					pointers []string // nil: a match
				}{
					{"missing file", "", nil, "/static/missing.css", nil, 404, []string{"body", "header:Content-Type", "header:X-Content-Type-Options"}},
					{"missing file, NotFound to Python", "", fb, "/static/missing.css", nil, 404, nil},
					{"directory, NotFound to Python", "", fb, "/static/", nil, 404, nil},
					{"file, NotFound set", "", fb, "/static/app.css", nil, 200, nil},
					{"range past the end", "", nil, "/static/app.css", []string{"Range", "bytes=100000-"}, 416, nil},
					{"range past the end of another build", stale, nil, "/static/app.css", []string{"Range", "bytes=100000-"}, 416, []string{"header:Content-Range"}},
					{"range", "", nil, "/static/app.css", []string{"Range", "bytes=0-3"}, 206, nil},
					{"range of another build", stale, nil, "/static/app.css", []string{"Range", "bytes=0-3"}, 206, []string{"header:Content-Range"}},
				} {
					t.Run(stage.name+"/"+c.name, func(t *testing.T) {
						e := newEnv(t, fb, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /static/*", Stage: stage.stage, ShadowSample: stage.sample}}},
							func(r *router.Router) { r.Get("/static/*", static(c.dir, c.notFound).ServeHTTP) })
						code, _, body := e.exchange(t, http.MethodGet, c.path, "", c.hdr...)
						if code != c.status {
							t.Fatalf("status %d, want %d", code, c.status)
						}
						if c.status == 404 && (c.notFound != nil || stage.stage == StageShadow) && !strings.Contains(body, fw.notFoundPage) {
							t.Errorf("the client got %q, want Python's 404 page", body)
						}
						e.settle()
						st, _ := e.m.Route("GET /static/*")
						var got []string
						for k := range st.MismatchPointers {
							if strings.HasPrefix(k, "body") {
								k = "body" // body:line N
							}
							if !slices.Contains(got, k) {
								got = append(got, k)
							}
						}
						slices.Sort(got)
						if c.pointers == nil {
							if st.Counts.Matched != 1 {
								t.Fatalf("counts %+v, pointers %v, diffs %+v: want a match", st.Counts, got, st.RecentMismatches)
							}
							return
						}
						if st.Counts.Mismatched != 1 || !slices.Equal(got, c.pointers) {
							t.Fatalf("counts %+v, pointers %v (diffs %+v): want one mismatch at %v", st.Counts, got, st.RecentMismatches, c.pointers)
						}
					})
				}
			}
		})
	}
}
