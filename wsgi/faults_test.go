package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pids returns the pids of the pool's live workers.
func (pl *pool) pids() []int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var out []int
	for p := range pl.procs {
		out = append(out, p.pid)
	}
	slices.Sort(out)
	return out
}

func poolOf(c *Container) *pool { return c.tr.(*pool) }

// TestAppException: an exception before headers is a 500 with the
// traceback, method, path and request id logged; after headers it aborts
// the connection. The worker keeps serving after both.
func TestAppException(t *testing.T) {
	variants(t, "dispatch", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, ctxHandler(func(r *http.Request) context.Context {
			if id := r.URL.Query().Get("rid"); id != "" {
				return WithEnviron(r.Context(), "graft.request_id", id)
			}
			return r.Context()
		}))
		pid := pidOf(t, a.srv.URL+"/pid")

		req, _ := http.NewRequest("POST", a.srv.URL+"/raise_before/x?q=1", strings.NewReader("b"))
		req.Header.Set("X-Request-ID", "rid-from-header")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Errorf("status %d, want 500", resp.StatusCode)
		}
		logHas(t, a.logs, 2*time.Second, "raise-before-marker", "Traceback (most recent call last)")
		l := logLine(a.logs, "wsgi: request failed")
		for _, want := range []string{"http.request.method=POST", "url.path=/raise_before/x", "request.id=rid-from-header", "raise-before-marker"} {
			if !strings.Contains(l, want) {
				t.Errorf("failure log lacks %q: %s", want, l)
			}
		}
		if p := pidOf(t, a.srv.URL+"/pid"); p != pid {
			t.Errorf("worker %d replaced by %d after an exception", pid, p)
		}

		resp, _, _ = get(t, nil, "GET", a.srv.URL+"/raise_before?rid=rid-from-ctx", nil)
		if resp.StatusCode != 500 {
			t.Errorf("status %d, want 500", resp.StatusCode)
		}
		logHas(t, a.logs, 2*time.Second, "request.id=rid-from-ctx")

		_, b, err := get(t, nil, "GET", a.srv.URL+"/raise_after?rid=rid-after", nil)
		if err == nil || string(b) != "partial" {
			t.Errorf("got %q %v, want the partial body then an abort", b, err)
		}
		logHas(t, a.logs, 2*time.Second, "raise-after-marker", "request.id=rid-after", "url.path=/raise_after")
		if p := pidOf(t, a.srv.URL+"/pid"); p != pid {
			t.Errorf("worker %d replaced by %d after an exception", pid, p)
		}
	})
}

// TestWorkerDeath: a worker dying mid-request fails only that request
// (502), and a replacement worker takes over.
func TestWorkerDeath(t *testing.T) {
	cases := []struct {
		how    string
		status int
		log    string
	}{
		{"kill", 502, "killed by signal 9 (killed)"},
		{"exit", 502, "exit status 1"},
		{"segv", 502, "Segmentation fault"},
		{"sysexit", 500, "SystemExit"},
	}
	for _, tc := range cases {
		t.Run(tc.how, func(t *testing.T) {
			variants(t, "dispatch", func(t *testing.T, app string) {
				a := startApp(t, app, Config{Workers: 2}, nil)
				before := poolOf(a.c).pids()
				var wg sync.WaitGroup
				wg.Add(1)
				var slowStatus int
				var slowBody string
				go func() { // keeps the other worker busy: it must not be affected
					defer wg.Done()
					resp, b, err := get(t, nil, "GET", a.srv.URL+"/sleep?s=1", nil)
					if err != nil {
						slowBody = err.Error()
					}
					slowStatus, slowBody = resp.StatusCode, slowBody+string(b)
				}()
				time.Sleep(300 * time.Millisecond)
				resp, b, _ := get(t, nil, "GET", a.srv.URL+"/die?how="+tc.how+"&tok=died", nil)
				if resp.StatusCode != tc.status {
					t.Errorf("dying request: status %d, want %d (%s)", resp.StatusCode, tc.status, b)
				}
				wg.Wait()
				if slowStatus != 200 {
					t.Errorf("the request on the other worker failed: %d %s", slowStatus, slowBody)
				}
				dead, err := strconv.Atoi(readFile(t, a.dir, "died"))
				if err != nil || !slices.Contains(before, dead) {
					t.Fatalf("dead worker pid %q not among %v", readFile(t, a.dir, "died"), before)
				}
				waitFor(t, 5*time.Second, "the dead worker to be reaped", func() bool { return !pidAlive(dead) })
				logHas(t, a.logs, 3*time.Second, "worker died", tc.log)
				waitFor(t, 10*time.Second, "a replacement worker", func() bool {
					now := poolOf(a.c).pids()
					return len(now) == 2 && !slices.Contains(now, dead)
				})
				// Two concurrent requests: one lands on the replacement.
				served := concurrentPIDs(t, a.srv.URL+"/sleep?s=0.3", 2)
				replaced := false
				for _, p := range served {
					replaced = replaced || !slices.Contains(before, p)
				}
				if !replaced {
					t.Errorf("no replacement served a request: served by %v, workers before %v", served, before)
				}
			})
		})
	}
}

