package wsgi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestLogging: wsgi.errors, print to stdout and stderr, and `logging`
// records all reach Config.Logger tagged with the worker's pid.
func TestLogging(t *testing.T) {
	variants(t, "logs", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		pid := pidOf(t, a.srv.URL+"/?m=M1")
		markers := []string{"errors-write-M1", "errors-lines-M1", "stdout-print-M1", "stderr-print-M1",
			"logging-warning-M1", "logging-error-M1"}
		logHas(t, a.logs, 5*time.Second, markers...)
		for _, m := range markers {
			if l := logLine(a.logs, m); !strings.Contains(l, fmt.Sprintf("graft.worker=%d", pid)) {
				t.Errorf("log line for %s not tagged graft.worker=%d: %s", m, pid, l)
			}
		}
		if l := logLine(a.logs, "logging-warning-M1"); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "log.logger=apps") {
			t.Errorf("logging record lost its level or logger: %s", l)
		}
		if l := logLine(a.logs, "logging-error-M1"); !strings.Contains(l, "level=ERROR") {
			t.Errorf("logging.error not at ERROR: %s", l)
		}
	})
}

// TestErrorsPerRequest: wsgi.errors is one stream per request, so that
// the partial lines of concurrent requests on a threaded worker never mix.
func TestErrorsPerRequest(t *testing.T) {
	a := startApp(t, "errors_lines", Config{Workers: 1, Threads: 2}, nil)
	var wg sync.WaitGroup
	for _, tok := range []string{"first", "second"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustGet(t, a.srv.URL+"/?s=0.3&tok="+tok)
		}()
		time.Sleep(100 * time.Millisecond) // the second begins while the first sleeps
	}
	wg.Wait()
	logHas(t, a.logs, 5*time.Second, "first begins ... first ends", "second begins ... second ends")
}

// TestStartResponseErrors: misuse of start_response is a 500 with a clear
// message in the log, and the worker keeps serving. Every case runs twice:
// the worker remembers statuses and header names it has checked, and the
// second time round they are remembered ("200 OK", X-Split, whose name was
// fine the first time), yet every response must still fail.
func TestStartResponseErrors(t *testing.T) {
	cases := []struct{ name, msg string }{
		{"status", "is not '<3 digits> <reason>'"},
		{"status_noreason", "is not '<3 digits> <reason>'"},
		{"status_low", "status '099 Low': a status code is 100 to 999, and 1xx cannot be sent by a WSGI app"},
		{"status_type", "status must be str"},
		{"value_type", "name and value must be str"},
		{"name_type", "name and value must be str"},
		{"crlf", "contains CR, LF"},
		{"hop", "hop-by-hop header Connection"},
		{"hop_te", "hop-by-hop header Transfer-Encoding"},
		{"not_list", "headers must be a list"},
		{"not_tuple", "is not a (name, value) tuple"},
		{"twice", "start_response called a second time without exc_info"},
		{"no_start", "without calling start_response"},
		{"non_latin1", "is not latin-1"},
		{"length_twice", "Content-Length given twice"},
		{"length_huge", "invalid Content-Length"},
		{"length_superscript", "invalid Content-Length"},
		{"length_nbsp", "invalid Content-Length"},
		{"huge_value", "response headers over 1048576 bytes"},
		// net/http sends no reason phrase, but Go got it all: a 200 MB one
		// took 24 s and 400 MB of the Go process, then a 200 OK.
		{"huge_status", "start_response: status of 2097156 characters, over 1048576"},
		{"many_headers", "response headers over 1048576 bytes"},
		{"value_unprintable", "header <unprintable tuple object>: name and value must be str, not str and _Unprintable"},
	}
	variants(t, "bad_start", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		var pid0 int
		for i := range 2 * len(cases) {
			tc := cases[i%len(cases)]
			round := []string{"first", "again"}[i/len(cases)]
			t.Run(round+"/"+tc.name, func(t *testing.T) {
				resp, b, err := get(t, nil, "GET", a.srv.URL+"/?case="+tc.name, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 500 {
					t.Errorf("status %d, want 500", resp.StatusCode)
				}
				if bytes.Contains(b, []byte("should not")) || resp.Header.Get("X-Split") != "" || resp.Header.Get("Set-Cookie") != "" {
					t.Errorf("the app's response leaked: %q %v", b, resp.Header)
				}
				if !strings.Contains(app, "validated") { // the validator raises its own AssertionErrors
					logHas(t, a.logs, 2*time.Second, tc.msg)
				}
				logHas(t, a.logs, 2*time.Second, "url.path=/")
				if pid0 == 0 {
					pid0 = a.c.tr.(*pool).anyPID()
				} else if p := a.c.tr.(*pool).anyPID(); p != pid0 {
					t.Errorf("worker changed from %d to %d", pid0, p)
				}
			})
		}
	})
}

