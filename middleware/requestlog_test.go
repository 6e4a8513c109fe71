package middleware

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/httplog/v3"

	"github.com/graft-dev/graft/wsgi"
)

// serveLogged serves req with mw around h, logging JSON to a buffer at
// level min with slog's JSON handler (or NewLogHandler, if own), and
// returns the recorder, the lines and what ServeHTTP panicked with.
func serveLogged(mw func(*slog.Logger) func(http.Handler) http.Handler, min slog.Level, h http.Handler, req *http.Request, own ...bool) (w *httptest.ResponseRecorder, lines []map[string]any, rec any) {
	var buf bytes.Buffer
	newHandler := func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) }
	if len(own) > 0 && own[0] {
		newHandler = NewLogHandler
	}
	logger := slog.New(newHandler(&buf, &slog.HandlerOptions{Level: min}))
	w = httptest.NewRecorder()
	func() {
		defer func() { rec = recover() }()
		mw(logger)(h).ServeHTTP(w, req)
	}()
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			panic(err)
		}
		lines = append(lines, m)
	}
	return w, lines, rec
}

var durationInMessage = regexp.MustCompile(` \([^()]*\)$`)

// normalize removes from a line what differs between two runs or two
// loggers by nature: the time, the duration (in the message and in its
// attribute) and the panic stack's frames (checked to be a non-empty
// list); and graft's own attributes.
func normalize(t *testing.T, l map[string]any, s *httplog.Schema) {
	t.Helper()
	delete(l, "time")
	msg, _ := l["msg"].(string)
	if !durationInMessage.MatchString(msg) {
		t.Errorf("message %q does not end with a duration", msg)
	}
	l["msg"] = durationInMessage.ReplaceAllString(msg, " (D)")
	for _, k := range []string{AttrRequestID, AttrRoute, AttrTarget, AttrWorker, AttrQueued} {
		delete(l, k)
	}
	for _, k := range []string{s.ResponseDuration, s.ErrorStackTrace} {
		if k == "" {
			continue
		}
		m, key := l, k
		if s.GroupDelimiter != "" {
			if p, rest, ok := strings.Cut(k, s.GroupDelimiter); ok {
				m, _ = l[p].(map[string]any)
				key = rest
			}
		}
		v, ok := m[key]
		if !ok {
			continue
		}
		if k == s.ErrorStackTrace {
			if frames, _ := v.([]any); len(frames) == 0 {
				t.Errorf("stack trace %v, want frames", v)
			}
		}
		m[key] = "X"
	}
}