// TestAppSystemExit: an app raising SystemExit gets a 500 and ends its
// worker with the status it names, in every mode, even with a thread
// running that is not a daemon. Without preload the worker exited through
// Python's own teardown, which waits for such threads: it hung, its socket
// open, and the requests sent to it next waited for their Timeout.
func TestAppSystemExit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"preload", Config{Workers: 1}},
		{"no-preload", Config{Workers: 1, NoPreload: true}},
		{"threads", Config{Workers: 1, Threads: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, "dispatch", tc.cfg, nil)
			resp, b, _ := get(t, nil, "GET", a.srv.URL+"/die?how=sysexit-thread&tok=died", nil)
			if resp.StatusCode != 500 || !strings.Contains(a.logs.String(), "SystemExit") {
				t.Errorf("status %d (%s), want 500 and SystemExit logged", resp.StatusCode, b)
			}
			dead, err := strconv.Atoi(readFile(t, a.dir, "died"))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the worker to exit", func() bool { return !pidAlive(dead) })
			logHas(t, a.logs, 3*time.Second, "worker died", "exit status 2")
			if pid := pidOf(t, a.srv.URL+"/pid"); pid == dead {
				t.Errorf("served by the worker that exited")
			}
		})
	}
}

// TestFailThenExitInClose: an app whose iterable fails while iterating
// and whose close() then raises SystemExit or KeyboardInterrupt gets its
// 500 (before any byte) or its aborted response with the traceback logged
// (after the first chunk), as for any other failure; then its worker
// leaves as for the app's own SystemExit (TestAppSystemExit). The failure's
// frame was lost: close() raised out of the handler before it was sent,
// and the client got the 502 of a worker that died.
func TestFailThenExitInClose(t *testing.T) {
	for _, tc := range []struct {
		name, query, exit string
		cfg               Config
	}{
		{"sysexit", "how=sysexit", "exit status 2", Config{Workers: 1}},
		{"kbd", "how=kbd", "exit status 1", Config{Workers: 1}},
		{"threads", "how=sysexit", "exit status 2", Config{Workers: 1, Threads: 2}},
		{"after-first-chunk", "how=sysexit&after=1", "exit status 2", Config{Workers: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, "dispatch", tc.cfg, nil)
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/fail_then_exit?tok=died&"+tc.query, nil)
			if strings.Contains(tc.query, "after=1") {
				// The head was out: the response is cut short, the
				// traceback logged as for any failure after the head.
				if err == nil {
					t.Errorf("status %d %q: the response ended cleanly", resp.StatusCode, b)
				}
				logHas(t, a.logs, 3*time.Second, "aborting the connection", "fail-then-exit-marker")
			} else if err != nil || resp.StatusCode != 500 {
				t.Errorf("got %v %q %v, want a 500", resp.StatusCode, b, err)
			} else {
				logHas(t, a.logs, 3*time.Second, "fail-then-exit-marker")
			}
			dead, err := strconv.Atoi(readFile(t, a.dir, "died"))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the worker to exit", func() bool { return !pidAlive(dead) })
			logHas(t, a.logs, 3*time.Second, "worker died", tc.exit)
			if pid := pidOf(t, a.srv.URL+"/pid"); pid == dead {
				t.Errorf("served by the worker that exited")
			}
		})
	}
}

// concurrentPIDs sends n concurrent requests to an app answering its pid.
func concurrentPIDs(t *testing.T, url string, n int) []int {
	t.Helper()
	out := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b, err := get(t, nil, "GET", url, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("GET %s: %v %d %s", url, err, resp.StatusCode, b)
				return
			}
			out[i], _ = strconv.Atoi(string(b))
		}()
	}
	wg.Wait()
	return out
}

