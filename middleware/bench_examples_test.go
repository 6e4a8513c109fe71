package middleware

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-chi/httplog/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// examplesLogOptions are the examples' default access log options
// (examples/internal/cli AccessLogOptions(false), which this package
// cannot import).
func examplesLogOptions() *httplog.Options {
	o := DefaultLogOptions()
	s := *httplog.SchemaECS.Concise(true)
	s.RequestRemoteIP = "client"
	s.ResponseBytes = "bytes"
	o.Schema = &s
	o.LogRequestHeaders = []string{}
	o.LogResponseHeaders = nil
	return o
}

// BenchmarkExamplesStack is the native route of examples/hybrid
// (/api/health, a constant JSON body) through the examples' default
// middleware: Stack with the brief text line (wsgi.NewTextHandler) into a
// LogWriter on a file; "metrics" adds Metrics, as with -metrics-bind;
// "bare" is the handler alone. cpu-ns/op is the process's CPU time per
// request.
func BenchmarkExamplesStack(b *testing.B) {
	health := []byte(`{"status":"ok"}` + "\n")
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(health)
	}
	build := func(b *testing.B, metrics bool) (http.Handler, func() error) {
		f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		lw := NewLogWriter(f, 0)
		r := router.New()
		r.Use(Stack(Options{
			Logger: slog.New(wsgi.NewTextHandler(lw, nil)),
			Log:    examplesLogOptions(),
			Brief:  true,
		}))
		if metrics {
			r.Use(Metrics(prometheus.NewRegistry()))
		}
		r.Get("/api/health", handler)
		r.Fallback(http.NotFoundHandler())
		return r, lw.Close
	}
	for _, bc := range []struct {
		name string
		h    func(b *testing.B) (http.Handler, func() error)
	}{
		{"bare", func(*testing.B) (http.Handler, func() error) { return http.HandlerFunc(handler), nil }},
		{"stack", func(b *testing.B) (http.Handler, func() error) { return build(b, false) }},
		{"metrics", func(b *testing.B) (http.Handler, func() error) { return build(b, true) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, done := bc.h(b)
			r := httptest.NewRequest("GET", "/api/health", nil)
			r.RemoteAddr = "127.0.0.1:50000"
			benchServe(b, h, done, r)
		})
	}
}
