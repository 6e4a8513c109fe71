package wsgi

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkTextHandler formats one access record like graft's (strings,
// numbers, two header groups, graft's attributes) with slog's text
// handler, with TextHandler through slog's handler (as before it
// formatted lines itself, and still with ReplaceAttr), and with
// TextHandler's Handle and HandleAttrs, to io.Discard.
func BenchmarkTextHandler(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("url.full", "http://127.0.0.1:8000/api/health"), slog.String("http.request.method", "GET"),
		slog.String("url.path", "/api/health"), slog.String("client.ip", "127.0.0.1:50000"),
		slog.String("server.address", "127.0.0.1:8000"), slog.String("url.scheme", "http"),
		slog.String("network.protocol.version", "HTTP/1.1"),
		slog.Any("http.request.headers", slog.GroupValue(slog.String("Content-Type", "application/json"))),
		slog.Int64("http.request.body.size", 0), slog.String("user_agent.original", "wrk"), slog.String("http.request.referrer", ""),
		slog.Any("http.response.headers", slog.GroupValue(slog.String("Content-Type", "application/json"))),
		slog.Int("http.response.status_code", 200), slog.Int64("event.duration", 1234567), slog.Int("http.response.body.size", 16),
		slog.String("request.id", "019acd2e-8f3a-7c41-9d2e-5b6a7c8d9e0f"), slog.String("http.route", "/api/health"), slog.String("graft.target", "go"),
	}
	now := time.Now()
	msg := "GET /api/health => HTTP 200 (1.2ms)"
	r := slog.NewRecord(now, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog-text", slog.NewTextHandler(io.Discard, nil)},
		{"texthandler-via-slog", newTextHandler(io.Discard, nil, true)},
		{"texthandler", NewTextHandler(io.Discard, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.Handle(ctx, r)
			}
		})
	}
	b.Run("texthandler-attrs", func(b *testing.B) {
		h := NewTextHandler(io.Discard, nil)
		b.ReportAllocs()
		for b.Loop() {
			h.HandleAttrs(ctx, now, slog.LevelInfo, msg, attrs)
		}
	})
}

// BenchmarkTextQuote: quoting an access line's message, with an ASCII
// duration unit and with "µs" (a printable rune beyond ASCII).
func BenchmarkTextQuote(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"ms", "GET /api/health => HTTP 200 (33.4ms)"},
		{"micro-s", "GET /api/health => HTTP 200 (33.4µs)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = appendTextString(buf[:0], bc.msg)
			}
		})
	}
}