// TestTimeout: a hung request gets 504 within 2s with the Python stack in
// the log, and its worker is replaced.
func TestTimeout(t *testing.T) {
	variants(t, "dispatch", func(t *testing.T, app string) {
		a := startApp(t, app, Config{Timeout: time.Second}, nil)
		pid := pidOf(t, a.srv.URL+"/pid")
		start := time.Now()
		resp, _, _ := get(t, nil, "GET", a.srv.URL+"/hang", nil)
		took := time.Since(start)
		if resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
		if took > 2*time.Second || took < time.Second {
			t.Errorf("504 after %v, want 1-2s", took)
		}
		logHas(t, a.logs, 3*time.Second, "request timed out", `File \"`, "hang_forever_in_this_function")
		if line := logLine(a.logs, "request timed out"); strings.Contains(line, "request.id") {
			t.Errorf("a request without an id logged request.id: %s", line)
		}
		// The stacks are one record at the headline's level (ERROR),
		// with the request's attributes.
		stack := logLine(a.logs, "graft.stack=")
		for _, want := range []string{"level=ERROR", "hang_forever_in_this_function", "url.path=/hang", "graft.worker="} {
			if !strings.Contains(stack, want) {
				t.Errorf("the stack record lacks %q: %s", want, stack)
			}
		}
		if n := strings.Count(a.logs.String(), "graft.stack="); n != 1 {
			t.Errorf("%d stack records for one timeout; want 1", n)
		}
		waitFor(t, 5*time.Second, "the hung worker to be gone", func() bool { return !pidAlive(pid) })
		waitFor(t, 10*time.Second, "a replacement worker", func() bool {
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/pid", nil)
			return err == nil && resp.StatusCode == 200 && string(b) != strconv.Itoa(pid)
		})
		// The worker's line says why it went (the timeout), not what
		// reading the socket Go closed returned.
		if died := logLine(a.logs, "worker died"); !strings.Contains(died, "graft.reason=timeout") || strings.Contains(died, "closed network connection") {
			t.Errorf("the worker's line: %s", died)
		}
	})
}

// TestTimeoutThreads: with Threads > 1, a worker killed for one request's
// Timeout ends its other requests: one that has run over its own Timeout
// too gets 504 like the first, not the 502 of a worker that died (two
// requests started 50 ms apart, both over a 1 s Timeout when the worker
// was killed, got one 504 and one 502). One still within its Timeout gets
// 502 (TestDeathError).
func TestTimeoutThreads(t *testing.T) {
	a := startApp(t, "dispatch", Config{Timeout: time.Second, Threads: 2}, nil)
	paths := []string{"/hang", "/sleep?s=10"}
	codes := make(chan string, len(paths))
	for i, path := range paths {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		go func() {
			resp, _, err := get(t, nil, "GET", a.srv.URL+path, nil)
			if err != nil {
				codes <- path + " " + err.Error()
				return
			}
			codes <- fmt.Sprintf("%s %d", path, resp.StatusCode)
		}()
	}
	got := map[string]bool{}
	for range paths {
		got[<-codes] = true
	}
	// The worker is killed 0.5 s after the first deadline (its stacks are
	// dumped first): past the second request's (1.05 s).
	for _, want := range []string{"/hang 504", "/sleep?s=10 504"} {
		if !got[want] {
			t.Errorf("got %v, want %q among them", got, want)
		}
	}
}