// Graft's request logger writes the line httplog.RequestLogger writes:
// same level, message (but the duration), keys and values.
func TestRequestLoggerMatchesHTTPLog(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, "hello")
	})
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	panicking := func(v any, code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code != 0 {
				w.WriteHeader(code)
			}
			panic(v)
		})
	}
	withHeaders := func(o *httplog.Options) *httplog.Options {
		o.LogRequestHeaders = []string{"Content-Type", "Origin", "X-Multi", "Absent"}
		o.LogResponseHeaders = []string{"Content-Type", "X-Multi"}
		return o
	}
	norecover := DefaultLogOptions()
	norecover.RecoverPanics = false
	concise := DefaultLogOptions()
	concise.Schema = httplog.SchemaECS.Concise(true)
	otel := DefaultLogOptions()
	otel.Schema = httplog.SchemaOTEL
	gcp := DefaultLogOptions()
	gcp.Schema = httplog.SchemaGCP
	warn := DefaultLogOptions()
	warn.Level = slog.LevelWarn
	debug := DefaultLogOptions()
	debug.Level = slog.LevelDebug
	skip := DefaultLogOptions()
	skip.Skip = func(r *http.Request, status int) bool { return r.URL.Path == "/healthz" || status == 404 }
	custom := &httplog.Options{} // zero: level Info, ECS, no recovery, no headers

	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		o       *httplog.Options
		min     slog.Level // the slog handler's level
		method  string
		target  string
		header  http.Header
		ctx     context.Context
		handler http.Handler
		// unsent: the status graft logs where none was sent and httplog
		// logs 200 (a panic it does not answer: 500, as the metrics
		// count it); 0 when the lines are the same.
		unsent int
		// aborts: a panic after the status went out, which graft logs
		// at ERROR (httplog: the status's level) and aborts with
		// http.ErrAbortHandler (httplog finishes the response).
		aborts bool
	}{
		{name: "200", o: DefaultLogOptions(), method: "GET", target: "/users/7?x=1&y=%20", handler: ok},
		{name: "200 headers", o: withHeaders(DefaultLogOptions()), method: "POST", target: "/form",
			header: http.Header{"Content-Type": {"application/json"}, "Origin": {"https://a.example"}, "X-Multi": {"1", "2"},
				"User-Agent": {"curl/8"}, "Referer": {"https://r.example/"}}, handler: ok},
		{name: "404", o: DefaultLogOptions(), method: "GET", target: "/nope", handler: status(404)},
		{name: "429", o: DefaultLogOptions(), method: "GET", target: "/slow", handler: status(429)},
		{name: "500", o: DefaultLogOptions(), method: "GET", target: "/err", handler: status(500)},
		{name: "OPTIONS at info", o: DefaultLogOptions(), method: "OPTIONS", target: "/x", handler: status(204)},
		{name: "OPTIONS at debug", o: debug, min: slog.LevelDebug, method: "OPTIONS", target: "/x", handler: status(204)},
		{name: "HEAD", o: DefaultLogOptions(), method: "HEAD", target: "/users/7", handler: ok},
		{name: "escaped path", o: DefaultLogOptions(), method: "GET", target: "/a%2Fb/c%20d", handler: ok},
		{name: "panic", o: DefaultLogOptions(), method: "GET", target: "/panic", handler: panicking("boom", 0)},
		{name: "panic error", o: DefaultLogOptions(), method: "GET", target: "/panic", handler: panicking(errors.New("bad"), 0)},
		{name: "panic after status", o: DefaultLogOptions(), method: "GET", target: "/panic", handler: panicking("boom", 202), aborts: true},
		{name: "panic upgrade", o: DefaultLogOptions(), method: "GET", target: "/ws", header: http.Header{"Connection": {"Upgrade"}}, handler: panicking("boom", 0), unsent: 500},
		{name: "panic not recovered", o: norecover, method: "GET", target: "/panic", handler: panicking("boom", 0), unsent: 500},
		{name: "ErrAbortHandler", o: DefaultLogOptions(), method: "GET", target: "/abort", handler: panicking(http.ErrAbortHandler, 0)},
		{name: "client abort", o: DefaultLogOptions(), method: "GET", target: "/gone", ctx: canceled, handler: ok},
		{name: "concise", o: concise, method: "GET", target: "/c", handler: ok},
		{name: "concise abort", o: concise, method: "GET", target: "/c", ctx: canceled, handler: ok},
		{name: "concise panic", o: concise, method: "GET", target: "/c", handler: panicking("boom", 0)},
		{name: "otel", o: withHeaders(otel), method: "GET", target: "/o", handler: ok},
		{name: "gcp", o: withHeaders(gcp), method: "GET", target: "/g", handler: ok},
		{name: "gcp panic abort", o: gcp, method: "GET", target: "/g", ctx: canceled, handler: panicking("boom", 0)},
		{name: "skip path", o: skip, method: "GET", target: "/healthz", handler: ok},
		{name: "skip status", o: skip, method: "GET", target: "/x", handler: status(404)},
		{name: "not skipped", o: skip, method: "GET", target: "/x", handler: ok},
		{name: "level option filters", o: warn, method: "GET", target: "/x", handler: ok},
		{name: "level option keeps", o: warn, method: "GET", target: "/x", handler: status(503)},
		{name: "handler level filters", o: DefaultLogOptions(), min: slog.LevelError, method: "GET", target: "/x", handler: status(404)},
		{name: "zero options", o: custom, method: "GET", target: "/z", handler: ok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(tc.method, tc.target, nil)
				for k, v := range tc.header {
					r.Header[k] = v
				}
				if tc.ctx != nil {
					r = r.WithContext(tc.ctx)
				}
				return r
			}
			o1 := *tc.o
			want, wantLines, wantRec := serveLogged(func(l *slog.Logger) func(http.Handler) http.Handler {
				return httplog.RequestLogger(l, &o1)
			}, tc.min, tc.handler, req())
			s := tc.o.Schema
			if s == nil {
				s = httplog.SchemaECS
			}
			for i := range wantLines {
				normalize(t, wantLines[i], s)
				if tc.unsent != 0 && wantLines[i][s.ResponseStatus] == 200.0 {
					wantLines[i][s.ResponseStatus] = float64(tc.unsent)
					wantLines[i]["level"] = "ERROR"
					wantLines[i]["msg"] = strings.Replace(wantLines[i]["msg"].(string), "HTTP 200", fmt.Sprintf("HTTP %d", tc.unsent), 1)
				}
				if tc.aborts {
					wantLines[i]["level"] = "ERROR"
				}
			}
			if tc.aborts {
				if wantRec != nil {
					t.Fatalf("httplog panicked with %v", wantRec)
				}
				wantRec = http.ErrAbortHandler
			}
			// NewLogHandler gets the line without a slog.Record: the
			// same line.
			for _, own := range []bool{false, true} {
				o2 := *tc.o
				got, gotLines, gotRec := serveLogged(func(l *slog.Logger) func(http.Handler) http.Handler {
					return AccessLog(l, &o2)
				}, tc.min, tc.handler, req(), own)
				if want.Code != got.Code || want.Body.String() != got.Body.String() {
					t.Errorf("response %d %q, httplog's %d %q", got.Code, got.Body, want.Code, want.Body)
				}
				if (wantRec == nil) != (gotRec == nil) || wantRec != nil && wantRec != gotRec {
					t.Errorf("panicked with %v, httplog with %v", gotRec, wantRec)
				}
				if len(wantLines) != len(gotLines) {
					t.Fatalf("NewLogHandler %v: %d lines, httplog's %d:\n%v\n%v", own, len(gotLines), len(wantLines), gotLines, wantLines)
				}
				for i := range gotLines {
					if gotLines[i][AttrTarget] != "go" {
						t.Errorf("graft.target %v, want go", gotLines[i][AttrTarget])
					}
					normalize(t, gotLines[i], s)
					if !reflect.DeepEqual(gotLines[i], wantLines[i]) {
						t.Errorf("NewLogHandler %v: line\n%v\nhttplog's\n%v", own, gotLines[i], wantLines[i])
					}
				}
			}
		})
	}
}

