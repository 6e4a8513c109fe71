package wsgi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestAppForks: a process the app forks (os.fork in a view, a
// multiprocessing Process with the 'fork' start method) inherits the
// worker's socket to Go and its print and logging plumbing. It must never
// speak graft's protocol: what it prints, logs or writes to wsgi.errors
// reaches the log with its text, through the worker's output pipe; the
// parent's response and the next ones are intact; and the worker is
// neither killed nor replaced, however the child ends (os._exit,
// sys.exit with atexit hooks that print and log, an exception or a return
// out of the view) or however long it lives, and it holds no socket to Go.
// A child the app terminate()s dies of the SIGTERM the worker itself
// drops, and a program the app runs does not inherit the socket. Before
// ChildGuard (worker.py), a child leaving with sys.exit or an exception
// answered its parent's request with a 500 (its ERROR frame came first),
// one returning from the view answered it and went on serving requests,
// a child logging while its parent sent a big response cut its frames
// (the worker was killed: "frame too large"), and terminate() left the
// child running. With preload (workers forked by the zygote, which must
// still get their own socket) and without, and with request threads.
// testdata/forkapp.py says what each case's child does.
func TestAppForks(t *testing.T) {
	py := pythontest.Python(t, "flask")
	cases := []struct {
		how  string
		want []string // in the log, after "-" + the tag
	}{
		{"os_exit", []string{"child-print", "child-stderr", "child-log", "child-errors"}},
		{"sys_exit", []string{"child-print", "child-stderr", "child-log", "child-errors", "child-atexit", "child-atexit-log"}},
		{"raise", []string{"child-print", "child-log", "child-errors", "child-raised"}},
		{"return", []string{"child-print", "child-log", "child-errors"}},
		// The child holds no socket: not its parent's, which it would
		// keep open past the worker's exit.
		{"linger", []string{"child-print", "child-log", "child-late-log", "child-late-print"}},
	}
	for _, v := range []struct {
		preload bool
		threads int
	}{{true, 1}, {false, 1}, {true, 4}} {
		preload := v.preload
		t.Run(fmt.Sprintf("preload=%v,threads=%d", preload, v.threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "forkapp:app", Python: py, NoPreload: !preload, Threads: v.threads})
			srv := newServer(t, c)
			pid := string(mustGet(t, srv.URL+"/pid"))
			intact := func(t *testing.T) {
				t.Helper()
				for range 5 {
					if got := string(mustGet(t, srv.URL+"/pid")); got != pid {
						t.Fatalf("GET /pid = %q, want %q: the worker was replaced (or a child answered)", got, pid)
					}
				}
				if b := mustGet(t, srv.URL+"/big"); len(b) != 4<<20 || strings.Trim(string(b), "x") != "" {
					t.Fatalf("GET /big: %d bytes, want 4 MiB of x", len(b))
				}
			}
			for _, tc := range cases {
				t.Run(tc.how, func(t *testing.T) {
					tag := fmt.Sprintf("%s-%v-%d", tc.how, preload, v.threads)
					body := string(mustGet(t, srv.URL+"/fork/"+tc.how+"?tag="+tag))
					if want := "parent " + tag + " " + pid; body != want {
						t.Fatalf("GET /fork/%s = %q, want %q", tc.how, body, want)
					}
					intact(t)
					var subs []string
					for _, w := range tc.want {
						subs = append(subs, w+"-"+tag)
					}
					switch tc.how {
					case "linger":
						subs[len(subs)-1] += " sockets=0"
					case "return":
						subs = append(subs, "forked by the app, returned from the app")
					}
					logHas(t, logs, 10*time.Second, subs...)
					intact(t)
				})
			}
			t.Run("multiprocessing", func(t *testing.T) {
				tag := fmt.Sprintf("mp-%v-%d", preload, v.threads)
				body := string(mustGet(t, srv.URL+"/mp?tag="+tag))
				if want := "parent " + tag + " " + pid + " exit 0"; body != want {
					t.Fatalf("GET /mp = %q, want %q", body, want)
				}
				logHas(t, logs, 10*time.Second, "mp-print-"+tag, "mp-log-"+tag)
				intact(t)
			})
			t.Run("terminate", func(t *testing.T) {
				// multiprocessing's terminate() sends SIGTERM, which the
				// worker drops (Go drains it) but its children must not.
				if got := string(mustGet(t, srv.URL+"/mp_terminate")); got != "exit -15" {
					t.Fatalf("GET /mp_terminate = %q, want %q (the child died of SIGTERM)", got, "exit -15")
				}
				intact(t)
			})
			t.Run("early terminate", func(t *testing.T) {
				// The at-fork hooks block SIGTERM around fork and leave
				// neither side blocking it; a child forked without them
				// that gets one runs the worker's handler, which must
				// end it as the default would, not drop it.
				if got := string(mustGet(t, srv.URL+"/early_term")); got != "signal 15" {
					t.Fatalf("GET /early_term = %q, want %q (the child ended by the SIGTERM its inherited handler got)", got, "signal 15")
				}
				intact(t)
			})
			t.Run("exec", func(t *testing.T) {
				// A program the app runs without closing descriptors
				// (os.system, subprocess with close_fds=False) does not
				// inherit the worker's socket.
				if got := string(mustGet(t, srv.URL+"/exec_sockets")); got != "0" {
					t.Fatalf("GET /exec_sockets = %q sockets in the program the app ran, want 0", got)
				}
				intact(t)
			})
			t.Run("concurrent", func(t *testing.T) {
				// The child logs 4 MiB while the parent sends 4 MiB:
				// on a shared socket the two writes interleave.
				tag := fmt.Sprintf("big-%v-%d", preload, v.threads)
				resp, b, err := get(t, nil, "GET", srv.URL+"/fork/big?tag="+tag, nil)
				if err != nil || resp.StatusCode != http.StatusOK || len(b) != 4<<20 || strings.Trim(string(b), "p") != "" {
					t.Fatalf("GET /fork/big: status %d, %d bytes, err %v; want 200 and 4 MiB of p", resp.StatusCode, len(b), err)
				}
				logHas(t, logs, 10*time.Second, "child-big-"+tag)
				intact(t)
			})
			if strings.Contains(logs.String(), "worker died") {
				t.Errorf("a worker died:\n%s", logs.String())
			}
			if n, err := strconv.Atoi(pid); err != nil || !pidAlive(n) {
				t.Errorf("worker %s is gone", pid)
			}
		})
	}
}

// TestAppForkOutlivesWorker: a child the app forked that outlives its
// worker (here, the whole container) holds no socket to Go, does not
// delay Shutdown, and what it prints afterwards is still logged, with its
// worker's pid, until it exits.
func TestAppForkOutlivesWorker(t *testing.T) {
	py := pythontest.Python(t, "flask")
	for _, preload := range []bool{true, false} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "forkapp:app", Python: py, NoPreload: !preload})
			srv := newServer(t, c)
			pid := string(mustGet(t, srv.URL+"/pid"))
			tag := fmt.Sprintf("outlive-%v", preload)
			mustGet(t, srv.URL+"/fork/linger?tag="+tag) // the child prints again 1.5 s later
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Shutdown took %v with a child of the worker still running; want it not to wait for the child", d)
			}
			logHas(t, logs, 10*time.Second, "child-late-print-"+tag+" sockets=0")
			if line := logLine(logs, "child-late-print-"+tag); !strings.Contains(line, "graft.worker="+pid) {
				t.Errorf("the child's late line is not tagged with its worker %s: %s", pid, line)
			}
		})
	}
}