// TestStalledClient: without a spill file (ResponseSpill < 0), a client
// that asks for a big response and never reads it fills the response
// buffer, and the worker's socket behind it, so the worker's socket is left
// unread while the response waits for that client.
// When the worker is killed for its timeout, or exits, Go stops waiting
// for the client: the worker is replaced at once (not when the client
// leaves) and a request queued meanwhile is served by the replacement; the
// stalled client gets the response cut short (the connection closed before
// its Content-Length), never a clean end.
func TestStalledClient(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		timeout     time.Duration
		log         string
	}{
		{"timeout", "", time.Second, "graft.reason=timeout"},
		{"exit", "&exit_after=0.5", time.Minute, `graft.exit="exit status 3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No spill file: the worker waits for the client (see
			// TestResponseSpill for the default).
			a := startApp(t, "dispatch", Config{Timeout: tc.timeout, ResponseSpill: -1}, nil)
			pid := pidOf(t, a.srv.URL+"/pid")
			// The stalled client: it reads nothing until the end of the
			// test.
			conn := dialSmallWindow(t, a.srv.URL)
			const mib = 256
			fmt.Fprintf(conn, "GET /download?mib=%d%s HTTP/1.1\r\nHost: x\r\n\r\n", mib, tc.query)
			// A request for the only worker, queued behind the download
			// (which has run long enough by then to get no other request
			// prefetched behind it).
			time.Sleep(300 * time.Millisecond)
			client := &http.Client{Timeout: tc.timeout%time.Minute + 5*time.Second}
			start := time.Now()
			resp, b, err := get(t, client, "GET", a.srv.URL+"/pid", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("the queued request: %v %d %s", err, resp.StatusCode, b)
			}
			if got, _ := strconv.Atoi(string(b)); got == pid || got == 0 {
				t.Errorf("the queued request was served by worker %s; want a replacement of %d", b, pid)
			}
			t.Logf("the queued request was served after %v", time.Since(start))
			logHas(t, a.logs, 3*time.Second, "worker died; starting a replacement", tc.log)
			// The stalled client now reads: the response ends short.
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := io.Copy(io.Discard, conn)
			if err != nil {
				t.Fatalf("reading the stalled response: %v after %d bytes", err, n)
			}
			if n >= mib<<20 {
				t.Errorf("the stalled client got %d bytes: want the response cut short of %d", n, mib<<20)
			}
		})
	}
}

// TestLoadError: apps that cannot load make New fail fast with a
// *LoadError carrying the traceback.
func TestLoadError(t *testing.T) {
	cases := []struct {
		app     string
		workers int
		want    []string
	}{
		{"graft_missing_module_xyz:app", 1, []string{"ModuleNotFoundError", "graft_missing_module_xyz"}},
		{"loadfail_import", 1, []string{"ModuleNotFoundError", "graft_no_such_module_for_tests", "loadfail_import.py"}},
		// The worker program's own frames show their source lines.
		{"apps:nope", 1, []string{"AttributeError", "nope", `File "graft-worker.py"`, `raise AttributeError("module %r has no attribute`}},
		{"apps:hello.nope", 1, []string{"AttributeError"}},
		{"apps:NOT_CALLABLE", 1, []string{"TypeError", "not callable"}},
		{"apps", 1, []string{"AttributeError", "application"}},
		{"loadfail_syntax", 2, []string{"SyntaxError", "loadfail_syntax.py"}},
		{"loadfail_raise:application", 2, []string{"RuntimeError", "loadfail-raise-marker", "Traceback"}},
		{"loadfail_exit", 1, []string{"exit status 7"}},
		{"loadfail_factory:make()", 1, []string{"ValueError", "loadfail-factory-marker", "Traceback"}},
	}
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			logs := &pythontest.Buffer{}
			start := time.Now()
			c, err := New(Config{App: tc.app, Python: pythontest.Python(t), Dir: testdataDir(t), Workers: tc.workers,
				StartTimeout: 20 * time.Second, Logger: newTestLogger(logs)})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("New took %v", took)
			}
			if err == nil {
				c.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			if le.App != tc.app {
				t.Errorf("LoadError.App = %q", le.App)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			// The preload process that could not import the app is
			// not replaced: New fails. Its exit was logged as a death
			// whose workers "are replaced, forked from a new one".
			if l := logLine(logs, "preload process died"); l != "" {
				t.Errorf("an app that did not import is logged as a preload process that died and is replaced:\n%s", l)
			}
		})
	}
	t.Run("factory ok", func(t *testing.T) {
		a := startApp(t, "apps:make()", Config{}, nil)
		if b := mustGet(t, a.srv.URL); string(b) != "Hello, world!\n" {
			t.Errorf("body %q", b)
		}
	})
}

// TestLoadErrorInterpreterHint: an interpreter without the app's framework
// (the packages of this one are hidden by a sitecustomize) fails with an
// error that names it and says how to pick another; a missing module of
// the app's own gets no such hint.
func TestLoadErrorInterpreterHint(t *testing.T) {
	hide := []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "nopackages")}
	for _, tc := range []struct {
		app, hint string
		noPreload bool
	}{
		{"flaskapp:app", "cannot import flask", false},
		{"djangoapp.wsgi:application", "cannot import django", true},
		{"loadfail_import", "", false},
	} {
		t.Run(tc.app, func(t *testing.T) {
			_, err := New(Config{App: tc.app, Python: pythontest.Python(t), Dir: testdataDir(t), Workers: 1, Env: hide,
				NoPreload: tc.noPreload, Logger: newTestLogger(&pythontest.Buffer{})})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("New: %v, want a *LoadError", err)
			}
			if le.Python != pythontest.Python(t) {
				t.Errorf("LoadError.Python = %q, want %q", le.Python, pythontest.Python(t))
			}
			if tc.hint == "" {
				if h := le.Hint(); h != "" || strings.Contains(err.Error(), "Config.Python") {
					t.Errorf("a missing module of the app's own got a hint: %q", h)
				}
				return
			}
			for _, want := range []string{"ModuleNotFoundError", pythontest.Python(t) + " " + tc.hint,
				"Config.Python (the examples' -python flag)", "/usr/bin/python3", "virtualenv's bin/python"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if first, _, _ := strings.Cut(err.Error(), "\nTraceback"); !strings.Contains(first, tc.hint) {
				t.Errorf("the hint is not before the traceback:\n%v", err)
			}
		})
	}
}

// TestNotPythonHint: a Config.Python that is not Python and exits 0 at
// once (/bin/true) fails New with a hint asking whether it is a Python
// interpreter; it said only "the preload process ended before loading it
// (exit status 0)".
func TestNotPythonHint(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			_, err := New(Config{App: "apps:hello", Python: "/bin/true", Dir: testdataDir(t), Workers: 1,
				NoPreload: noPreload, Logger: newTestLogger(&pythontest.Buffer{})})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("New: %v, want a *LoadError", err)
			}
			for _, want := range []string{"(exit status 0)", "/bin/true ended with status 0 and no output", "is it a Python 3 interpreter?", "Config.Python"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestPythonTooOld: an interpreter older than 3.9 is a load error that
// says so (the interpreter here claims to be 3.8 through a sitecustomize).
func TestPythonTooOld(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			_, err := New(Config{App: "apps:hello", Python: pythontest.Python(t), Dir: testdataDir(t), Workers: 1,
				NoPreload: noPreload, Env: []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "oldpython")},
				Logger: newTestLogger(&pythontest.Buffer{})})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("New: %v, want a *LoadError", err)
			}
			if want := "graft's worker needs Python 3.9 or later; " + pythontest.Python(t) + " is Python 3.8.10"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		})
	}
}