// TestStrSubclassHeaders: a status, header names and values that are str
// subclasses (markupsafe.Markup, as Flask apps pass around, or an app's
// own) are native strings, as gunicorn takes them, in a list subclass
// and a namedtuple as well as a list and tuples: the response carries
// the characters they hold (not what their own __str__, strip or encode
// answer), in the final response and in a 103 Early Hints. They were
// refused with a 500 ("name and value must be str"). None is still
// refused. Not run under wsgiref.validate, which refuses subclasses.
func TestStrSubclassHeaders(t *testing.T) {
	pythontest.Python(t, "markupsafe")
	a := startApp(t, "str_subclass", Config{}, nil)
	for round := range 2 { // the second time, the names and the status are remembered
		hints, resp, body := getWithHints(t, a.srv.Client(), a.srv.URL+"/")
		if resp.StatusCode != 299 || body != "subclassed" {
			t.Fatalf("round %d: got %d %q, want 299 \"subclassed\"; log:\n%s", round, resp.StatusCode, body, a.logs.String())
		}
		want := map[string]string{
			"Content-Type":   "text/plain; charset=<utf-8>",
			"X-Own":          "a & b", // optional whitespace trimmed, as for any value
			"X-Markup":       "<em>x</em>",
			"X-Named":        "tuple",
			"Content-Length": "10",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("round %d: header %s = %q, want %q", round, k, got, v)
			}
		}
		if len(hints) != 1 || hints[0].code != 103 || hints[0].header.Get("Link") != "</style.css>; rel=preload" {
			t.Errorf("round %d: early hints %v, want one 103 with the Link", round, hints)
		}
	}
	resp, b, err := get(t, nil, "GET", a.srv.URL+"/?case=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || bytes.Contains(b, []byte("should not")) {
		t.Errorf("a None value: %d %q, want a 500", resp.StatusCode, b)
	}
	logHas(t, a.logs, 2*time.Second, "name and value must be str")
}

// anyPID returns the pid of some live worker.
func (pl *pool) anyPID() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for p := range pl.procs {
		return p.pid
	}
	return 0
}

// TestResponseBasics covers write(), start_response on first iteration,
// and exc_info replacing headers not yet sent.
func TestResponseBasics(t *testing.T) {
	cases := []struct {
		app        string
		status     int
		body       string
		header     map[string]string
		noHeader   []string
		wantLength string
	}{
		{app: "write_app", status: 200, body: "one,two,three,four"},
		{app: "write_cl", status: 200, body: "01234", wantLength: "5"},
		{app: "late_start", status: 201, body: "late", header: map[string]string{"X-Late": "yes"}},
		{app: "exc_before", status: 503, body: "error page", header: map[string]string{"X-Second": "2"}, noHeader: []string{"X-First"}},
		{app: "hello", status: 200, body: "Hello, world!\n", wantLength: "14"},
	}
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			variants(t, tc.app, func(t *testing.T, app string) {
				a := startApp(t, app, Config{}, nil)
				resp, b, err := get(t, nil, "GET", a.srv.URL+"/", nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status || string(b) != tc.body {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
				}
				for k, v := range tc.header {
					if resp.Header.Get(k) != v {
						t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), v)
					}
				}
				for _, k := range tc.noHeader {
					if v := resp.Header.Get(k); v != "" {
						t.Errorf("header %s = %q, want none", k, v)
					}
				}
				if tc.wantLength != "" && resp.Header.Get("Content-Length") != tc.wantLength {
					t.Errorf("Content-Length %q, want %q", resp.Header.Get("Content-Length"), tc.wantLength)
				}
			})
		})
	}
}

