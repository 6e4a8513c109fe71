package wsgi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestRequestIDStdio: what a thread serving a request writes to
// sys.stdout or sys.stderr (print, a write of its own, a write of a line
// in two pieces, traceback.print_exc) carries the request's id as
// request.id, as its logging records do (TestRequestIDLog), so that a
// grep for the id finds the request's prints too. A thread of the app's
// own, and the import, print without one; with 4 threads, concurrent
// requests' prints each get their own id and are not mixed up. Before,
// no print had a request.id.
func TestRequestIDStdio(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "reqidlogapp:app", Threads: threads})
			h := testIDs(c)
			srv := e2eServe(t, h)
			// check checks the prints of GET /print?tag=tag; concurrent: with
			// others at once, whose threads of the app's own print at the
			// same time (with no id to keep them apart, their writes mix).
			check := func(t *testing.T, tag, want string, concurrent bool) {
				t.Helper()
				for _, m := range []string{"print-marker ", "stderr-marker ", "partial-marker "} {
					if got := stdioID(t, logs, m+tag); got != want {
						t.Errorf("print %q: request.id %q, want %q", m+tag, got, want)
					}
				}
				line := stdioLine(t, logs, "ValueError: tb-marker "+tag)
				if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, logTraceback+"=") {
					t.Errorf("the printed traceback is not one ERROR record: %s", line)
				}
				if got := lineID(line); got != want {
					t.Errorf("the printed traceback: request.id %q, want %q", got, want)
				}
				if concurrent {
					return
				}
				if got := stdioID(t, logs, "thread-print-marker "+tag); got != "" {
					t.Errorf("the print of the app's own thread has request.id %q, want none", got)
				}
			}
			cases := []struct {
				name, tag string
				hdr       http.Header
				want      string
			}{
				{"environ", "env", http.Header{"X-Test-Id": {"rid-env-1"}}, "rid-env-1"},
				{"header", "hdr", http.Header{"X-Request-Id": {"hdr-only-7"}}, "hdr-only-7"},
				{"none", "none", nil, ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fetchPath(t, srv.URL, "/print?tag="+tc.tag, tc.hdr)
					check(t, tc.tag, tc.want, false)
				})
			}
			t.Run("outside a request", func(t *testing.T) {
				if got := stdioID(t, logs, "import-print-marker"); got != "" {
					t.Errorf("the import's print has request.id %q, want none", got)
				}
			})
			if threads < 4 {
				return
			}
			t.Run("concurrent", func(t *testing.T) {
				var wg sync.WaitGroup
				for i := range threads {
					wg.Add(1)
					go func() {
						defer wg.Done()
						fetchPath(t, srv.URL, fmt.Sprintf("/print?tag=c%d&meet=%d", i, threads), http.Header{"X-Test-Id": {fmt.Sprintf("rid-c%d", i)}})
					}()
				}
				wg.Wait()
				for i := range threads {
					check(t, fmt.Sprintf("c%d", i), fmt.Sprintf("rid-c%d", i), true)
				}
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "thread-print-marker c") && strings.Contains(l, "request.id=") {
						t.Errorf("a print of the app's own thread has a request.id: %s", l)
					}
				}
			})
		})
	}
}

// TestRequestIDReplacedHandler: an app whose logging config replaced
// graft's handler with a console handler of its own (dictConfig with a
// "root" entry, Django's LOGGING) has its records printed to stderr, and
// Go logs them as printed text: the records a thread logs while it serves
// a request, and the traceback of a failed Django view, carry the
// request's id like graft's own lines for it. Before, they carried none.
func TestRequestIDReplacedHandler(t *testing.T) {
	t.Run("dictConfig", func(t *testing.T) {
		c, logs := newContainer(t, Config{App: "dictlog:app"})
		srv := newServer(t, c)
		fetchPath(t, srv.URL, "/?dict-rid", http.Header{"X-Request-Id": {"rid-dict-3"}})
		if got := stdioID(t, logs, "dictlog-marker dict-rid"); got != "rid-dict-3" {
			t.Errorf("the app's console record: request.id %q, want %q", got, "rid-dict-3")
		}
	})
	t.Run("django LOGGING", func(t *testing.T) {
		c, logs := newDjango(t, Config{Env: []string{"GRAFT_DJANGO_CONSOLE_LOG=1"}})
		srv := newServer(t, c)
		req, err := http.NewRequest("GET", srv.URL+"/boom/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", "rid-django-9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Fatalf("GET /boom/ = %d, want 500", resp.StatusCode)
		}
		for _, msg := range []string{"Internal Server Error: /boom/", "RuntimeError: djangoapp boom"} {
			if got := lineID(stdioLine(t, logs, msg)); got != "rid-django-9" {
				t.Errorf("%q: request.id %q, want %q", msg, got, "rid-django-9")
			}
		}
	})
}

// TestRequestIDIdentityHook: what the identity hook prints and logs, run
// for a request (Container.Identity), carries that request's id. Before,
// neither did.
func TestRequestIDIdentityHook(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "reqidlogapp:app", Threads: threads, IdentityHook: "reqidlogapp:identity", IdentityTTL: -1})
			tag := fmt.Sprintf("id%d", threads)
			r := httptest.NewRequest("GET", "/whoami", nil)
			r.Header.Set("X-Request-Id", "rid-"+tag)
			r.Header.Set("X-Tag", tag)
			if id, err := c.Identity(context.Background(), r); err != nil || id != nil {
				t.Fatalf("Identity = %v, %v; want nil, nil", id, err)
			}
			if got := stdioID(t, logs, "identity-print-marker "+tag); got != "rid-"+tag {
				t.Errorf("the hook's print: request.id %q, want %q", got, "rid-"+tag)
			}
			if got := recordID(t, logs, "identity-log-marker "+tag); got != "rid-"+tag {
				t.Errorf("the hook's record: request.id %q, want %q", got, "rid-"+tag)
			}
		})
	}
}

