package middleware

import (
	"context"
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
	"github.com/graft-dev/graft/wsgi"
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
// os.Stderr), or to a file through a LogWriter; or to wsgi.NewTextHandler
// (the examples' handler) or NewLogHandler. cpu-ns/op is the
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
		{"trustproxies", func() (http.Handler, func() error) { // the examples' -access-log=false
			r := router.New()
			r.Use(TrustProxies(nil))
			r.Get("/hello", hello)
			r.Fallback(http.NotFoundHandler())
			return r, nil
		}},
		{"router", func() (http.Handler, func() error) {
			r := router.New()
			r.Get("/hello", hello)
			r.Fallback(http.NotFoundHandler())
			return r, nil
		}},
		{"stack/json", func() (http.Handler, func() error) { return stacked(slog.NewJSONHandler(io.Discard, nil)), nil }},
		{"stack/text", func() (http.Handler, func() error) { return stacked(slog.NewTextHandler(io.Discard, nil)), nil }},
		{"stack/text-file", func() (http.Handler, func() error) { return stacked(slog.NewTextHandler(file(), nil)), nil }},
		{"stack/text-logwriter-file", func() (http.Handler, func() error) {
			lw := NewLogWriter(file(), 0)
			return stacked(slog.NewTextHandler(lw, nil)), lw.Close
		}},
		{"stack/wsgi-text", func() (http.Handler, func() error) { return stacked(wsgi.NewTextHandler(io.Discard, nil)), nil }},
		{"stack/wsgi-text-logwriter-file", func() (http.Handler, func() error) {
			lw := NewLogWriter(file(), 0)
			return stacked(wsgi.NewTextHandler(lw, nil)), lw.Close
		}},
		{"stack/loghandler", func() (http.Handler, func() error) { return stacked(NewLogHandler(io.Discard, nil)), nil }},
		{"stack/loghandler-logwriter-file", func() (http.Handler, func() error) {
			lw := NewLogWriter(file(), 0)
			return stacked(NewLogHandler(lw, nil)), lw.Close
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, done := bc.h()
			benchServe(b, h, done, benchRequest())
		})
	}
}

// benchServe serves r with h b.N times into a discardWriter, then calls
// done (nil: none), and reports allocations and cpu-ns/op, the process's
// CPU time per request.
func benchServe(b *testing.B, h http.Handler, done func() error, r *http.Request) {
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
}

// BenchmarkLogHandler formats one access log record like httplog's
// (strings, numbers, two header groups, graft's attributes) with slog's
// JSON handler and with NewLogHandler, to io.Discard.
func BenchmarkLogHandler(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "GET /api/health => HTTP 200 (1.2ms)", 0)
	r.AddAttrs(
		slog.String("url.full", "http://127.0.0.1:8000/api/health"), slog.String("http.request.method", "GET"),
		slog.String("url.path", "/api/health"), slog.String("client.ip", "127.0.0.1:50000"),
		slog.String("server.address", "127.0.0.1:8000"), slog.String("url.scheme", "http"),
		slog.String("network.protocol.version", "HTTP/1.1"),
		slog.Any("http.request.headers", slog.GroupValue(slog.String("Content-Type", "application/json"))),
		slog.Int64("http.request.body.size", 0), slog.String("user_agent.original", "wrk"), slog.String("http.request.referrer", ""),
		slog.Any("http.response.headers", slog.GroupValue(slog.String("Content-Type", "application/json"))),
		slog.Int("http.response.status_code", 200), slog.Int64("event.duration", 1234567), slog.Int("http.response.body.size", 16),
		slog.String(AttrRequestID, "019acd2e-8f3a-7c41-9d2e-5b6a7c8d9e0f"), slog.String(AttrRoute, "/api/health"), slog.String(AttrTarget, "go"),
	)
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{{"slog-json", slog.NewJSONHandler(io.Discard, nil)}, {"loghandler", NewLogHandler(io.Discard, nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.Handle(context.Background(), r)
			}
		})
	}
}