// TestHeadersWaitForBody: headers go out with the first non-empty chunk,
// not at start_response nor on empty chunks.
func TestHeadersWaitForBody(t *testing.T) {
	variants(t, "empty_chunks", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		type result struct {
			resp *http.Response
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := http.Get(a.srv.URL + "/?go=go")
			done <- result{resp, err}
		}()
		select {
		case r := <-done:
			t.Fatalf("headers arrived before any body chunk: %v %v", r.resp, r.err)
		case <-time.After(400 * time.Millisecond):
		}
		touch(t, a.dir, "go")
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		b, _ := io.ReadAll(r.resp.Body)
		r.resp.Body.Close()
		if string(b) != "data" || r.resp.Header.Get("X-Head") != "sent" {
			t.Errorf("got %q %v", b, r.resp.Header)
		}
	})
}

// TestExcInfoAfterHeaders: start_response(exc_info) after headers were
// sent re-raises, and the connection is aborted; the worker lives on.
func TestExcInfoAfterHeaders(t *testing.T) {
	variants(t, "exc_after", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		pid := a.c.tr.(*pool).anyPID()
		for i := 0; i < 2; i++ {
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/", nil)
			if err == nil {
				t.Errorf("response completed (%d %q); want an aborted connection", resp.StatusCode, b)
			}
			if !strings.HasPrefix(string(b), "partial") {
				t.Errorf("body %q, want the partial chunk", b)
			}
		}
		logHas(t, a.logs, 2*time.Second, "exc-after-marker", "aborting the connection")
		if p := a.c.tr.(*pool).anyPID(); p != pid {
			t.Errorf("worker %d replaced by %d", pid, p)
		}
	})
}

// TestExcInfoNoException: start_response with an exc_info that holds no
// exception (sys.exc_info() outside an except block, (None, None, None))
// replaces headers not yet sent, as any exc_info does (PEP 3333, gunicorn,
// wsgiref); after headers were sent it is an error, as PEP 3333 requires,
// with a message saying so (it was an AttributeError: 'NoneType' object
// has no attribute 'with_traceback'), and so is an exc_info that is no
// sys.exc_info() tuple. The connection is aborted; the worker lives on.
func TestExcInfoNoException(t *testing.T) {
	a := startApp(t, "exc_info_odd", Config{}, nil)
	pid := a.c.tr.(*pool).anyPID()
	t.Run("none_before", func(t *testing.T) {
		resp, b, err := get(t, nil, "GET", a.srv.URL+"/?case=none_before", nil)
		if err != nil || resp.StatusCode != 503 || string(b) != "replaced" || resp.Header.Get("X-First") != "" {
			t.Errorf("got %d %q %v %v, want 503 \"replaced\" without X-First", resp.StatusCode, b, resp.Header, err)
		}
	})
	for _, tc := range []struct{ name, msg string }{
		{"none_after", "start_response called with an exc_info holding no exception after the response headers were sent"},
		{"junk_after", "start_response: exc_info must be a sys.exc_info() tuple, not tuple ('junk',)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/?case="+tc.name, nil)
			if err == nil {
				t.Errorf("response completed (%d %q); want an aborted connection", resp.StatusCode, b)
			}
			if string(b) != "partial" {
				t.Errorf("body %q, want the partial chunk", b)
			}
			logHas(t, a.logs, 2*time.Second, tc.msg, "aborting the connection")
		})
	}
	if strings.Contains(a.logs.String(), "AttributeError") {
		t.Errorf("an AttributeError was logged:\n%s", a.logs.String())
	}
	if p := a.c.tr.(*pool).anyPID(); p != pid {
		t.Errorf("worker %d replaced by %d", pid, p)
	}
}

// unwrapOnlyWriter is a middleware's writer that offers http.Flusher only
// through Unwrap, as http.ResponseController looks for it (a logger of the
// user's own, between the router and the container).
type unwrapOnlyWriter struct{ http.ResponseWriter }

func (w unwrapOnlyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestStreaming: each chunk reaches the client before the app produces the
// next one, also through a middleware whose writer has http.Flusher only
// behind Unwrap (until 2026-12-02 such a stream was held in net/http's
// buffer until 4 KiB or the end).
func TestStreaming(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"net/http's writer", nil},
		{"a writer with only Unwrap", func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(unwrapOnlyWriter{w}, r) })
		}},
	}
	for _, threads := range []int{1, 2} {
		for _, wr := range wrappers {
			t.Run(fmt.Sprint("threads=", threads, "/", wr.name), func(t *testing.T) {
				testStreaming(t, threads, wr.wrap)
			})
		}
	}
}