// TestForkedChildRecordLevels: a child process the app forked has no
// socket to Go, so graft's handler writes its records to the output pipe;
// Go logs each at its own level, with its logger, its text as the message
// (a multi-line one and one with a traceback as one record each), where
// it logged "LEVEL: text" at INFO. A print of such a line by the child
// stays printed text at INFO: only graft's handler marks a record.
func TestForkedChildRecordLevels(t *testing.T) {
	py := pythontest.Python(t, "flask")
	for _, preload := range []bool{true, false} {
		t.Run(fmt.Sprint("preload=", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "forkapp:app", Python: py, NoPreload: !preload})
			srv := newServer(t, c)
			tag := fmt.Sprint("lv-", preload)
			mustGet(t, srv.URL+"/fork/levels?tag="+tag)
			cases := []struct {
				sub   string // in the record's line
				level string
				attrs []string // also in the line
			}{
				{"msg=child-error-" + tag + " ", "ERROR", []string{"log.logger=forkapp"}},
				{`msg="child-warning-` + tag + `\nsecond line"`, "WARN", []string{"log.logger=forkapp"}},
				{`msg="child-backslash-` + tag + ` C:\\new\\r"`, "WARN", []string{"log.logger=forkapp"}},
				{`msg="child-exc-` + tag + `\nTraceback (most recent call last):\n`, "ERROR", []string{"ZeroDivisionError: division by zero", "log.logger=forkapp"}},
				{`msg="ERROR: child-fake-` + tag + `"`, "INFO", []string{"graft.stream=stdio"}},
				{`msg="WARNING: child-fake-stderr-` + tag + `"`, "INFO", []string{"graft.stream=stdio"}},
			}
			for _, tc := range cases {
				logHas(t, logs, 10*time.Second, tc.sub)
				line := logLine(logs, tc.sub)
				if !strings.Contains(line, "level="+tc.level+" ") {
					t.Errorf("%s: want level %s: %s", tc.sub, tc.level, line)
				}
				for _, a := range tc.attrs {
					if !strings.Contains(line, a) {
						t.Errorf("%s: want %s in %s", tc.sub, a, line)
					}
				}
			}
			if strings.Contains(logs.String(), "ERROR: child-error-") || strings.Contains(logs.String(), "ERROR: child-exc-") {
				t.Errorf("a record was logged as \"LEVEL: text\":\n%s", logs.String())
			}
		})
	}
}

// fetchPath asks base+path with the headers hdr and wants a 200.
func fetchPath(t *testing.T, base, path string, hdr http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Error(err)
		return
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
}

// stdioLine waits for the line of printed text (graft.stream=stdio) whose
// message is, or (for a traceback) whose record starts with, msg.
func stdioLine(t *testing.T, logs *pythontest.Buffer, msg string) string {
	t.Helper()
	sub := "msg=" + msg + " "
	if strings.ContainsAny(msg, " \"=") {
		sub = fmt.Sprintf("msg=%q ", msg)
	}
	logHas(t, logs, 10*time.Second, sub)
	line := logLine(logs, sub)
	if !strings.Contains(line, "graft.stream=stdio") {
		t.Errorf("%q was not logged as printed text: %s", msg, line)
	}
	return line
}

// stdioID waits for the printed line msg and returns its request.id.
func stdioID(t *testing.T, logs *pythontest.Buffer, msg string) string {
	t.Helper()
	return lineID(stdioLine(t, logs, msg))
}

// lineID is the request.id of a log line, "" if it has none.
func lineID(line string) string {
	if m := requestIDAttr.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// TestFlaskDocsLogging: a Flask app configured as Flask's documentation
// shows ("Basic Configuration": dictConfig, a root handler writing to
// flask.logging.wsgi_errors_stream, the request's wsgi.errors) logs each
// record once, as its handler formatted it, with the request's id; the
// view answers. graft's wsgi.errors sends what is written to it through
// logging (the "wsgi.errors" logger), whose root handler wrote it back to
// wsgi.errors: every record the app logged during a request recursed until
// RecursionError, which StreamHandler raises, and the view failed with a
// 500.
func TestFlaskDocsLogging(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "flaskdictlog:app", Threads: threads})
			srv := newServer(t, c)
			tag := fmt.Sprint("fd", threads)
			fetchPath(t, srv.URL, "/log?tag="+tag, http.Header{"X-Request-Id": {"rid-" + tag}})
			logHas(t, logs, 10*time.Second, "flaskdict-marker "+tag)
			time.Sleep(2 * dumpQuiet) // a second copy would come with the first
			var lines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "flaskdict-marker "+tag) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("the record was logged %d times, want once:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			if !strings.Contains(lines[0], "WARNING in flaskdictlog: flaskdict-marker "+tag) || strings.Contains(lines[0], "ERROR in") {
				t.Errorf("want the record as the app's handler formatted it, once: %s", lines[0])
			}
			if got := lineID(lines[0]); got != "rid-"+tag {
				t.Errorf("request.id %q, want %q: %s", got, "rid-"+tag, lines[0])
			}
		})
	}
}
