package middleware

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/wsgi"
)

// tee sends each record to two handlers, so that both format the very
// same record (same time).
type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool { return t.a.Enabled(ctx, l) }
func (t tee) Handle(ctx context.Context, r slog.Record) error {
	t.a.Handle(ctx, r.Clone())
	return t.b.Handle(ctx, r)
}
func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}
func (t tee) WithGroup(n string) slog.Handler { return tee{t.a.WithGroup(n), t.b.WithGroup(n)} }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.GroupValue(slog.String("resolved", "yes")) }

type point struct{ X, Y int }

func TestLogHandlerMatchesSlog(t *testing.T) {
	when := time.Date(2026, 11, 29, 20, 31, 0, 123456789, time.UTC)
	tests := []struct {
		name  string
		opts  *slog.HandlerOptions
		pre   []slog.Attr
		group string
		level slog.Level
		msg   string
		attrs []slog.Attr
	}{
		{name: "plain", msg: "GET / => HTTP 200 (1ms)", attrs: []slog.Attr{slog.String("url.full", "http://x/"), slog.Int("http.response.status_code", 200)}},
		{name: "strings", msg: "quote \" backslash \\ nl \n cr \r tab \t bell \a del \x7f <>& é 😀 \u2028\u2029 bad \xff\xfe end",
			attrs: []slog.Attr{slog.String("k\"ey", "\x00\x1f"), slog.String("", "empty key")}},
		{name: "numbers", attrs: []slog.Attr{slog.Int64("i", -42), slog.Uint64("u", math.MaxUint64), slog.Bool("b", true),
			slog.Float64("f0", 0), slog.Float64("f1", 1.5), slog.Float64("f2", 1e-7), slog.Float64("f3", 1e21), slog.Float64("f4", 123456789.123),
			slog.Float64("f5", 1e20), slog.Float64("f6", -2.5e-9), slog.Float64("f7", 0.000001), slog.Float64("f8", math.Copysign(0, -1)), slog.Float64("f9", 1e100)}},
		{name: "durations and times", attrs: []slog.Attr{slog.Duration("d", 1500*time.Millisecond), slog.Time("t", when.In(time.FixedZone("X", 3600)))}},
		{name: "groups", attrs: []slog.Attr{
			slog.Group("http", slog.String("method", "GET"), slog.Group("request", slog.Int("bytes", 10))),
			slog.Group("empty"), slog.Group("", slog.String("inlined", "1")), slog.Any("headers", slog.GroupValue(slog.String("Content-Type", "text/plain"))),
			slog.Any("emptyvalue", slog.GroupValue()),
		}},
		{name: "any", attrs: []slog.Attr{slog.Any("err", errors.New("boom \"x\"")), slog.Any("p", point{1, 2}), slog.Any("v", valuer{}),
			slog.Any("nil", nil), {}, slog.Any("strs", []string{"a", "<b>"})}},
		{name: "with attrs", pre: []slog.Attr{slog.String("service", "graft"), slog.Group("g", slog.Int("n", 1))}, attrs: []slog.Attr{slog.Int("x", 1)}},
		{name: "with group", pre: []slog.Attr{slog.String("service", "graft")}, group: "req", attrs: []slog.Attr{slog.Int("x", 1)}},
		{name: "level warn", level: slog.LevelWarn + 2, msg: "w"},
		{name: "replace attr", opts: &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { a.Key = "K" + a.Key; return a }}, attrs: []slog.Attr{slog.Int("x", 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fast, std bytes.Buffer
			var h slog.Handler = tee{NewLogHandler(&fast, tc.opts), slog.NewJSONHandler(&std, tc.opts)}
			if tc.pre != nil {
				h = h.WithAttrs(tc.pre)
			}
			if tc.group != "" {
				h = h.WithGroup(tc.group)
			}
			r := slog.NewRecord(when, tc.level, tc.msg, 0)
			r.AddAttrs(tc.attrs...)
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if fast.String() != std.String() {
				t.Errorf("got  %s\nwant %s", fast.String(), std.String())
			}
		})
	}
}

func TestLogHandlerEnabled(t *testing.T) {
	h := NewLogHandler(&bytes.Buffer{}, nil)
	if h.Enabled(context.Background(), slog.LevelDebug) || !h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("default level is not Info")
	}
	h = NewLogHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Level option ignored")
	}
}

// The access log of a request through Stack is identical with both
// handlers.
func TestLogHandlerAccessLog(t *testing.T) {
	var fast, std bytes.Buffer
	logger := slog.New(tee{NewLogHandler(&fast, nil), slog.NewJSONHandler(&std, nil)})
	h := Stack(Options{Logger: logger})(http.HandlerFunc(hello))
	req := httptest.NewRequest("GET", "/hello?q=\"x\"", nil)
	req.Header.Set("Origin", "https://example.com")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if fast.Len() == 0 || fast.String() != std.String() {
		t.Errorf("got  %s\nwant %s", fast.String(), std.String())
	}
}

// The access log through wsgi.TextHandler (which the access log calls
// without a slog.Record) is the line slog.TextHandler writes, but for
// what differs from one request to the next (time, duration, request id).
func TestTextHandlerAccessLog(t *testing.T) {
	varying := regexp.MustCompile(`time=\S+ |\([^)]*\)"|event.duration=\d+|request.id=\S+`)
	line := func(h slog.Handler, out *bytes.Buffer) string {
		s := Stack(Options{Logger: slog.New(h)})(http.HandlerFunc(hello))
		req := httptest.NewRequest("GET", "/hello?q=\"x\"", nil)
		req.Header.Set("Origin", "https://example.com")
		req.Header.Set("User-Agent", "a \"quoted\" agent")
		s.ServeHTTP(httptest.NewRecorder(), req)
		return varying.ReplaceAllString(out.String(), "…")
	}
	var own, std bytes.Buffer
	got, want := line(wsgi.NewTextHandler(&own, nil), &own), line(slog.NewTextHandler(&std, nil), &std)
	if !strings.Contains(want, "http.response.status_code=200") || got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func FuzzLogHandlerString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x7f", "<>&", "\xff\xfe", "é😀\u2028\u2029", "a\xc3"} {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		var fast, std bytes.Buffer
		h := tee{NewLogHandler(&fast, nil), slog.NewJSONHandler(&std, nil)}
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, s, 0)
		r.AddAttrs(slog.String(s, s), slog.Float64("x", x))
		h.Handle(context.Background(), r)
		if fast.String() != std.String() {
			t.Errorf("got  %s\nwant %s", fast.String(), std.String())
		}
	})
}
