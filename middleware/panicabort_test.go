package middleware

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
)

// TestPanicAfterHeaderAborts: a Go handler that panics once its status
// went out gets its response aborted (a chunked body without its last
// chunk, a body shorter than its Content-Length, an HTTP/2 stream reset),
// as the WSGI container does when a Python app raises after its headers.
// Until 2026-12-02 the recovery returned normally and net/http finished
// the response: the client took a 202 with half its body, or a streamed
// 200 cut at the panic, for a whole, successful answer. The line is
// logged at ERROR with the status sent and the panic.
func TestPanicAfterHeaderAborts(t *testing.T) {
	for _, mode := range []struct {
		name string
		mw   func(*slog.Logger) func(http.Handler) http.Handler
	}{
		{"Stack", func(l *slog.Logger) func(http.Handler) http.Handler { return Stack(Options{Logger: l}) }},
		// The httplog mode (LogExtraAttrs): httplog recovers the panic.
		{"Stack/httplog", func(l *slog.Logger) func(http.Handler) http.Handler {
			o := DefaultLogOptions()
			o.LogExtraAttrs = func(*http.Request, string, int) []slog.Attr { return nil }
			return Stack(Options{Logger: l, Log: o})
		}},
		{"AccessLog/httplog", func(l *slog.Logger) func(http.Handler) http.Handler {
			o := DefaultLogOptions()
			o.LogExtraAttrs = func(*http.Request, string, int) []slog.Attr { return nil }
			return AccessLog(l, o)
		}},
		// Level WARN: the panics after a 2xx are logged all the same.
		{"AccessLog/warn", func(l *slog.Logger) func(http.Handler) http.Handler {
			o := DefaultLogOptions()
			o.Level = slog.LevelWarn
			return AccessLog(l, o)
		}},
		{"AccessLog/httplog/warn", func(l *slog.Logger) func(http.Handler) http.Handler {
			o := DefaultLogOptions()
			o.Level = slog.LevelWarn
			o.LogExtraAttrs = func(*http.Request, string, int) []slog.Attr { return nil }
			return AccessLog(l, o)
		}},
	} {
		t.Run(mode.name, func(t *testing.T) { testPanicAfterHeader(t, mode.name, mode.mw) })
	}
}

func testPanicAfterHeader(t *testing.T, mode string, mw func(*slog.Logger) func(http.Handler) http.Handler) {
	var buf pythontest.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	r := router.New()
	r.Use(mw(logger))
	r.Get("/length", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "12345")
		panic("boom after the header")
	})
	r.Get("/stream", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "part1\n")
		w.(http.Flusher).Flush()
		panic("boom in the stream")
	})
	r.Get("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("boom after the status")
	})
	r.Get("/before", func(http.ResponseWriter, *http.Request) { panic("boom before") })

	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(r)
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		client := srv.Client()
		for _, tc := range []struct {
			path   string
			status int
			abort  bool
		}{
			{"/length", http.StatusAccepted, true},
			{"/stream", http.StatusOK, true},
			{"/status", http.StatusAccepted, true},
			{"/before", http.StatusInternalServerError, false},
		} {
			t.Run(fmt.Sprintf("h2=%v%s", h2, tc.path), func(t *testing.T) {
				resp, err := client.Get(srv.URL + tc.path)
				if err != nil {
					if tc.abort {
						return // aborted before the head went out: an error, not an answer
					}
					t.Fatalf("GET: %v", err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
				}
				body, err := io.ReadAll(resp.Body)
				if tc.abort && err == nil {
					t.Errorf("body %q read whole: the panic's response looks complete", body)
				}
				if !tc.abort && err != nil {
					t.Errorf("body: %v", err)
				}
			})
		}
		srv.Close()
	}
	lines, panics := buf.String(), 0
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if m["error.message"] == nil {
			continue
		}
		panics++
		// In the httplog mode too, though httplog's level follows the
		// status sent (INFO after a 2xx, dropped under Level WARN).
		if m["level"] != "ERROR" {
			t.Errorf("a panic logged at %v, want ERROR: %s", m["level"], l)
		}
	}
	if panics != 8 {
		t.Errorf("%d panics logged, want 8 (4 over HTTP/1.1, 4 over HTTP/2):\n%s", panics, lines)
	}
}

// TestAbortHandlerLevel: a handler that aborts its response with
// http.ErrAbortHandler after a 200 (as the container does when a Python
// app raises after its headers, which it logs itself) has its access line
// at the status's level, INFO, in both modes: only other panics are
// raised to ERROR.
func TestAbortHandlerLevel(t *testing.T) {
	for _, httplogMode := range []bool{false, true} {
		var buf pythontest.Buffer
		o := DefaultLogOptions()
		if httplogMode {
			o.LogExtraAttrs = func(*http.Request, string, int) []slog.Attr { return nil }
		}
		h := AccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), o)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}))
		srv := httptest.NewServer(h)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		if resp, err := srv.Client().Get(srv.URL); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		srv.Close()
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &m); err != nil {
			t.Fatalf("httplog mode %v: line %q: %v", httplogMode, buf.String(), err)
		}
		if m["level"] != "INFO" {
			t.Errorf("httplog mode %v: logged at %v, want INFO: %s", httplogMode, m["level"], buf.String())
		}
	}
}