func testStreaming(t *testing.T, threads int, wrap func(http.Handler) http.Handler) {
	variants(t, "stream", func(t *testing.T, app string) {
		a := startApp(t, app, Config{Threads: threads}, wrap)
		resp, err := http.Get(a.srv.URL + "/?n=4&tok=s")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 4; i++ {
			ev := make(chan string, 1)
			go func() {
				var s string
				for !strings.HasSuffix(s, "\n\n") {
					l, err := br.ReadString('\n')
					s += l
					if err != nil {
						break
					}
				}
				ev <- s
			}()
			select {
			case s := <-ev:
				if want := fmt.Sprintf("data: chunk %d\n\n", i); s != want {
					t.Fatalf("chunk %d = %q, want %q", i, s, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("chunk %d did not arrive while the app waits", i)
			}
			if exists(a.dir, fmt.Sprintf("s-produced-%d", i+1)) {
				t.Fatalf("chunk %d produced before the test released it", i+1)
			}
			if i < 3 {
				touch(t, a.dir, fmt.Sprintf("s-%d", i+1))
			}
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Errorf("trailing bytes %q", rest)
		}
	})
}

// TestSSE: events spaced by sleeps arrive spaced, not all at the end.
func TestSSE(t *testing.T) {
	variants(t, "sse", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		start := time.Now()
		resp, err := http.Get(a.srv.URL + "/?n=4&gap=0.2")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
		}
		br := bufio.NewReader(resp.Body)
		var at []time.Duration
		for i := 0; i < 4; i++ {
			l, err := br.ReadString('\n')
			if err != nil || l != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("event %d: %q %v", i, l, err)
			}
			br.ReadString('\n')
			at = append(at, time.Since(start))
		}
		// The app sleeps 0.6 s between the first event and the last:
		// buffered, they would arrive together. (Gaps between single
		// events say nothing on a loaded machine, where one event may be
		// late and the next on time.)
		if spread := at[3] - at[0]; spread < 300*time.Millisecond {
			t.Errorf("the last event came %v after the first: buffered, not streamed (%v)", spread, at)
		}
	})
}

// TestLateWrite: write() called once the response has ended (the app
// kept it, and calls it from a thread of its own) raises, and the worker
// serves on. It sent frames for a stream Go had forgotten, which dropped
// them without a word, and in a single-threaded worker it read the
// socket to Go from the app's thread, behind the main thread's back.
func TestLateWrite(t *testing.T) {
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			a := startApp(t, "dispatch", Config{Threads: threads}, nil)
			if b := mustGet(t, a.srv.URL+"/late_write"); string(b) != "early" {
				t.Fatalf("body %q, want early", b)
			}
			waitFor(t, 5*time.Second, "the late write", func() bool { return exists(a.dir, "late-write") })
			if got, want := readFile(t, a.dir, "late-write"), "RuntimeError: write() called after the response ended"; got != want {
				t.Errorf("the late write(): %q, want %q", got, want)
			}
			if b := mustGet(t, a.srv.URL+"/hello"); string(b) != "Hello, world!\n" {
				t.Errorf("next request: %q", b)
			}
		})
	}
}