// TestPythonPathNotUTF8: an interpreter whose path is not UTF-8 (a
// latin-1 directory name) runs the app. The worker's READY frame encoded
// sys.executable as strict UTF-8, which its undecodable bytes (surrogate
// escapes) failed: no worker ever started.
func TestPythonPathNotUTF8(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "py\xe9")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(dir, "python3")
	if err := os.Symlink(pythontest.Python(t), python); err != nil {
		t.Fatal(err)
	}
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "apps:hello", Python: python, NoPreload: noPreload})
			srv := newServer(t, c)
			if b := mustGet(t, srv.URL); string(b) != "Hello, world!\n" {
				t.Errorf("got %q", b)
			}
		})
	}
}

// TestExitHooks: a worker that exits runs the app's atexit hooks and
// flushes logging (a MemoryHandler's records reach their file), in
// preload mode (hooks registered in the zygote) and without.
func TestExitHooks(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			dir := t.TempDir()
			c, _ := newContainer(t, Config{App: "exithooks", NoPreload: noPreload, Env: []string{"GRAFT_TEST_DIR=" + dir}})
			srv := newServer(t, c)
			pid := pidOf(t, srv.URL)
			if err := c.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !exists(dir, fmt.Sprintf("atexit-%d", pid)) {
				t.Errorf("the atexit hook of worker %d did not run", pid)
			}
			if log := readFile(t, dir, "exithooks.log"); !strings.Contains(log, fmt.Sprintf("served-by-%d", pid)) {
				t.Errorf("buffered log records were not flushed at exit; log: %q", log)
			}
		})
	}
}