// SetAttrs reaches the line in both modes; httplog.SetAttrs only when the
// options need httplog's logger.
func TestSetAttrs(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetAttrs(r.Context(), slog.String("graft.test", "mine"), slog.Int("graft.n", 3))
		httplog.SetAttrs(r.Context(), slog.String("graft.httplog", "theirs"))
	})
	bodies := DefaultLogOptions()
	bodies.LogRequestBody = func(*http.Request) bool { return true }
	for _, tc := range []struct {
		name        string
		o           *httplog.Options
		httplogSeen bool
	}{
		{"graft", DefaultLogOptions(), false},
		{"httplog", bodies, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, lines, _ := serveLogged(func(l *slog.Logger) func(http.Handler) http.Handler {
				return Stack(Options{Logger: l, Log: tc.o})
			}, 0, h, httptest.NewRequest("POST", "/x", strings.NewReader("body")))
			if len(lines) != 1 {
				t.Fatalf("%d lines", len(lines))
			}
			l := lines[0]
			if l["graft.test"] != "mine" || l["graft.n"] != 3.0 || l[AttrRequestID] == nil {
				t.Errorf("line %v lacks SetAttrs's attributes", l)
			}
			if _, seen := l["graft.httplog"]; seen != tc.httplogSeen {
				t.Errorf("httplog.SetAttrs's attribute seen %v, want %v", seen, tc.httplogSeen)
			}
			if _, seen := l["http.request.body.content"]; seen != tc.httplogSeen {
				t.Errorf("body logged %v, want %v", seen, tc.httplogSeen)
			}
		})
	}
	// Outside the access log, SetAttrs does nothing.
	SetAttrs(context.Background(), slog.String("graft.x", "y"))
}