// TestContentLength: never more bytes than the app's Content-Length, and a
// warning when the app sent more; fewer closes the connection; HEAD keeps headers without a body; 204 and 304
// have no body.
func TestContentLength(t *testing.T) {
	cases := []struct {
		name, method, query string
		status              int
		body                string
		length              string // "" = don't check, "-" = must be absent
		truncated           bool
	}{
		{"more, list", "GET", "cl=5&body=0123456789&how=list", 200, "01234", "5", false},
		{"more, tuple", "GET", "cl=5&body=0123456789&how=tuple", 200, "01234", "5", false},
		{"more, generator", "GET", "cl=5&body=0123456789&how=gen", 200, "01234", "5", false},
		{"exact, generator", "GET", "cl=10&body=0123456789&how=gen", 200, "0123456789", "10", false},
		{"none, list: computed", "GET", "body=0123456789&how=list", 200, "0123456789", "10", false},
		{"none, empty", "GET", "how=empty", 200, "", "0", false},
		{"fewer, list", "GET", "cl=10&body=abc&how=list", 200, "abc", "10", true},
		{"fewer, generator", "GET", "cl=10&body=abc&how=gen", 200, "abc", "10", true},
		{"fewer, empty", "GET", "cl=4&how=empty", 200, "", "4", true},
		{"HEAD list", "HEAD", "cl=13&body=0123456789abc&how=list", 200, "", "13", false},
		{"HEAD generator", "HEAD", "cl=13&body=0123456789abc&how=gen", 200, "", "13", false},
		{"HEAD empty body keeps length", "HEAD", "cl=13&how=empty", 200, "", "13", false},
		// Spaces around the value are optional whitespace (RFC 9110 5.5),
		// which the client never sees: served as gunicorn serves them.
		{"spaces around it, list", "GET", "cl=%205%20&body=0123456789&how=list", 200, "01234", "5", false},
		{"spaces around it, generator", "GET", "cl=%205%20&body=0123456789&how=gen", 200, "01234", "5", false},
		{"spaces around it, exact", "GET", "cl=10%20&body=0123456789&how=gen", 200, "0123456789", "10", false},
	}
	variants(t, "length", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, b, err := get(t, nil, tc.method, a.srv.URL+"/?"+tc.query, nil)
				if tc.truncated {
					if err != io.ErrUnexpectedEOF {
						t.Errorf("body read error %v, want unexpected EOF (connection closed)", err)
					}
				} else if err != nil {
					t.Errorf("body read error %v", err)
				}
				if resp.StatusCode != tc.status || string(b) != tc.body {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
				}
				// The validator hides the list behind an iterator: no length to compute.
				computed := strings.Contains(tc.name, "computed")
				if got := resp.Header.Get("Content-Length"); tc.length != "" && got != tc.length &&
					!(computed && strings.Contains(app, "validated")) {
					t.Errorf("Content-Length %q, want %q", got, tc.length)
				}
			})
		}
		if !strings.Contains(a.logs.String(), "fewer bytes than its Content-Length") {
			t.Errorf("short response not logged")
		}
		// A body cut at the Content-Length is the app's bug (a length
		// counted in characters, not bytes): the client cannot tell, so
		// the log must (as waitress warns), once per response.
		const over = "wsgi: app sent more bytes than its Content-Length (5) for GET /; the rest was not sent"
		waitFor(t, 5*time.Second, "the warnings of the 5 responses cut at their Content-Length", func() bool {
			return strings.Count(a.logs.String(), over) >= 5
		})
		if n := strings.Count(a.logs.String(), "more bytes than its Content-Length"); n != 5 {
			t.Errorf("%d warnings of a body over its Content-Length, want 5 (one per response cut):\n%s", n, a.logs)
		}
	})
	statusCases := []struct {
		query    string
		code     int
		noLength bool
	}{
		{"code=204", 204, true},
		{"code=204&how=gen", 204, true},
		{"code=204&cl=16", 204, true},
		{"code=304", 304, false},
		{"code=304&how=gen", 304, false},
		{"code=304&cl=16", 304, false},
	}
	variants(t, "status", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		for _, tc := range statusCases {
			t.Run(tc.query, func(t *testing.T) {
				// Raw, so that a body the client would ignore is seen.
				conn, err := net.Dial("tcp", a.srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(conn, "GET /?%s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", tc.query)
				raw, _ := io.ReadAll(conn)
				head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
				if !strings.HasPrefix(head, fmt.Sprintf("HTTP/1.1 %d ", tc.code)) {
					t.Fatalf("response %q", raw)
				}
				if body != "" {
					t.Errorf("body %q, want none", body)
				}
				if tc.noLength && strings.Contains(strings.ToLower(head), "content-length") {
					t.Errorf("Content-Length on %d: %q", tc.code, head)
				}
				if !strings.Contains(head, "X-Status: ") {
					t.Errorf("the app's headers are missing: %q", head)
				}
			})
		}
	})
}