// TestBadConfig: invalid configurations are rejected by New.
func TestBadConfig(t *testing.T) {
	py := pythontest.Python(t)
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no app", Config{}, "App is empty"},
		{"bad spec", Config{App: "my app"}, "is not module:callable"},
		{"empty attr", Config{App: "apps:"}, "is not module:callable"},
		{"path spec", Config{App: "testdata/apps.py:hello"}, "is not module:callable"},
		{"call with args", Config{App: "apps:make(1)"}, "is not module:callable"},
		{"negative workers", Config{App: "apps:hello", Workers: -1}, "Workers -1 is negative"},
		{"negative threads", Config{App: "apps:hello", Threads: -2}, "Threads -2 is negative"},
		{"too many", Config{App: "apps:hello", Workers: 1 << 10, Threads: 1 << 10}, "Workers*Threads (1024*1024) is more than MaxThreads (32768)"},
		{"product overflows", Config{App: "apps:hello", Workers: 1 << 32, Threads: 1 << 32}, "is more than MaxThreads"},
		{"negative queue timeout", Config{App: "apps:hello", QueueTimeout: -time.Second}, "QueueTimeout"},
		{"script name without slash", Config{App: "apps:hello", ScriptName: "legacy"}, "ScriptName"},
		{"script name with trailing slash", Config{App: "apps:hello", ScriptName: "/legacy/"}, "ScriptName"},
		// Each negative field is named with its value, and only those: the
		// error listed four or five fields whatever the one at fault.
		{"negative body buffer", Config{App: "apps:hello", BodyBuffer: -1}, "BodyBuffer -1 is negative"},
		{"negative max body", Config{App: "apps:hello", MaxBodySize: -1}, "MaxBodySize -1 is negative"},
		{"negative response buffer", Config{App: "apps:hello", ResponseBuffer: -1}, "ResponseBuffer -1 is negative"},
		{"negative start timeout", Config{App: "apps:hello", StartTimeout: -1}, "StartTimeout -1ns is negative"},
		{"negative max requests", Config{App: "apps:hello", MaxRequests: -1}, "MaxRequests -1 is negative"},
		{"negative jitter", Config{App: "apps:hello", MaxRequestsJitter: -2}, "MaxRequestsJitter -2 is negative"},
		{"negative max rss", Config{App: "apps:hello", MaxRSS: -1}, "MaxRSS -1 is negative"},
		{"negative lifetime", Config{App: "apps:hello", MaxLifetime: -time.Second}, "MaxLifetime -1s is negative"},
		{"negative slow request", Config{App: "apps:hello", SlowRequest: -time.Second}, "SlowRequest -1s is negative"},
		{"two negatives", Config{App: "apps:hello", BodyBuffer: -1, MaxRequests: -3},
			"wsgi: invalid config: BodyBuffer -1 is negative\nMaxRequests -3 is negative"},
		{"env without =", Config{App: "apps:hello", Env: []string{"FOO"}}, "not KEY=VALUE"},
		{"env without key", Config{App: "apps:hello", Env: []string{"=x"}}, "not KEY=VALUE"},
		{"missing python", Config{App: "apps:hello", Python: "/nonexistent/python3"},
			"wsgi: python interpreter /nonexistent/python3 not found (Config.Python, the examples' -python;"},
		{"python not on PATH", Config{App: "apps:hello", Python: "graft-no-such-python3"},
			"wsgi: python interpreter graft-no-such-python3 not found"},
		// They were said to be "not found", beside exec's "permission
		// denied" or "is a directory".
		// A relative path is named as made absolute (TestRelativePython).
		{"python not executable", Config{App: "apps:hello", Python: "testdata/apps.py"},
			"wsgi: python interpreter " + filepath.Join(testdataDir(t), "apps.py") + " is not an executable file (Config.Python, the examples' -python;"},
		{"python is a directory", Config{App: "apps:hello", Python: "./testdata"},
			"wsgi: python interpreter " + testdataDir(t) + " is not an executable file (Config.Python, the examples' -python;"},
		{"missing dir", Config{App: "apps:hello", Dir: "/nonexistent/graft-app"},
			"wsgi: cannot chdir to /nonexistent/graft-app: no such file or directory"},
		{"dir is a file", Config{App: "apps:hello", Dir: "testdata/apps.py"},
			"wsgi: cannot chdir to testdata/apps.py: not a directory"},
		// Found at start, not by the first upload over BodyBuffer (a 503
		// for each, small requests served): gunicorn spools nothing, and
		// Python's tempfile passes over a TMPDIR it cannot use.
		{"missing temp dir", Config{App: "apps:hello", TempDir: "/nonexistent/graft-tmp"},
			"wsgi: cannot create files in the temporary directory /nonexistent/graft-tmp (Config.TempDir, else $TMPDIR), where request bodies and responses for slow clients are spooled: no such file or directory"},
		// With AppFS the app's copy goes there too: a read-only file
		// system but for /tmp needs TMPDIR (or TempDir) writable.
		{"missing temp dir, AppFS", Config{App: "apps:hello", TempDir: "/nonexistent/graft-tmp", AppFS: fstest.MapFS{}},
			"wsgi: cannot create files in the temporary directory /nonexistent/graft-tmp (Config.TempDir, else $TMPDIR), where the copy of Config.AppFS is made and request bodies and responses for slow clients are spooled: no such file or directory"},
		{"temp dir is a file", Config{App: "apps:hello", TempDir: "testdata/apps.py"},
			"wsgi: cannot create files in the temporary directory testdata/apps.py (Config.TempDir, else $TMPDIR), where request bodies and responses for slow clients are spooled: not a directory"},
		{"several errors", Config{App: "", Workers: -1}, "Workers -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Python == "" {
				cfg.Python = py
			}
			if cfg.Dir == "" {
				cfg.Dir = testdataDir(t)
			}
			if cfg.Workers == 0 {
				cfg.Workers = 1
			}
			c, err := New(cfg)
			if err == nil {
				c.Shutdown(context.Background())
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			var le *LoadError
			if errors.As(err, &le) {
				t.Errorf("config error reported as a LoadError: %v", err)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := NewWithTransport(Config{App: "apps:hello", MaxQueue: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Config()
		if got.Threads != 1 || got.Timeout != 30*time.Second || got.MaxQueue != 0 || got.QueueTimeout != 30*time.Second ||
			got.BodyBuffer != 64<<10 || got.ResponseBuffer != 1<<20 || got.StartTimeout != 60*time.Second ||
			got.Python != "python3" || got.Workers < 1 || got.Logger == nil || got.ErrorHandler == nil {
			t.Errorf("defaults: %+v", got)
		}
	})
}

func newTestLogger(logs *pythontest.Buffer) *slogLogger { return slogNew(logs) }

// TestStatusOf maps every error to its status.
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{ErrAppError, 500}, {ErrWorkerDied, 502}, {ErrTimeout, 504}, {ErrQueueFull, 503}, {ErrQueueTimeout, 503},
		{ErrClosed, 503}, {ErrBodyTooLarge, 413}, {ErrBadBody, 400}, {ErrBadTarget, 400}, {ErrBadMethod, 400}, {ErrBadHeader, 400}, {ErrBodyTimeout, 408}, {ErrSpool, 503}, {ErrProtocol, 502},
		{fmt.Errorf("wrapped: %w", ErrTimeout), 504}, {errors.New("other"), 502},
		// IdentityMiddleware on a container without IdentityHook: the
		// server's configuration, no worker's failure (it was a 502).
		{ErrNoIdentityHook, 500},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestCompleteResponsesFreeWorker: streamed responses with a
// Content-Length, whose handlers return once the body is whole (before the
// worker's END is read: see Completer), leave no slot held: many in
// parallel on one worker, every body whole, the worker idle afterwards.
func TestCompleteResponsesFreeWorker(t *testing.T) {
	a := startApp(t, "dispatch", Config{}, nil)
	const clients, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, b, err := get(t, nil, "GET", a.srv.URL+"/length?cl=10&body=0123456789&how=gen", nil)
				if err != nil || resp.StatusCode != 200 || string(b) != "0123456789" {
					errs <- fmt.Errorf("status %v, body %q, err %v", resp.StatusCode, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	pl := poolOf(a.c)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pl.mu.Lock()
		held := pl.list[0].inflight
		pl.mu.Unlock()
		if held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still held after every response was whole", held)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := pl.list[0].served.Load(); got < clients*each {
		t.Errorf("worker served %d requests, want at least %d", got, clients*each)
	}
	if resp, b, err := get(t, nil, "GET", a.srv.URL+"/hello", nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("after: %v %q %v", resp.StatusCode, b, err)
	}
}

// TestDeathError: how the requests in flight on a dead worker end. A
// request that a single-threaded worker had not reached may be sent again
// (ErrNotStarted), unless Go dropped frames when it closed the socket
// (lost), since it then cannot tell whether the worker reached it.
func TestDeathError(t *testing.T) {
	for _, tc := range []struct {
		name                             string
		threads                          int
		seq, running                     uint64
		answered, timedOut, lost, truncd bool
		deadline                         time.Duration // from now; 0: none
		want                             error
	}{
		{name: "not reached", threads: 1, seq: 5, running: 3, want: ErrNotStarted},
		{name: "not reached, frames lost", threads: 1, seq: 5, running: 3, lost: true, want: ErrWorkerDied},
		{name: "the oldest unfinished", threads: 1, seq: 3, running: 3, want: ErrWorkerDied},
		{name: "answered", threads: 1, seq: 5, running: 3, answered: true, want: ErrWorkerDied},
		{name: "threaded", threads: 4, seq: 5, running: 3, want: ErrWorkerDied},
		{name: "timed out", threads: 1, seq: 3, running: 3, timedOut: true, want: ErrTimeout},
		{name: "timed out before it was reached", threads: 1, seq: 5, running: 3, timedOut: true, want: ErrTimeout},
		{name: "timed out, cut short", threads: 1, seq: 3, running: 3, answered: true, timedOut: true, lost: true, truncd: true, want: ErrTimeout},
		{name: "threaded, over its own deadline", threads: 4, seq: 5, running: 3, deadline: -time.Millisecond, want: ErrTimeout},
		{name: "threaded, within its deadline", threads: 4, seq: 5, running: 3, deadline: time.Minute, want: ErrWorkerDied},
		{name: "not reached, past its deadline", threads: 1, seq: 5, running: 3, deadline: -time.Millisecond, want: ErrNotStarted},
		{name: "the oldest unfinished, past its deadline", threads: 1, seq: 3, running: 3, deadline: -time.Millisecond, want: ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &proc{pool: &pool{cfg: Config{Threads: tc.threads}}, running: tc.running}
			p.lost.Store(tc.lost)
			s := &stream{seq: tc.seq}
			if tc.deadline != 0 {
				s.deadline = time.Now().Add(tc.deadline)
			}
			s.answered.Store(tc.answered)
			s.timedOut.Store(tc.timedOut)
			s.truncated.Store(tc.truncd)
			if got := p.deathError(s); got != tc.want {
				t.Errorf("deathError = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCloseIsTheRequests: the time and the faults of the iterable's
// close() are its own request's, never the next one's: a close() that runs
// past the Timeout times out its request (whose response is cut short),
// and a close() that kills the worker fails its request; the request that
// came next, which the worker had not started, is served by the
// replacement.
func TestCloseIsTheRequests(t *testing.T) {
	for _, mode := range []string{"sleep", "exit"} {
		t.Run(mode, func(t *testing.T) {
			a := startApp(t, "dispatch", Config{Workers: 1, Threads: 1, Timeout: 2 * time.Second}, nil)
			first := make(chan error, 1)
			go func() {
				resp, err := http.Get(a.srv.URL + "/slow_close?close=" + mode + "&tok=" + mode)
				if err != nil {
					first <- err
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				first <- fmt.Errorf("read %q: %w", b, err)
			}()
			waitFor(t, 5*time.Second, "close() to begin", func() bool { return exists(a.dir, mode+"-closing") })
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/hello", nil)
			if err != nil || resp.StatusCode != 200 || string(b) != "Hello, world!\n" {
				t.Errorf("the next request: %v %q %v; want 200 from a replacement", resp.StatusCode, b, err)
			}
			if err := <-first; errors.Unwrap(err) == nil {
				t.Errorf("the request whose close() failed ended cleanly: %v", err)
			}
		})
	}
}

// TestAppErrorUnprintable: an exception whose __str__ and __repr__ raise,
// from the app before its response, after its first chunk, or from the
// iterable's close(), is reported with its traceback (Python's traceback
// module words the message itself) and the worker lives on; so is one
// whose __getattr__ raises, which the traceback module of Python 3.11
// and 3.12 cannot format.
func TestAppErrorUnprintable(t *testing.T) {
	a := startApp(t, "dispatch", Config{}, nil)
	pid := pidOf(t, a.srv.URL+"/pid")
	for _, tc := range []struct{ where, log string }{
		{"before", "UnprintableError"},
		{"after", "aborting the connection"},
		{"close", "close() of the WSGI response iterable raised"},
		// Python 3.11 and 3.12 cannot format it (3.13 can): the worker
		// died of the formatting's error, the client got a 502.
		{"getattr", "AttrRaisingError: attr-raising-message"},
	} {
		t.Run(tc.where, func(t *testing.T) {
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/unprintable?where="+tc.where, nil)
			switch tc.where {
			case "before", "getattr":
				if resp.StatusCode != 500 {
					t.Errorf("status %d, want 500", resp.StatusCode)
				}
			case "after":
				if err == nil {
					t.Errorf("response completed (%q); want an aborted connection", b)
				}
			case "close":
				if err != nil || resp.StatusCode != 200 || string(b) != "closed-body" {
					t.Errorf("got %d %q %v, want 200 \"closed-body\"", resp.StatusCode, b, err)
				}
			}
			logHas(t, a.logs, 3*time.Second, tc.log)
			if got := pidOf(t, a.srv.URL+"/pid"); got != pid {
				t.Errorf("worker %d replaced by %d", pid, got)
			}
		})
	}
}

// TestRelativePython: an interpreter named by a relative path with a
// slash (-python venv/bin/python) is the one relative to the directory
// graft was started in, as a shell would find it, not relative to Dir,
// where the workers run: exec resolved it there, and New failed with
// "fork/exec venv/bin/python: no such file or directory" for a file that
// exists.
func TestRelativePython(t *testing.T) {
	venv := filepath.Join(t.TempDir(), "venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pythontest.Python(t), filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(cwd, filepath.Join(venv, "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newContainer(t, Config{App: "apps:hello", Python: rel}) // Dir: testdata/, not the cwd
	srv := newServer(t, c)
	if b := mustGet(t, srv.URL+"/"); string(b) != "Hello, world!\n" {
		t.Errorf("body %q", b)
	}
	if got, want := c.Status().Python, filepath.Join(venv, "bin", "python"); got != want {
		t.Errorf("Status().Python = %q, want the absolute path %q", got, want)
	}
}

// TestLoadErrorDirHint: an app whose own module is not found (Config.Dir
// left out, or naming another directory, as a forgotten gunicorn --chdir)
// fails with an error that names the directory the workers looked in and
// says to set Dir; a file name for a module says to drop the .py; a module
// the app imports that is missing gets no such hint.
func TestLoadErrorDirHint(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name, app, dir string
		want           []string // in the hint, and before the traceback
	}{
		{"wrong directory", "flaskapp:app", empty, []string{
			`the app's module "flaskapp" is not in ` + empty + " (the workers' directory", "Config.Dir, the examples' -chdir",
			"the directory that holds flaskapp.py or the package flaskapp/"}},
		{"package of a dotted module", "mysite.wsgi:application", empty, []string{
			`the app's module "mysite.wsgi" is not in ` + empty, "the package mysite/"}},
		{"a file name", "apps.py:app", testdataDir(t), []string{
			`"apps.py" is a file name: the app spec takes the module, "apps:app"`}},
		{"a missing import of the app's own", "loadfail_import", testdataDir(t), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{App: tc.app, Python: pythontest.Python(t), Dir: tc.dir, Workers: 1,
				Logger: newTestLogger(&pythontest.Buffer{})})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("New: %v, want a *LoadError", err)
			}
			if le.Dir != tc.dir {
				t.Errorf("LoadError.Dir = %q, want %q", le.Dir, tc.dir)
			}
			if tc.want == nil {
				if h := le.Hint(); h != "" {
					t.Errorf("a missing import of the app's own got a hint: %q", h)
				}
				return
			}
			first, _, _ := strings.Cut(err.Error(), "\nTraceback")
			for _, w := range tc.want {
				if !strings.Contains(le.Hint(), w) || !strings.Contains(first, w) {
					t.Errorf("hint %q (error before its traceback: %q) lacks %q", le.Hint(), first, w)
				}
			}
		})
	}
}