// The brief line: rounded duration, client without port, no route for
// the fallback, graft.queued only from 100ms.
func TestBrief(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queued time.Duration
		route  bool
		queue  any
	}{
		{"fast", 3 * time.Millisecond, false, nil},
		{"queued", 123456789 * time.Nanosecond, false, "123ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := DefaultLogOptions()
			o.Schema = httplog.SchemaECS.Concise(true)
			s := *o.Schema
			s.RequestRemoteIP = "client"
			o.Schema = &s
			h := Stack(Options{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Log: o, Brief: true})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					tr := wsgi.TraceFrom(r.Context())
					tr.Served, tr.Worker, tr.Queued = true, 42, tc.queued
					time.Sleep(1234567 * time.Nanosecond)
				}))
			r := httptest.NewRequest("GET", "/p", nil)
			r.RemoteAddr = "192.0.2.1:5555"
			h.ServeHTTP(httptest.NewRecorder(), r)
			line := buf.String()
			if !regexp.MustCompile(`msg="GET /p => HTTP 200 \(\d+(\.\d{1,2})?ms\)"`).MatchString(line) {
				t.Errorf("message not rounded: %s", line)
			}
			if !strings.Contains(line, " client=192.0.2.1 ") {
				t.Errorf("client not without port: %s", line)
			}
			if !strings.Contains(line, "graft.worker=42") || !strings.Contains(line, "graft.target=wsgi") {
				t.Errorf("worker or target missing: %s", line)
			}
			if tc.queue == nil && strings.Contains(line, AttrQueued) || tc.queue != nil && !strings.Contains(line, AttrQueued+"="+tc.queue.(string)) {
				t.Errorf("queued: %s", line)
			}
		})
	}
}

// hijackRecorder is a ResponseWriter with every optional interface of
// net/http's HTTP/1 writer.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
	readFrom bool
}

func (w *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return nil, nil, nil
}

func (w *hijackRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return io.Copy(w.ResponseRecorder, r)
}

type pushRecorder struct {
	*httptest.ResponseRecorder
	pushed string
}

func (w *pushRecorder) Push(target string, _ *http.PushOptions) error {
	w.pushed = target
	return nil
}

// plainWriter has no optional interface.
type plainWriter struct{ h http.Header }

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *plainWriter) WriteHeader(int)             {}

// The access log's response writer keeps the underlying writer's
// optional interfaces, and http.ResponseController reaches them.
func TestAccessLogResponseWriter(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		w                      func() http.ResponseWriter
		flush, hijack, rf, psh bool
	}{
		{"http1", func() http.ResponseWriter { return &hijackRecorder{ResponseRecorder: httptest.NewRecorder()} }, true, true, true, false},
		{"http2", func() http.ResponseWriter { return &pushRecorder{ResponseRecorder: httptest.NewRecorder()} }, true, false, false, true},
		{"flusher", func() http.ResponseWriter { return httptest.NewRecorder() }, true, false, false, false},
		{"plain", func() http.ResponseWriter { return &plainWriter{h: http.Header{}} }, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			under := tc.w()
			h := Stack(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, fl := w.(http.Flusher)
				_, hj := w.(http.Hijacker)
				_, rf := w.(io.ReaderFrom)
				_, ps := w.(http.Pusher)
				if fl != tc.flush || hj != tc.hijack || rf != tc.rf || ps != tc.psh {
					t.Errorf("flusher %v hijacker %v readerfrom %v pusher %v", fl, hj, rf, ps)
				}
				rc := http.NewResponseController(w)
				if err := rc.Flush(); (err == nil) != tc.flush {
					t.Errorf("ResponseController.Flush: %v", err)
				}
				if _, _, err := rc.Hijack(); (err == nil) != tc.hijack {
					t.Errorf("ResponseController.Hijack: %v", err)
				}
				if rf {
					w.(io.ReaderFrom).ReadFrom(strings.NewReader("12345"))
				} else {
					io.WriteString(w, "12345")
				}
				if ps {
					w.(http.Pusher).Push("/style.css", nil)
				}
			}))
			h.ServeHTTP(under, httptest.NewRequest("GET", "/", nil))
			lines := logLines(t, &buf)
			if len(lines) != 1 || lines[0]["http.response.body.bytes"] != 5.0 || lines[0]["http.response.status_code"] != 200.0 {
				t.Errorf("lines %v", lines)
			}
			switch u := under.(type) {
			case *hijackRecorder:
				if !u.hijacked || !u.readFrom {
					t.Errorf("hijacked %v readFrom %v", u.hijacked, u.readFrom)
				}
			case *pushRecorder:
				if u.pushed != "/style.css" {
					t.Errorf("pushed %q", u.pushed)
				}
			}
		})
	}
}

// Informational responses pass through; the first final status is the
// one logged (over a real connection: httptest's recorder takes a 1xx
// for the final status).
func TestAccessLogStatus(t *testing.T) {
	var buf bytes.Buffer
	srv := httptest.NewServer(Stack(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, "ab")
	})))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := logLines(t, &buf)
	if resp.StatusCode != http.StatusCreated || len(lines) != 1 || lines[0]["http.response.status_code"] != 201.0 || lines[0]["http.response.body.bytes"] != 2.0 {
		t.Errorf("code %d lines %v", resp.StatusCode, lines)
	}
}

