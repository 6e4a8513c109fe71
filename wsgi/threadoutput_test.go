package wsgi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestAppThreadOutput: threads the app starts itself print, log and print
// tracebacks at the same time; each line is one record of its own with
// exactly its text, each traceback one ERROR record, whatever the other
// threads write meanwhile. Their writes reached Go under one key (no
// request id) and were gathered together: print writes its text and then
// its newline, so two threads' prints came out as "tp-a-0-1tp-a-1-1" and
// an empty line, and a record of one thread logged the partial line or
// the traceback another thread was writing.
func TestAppThreadOutput(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "threadprint:app", NoPreload: !preload})
			srv := newServer(t, c)
			const n, rounds = 4, 30
			tag := fmt.Sprint("p", preload)
			mustGet(t, srv.URL+fmt.Sprintf("/threads?tag=%s&n=%d", tag, n))
			var want []string
			for i := range n {
				want = append(want, fmt.Sprintf("ValueError: tptb-%s-%d", tag, i))
				for r := range rounds {
					want = append(want, fmt.Sprintf("msg=tp-%s-%d-%d ", tag, i, r), fmt.Sprintf("msg=tplog-%s-%d-%d ", tag, i, r))
				}
			}
			logHas(t, logs, 10*time.Second, want...)
			time.Sleep(2 * dumpQuiet)
			tbs := 0
			for _, l := range strings.Split(logs.String(), "\n") {
				if !strings.Contains(l, "tp-"+tag) && !strings.Contains(l, "tplog-"+tag) && !strings.Contains(l, "tptb-"+tag) {
					if strings.Contains(l, "graft.stream=stdio") && (strings.Contains(l, `msg=""`) || strings.Contains(l, "msg=\"\\n")) {
						t.Errorf("an empty printed line: %s", l)
					}
					continue
				}
				switch {
				case strings.Contains(l, "error.stack_trace="):
					tbs++
					if strings.Count(l, `\nValueError: tptb-`) != 1 || strings.Count(l, "Traceback (most recent call last)") != 1 || strings.Contains(l, "tp-"+tag) {
						t.Errorf("a traceback record holds more than its own traceback: %s", l)
					}
				case strings.Count(l, "tp-")+strings.Count(l, "tplog-") != 1 || strings.Contains(l, `\n`):
					t.Errorf("a record holds more than one line: %s", l)
				}
			}
			if tbs != n {
				t.Errorf("%d traceback records, want %d", tbs, n)
			}
		})
	}
}

// TestThreadExceptionWhole: the traceback of a thread that ends with an
// uncaught exception (threading.excepthook) is written in one write, with
// its "Exception in thread" line, so that Go logs it as one ERROR record
// as it comes. Python's own hook, written in C, wrote it a piece at a
// time (a write per line part), and Go held it until its next line or
// 100 ms of quiet (dumpQuiet).
func TestThreadExceptionWhole(t *testing.T) {
	pythontest.Python(t)
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "threadexc:app", NoPreload: !preload})
			srv := newServer(t, c)
			if got := string(mustGet(t, srv.URL+"/")); got != "1" {
				t.Errorf("threading.excepthook wrote the traceback in %s writes, want 1", got)
			}
			logHas(t, logs, 10*time.Second, "ValueError: thexc")
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "ValueError: thexc") && !strings.Contains(l, "level=ERROR") {
					t.Errorf("the thread's traceback not one ERROR record: %s", l)
				}
			}
			if !strings.Contains(logs.String(), "Exception in thread thexc-thread") {
				t.Errorf("no \"Exception in thread thexc-thread\" line in the log:\n%s", logs)
			}
		})
	}
}
