package middleware

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/router"
)

// discardWriter is a ResponseWriter that allocates nothing, so that the
// benchmarks count the middleware's allocations only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

var helloBody = []byte("Hello world!\n")

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(helloBody)
}

// benchRequest is what wrk sends: a GET with a Host header only.
func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/hello", nil)
	r.RemoteAddr = "127.0.0.1:50000"
	return r
}

// cpuTime returns the CPU time (user and system) the process has used:
// on a loaded machine it is steadier than the wall clock of ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStack compares a bare handler with the same handler as a native
// route of a graft Router behind the default middleware Stack (proxies,
// request id, access log). The log goes to slog's JSON or text handler
// writing to io.Discard, to a file (one write per request, as with
// os.Stderr), or to a file through a LogWriter; or to NewLogHandler. cpu-ns/op is the
// process's CPU time per request (GC and the flush timer included).
func BenchmarkStack(b *testing.B) {
	stacked := func(h slog.Handler) http.Handler {
		r := router.New()
		r.Use(Stack(Options{Logger: slog.New(h)}))
		r.Get("/hello", hello)
		r.Fallback(http.NotFoundHandler())
		return r
	}
	file := func() *os.File {
		f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	for _, bc := range []struct {
		name string
		h    func() (http.Handler, func() error)
	}{
		{"bare", func() (http.Handler, func() error) { return http.HandlerFunc(hello), nil }},
		{"stack/json", func() (http.Handler, func() error) { return stacked(slog.NewJSONHandler(io.Discard, nil)), nil }},
		{"stack/text", func() (http.Handler, func() error) { return stacked(slog.NewTextHandler(io.Discard, nil)), nil }},
		{"stack/text-file", func() (http.Handler, func() error) { return stacked(slog.NewTextHandler(file(), nil)), nil }},
		{"stack/text-logwriter-file", func() (http.Handler, func() error) {
			lw := NewLogWriter(file(), 0)
			return stacked(slog.NewTextHandler(lw, nil)), lw.Close
		}},
		{"stack/loghandler", func() (http.Handler, func() error) { return stacked(NewLogHandler(io.Discard, nil)), nil }},
		{"stack/loghandler-logwriter-file", func() (http.Handler, func() error) {
			lw := NewLogWriter(file(), 0)
			return stacked(NewLogHandler(lw, nil)), lw.Close
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, done := bc.h()
			r := benchRequest()
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
			if done != nil {
				done()
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