// TestCloseCalled: close() on the iterable is called after success, after
// an error, and within a second of the client going away mid-stream; the
// worker is free again afterwards.
func TestCloseCalled(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprint("threads=", threads), func(t *testing.T) {
			variants(t, "closing", func(t *testing.T, app string) {
				a := startApp(t, app, Config{Workers: 1, Threads: threads}, nil)
				closed := func(tok string) func() bool {
					return func() bool { return exists(a.dir, tok+"-closed") }
				}
				t.Run("success", func(t *testing.T) {
					b := mustGet(t, a.srv.URL+"/?mode=ok&tok=ok")
					if string(b) != "first;last" {
						t.Errorf("body %q", b)
					}
					waitFor(t, time.Second, "close() after success", closed("ok"))
				})
				t.Run("error during iteration", func(t *testing.T) {
					_, b, err := get(t, nil, "GET", a.srv.URL+"/?mode=error&tok=err", nil)
					if err == nil || string(b) != "first;" {
						t.Errorf("got %q %v, want the first chunk then an abort", b, err)
					}
					waitFor(t, time.Second, "close() after an error", closed("err"))
					logHas(t, a.logs, time.Second, "closing-iter-error")
				})
				t.Run("error before the first chunk", func(t *testing.T) {
					resp, _, _ := get(t, nil, "GET", a.srv.URL+"/?mode=before&tok=before", nil)
					if resp.StatusCode != 500 {
						t.Errorf("status %d, want 500", resp.StatusCode)
					}
					waitFor(t, time.Second, "close() after an early error", closed("before"))
				})
				// A stream with pauses between its blocks, and a burst of
				// small blocks with none, in which a single-threaded worker
				// looks for the CANCEL once per CANCEL_LOOK_INTERVAL only.
				for _, mode := range []string{"forever", "burst"} {
					t.Run("client disconnect, "+mode, func(t *testing.T) {
						tok := "gone-" + mode
						resp, err := http.Get(a.srv.URL + "/?mode=" + mode + "&tok=" + tok)
						if err != nil {
							t.Fatal(err)
						}
						buf := make([]byte, 6)
						if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first;" {
							t.Fatalf("read %q %v", buf, err)
						}
						resp.Body.Close() // closes the connection mid-stream
						waitFor(t, time.Second, "close() after the client went away", closed(tok))
						// The only worker thread(s) must be free again.
						for i := 0; i < threads; i++ {
							if b := mustGet(t, a.srv.URL+"/?mode=ok&tok=after"); string(b) != "first;last" {
								t.Errorf("next request got %q", b)
							}
						}
					})
				}
				// A response that can have no body (HEAD, 304, 204) is complete
				// with its head: the rest of an endless stream (an SSE view,
				// a big export hit by a monitor's HEAD) is not iterated into
				// the void. Before, the worker ran it until Timeout, and the
				// client's next request on the connection waited for it.
				for _, tc := range []struct{ name, method, query string }{
					{"HEAD of a stream", "HEAD", "mode=forever&tok=head"},
					{"304 of a stream", "GET", "mode=forever&tok=nm&status=304+Not+Modified"},
					{"204 of a stream", "GET", "mode=forever&tok=nc&status=204+No+Content"},
				} {
					if tc.method != "HEAD" && strings.Contains(app, "validated") {
						continue // wsgiref's validator refuses a body on 204 and 304
					}
					t.Run(tc.name, func(t *testing.T) {
						resp, b, err := get(t, nil, tc.method, a.srv.URL+"/?"+tc.query, nil)
						if err != nil || len(b) != 0 || resp.StatusCode >= 500 {
							t.Fatalf("got %d %q %v, want the head alone", resp.StatusCode, b, err)
						}
						tok := strings.TrimPrefix(tc.query[strings.Index(tc.query, "tok="):], "tok=")
						tok, _, _ = strings.Cut(tok, "&")
						waitFor(t, 5*time.Second, "close() once the head is out", closed(tok))
						// On the same keep-alive connection, and every
						// thread free again.
						for i := 0; i < threads; i++ {
							if b := mustGet(t, a.srv.URL+"/?mode=ok&tok=after"); string(b) != "first;last" {
								t.Errorf("next request got %q", b)
							}
						}
					})
				}
			})
		})
	}
}

