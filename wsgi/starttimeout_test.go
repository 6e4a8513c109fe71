package wsgi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// hangLine is the frame of testdata/slowimport.py where its import hangs,
// as faulthandler prints it (quoted by the text handler).
var hangLine = regexp.MustCompile(`File \\"[^"\\]*slowimport\.py\\", line \d+ in graft_import_hangs_here`)

// stackPID returns the pid (graft.worker or graft.zygote) of the one
// record holding a stack dump.
func stackPID(t *testing.T, log string) int {
	t.Helper()
	m := regexp.MustCompile(`graft\.(?:worker|zygote)=(\d+)[^\n]*graft\.stack=`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no stack record with a pid in the log:\n%s", log)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// TestStartTimeout: an app whose import hangs makes New fail after
// StartTimeout with an error that says so; the log holds the Python stack
// of the import, once, at ERROR, and no process is left.
func TestStartTimeout(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			// On a loaded machine a process can time out before its
			// Python has started graft's worker program, so before the
			// import (TestStartTimeoutBeforeWorker): it sends no stack.
			// Such an attempt shows nothing of a hanging import, and is
			// made again, a few times at most.
			var logs *pythontest.Buffer
			var took time.Duration
			var err error
			for attempt := 1; ; attempt++ {
				logs = &pythontest.Buffer{}
				start := time.Now()
				var c *Container
				c, err = New(Config{App: "slowimport", Python: pythontest.Python(t), Dir: testdataDir(t), Workers: 2,
					NoPreload: noPreload, StartTimeout: 2 * time.Second, Logger: newTestLogger(logs)})
				took = time.Since(start)
				if err == nil {
					c.Shutdown(t.Context())
					t.Fatal("New succeeded with an import that hangs")
				}
				if attempt == 3 || !strings.Contains(logs.String(), "no Python stack came from the") {
					break
				}
				t.Logf("attempt %d: a process timed out before it began the import (a loaded machine): %v", attempt, err)
			}
			if !errors.Is(err, ErrStartTimeout) || !strings.Contains(err.Error(), "StartTimeout (2s)") || !strings.Contains(err.Error(), "the examples' -start-timeout") ||
				!strings.Contains(err.Error(), `still importing "slowimport"`) {
				t.Errorf("error %q; want ErrStartTimeout naming 2s, the app and the examples' flag", err)
			}
			if took < 2*time.Second {
				t.Errorf("New failed after %v, before the 2s StartTimeout", took)
			}
			log := logs.String()
			want := 1
			if noPreload {
				want = 2 // each worker imports the app, and each is stuck
			}
			if n := strings.Count(log, "graft.stack="); n != want {
				t.Fatalf("%d stack records; want %d:\n%s", n, want, log)
			}
			if n := len(hangLine.FindAllString(log, -1)); n != want {
				t.Errorf("the hanging frame appears %d times; want %d:\n%s", n, want, log)
			}
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "graft.stack=") && !strings.Contains(line, "level=ERROR") {
					t.Errorf("stack record not at ERROR: %s", line)
				}
				if strings.Contains(line, "graft.stream=stdio") {
					t.Errorf("a line of the dump was logged on its own: %s", line)
				}
			}
			if strings.Contains(err.Error(), "graft_import_hangs_here") {
				t.Errorf("the error repeats the stack, which is logged: %v", err)
			}
			pid := stackPID(t, log)
			waitFor(t, 5*time.Second, "the stuck process to be gone", func() bool { return !pidAlive(pid) })
		})
	}
}

// TestStartTimeoutReplacement: a replacement worker whose import hangs is
// killed after StartTimeout with its stack logged once; the pool keeps
// trying, and serves again once the import works. On a loaded machine a
// replacement can also time out before its Python has started graft's
// worker program (see TestStartTimeoutBeforeWorker): it sends no stack,
// and its error says it had not begun importing; the test waits for a
// start that timed out importing before it lets the import work, and
// counts one stack per such start.
func TestStartTimeoutReplacement(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "hang")
	c, logs := newContainer(t, Config{App: "slowimport", NoPreload: true, StartTimeout: 2 * time.Second,
		Env: []string{"GRAFT_HANG_FLAG=" + flag}})
	srv := newServer(t, c)
	pid, _ := strconv.Atoi(string(mustGet(t, srv.URL)))
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	logHas(t, logs, 30*time.Second, "could not start a replacement worker", "was still importing")
	os.Remove(flag)
	waitFor(t, 20*time.Second, "a replacement worker", func() bool {
		b, err := fetch(srv.URL)
		return err == nil && b != strconv.Itoa(pid) && b != ""
	})
	log := logs.String()
	if !hangLine.MatchString(log) {
		t.Errorf("no stack of the hanging import in the log:\n%s", log)
	}
	importing := 0 // timed-out starts that had begun the import
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "could not start a replacement worker") && strings.Contains(line, "was still importing") {
			importing++
		}
	}
	if n := strings.Count(log, "graft.stack="); n != importing {
		t.Errorf("%d stack records for %d starts that timed out importing; want one each:\n%s", n, importing, log)
	}
}

// TestStartTimeoutBeforeWorker: a process whose Python is still starting
// up when StartTimeout passes (here a sitecustomize that hangs; on an
// overloaded machine, a slow interpreter start) has not run graft's
// worker program, so it has no SIGUSR1 handler and sends no stack: the
// error said it "was still importing" the app with "its Python stack in
// the log", and a stack record was promised that never came. The error
// now says it had not begun importing, the log says no stack came, and
// no stack record is logged.
func TestStartTimeoutBeforeWorker(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			logs := &pythontest.Buffer{}
			c, err := New(Config{App: "apps:pid", Python: pythontest.Python(t), Dir: testdataDir(t), Workers: 1,
				NoPreload: noPreload, StartTimeout: time.Second, Logger: newTestLogger(logs),
				Env: []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "slowstart")}})
			if err == nil {
				c.Shutdown(t.Context())
				t.Fatal("New succeeded with a Python start-up that hangs")
			}
			if !errors.Is(err, ErrStartTimeout) || !strings.Contains(err.Error(), `had not begun importing "apps:pid"`) ||
				strings.Contains(err.Error(), "still importing") || strings.Contains(err.Error(), "stack is in the log") {
				t.Errorf("error %q; want ErrStartTimeout saying the app's import had not begun", err)
			}
			log := logs.String()
			if strings.Contains(log, "graft.stack=") {
				t.Errorf("a stack record for a process that sent none:\n%s", log)
			}
			if n := strings.Count(log, "no Python stack came from the"); n != 1 {
				t.Errorf("%d records saying no stack came; want 1:\n%s", n, log)
			}
		})
	}
}
