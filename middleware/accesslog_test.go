package middleware

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// fakeContainer stands for the WSGI container: it fills in the trace.
func fakeContainer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr := wsgi.TraceFrom(r.Context()); tr != nil {
			tr.Served, tr.Worker, tr.Queued = true, 4242, 3*time.Millisecond
		}
		io.WriteString(w, "python")
	})
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))

	proxy := &fallback.Handler{App: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})}
	r := router.New()
	r.Use(Stack(Options{Logger: logger}))
	r.Get("/users/{id}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Route("/api", func(r *router.Router) {
		r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
		r.Get("/docs/{*:.+}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	})
	// graft's constrained catch-all: http.route is the pattern as
	// written, as the stages and the inventory name the route, not chi's
	// "/files/*".
	r.Get("/files/{*:[^/].*}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	// Django's routes end in "/": a Go port is registered with the
	// slash, and the form without it (the APPEND_SLASH redirect kept in
	// Go) is another route. http.route named both without the slash
	// (chi's RoutePattern trims it).
	r.Get("/shop/items/{pk:[0-9]+}/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Get("/shop/items/{pk:[0-9]+}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Route("/en-us", func(r *router.Router) {
		r.Get("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
		r.Get("/shop/me/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	})
	sub := router.New()
	sub.Get("/f/{*:.+}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	sub.Get("/g/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Mount("/sub", sub)
	r.Mount("/proxied", proxy)
	r.Fallback(&fallback.Handler{App: fakeContainer()})

	tests := []struct {
		method, path string
		status       float64
		route        string
		target       string
		worker       float64
	}{
		{"GET", "/users/7", 200, "/users/{id}", "go", 0},
		{"GET", "/api/items/7", 200, "/api/items/{id}", "go", 0},
		{"POST", "/users/7", 200, "fallback", "wsgi", 4242},
		{"GET", "/api/nope", 200, "fallback", "wsgi", 4242},
		{"GET", "/proxied/x", 418, "fallback", "fallback", 0},
		{"GET", "/files/a/b", 200, "/files/{*:[^/].*}", "go", 0},
		{"GET", "/files/", 200, "fallback", "wsgi", 4242},
		{"GET", "/api/docs/a/b", 200, "/api/docs/{*:.+}", "go", 0},
		{"GET", "/sub/f/x", 200, "/sub/f/{*:.+}", "go", 0},
		{"GET", "/sub/f/", 200, "fallback", "wsgi", 4242},
		{"GET", "/panic", 500, "/panic", "go", 0},
		{"GET", "/shop/items/7/", 200, "/shop/items/{pk:[0-9]+}/", "go", 0},
		{"GET", "/shop/items/7", 200, "/shop/items/{pk:[0-9]+}", "go", 0},
		{"GET", "/en-us/shop/me/", 200, "/en-us/shop/me/", "go", 0},
		{"GET", "/en-us/", 200, "/en-us/", "go", 0},
		{"GET", "/en-us", 200, "/en-us/", "go", 0}, // the sub-Router's "/" route, as the inventory and the stages name it
		{"GET", "/sub/g/", 200, "/sub/g/", "go", 0},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			buf.Reset()
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			lines := logLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1: %s", len(lines), buf.String())
			}
			l := lines[0]
			if w.Code != int(tc.status) || l["http.response.status_code"] != tc.status {
				t.Errorf("status: response %d, log %v, want %v", w.Code, l["http.response.status_code"], tc.status)
			}
			if l[AttrRoute] != tc.route || l[AttrTarget] != tc.target {
				t.Errorf("route %v target %v, want %q %q", l[AttrRoute], l[AttrTarget], tc.route, tc.target)
			}
			if id := w.Header().Get("X-Request-ID"); id == "" || l[AttrRequestID] != id {
				t.Errorf("request id: log %v, response %q", l[AttrRequestID], id)
			}
			if tc.worker != 0 && (l[AttrWorker] != tc.worker || l[AttrQueued] == nil) {
				t.Errorf("worker %v queued %v, want %v", l[AttrWorker], l[AttrQueued], tc.worker)
			}
			if tc.worker == 0 && l[AttrWorker] != nil {
				t.Errorf("worker %v, want none", l[AttrWorker])
			}
			for _, k := range []string{"event.duration", "http.response.body.bytes"} {
				if _, ok := l[k]; !ok {
					t.Errorf("no %s in %v", k, l)
				}
			}
		})
	}
}

// At the start of a migration there is no Go route at all: requests must
// still be logged, with ids.
func TestAccessLogEmptyRouter(t *testing.T) {
	var buf bytes.Buffer
	r := router.New()
	r.Use(Stack(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}))
	r.Fallback(&fallback.Handler{App: fakeContainer()})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/anything", nil))
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0][AttrTarget] != "wsgi" || w.Header().Get("X-Request-ID") == "" {
		t.Errorf("got %d lines %v, X-Request-ID %q", len(lines), lines, w.Header().Get("X-Request-ID"))
	}
}

func TestAccessLogDoesNotModifyOptions(t *testing.T) {
	o := DefaultLogOptions()
	AccessLog(slog.New(slog.DiscardHandler), o)
	if o.LogBodyMaxLen != 0 || o.LogBodyContentTypes != nil {
		t.Errorf("options modified: %+v", o)
	}
}