// TestFileWrapper: wsgi.file_wrapper around a real file (descriptor passed
// to Go) from a non-zero position and with a short Content-Length, and
// around a BytesIO (iteration); around a GzipFile, whose fileno() is the
// compressed file's (iterated: the decompressed bytes its read() returns,
// which until 2026-12-01 were sent as the compressed file), and around an
// object that hands read() on to a real file (passed to Go all the same).
func TestFileWrapper(t *testing.T) {
	data := make([]byte, 300000)
	rand.Read(data)
	cases := []struct {
		name, query string
		want        []byte
		length      string // Content-Length, when the worker passes the file to Go
	}{
		{"file", "file=data.bin", data, "300000"},
		{"file from offset", "file=data.bin&offset=1000", data[1000:], "299000"},
		{"file from offset, short Content-Length", "file=data.bin&offset=1000&cl=500", data[1000:1500], "500"},
		{"file, Content-Length 0", "file=data.bin&cl=0", nil, "0"},
		{"file, Content-Length with spaces around it", "file=data.bin&cl=%20500%20", data[:500], "500"},
		{"empty file", "file=empty.bin", nil, "0"},
		{"bytesio", "file=data.bin&kind=bytesio", data, ""},
		{"bytesio from offset, short Content-Length", "file=data.bin&kind=bytesio&offset=7&cl=100", data[7:107], "100"},
		// Its read() decompresses, its fileno() is the compressed file's:
		// iterated, never the bytes on disk.
		{"gzip file", "file=data.gz&kind=gzip", data, ""},
		{"proxy of a file (Django's File)", "file=data.bin&kind=proxy&offset=1000", data[1000:], "299000"},
	}
	variants(t, "filewrap", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		if err := os.WriteFile(filepath.Join(a.dir, "data.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		touch(t, a.dir, "empty.bin")
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		if err := os.WriteFile(filepath.Join(a.dir, "data.gz"), gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for i := 0; i < 2; i++ { // twice: the worker must be reusable
					resp, b, err := get(t, nil, "GET", a.srv.URL+"/?"+tc.query, nil)
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("%v %v", resp.StatusCode, err)
					}
					if !bytes.Equal(b, tc.want) {
						t.Fatalf("got %d bytes, want %d (equal prefix: %v)", len(b), len(tc.want),
							len(b) > 0 && len(tc.want) > 0 && b[0] == tc.want[0])
					}
					// The validator's wrapper hides the file: it is iterated.
					if got := resp.Header.Get("Content-Length"); !strings.Contains(app, "validated") && got != tc.length {
						t.Errorf("Content-Length %q, want %q", got, tc.length)
					}
				}
			})
		}
		t.Run("a file whose size is 0 but is not empty (/proc)", func(t *testing.T) {
			b := mustGet(t, a.srv.URL+"/?file=/proc/self/status")
			if !bytes.Contains(b, []byte("\nPid:")) {
				t.Errorf("got %q, want the file's content", b)
			}
		})
		t.Run("a file not open for reading", func(t *testing.T) {
			resp, err := http.Get(a.srv.URL + "/?file=data.bin&kind=writeonly")
			if err == nil {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					t.Fatalf("a complete 200 of %d bytes; want an error", len(b))
				}
			}
			if !strings.Contains(app, "validated") {
				logHas(t, a.logs, 2*time.Second, "sending the file of wsgi.file_wrapper failed")
			}
		})
	})
}