func TestRound3(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{2262375 * time.Nanosecond, "2.26ms"},
		{436190 * time.Nanosecond, "436µs"},
		{25648 * time.Nanosecond, "25.6µs"},
		{time.Minute + 2345678*time.Microsecond, "1m2.3s"},
		{999, "999ns"},
		{3 * time.Hour, "3h0m0s"},
	} {
		if got := round3(tc.in).String(); got != tc.want {
			t.Errorf("round3(%v) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

// appendURL writes what url.URL.String does, for request URIs of every
// form.
func FuzzAppendURL(f *testing.F) {
	for _, s := range []string{"/", "/a/b?x=1&y=%20", "/a%2Fb/c%20d", "/p?", "*", "http://h.example/x?q", "//h/x",
		"/a:b", "/x#frag", "/é", "/%zz", "https://u:p@h:8/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.ParseRequestURI(s)
		if err != nil {
			return
		}
		if got, want := string(appendURL([]byte("x"), u)), "x"+u.String(); got != want {
			t.Errorf("appendURL(%q) = %q; want %q", s, got, want)
		}
	})
}

// Over a real connection, http.ResponseController reaches net/http's
// writer through the access log's: hijacking and flushing work, and
// io.Copy from a file takes the ReaderFrom path; the line counts the bytes.
func TestAccessLogRealConnection(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(file, []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		body    string
		bytes   float64
	}{
		{"hijack", func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			brw.Flush()
		}, "hi", 0},
		{"flush", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part1 ")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			io.WriteString(w, "part2")
		}, "part1 part2", 11},
		{"readfrom", func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(file)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Error("no io.ReaderFrom")
			}
			io.Copy(w, f)
		}, "from a file", 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var buf bytes.Buffer
			lw := &lockedWriter{&buf, &mu}
			logged := Stack(Options{Logger: slog.New(slog.NewJSONHandler(lw, nil))})(tc.handler)
			served := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				logged.ServeHTTP(w, r)
				served <- struct{}{} // the line is written
			}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			<-served
			mu.Lock()
			defer mu.Unlock()
			lines := logLines(t, &buf)
			if len(lines) != 1 || lines[0]["http.response.body.bytes"] != tc.bytes {
				t.Errorf("lines %v, want one with %v bytes", lines, tc.bytes)
			}
		})
	}
}

// TestAccessLogCompleteNotAborted checks that a client that leaves once
// it has the whole response (its Content-Length) is not logged as gone
// before the response was sent, and that one that leaves earlier is.
func TestAccessLogCompleteNotAborted(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	body := func(cl string, n int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cl != "" {
				w.Header().Set("Content-Length", cl)
			}
			w.Write([]byte("0123456789"[:n]))
		})
	}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		handler http.Handler
		aborted bool
	}{
		{"whole body, client gone", canceled, body("10", 10), false},
		{"part of the body, client gone", canceled, body("10", 5), true},
		{"no Content-Length, client gone", canceled, body("", 10), true},
		{"whole body, client there", context.Background(), body("10", 10), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, own := range []bool{false, true} {
				r := httptest.NewRequest("GET", "/dl", nil).WithContext(tc.ctx)
				_, lines, _ := serveLogged(func(l *slog.Logger) func(http.Handler) http.Handler {
					return AccessLog(l, DefaultLogOptions())
				}, 0, tc.handler, r, own)
				if len(lines) != 1 {
					t.Fatalf("%d lines", len(lines))
				}
				_, has := lines[0][httplog.ErrorKey]
				if has != tc.aborted {
					t.Errorf("NewLogHandler %v: error attribute %v, want aborted %v: %v", own, has, tc.aborted, lines[0])
				}
			}
		})
	}
}

// A client that went away before anything was sent is logged with nginx's
// 499, as the metrics count it; the line said 200, a status nobody sent.
func TestAccessLogClientGone(t *testing.T) {
	var buf bytes.Buffer
	h := Stack(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // queued for a worker, say, when the client left
	}))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/legacy", nil).WithContext(gone))
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0]["http.response.status_code"] != 499.0 || lines[0]["level"] != "WARN" ||
		lines[0]["error.type"] != "ClientAborted" {
		t.Errorf("lines %v; want one WARN line with status 499 and ClientAborted", lines)
	}
}
