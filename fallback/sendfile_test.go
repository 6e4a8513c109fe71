package fallback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/wsgi"
)

// downloads is a directory of protected files, with links in and out of
// it, and a secret file next to it.
type downloads struct {
	dir, secret, content string
}

func newDownloads(t *testing.T) downloads {
	t.Helper()
	base := t.TempDir()
	d := downloads{dir: filepath.Join(base, "files"), secret: filepath.Join(base, "secret.txt"),
		content: strings.Repeat("0123456789", 100)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d.dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(d.dir, "a.txt"), []byte(d.content), 0o644))
	must(os.WriteFile(filepath.Join(d.dir, "report.pdf"), []byte("%PDF-1.4 report"), 0o644))
	must(os.WriteFile(filepath.Join(d.dir, "sub", "b.txt"), []byte("bee"), 0o644))
	must(os.WriteFile(d.secret, []byte("SECRET"), 0o644))
	must(os.Symlink(d.secret, filepath.Join(d.dir, "link-out.txt")))
	must(os.Symlink("a.txt", filepath.Join(d.dir, "link-in.txt")))
	return d
}

// startDL starts testdata/<app> in a real container behind a Handler with
// sf, and returns the server and the log.
func startDL(t *testing.T, app string, mods []string, d downloads, sf *Sendfile, env ...string) (*httptest.Server, *pythontest.Buffer) {
	t.Helper()
	py := pythontest.Python(t, mods...)
	logs := &pythontest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsgi.New(wsgi.Config{App: app, Python: py, Dir: td, Workers: 1, Logger: logger,
		Env: append([]string{"GRAFT_DL_DIR=" + d.dir}, env...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	if sf != nil {
		sf.Logger = logger
	}
	srv := httptest.NewServer(&Handler{App: c, Sendfile: sf, Logger: logger})
	t.Cleanup(srv.Close)
	return srv, logs
}

type dlCase struct {
	name, method, target string
	header               map[string]string
	code                 int
	body                 string // "" checks nothing; "-" wants none
	want                 map[string]string
	log                  string // a substring of the log
}

func runDL(t *testing.T, srv *httptest.Server, logs *pythontest.Buffer, tests []dlCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, srv.URL+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: status %d, want %d; body %.200q", method, tc.target, resp.StatusCode, tc.code, b)
			}
			if bytes.Contains(b, []byte("SECRET")) || bytes.Contains(b, []byte("root:")) {
				t.Fatalf("sent a file outside the roots: %q", b)
			}
			for _, h := range []string{"X-Sendfile", "X-Accel-Redirect"} {
				if v := resp.Header.Get(h); v != "" && tc.want[h] == "" {
					t.Errorf("%s leaked to the client: %q", h, v)
				}
			}
			switch tc.body {
			case "":
			case "-":
				if len(b) != 0 {
					t.Errorf("body %q, want none", b)
				}
			default:
				if string(b) != tc.body {
					t.Errorf("body %.100q, want %.100q", b, tc.body)
				}
			}
			for k, v := range tc.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// etagOf fetches target and returns its ETag and Last-Modified.
func etagOf(t *testing.T, srv *httptest.Server, target string) (string, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Etag") == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET %s: %d %v", target, resp.StatusCode, resp.Header)
	}
	return resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
}

func TestSendfileFlask(t *testing.T) {
	d := newDownloads(t)
	logFile := filepath.Join(t.TempDir(), "streamed")
	srv, logs := startDL(t, "flaskdl:app", []string{"flask"}, d,
		&Sendfile{Roots: []string{d.dir}}, "GRAFT_DL_LOG="+logFile)
	etag, lastMod := etagOf(t, srv, "/files/a.txt?token=ok")
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	runDL(t, srv, logs, []dlCase{
		{name: "download", target: "/files/a.txt?token=ok", code: 200, body: d.content,
			want: map[string]string{"Content-Length": "1000", "Content-Disposition": "attachment; filename=a.txt",
				"Content-Type": "text/plain; charset=utf-8", "Accept-Ranges": "bytes", "Last-Modified": lastMod}},
		{name: "head", method: "HEAD", target: "/files/a.txt?token=ok", code: 200, body: "-",
			want: map[string]string{"Content-Length": "1000"}},
		{name: "range", target: "/files/a.txt?token=ok", header: map[string]string{"Range": "bytes=10-19"},
			code: 206, body: "0123456789", want: map[string]string{"Content-Range": "bytes 10-19/1000"}},
		{name: "unsatisfiable range", target: "/files/a.txt?token=ok", header: map[string]string{"Range": "bytes=5000-"}, code: 416},
		{name: "if-none-match", target: "/files/a.txt?token=ok", header: map[string]string{"If-None-Match": etag}, code: 304, body: "-"},
		{name: "if-modified-since", target: "/files/a.txt?token=ok", header: map[string]string{"If-Modified-Since": future}, code: 304},
		{name: "if-range current", target: "/files/a.txt?token=ok",
			header: map[string]string{"Range": "bytes=0-4", "If-Range": etag}, code: 206, body: "01234"},
		{name: "if-range stale", target: "/files/a.txt?token=ok",
			header: map[string]string{"Range": "bytes=0-4", "If-Range": `"stale"`}, code: 200, body: d.content},
		{name: "app refuses", target: "/files/a.txt", code: 403},
		{name: "link inside the root", target: "/path?p=" + filepath.Join(d.dir, "link-in.txt"), code: 200, body: d.content},
		{name: "outside the roots", target: "/path?p=" + d.secret, code: 500,
			log: "refusing X-Sendfile: not a file under the configured roots"},
		{name: "link out of the root", target: "/path?p=" + filepath.Join(d.dir, "link-out.txt"), code: 500},
		{name: "dotdot out of the root", target: "/path?p=" + d.dir + "/../secret.txt", code: 500},
		{name: "the root itself", target: "/path?p=" + d.dir, code: 500},
		{name: "error status passes, header stripped", target: "/denied", code: 403, body: "no"},
		{name: "no Content-Type from the app", target: "/untyped/a.txt", code: 200, body: d.content,
			want: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{name: "no Content-Type, pdf", target: "/untyped/report.pdf", code: 200,
			want: map[string]string{"Content-Type": "application/pdf"}},
		{name: "caching headers kept", target: "/cached/a.txt", code: 200, body: d.content,
			want: map[string]string{"Cache-Control": "public, max-age=31536000", "Expires": "Thu, 01 Jan 2037 00:00:00 GMT"}},
		{name: "missing file not cached", target: "/cached/nope.txt", code: 404,
			want: map[string]string{"Cache-Control": "", "Expires": "", "Content-Disposition": ""}},
		{name: "refused file not cached", target: "/cached/link-out.txt", code: 500,
			want: map[string]string{"Cache-Control": "", "Expires": "", "Content-Disposition": ""}},
		{name: "412 not cached", target: "/cached/a.txt", header: map[string]string{"If-Match": `"other"`}, code: 412, body: "-",
			want: map[string]string{"Cache-Control": "", "Expires": "", "Content-Disposition": "", "Etag": "", "Content-Length": "0"}},
		{name: "416 not cached", target: "/cached/a.txt", header: map[string]string{"Range": "bytes=5000-"}, code: 416,
			want: map[string]string{"Cache-Control": "", "Expires": "", "Content-Disposition": "", "Content-Range": "bytes */1000"}},
		{name: "304 keeps caching headers", target: "/cached/a.txt", header: map[string]string{"If-Modified-Since": future}, code: 304,
			want: map[string]string{"Cache-Control": "public, max-age=31536000", "Expires": "Thu, 01 Jan 2037 00:00:00 GMT"}},
		{name: "streamed body discarded", target: "/streamed/a.txt", code: 200, body: d.content},
	})

	// The app's own body was stopped, not drained: the worker is free.
	var n int
	for deadline := time.Now().Add(20 * time.Second); ; {
		b, err := os.ReadFile(logFile)
		if err == nil && len(b) > 0 {
			n, _ = strconv.Atoi(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the streamed view never finished: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n >= 1000 {
		t.Errorf("the worker produced all %d chunks of a discarded body", n)
	}
	resp, err := srv.Client().Get(srv.URL + "/ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping after a discarded body: %v %v", resp, err)
	}
	resp.Body.Close()
	if strings.Contains(logs.String(), "fewer bytes than its Content-Length") {
		t.Errorf("a discarded body was logged as short:\n%s", logs.String())
	}
}

func TestSendfileDjango(t *testing.T) {
	d := newDownloads(t)
	srv, logs := startDL(t, "djangodl:application", []string{"django"}, d,
		&Sendfile{Roots: []string{d.dir}, Locations: map[string]string{"/protected/": d.dir}})
	etag, _ := etagOf(t, srv, "/dl/report.pdf?token=ok")
	runDL(t, srv, logs, []dlCase{
		{name: "x-sendfile", target: "/dl/report.pdf?token=ok", code: 200, body: "%PDF-1.4 report",
			want: map[string]string{"Content-Type": "application/pdf", "Content-Length": "15",
				"Content-Disposition": `attachment; filename="report.pdf"`}},
		{name: "x-sendfile range", target: "/dl/report.pdf?token=ok", header: map[string]string{"Range": "bytes=9-"},
			code: 206, body: "report"},
		{name: "x-sendfile two ranges", target: "/dl/report.pdf?token=ok", header: map[string]string{"Range": "bytes=0-0,14-14"}, code: 206},
		{name: "x-sendfile if-none-match", target: "/dl/report.pdf?token=ok", header: map[string]string{"If-None-Match": etag}, code: 304},
		{name: "app refuses", target: "/dl/report.pdf", code: 403, body: "no"},
		{name: "x-accel-redirect", target: "/accel/sub/b.txt", code: 200, body: "bee",
			want: map[string]string{"Content-Type": "text/plain", "Content-Length": "3"}},
		{name: "x-accel-redirect range", target: "/accel/a.txt", header: map[string]string{"Range": "bytes=-3"}, code: 206, body: "789"},
		{name: "x-accel-redirect escape", target: "/accel/..%2fsecret.txt", code: 500,
			log: "refusing X-Accel-Redirect"},
		{name: "x-accel-redirect link out", target: "/accel/link-out.txt", code: 500},
		{name: "x-accel-redirect missing", target: "/accel/nope.txt", code: 404, log: "X-Accel-Redirect names a missing file"},
		{name: "outside the roots", target: "/raw?p=/etc/passwd", code: 500},
		{name: "relative path", target: "/raw?p=files/a.txt", code: 500},
		{name: "missing under a root", target: "/raw?p=" + filepath.Join(d.dir, "nope.txt"), code: 404},
		{name: "directory", target: "/raw?p=" + filepath.Join(d.dir, "sub"), code: 500},
	})
}

// A FIFO under a root is refused (500) without being opened, which would
// block until a writer comes; so is one behind a symbolic link.
func TestSendfileNotRegular(t *testing.T) {
	d := newDownloads(t)
	mkfifo(t, filepath.Join(d.dir, "pipe"))
	if err := os.Symlink("pipe", filepath.Join(d.dir, "pipe-link")); err != nil {
		t.Fatal(err)
	}
	sf := &Sendfile{Roots: []string{d.dir}, Locations: map[string]string{"/protected/": d.dir},
		Logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct{ name, header, value string }{
		{"x-sendfile", "X-Sendfile", filepath.Join(d.dir, "pipe")},
		{"x-sendfile link", "X-Sendfile", filepath.Join(d.dir, "pipe-link")},
		{"x-accel-redirect", "X-Accel-Redirect", "/protected/pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Sendfile: sf, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(tc.header, tc.value)
			})}
			w := serveWithin(t, h, httptest.NewRequest("GET", "/", nil))
			if w.Code != 500 {
				t.Errorf("got %d %q, want 500", w.Code, w.Body.String())
			}
		})
	}
}

// With no roots the headers pass through untouched, as before.
func TestSendfileNoRoots(t *testing.T) {
	d := newDownloads(t)
	for _, sf := range []*Sendfile{nil, {}, {Locations: map[string]string{"/protected/": d.dir}}} {
		t.Run(fmt.Sprintf("%+v", sf), func(t *testing.T) {
			srv, logs := startDL(t, "djangodl:application", []string{"django"}, d, sf)
			runDL(t, srv, logs, []dlCase{
				{name: "passes", target: "/dl/report.pdf?token=ok", code: 200, body: "-",
					want: map[string]string{"X-Sendfile": filepath.Join(d.dir, "report.pdf")}},
			})
		})
	}
}

// The writer's edge cases, with Go apps standing in for the container.
func TestSendfileWriter(t *testing.T) {
	d := newDownloads(t)
	file := filepath.Join(d.dir, "a.txt")
	tests := []struct {
		name   string
		app    http.HandlerFunc
		method string // GET when ""
		code   int
		body   string
		header map[string]string // request headers
		want   map[string]string // response headers; "" means absent
	}{
		{name: "header only, nothing written", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
		}, code: 200, body: d.content},
		{name: "body write refused", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			w.Header().Set("Content-Length", "5")
			if _, err := io.WriteString(w, "hello"); err == nil {
				t.Error("the body write succeeded")
			}
		}, code: 200, body: d.content},
		{name: "ReadFrom refused", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			if _, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("hello")); err == nil {
				t.Error("ReadFrom succeeded")
			}
		}, code: 200, body: d.content},
		{name: "informational response first", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("X-Sendfile", file)
			w.WriteHeader(200)
		}, code: 200, body: d.content},
		{name: "no header streams through", app: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "plain")
			w.(http.Flusher).Flush()
		}, code: 200, body: "plain"},
		{name: "flush before anything", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			w.(http.Flusher).Flush()
		}, code: 200, body: d.content, want: map[string]string{"Content-Length": "1000"}},
		{name: "flush with a range", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			http.NewResponseController(w).Flush()
		}, header: map[string]string{"Range": "bytes=0-3"}, code: 206, body: "0123",
			want: map[string]string{"Content-Range": "bytes 0-3/1000"}},
		{name: "no-Content-Type mark", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			w.Header()["Content-Type"] = nil // the container's: the app gave none
		}, code: 200, body: d.content, want: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{name: "encoded file has its length", app: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			w.Header().Set("Content-Encoding", "identity")
		}, method: "HEAD", code: 200, want: map[string]string{"Content-Length": "1000", "Content-Encoding": "identity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{App: tc.app, Sendfile: &Sendfile{Roots: []string{d.dir}, Logger: slog.New(slog.DiscardHandler)}}
			srv := httptest.NewServer(h)
			defer srv.Close()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || string(b) != tc.body || resp.Header.Get("X-Sendfile") != "" {
				t.Errorf("got %d %.40q %v", resp.StatusCode, b, resp.Header)
			}
			for k, v := range tc.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	t.Run("panic passes", func(t *testing.T) {
		h := &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", file)
			panic(http.ErrAbortHandler)
		}), Sendfile: &Sendfile{Roots: []string{d.dir}}}
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

// flushFailer is a response writer whose flush fails, as an HTTP/2
// stream the client has reset does ("http2: stream closed").
type flushFailer struct{ *httptest.ResponseRecorder }

func (flushFailer) FlushError() error { return errFlushFailed }

var errFlushFailed = errors.New("http2: stream closed")

// TestSendfileWriterFlushError: http.ResponseController.Flush through the
// writer that watches for X-Sendfile returns the error of the connection's
// flush (it had only Flush, which ResponseController takes before it
// unwraps: nil from a flush that failed); a response that names a file
// sends nothing at a flush, so it has nothing to fail.
func TestSendfileWriterFlushError(t *testing.T) {
	d := newDownloads(t)
	s := &Sendfile{Roots: []string{d.dir}}
	for _, tc := range []struct {
		name   string
		header string
		want   error
	}{
		{"streamed response", "", errFlushFailed},
		{"file named", filepath.Join(d.dir, "a.txt"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := s.writer(flushFailer{httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/", nil))
			if tc.header != "" {
				w.Header().Set("X-Sendfile", tc.header)
			}
			if got := http.NewResponseController(w).Flush(); !errors.Is(got, tc.want) {
				t.Errorf("Flush returned %v, want %v", got, tc.want)
			}
		})
	}
}