// TestFileWrapperKeptFile: an app that keeps a file open across requests
// (a cached file object, or dups of a kept descriptor: the same open file
// description either way) and returns wsgi.file_wrapper around it, from its
// start, for every request. The worker passes Go the descriptor, whose
// file position the app shares; Go must send each response's range without
// depending on that position or moving it, or concurrent responses (a
// worker's threads, or the app's next request) come out mixed or short.
func TestFileWrapperKeptFile(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	a := startApp(t, "filewrap_kept", Config{Workers: 1, Threads: 4}, nil)
	if err := os.WriteFile(filepath.Join(a.dir, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"object", "dup"} {
		t.Run(kind, func(t *testing.T) {
			const clients, each = 8, 8
			var wg sync.WaitGroup
			var mu sync.Mutex
			bad := []string{}
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						var got string
						resp, err := http.Get(a.srv.URL + "/?file=data.bin&kind=" + kind)
						if err == nil {
							b, rerr := io.ReadAll(resp.Body)
							resp.Body.Close()
							switch {
							case rerr != nil:
								got = fmt.Sprintf("%d bytes, then %v", len(b), rerr)
							case !bytes.Equal(b, data):
								got = fmt.Sprintf("%d bytes, not the file's", len(b))
							}
						} else {
							got = err.Error()
						}
						if got != "" {
							mu.Lock()
							bad = append(bad, got)
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			if len(bad) > 0 {
				t.Errorf("%d of %d responses wrong, such as: %q", len(bad), clients*each, bad[:min(len(bad), 3)])
			}
		})
	}
}

// TestNonBytesItems: an item of the app's iterable that is not bytes is
// the app's error (PEP 3333), even an empty one (None, "", 0): 500 before
// the headers, an aborted response after them, never a silent skip.
func TestNonBytesItems(t *testing.T) {
	a := startApp(t, "bad_items", Config{}, nil)
	yielded := map[string]string{"str": "str", "empty_str": "str", "none": "NoneType", "zero": "int", "empty_list": "list", "none_after_data": "NoneType"}
	for _, how := range []string{"gen", "list"} {
		for _, c := range []string{"str", "empty_str", "none", "zero", "empty_list", "none_after_data"} {
			t.Run(how+"/"+c, func(t *testing.T) {
				seen := len(a.logs.String())
				resp, err := http.Get(a.srv.URL + "/?how=" + how + "&case=" + c)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && err == nil {
					t.Fatalf("a complete 200: %q", b)
				}
				if resp.StatusCode != 200 && resp.StatusCode != 500 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				// The message names the iterable, whichever path sent it:
				// not write(), which the app never called, nor bytes.join.
				want := "TypeError: the WSGI app's iterable yielded " + yielded[c] + ", not bytes"
				waitFor(t, 2*time.Second, "the log line "+want, func() bool { return strings.Contains(a.logs.String()[seen:], want) })
			})
		}
	}
}

// TestNotModifiedHeaders: a 304 whose app sent the representation's
// Content-Length and Content-Type reaches the client without them over
// HTTP/1.1 and HTTP/2 alike (net/http drops them from a 304 over HTTP/1.1
// only; over HTTP/2 Go's own client then reads the 304 as a body cut short:
// "unexpected EOF").
func TestNotModifiedHeaders(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:status"})
	h1 := httptest.NewServer(c)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(c)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	for _, srv := range []struct {
		name, url, proto string
		c                *http.Client
	}{
		{"HTTP/1.1", h1.URL, "HTTP/1.1", h1.Client()},
		{"HTTP/2", h2.URL, "HTTP/2.0", h2.Client()},
	} {
		for _, how := range []string{"list", "gen"} {
			t.Run(srv.name+" "+how, func(t *testing.T) {
				resp, err := srv.c.Get(srv.url + "/?code=304&cl=16&ct=text/plain&how=" + how)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.Proto != srv.proto || resp.StatusCode != 304 {
					t.Fatalf("%s %d, want %s 304", resp.Proto, resp.StatusCode, srv.proto)
				}
				if err != nil || len(b) != 0 {
					t.Errorf("body %q, error %v; want none", b, err)
				}
				for _, k := range []string{"Content-Length", "Content-Type"} {
					if v, ok := resp.Header[k]; ok {
						t.Errorf("%s %q on a 304", k, v)
					}
				}
				if resp.Header.Get("X-Status") != "304" {
					t.Errorf("the app's other headers are missing: %v", resp.Header)
				}
			})
		}
	}
}

// TestHeaderValueEdges: spaces and tabs at the edges of an app's header
// values (in the response and in an Early Hint) are trimmed, those inside
// kept: the same head over HTTP/1.1, where net/http trims them as it
// writes, and HTTP/2, where net/http sends a value as it is, although RFC
// 9113 (8.2.1) makes a field value with whitespace at its edges malformed:
// nghttp2's clients reset the stream (PROTOCOL_ERROR) and Node's http2
// client drops the header. gunicorn strips them too.
func TestHeaderValueEdges(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:edge_space"})
	h1 := httptest.NewServer(c)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(c)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	want := map[string][]string{
		"X-Lead": {"lead"}, "X-Trail": {"trail", "second"}, "X-Both": {"both"},
		"X-Inner": {"in \t ner"}, "X-Blank": {""},
	}
	for _, srv := range []struct {
		name, url, proto string
		c                *http.Client
	}{
		{"HTTP/1.1", h1.URL, "HTTP/1.1", h1.Client()},
		{"HTTP/2", h2.URL, "HTTP/2.0", h2.Client()},
	} {
		t.Run(srv.name, func(t *testing.T) {
			hints, resp, body := getWithHints(t, srv.c, srv.url+"/?hints=1")
			if resp.Proto != srv.proto || resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%s %d %q, want %s 200 ok", resp.Proto, resp.StatusCode, body, srv.proto)
			}
			for k, v := range want {
				if got := resp.Header[k]; !slices.Equal(got, v) {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if len(hints) != 1 || hints[0].code != 103 {
				t.Fatalf("1xx responses %v, want one 103", hints)
			}
			if got := hints[0].header["Link"]; !slices.Equal(got, []string{"</a.css>; rel=preload"}) {
				t.Errorf("the 103's Link: %q, want %q", got, "</a.css>; rel=preload")
			}
		})
	}
}
