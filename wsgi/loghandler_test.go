package wsgi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// noTime drops the time from records, for stable output.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func TestTextHandler(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"one line", func(l *slog.Logger) { l.Info("hi", "k", "v") }, "level=INFO msg=hi k=v\n"},
		{"traceback", func(l *slog.Logger) {
			l.Error("wsgi: request failed", "error", "boom", "error.stack_trace", "Traceback:\n  File \"x.py\"\nE: boom\n")
		}, "level=ERROR msg=\"wsgi: request failed\" error=boom\n  error.stack_trace:\n    Traceback:\n      File \"x.py\"\n    E: boom\n"},
		{"multi-line message", func(l *slog.Logger) { l.Warn("first\nsecond", "k", 1) },
			"level=WARN msg=first k=1\n  msg:\n    second\n"},
		{"control characters", func(l *slog.Logger) { l.Info("m", "v", "a\x1b[2Jb\r\ntime=x level=ERROR\tok\xff") },
			"level=INFO msg=m\n  v:\n    a\\x1b[2Jb\n    time=x level=ERROR\tok\\xff\n"},
		{"With", func(l *slog.Logger) { l.With("a", "1", "s", "x\ny").Info("m", "b", 2) },
			"level=INFO msg=m a=1 b=2\n  s:\n    x\n    y\n"},
		{"group", func(l *slog.Logger) { l.WithGroup("g").Info("m", "s", "x\ny") },
			"level=INFO msg=m g.s=\"x\\ny\"\n"},
		{"below level", func(l *slog.Logger) { l.Debug("m", "s", "x\ny") }, ""},
		// A backslash and an n in a value look like an escaped newline in
		// the formatted line: the record is formatted again, the same.
		{"backslash n", func(l *slog.Logger) { l.Info("m", "p", `C:\new`, "q", "a b\\n") },
			"level=INFO msg=m p=C:\\new q=\"a b\\\\n\"\n"},
		{"LogValuer", func(l *slog.Logger) { l.Info("m", "e", errValue{errors.New("a\nb")}) },
			"level=INFO msg=m\n  e:\n    a\n    b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime})))
			if got := buf.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

type errValue struct{ err error }

func (e errValue) LogValue() slog.Value { return slog.StringValue(e.err.Error()) }

// TestTextHandlerConcurrent: a record's line and its block are written
// together, whatever else logs at the same time.
func TestTextHandlerConcurrent(t *testing.T) {
	var buf syncWriter
	l := slog.New(NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				l.With("g", i).Info("m", "s", "x\ny")
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i := 0; i < len(lines); i += 4 {
		if !strings.HasPrefix(lines[i], "level=INFO") || lines[i+1] != "  s:" || lines[i+2] != "    x" || lines[i+3] != "    y" {
			t.Fatalf("record %d interleaved: %q", i/4, lines[i:i+4])
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestTracebackLogs: a real app exception through the container, logged
// with TextHandler (the traceback below the line, readable) and with
// slog.JSONHandler (one string).
func TestTracebackLogs(t *testing.T) {
	text, js := &pythontest.Buffer{}, &pythontest.Buffer{}
	for _, h := range []struct {
		name    string
		handler slog.Handler
	}{
		{"text", NewTextHandler(text, nil)},
		{"json", slog.NewJSONHandler(js, nil)},
	} {
		t.Run(h.name, func(t *testing.T) {
			a := startApp(t, "apps:dispatch", Config{Logger: slog.New(h.handler)}, nil)
			resp, _, _ := get(t, nil, "GET", a.srv.URL+"/raise_before", nil)
			if resp.StatusCode != 500 {
				t.Fatalf("status %d, want 500", resp.StatusCode)
			}
		})
	}
	waitFor(t, 5*time.Second, "the failure in both logs", func() bool {
		return strings.Contains(text.String(), "raise-before-marker") && strings.Contains(js.String(), "raise-before-marker")
	})

	// Text: the record's line has no traceback; the lines after it do,
	// indented, exactly as Python printed them.
	lines := strings.Split(text.String(), "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, `msg="wsgi: request failed"`) {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no failure record:\n%s", text)
	}
	if strings.Contains(lines[at], `\n`) || strings.Contains(lines[at], "Traceback") {
		t.Errorf("the record's line holds the traceback: %s", lines[at])
	}
	if lines[at+1] != "  error.stack_trace:" || lines[at+2] != "    Traceback (most recent call last):" {
		t.Errorf("no traceback block after the line:\n%s", strings.Join(lines[at:], "\n"))
	}
	var frame, last bool
	for _, l := range lines[at+3:] {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		frame = frame || strings.HasPrefix(l, `      File "`) && strings.Contains(l, "apps.py")
		last = last || strings.Contains(l, "raise-before-marker")
	}
	if !frame || !last {
		t.Errorf("traceback block lacks the app's frame or the exception:\n%s", strings.Join(lines[at:], "\n"))
	}

	// JSON: one record, the traceback one string.
	var rec map[string]any
	for _, l := range strings.Split(js.String(), "\n") {
		if strings.Contains(l, "wsgi: request failed") {
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
		}
	}
	tb, _ := rec[logTraceback].(string)
	if !strings.HasPrefix(tb, "Traceback (most recent call last):\n") || !strings.Contains(tb, "raise-before-marker") {
		t.Errorf("JSON %s = %q; want the whole traceback", logTraceback, tb)
	}
}

func ExampleNewTextHandler() {
	log := slog.New(NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	log.Error("wsgi: request failed", "url.path", "/boom",
		"error.stack_trace", "Traceback (most recent call last):\n  File \"app.py\", line 3, in boom\nZeroDivisionError: division by zero")
	// Output:
	// level=ERROR msg="wsgi: request failed" url.path=/boom
	//   error.stack_trace:
	//     Traceback (most recent call last):
	//       File "app.py", line 3, in boom
	//     ZeroDivisionError: division by zero
}
