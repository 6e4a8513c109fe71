package wsgi

import (
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestSuperviseStress reloads, recycles (max-requests), kills workers and
// shuts down, all at once and under load. Run with -race: the pool's
// generation handling must not race, nothing may start a process after
// Shutdown (a send on the closed spawner panicked the Go process), and no
// worker may outlive Shutdown.
func TestSuperviseStress(t *testing.T) {
	for _, preload := range []bool{true, false} {
		t.Run(fmt.Sprint("preload=", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "apps:hello", Workers: 2, Threads: 2,
				MaxRequests: 3, MaxRequestsJitter: 2, NoPreload: !preload})
			srv := newServer(t, c)
			client := &http.Client{Timeout: 30 * time.Second}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			pids := map[int]bool{}
			var failures []string
			note := func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			loop := func(fn func()) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						fn()
					}
				}()
			}
			for range 4 {
				loop(func() {
					resp, err := client.Get(srv.URL + "/")
					if err != nil {
						note("GET: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				})
			}
			loop(func() {
				err := c.Reload(context.Background())
				if err != nil && !errors.Is(err, ErrClosed) {
					note("Reload: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			})
			loop(func() {
				// Kill a worker now and then: its replacement races with the
				// rest.
				st := c.Status()
				mu.Lock()
				for _, w := range st.Workers {
					pids[w.PID] = true
				}
				mu.Unlock()
				if len(st.Workers) > 0 {
					syscall.Kill(st.Workers[0].PID, syscall.SIGKILL)
				}
				time.Sleep(150 * time.Millisecond)
			})

			time.Sleep(2 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := c.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			cancel()
			time.Sleep(300 * time.Millisecond) // the load goes on against a closed container
			close(stop)
			wg.Wait()

			mu.Lock()
			defer mu.Unlock()
			for _, f := range failures {
				t.Error(f)
			}
			for code, n := range statuses {
				switch code {
				case 200, 503: // served, or shut down
				case 502: // in flight on a worker this test killed
				default:
					t.Errorf("%d responses with status %d", n, code)
				}
			}
			if statuses[200] == 0 || statuses[503] == 0 {
				t.Errorf("statuses %v: want both served and shut-down requests", statuses)
			}
			for pid := range pids {
				waitFor(t, 5*time.Second, fmt.Sprintf("worker %d to be gone after Shutdown", pid), func() bool {
					var ws syscall.WaitStatus
					syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
					return !pidAlive(pid)
				})
			}
			if t.Failed() {
				t.Logf("statuses %v", statuses)
			}
			_ = logs
		})
	}
}

// hangExitApp starts testdata/hangexit.py from a fresh directory, which
// is also its $GRAFT_TEST_DIR and, being on every one of its processes'
// command line, tells them from any other Python process (see appProcs).
// hang: its processes' exit hooks never return.
func hangExitApp(t *testing.T, cfg Config, hang bool) (c *Container, logs *pythontest.Buffer, url, dir string) {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc")
	}
	b, err := os.ReadFile(filepath.Join(testdataDir(t), "hangexit.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hangexit.py"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.App, cfg.Dir = "hangexit:app", dir
	cfg.Env = append(cfg.Env, "GRAFT_TEST_DIR="+dir)
	if hang {
		cfg.Env = append(cfg.Env, "GRAFT_TEST_HANG_EXIT=1")
	}
	c, logs = newContainer(t, cfg)
	return c, logs, newServer(t, c).URL, dir
}

// appProcs returns the live processes (workers and zygotes; not zombies)
// whose command line has dir as an argument: the Python processes of an
// app started from dir.
func appProcs(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline") // empty for a zombie
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(string(cmdline), "\x00"), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestShutdownKillsStragglersTogether: once Shutdown's ctx is done (the
// graceful timeout ran out, or a second signal cancelled it), every worker
// still running (here, stuck in C code, which reads no EOF) and every
// zygote (whose exit hook hangs) is killed at the same time. They were
// killed one after the other, exitGrace (2 s) each: 4 workers took 8 s,
// then the zygote 2 s more.
func TestShutdownKillsStragglersTogether(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noPreload bool
		ctx       func() (context.Context, context.CancelFunc)
	}{
		{"deadline/preload", false, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}},
		{"deadline/nopreload", true, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}},
		{"cancelled/preload", false, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const workers = 4
			c, logs, url, dir := hangExitApp(t, Config{Workers: workers, Timeout: 100 * time.Second, NoPreload: tc.noPreload}, true)
			for range workers {
				asyncGet(context.Background(), url+"/csleep?s=100")
			}
			waitFor(t, 10*time.Second, "every worker to sleep in C", func() bool {
				m, _ := filepath.Glob(filepath.Join(dir, "csleep-*"))
				return len(m) == workers
			})
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := c.Shutdown(ctx)
			took := time.Since(start)
			if err == nil {
				t.Error("Shutdown returned nil with requests still running")
			}
			// Killed one after the other: 4 x exitGrace, and more.
			if took > 5*time.Second {
				t.Errorf("Shutdown took %v; the stragglers were not killed together", took)
			}
			if pids := appProcs(t, dir); len(pids) > 0 {
				t.Errorf("processes %v still running after Shutdown", pids)
			}
			if l := logLine(logs, "told to exit still has requests running"); !strings.Contains(l, "level=WARN") ||
				!strings.Contains(l, "graft.reason=shutdown") || !strings.Contains(l, "graft.worker=") {
				t.Errorf("no WARN line naming a killed busy worker and why; got %q", l)
			}
			// The zygote is told to exit once its workers are gone: with
			// the time up, it is killed at once, for that, not for a hook.
			if !tc.noPreload {
				if l := logLine(logs, "preload process still running when the shutdown's time ran out"); !strings.Contains(l, "level=WARN") ||
					!strings.Contains(l, "graft.reason=shutdown") {
					t.Errorf("no WARN line saying the zygote was killed for the shutdown's time; got %q", l)
				}
			}
			if strings.Contains(logs.String(), "exit hook that does not return") {
				t.Errorf("a process killed when the shutdown's time ran out is said to hang in an exit hook:\n%s", logs)
			}
		})
	}
}

// TestShutdownOverKillsIdleWorker: an idle worker whose exit hook hangs,
// still running when Shutdown's ctx ends (before exitGrace), is killed
// then, and the WARN line says the shutdown's time ran out: that, not
// the hook, is what it was killed for.
func TestShutdownOverKillsIdleWorker(t *testing.T) {
	c, logs, _, dir := hangExitApp(t, Config{Workers: 1, NoPreload: true}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c.Shutdown(ctx)
	if pids := appProcs(t, dir); len(pids) > 0 {
		t.Errorf("processes %v still running after Shutdown", pids)
	}
	if l := logLine(logs, "worker told to exit is still running when the shutdown's time ran out"); !strings.Contains(l, "level=WARN") ||
		!strings.Contains(l, "graft.reason=shutdown") {
		t.Errorf("no WARN line saying the idle worker was killed for the shutdown's time; got %q\n%s", l, logs)
	}
}

// TestLeavingWorkersAreKilled: a worker told to leave (recycled, reloaded)
// that has finished its requests but does not exit (an exit hook that
// never returns, a stopped process) is killed after exitGrace, and so is
// an old zygote once its workers are gone; a WARN line names each and why.
// They stayed forever, "draining", and old zygotes waited for them.
func TestLeavingWorkersAreKilled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		hang    bool // exit hooks that never return
		act     func(t *testing.T, c *Container, url string)
		reason  string
		zygotes bool // old zygotes are killed too (with preload)
	}{
		{"max-requests", Config{Workers: 1, MaxRequests: 2}, true, func(t *testing.T, c *Container, url string) {
			for range 10 {
				mustGet(t, url)
			}
		}, "max-requests", false},
		{"reload", Config{Workers: 2}, true, func(t *testing.T, c *Container, url string) {
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := c.Reload(ctx); err != nil {
					t.Fatalf("Reload: %v", err)
				}
				cancel()
				mustGet(t, url)
			}
		}, "reload", true},
		{"stopped worker at reload", Config{Workers: 2}, false, func(t *testing.T, c *Container, url string) {
			for pid := range workerPIDs(c.Status()) {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Reload(ctx); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			mustGet(t, url)
		}, "reload", false},
	} {
		for _, noPreload := range []bool{false, true} {
			name := tc.name + "/preload"
			if noPreload {
				name = tc.name + "/nopreload"
			}
			t.Run(name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.NoPreload = noPreload
				c, logs, url, dir := hangExitApp(t, cfg, tc.hang)
				tc.act(t, c, url)
				want := cfg.Workers
				if !noPreload {
					want++ // the zygote
				}
				var pids []int
				converged := false
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					pids = appProcs(t, dir)
					st := c.Status()
					draining := 0
					for _, w := range st.Workers {
						if w.State == "draining" {
							draining++
						}
					}
					// The kill's WARN line too: under load the recycle may
					// not have begun when the requests are done, and the
					// counts alone would already match.
					killed := strings.Contains(logs.String(), "worker told to exit is still running")
					if len(pids) == want && len(st.Workers) == cfg.Workers && draining == 0 && killed {
						converged = true
						break
					}
				}
				if !converged {
					t.Fatalf("processes %v, status %+v; want %d processes, %d workers, none draining", pids, c.Status().Workers, want, cfg.Workers)
				}
				if l := logLine(logs, "worker told to exit is still running"); !strings.Contains(l, "level=WARN") ||
					!strings.Contains(l, "graft.reason="+tc.reason) || !strings.Contains(l, "graft.worker=") {
					t.Errorf("no WARN line naming a killed leaving worker and why (%s); got %q", tc.reason, l)
				}
				if tc.zygotes && !noPreload {
					if l := logLine(logs, "preload process told to exit is still running"); !strings.Contains(l, "level=WARN") ||
						!strings.Contains(l, "graft.reason="+tc.reason) || !strings.Contains(l, "graft.zygote=") {
						t.Errorf("no WARN line naming a killed old zygote and why (%s); got %q", tc.reason, l)
					}
				}
			})
		}
	}
}

// TestStartMissingDir: when Dir is gone after the start, a reload or a
// replacement fails with the error New gives for it ("cannot chdir to
// DIR"), not exec's, which blamed the interpreter ("fork/exec
// /usr/bin/python3: no such file or directory"); the old workers keep
// serving.
func TestStartMissingDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		// start tries to start a process after Dir is gone; it returns the
		// error, or the log line that reports it.
		start func(t *testing.T, c *Container, logs *pythontest.Buffer, url string) string
	}{
		{"reload/preload", Config{}, reloadError},
		{"reload/nopreload", Config{NoPreload: true}, reloadError},
		{"replacement/nopreload", Config{NoPreload: true, MaxRequests: 2}, func(t *testing.T, c *Container, logs *pythontest.Buffer, url string) string {
			mustGet(t, url) // the second request: the worker is recycled, but its replacement cannot start
			logHas(t, logs, 10*time.Second, "could not start a replacement")
			return logLine(logs, "could not start a replacement")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs, url, dir := hangExitApp(t, tc.cfg, false)
			var old int
			fmt.Sscan(string(mustGet(t, url)), &old)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			got := tc.start(t, c, logs, url)
			if want := "cannot chdir to " + dir + ": no such file or directory"; !strings.Contains(got, want) {
				t.Errorf("got %q; want it to say %q", got, want)
			}
			if strings.Contains(got, "fork/exec") {
				t.Errorf("got %q; it blames the interpreter", got)
			}
			var pid int
			fmt.Sscan(string(mustGet(t, url)), &pid)
			if pid != old {
				t.Errorf("answered by %d; want the old worker %d", pid, old)
			}
		})
	}
}

// reloadError reloads c and returns its error.
func reloadError(t *testing.T, c *Container, _ *pythontest.Buffer, _ string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.Reload(ctx)
	if err == nil {
		t.Fatal("Reload succeeded with Dir gone")
	}
	return err.Error()
}

// TestImportThreadsWarned: an app that starts a thread while it is
// imported is warned about under preload (its workers are forked without
// the thread, with whatever locks it held), naming the thread, and not
// without preload, where every worker imports the app itself.
// TestAtForkHooks: workers forked from the zygote run the app's
// os.register_at_fork(after_in_child=...) hooks, gunicorn's post_fork, so
// that an app re-opens what it opened at import (docs/operations.md).
func TestAtForkHooks(t *testing.T) {
	for _, c := range []struct {
		name      string
		noPreload bool
	}{
		{"preload", false},
		{"no preload", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, _ := newContainer(t, Config{App: "atfork:app", Workers: 2, NoPreload: c.noPreload})
			srv := newServer(t, a)
			for i := 0; i < 4; i++ {
				if b := mustGet(t, srv.URL+"/"); string(b) != "ok" {
					t.Fatalf("request %d: got %q, want the resource re-opened in the worker", i, b)
				}
			}
		})
	}
}

func TestImportThreadsWarned(t *testing.T) {
	for _, c := range []struct {
		name      string
		noPreload bool
		warned    bool
	}{
		{"preload", false, true},
		{"no preload", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, logs := newContainer(t, Config{App: "importthread:app", NoPreload: c.noPreload})
			srv := newServer(t, a)
			if b := mustGet(t, srv.URL+"/"); string(b) != "ok" {
				t.Fatalf("got %q", b)
			}
			warned := strings.Contains(logs.String(), "started 1 thread(s) while it was imported (ticker)")
			if warned != c.warned {
				t.Errorf("warned: %v, want %v:\n%s", warned, c.warned, logs)
			}
		})
	}
}

// TestRecycleOfRetiredWorker: a worker at its MaxRequests whose
// replacement is still starting when a reload retires it is not replaced
// by it (the reload's worker takes its place: the replacement is
// dismissed once ready), and the requests that came meanwhile wait for the
// reload's worker. A recycle of a retired worker started a worker of the
// new generation and put it into service next to the reload's, one worker
// more than Config.Workers for good (the count drifted up with each reload
// under load; a new reload set it back). Here the replacement's import is
// held (testdata/holdimport.py) while the reload runs.
func TestRecycleOfRetiredWorker(t *testing.T) {
	dir := holdImportDir(t)
	c, logs := newContainer(t, Config{App: "holdimport:app", Dir: dir, NoPreload: true, Workers: 1, MaxRequests: 2,
		Env: []string{"GRAFT_TEST_DIR=" + dir}})
	srv := newServer(t, c)
	old := c.Status().Workers[0].PID
	touch(t, dir, "hold")
	for i := range 2 {
		if got := string(mustGet(t, srv.URL+"/")); got != fmt.Sprint(old) {
			t.Fatalf("request %d answered by %s; want the worker %d", i, got, old)
		}
	}
	// Its two requests served, the worker takes no other; its
	// replacement's import is held.
	holding, held := waitHeldImport(t, dir, "the replacement's import")
	answer := make(chan string, 1)
	go func() {
		resp, b, err := get(t, nil, "GET", srv.URL+"/", nil)
		if err != nil || resp.StatusCode != 200 {
			answer <- fmt.Sprintf("status %d, %q, %v", resp.StatusCode, b, err)
			return
		}
		answer <- string(b)
	}()
	select {
	case got := <-answer:
		t.Fatalf("a request was answered (%s) by the worker at its limit, or refused, before the reload", got)
	case <-time.After(300 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	st := c.Status()
	reloaded := 0
	for _, w := range st.Workers {
		if w.Generation == st.Generation {
			reloaded = w.PID
		}
	}
	if got := <-answer; got != fmt.Sprint(reloaded) {
		t.Errorf("the waiting request was answered %q; want it served by the reload's worker (%+v)", got, st.Workers)
	}
	if err := os.Remove(holding); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("the held replacement %d to be dismissed", held), func() bool {
		var ws syscall.WaitStatus
		syscall.Wait4(held, &ws, syscall.WNOHANG, nil)
		return !pidAlive(held)
	})
	waitFor(t, 10*time.Second, fmt.Sprintf("old worker %d to exit", old), func() bool { return !pidAlive(old) })
	if l := logLine(logs, "recycling worker"); l != "" {
		t.Errorf("the retired worker %d was recycled: %s", old, l)
	}
	if st := c.Status(); len(st.Workers) != 1 || st.Workers[0].Generation != st.Generation {
		t.Errorf("workers %+v after the reload (generation %d); want Config.Workers, 1, of that generation", st.Workers, st.Generation)
	}
}

// TestReplacementAfterReload: a replacement for a dead worker that was
// still starting when a reload put a new generation into service is not
// needed (the new generation has Config.Workers workers): it is
// dismissed, and none is started instead. It was replaced by a worker of
// the new generation, put into service next to the reload's: one worker
// more than Config.Workers until the next reload. Here the replacement's
// import is held (testdata/holdimport.py) while the reload runs, then it
// loads, or dies.
func TestReplacementAfterReload(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, dir string, pid int) // ends the held start
	}{
		{"loads", func(t *testing.T, dir string, pid int) {
			if err := os.Remove(filepath.Join(dir, fmt.Sprint("holding-", pid))); err != nil {
				t.Fatal(err)
			}
		}},
		{"dies", func(t *testing.T, dir string, pid int) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, logs := newContainer(t, Config{App: "holdimport:app", NoPreload: true, Workers: 1,
				Env: []string{"GRAFT_TEST_DIR=" + dir}})
			dead := c.Status().Workers[0].PID
			touch(t, dir, "hold")
			if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_, held := waitHeldImport(t, dir, "the replacement's import")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Reload(ctx); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			tc.end(t, dir, held)
			waitFor(t, 10*time.Second, fmt.Sprintf("the held replacement %d to be gone", held), func() bool {
				var ws syscall.WaitStatus
				syscall.Wait4(held, &ws, syscall.WNOHANG, nil)
				return !pidAlive(held)
			})
			// Another replacement would be ready by now.
			if missing, _ := logWait(logs, 3*time.Second, "wsgi: worker ready"); missing == "" {
				t.Errorf("a replacement was put into service after the reload: %s", logLine(logs, "wsgi: worker ready"))
			}
			if st := c.Status(); len(st.Workers) != 1 || st.Workers[0].Generation != st.Generation {
				t.Errorf("workers %+v after the reload (generation %d); want Config.Workers, 1, of that generation", st.Workers, st.Generation)
			}
		})
	}
}

// holdImportDir returns a new directory holding testdata/holdimport.py, an
// app whose import waits while the file "hold" is in GRAFT_TEST_DIR.
func holdImportDir(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir(t), "holdimport.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "holdimport.py"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitHeldImport waits until one process's import of holdimport.py is
// held in dir (what says whose) and returns its "holding-PID" file and
// the pid.
func waitHeldImport(t *testing.T, dir, what string) (string, int) {
	t.Helper()
	var held string
	waitFor(t, 10*time.Second, what+" to be held", func() bool {
		ms, _ := filepath.Glob(filepath.Join(dir, "holding-*"))
		if len(ms) == 1 {
			held = ms[0]
		}
		return held != ""
	})
	pid, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(held), "holding-"))
	return held, pid
}

// reloadAsync starts c.Reload (30 s at most) and returns its outcome's
// channel.
func reloadAsync(c *Container) chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- c.Reload(ctx)
	}()
	return done
}

// TestReloadWhilePreloadRestarts: a reload that puts its generation into
// service while the old generation's preload process is being restarted
// (it died, and its workers with it; a replacement restarts it) does not
// wait for that restart, and the restarted process leaves with its
// generation. The reload waited for it holding the pool's lock: every
// request, the status page and Shutdown stopped until the old code had
// imported (StartTimeout at worst), and a reload that took the lock
// between the restart's two steps deadlocked the pool.
func TestReloadWhilePreloadRestarts(t *testing.T) {
	dir := holdImportDir(t)
	c, _ := newContainer(t, Config{App: "holdimport:app", Dir: dir, Workers: 1, Env: []string{"GRAFT_TEST_DIR=" + dir}})
	srv := newServer(t, c)
	worker := c.Status().Workers[0].PID
	zygote := parentPID(t, worker)
	touch(t, dir, "hold")
	if err := syscall.Kill(zygote, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	held, _ := waitHeldImport(t, dir, "the restarted preload process's import")
	reloaded := reloadAsync(c)
	select {
	case err := <-reloaded:
		if err != nil {
			t.Errorf("Reload: %v", err)
		}
		if b := string(mustGet(t, srv.URL+"/")); b != fmt.Sprint(c.Status().Workers[0].PID) {
			t.Errorf("GET / after the reload: %q; want the new worker's pid", b)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("Reload did not return while the old generation's preload process was importing")
	}
	if err := os.Remove(held); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		<-reloaded
		return
	}
	// The restarted preload process of the old generation, and any worker
	// it forked, leave: the new zygote and its worker are all that is left.
	waitFor(t, 10*time.Second, "the old generation's processes to be gone", func() bool {
		return len(appProcs(t, dir)) == 2
	})
	if st := c.Status(); len(st.Workers) != 1 || st.Workers[0].Generation != st.Generation {
		t.Errorf("workers %+v after the reload (generation %d); want 1 of that generation", st.Workers, st.Generation)
	}
}

// parentPID returns the parent of process pid (/proc/PID/stat).
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...: comm may hold spaces, not ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return ppid
}

// TestConcurrentShutdown: a Shutdown called while another runs (Serve's,
// and the program's own on the same signal) returns once the first has
// stopped every process, with its result. It returned nil at once, with
// the workers still running their requests, and removed the AppFS copy
// and closed the spooled bodies from under them.
func TestConcurrentShutdown(t *testing.T) {
	a := startApp(t, "dispatch", Config{Workers: 1}, nil)
	pid := a.c.Status().Workers[0].PID
	answer := make(chan string, 1)
	go func() {
		_, b, err := get(t, nil, "GET", a.srv.URL+"/block?tok=a", nil)
		if err != nil {
			answer <- err.Error()
			return
		}
		answer <- string(b)
	}()
	waitFor(t, 10*time.Second, "a to run", func() bool { return exists(a.dir, "a-started") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- a.c.Shutdown(ctx) }()
	waitFor(t, 10*time.Second, "the first Shutdown to begin", func() bool { return !a.c.Status().Ready })
	second := make(chan error, 1)
	go func() { second <- a.c.Shutdown(ctx) }()
	touch(t, a.dir, "a-go")
	if err := <-second; err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if pidAlive(pid) {
		t.Errorf("the second Shutdown returned with worker %d still running", pid)
	}
	if got, want := <-answer, fmt.Sprintf("released a pid %d", pid); got != want {
		t.Errorf("a: %q; want %q", got, want)
	}
	if err := <-first; err != nil {
		t.Errorf("first Shutdown: %v", err)
	}
}

// TestWorkerDiesBeforeService: a worker that dies after it is ready but
// before it is put into service (a reload's, while the generation's other
// workers still import) is replaced when its generation goes into
// service. It was put into service dead: retired by its death, it took no
// request and stayed in the status as "draining" for good, and the pool
// ran one worker short until the next reload. Here the reload's other
// worker's import is held (testdata/holdimport.py) while the ready one is
// killed.
func TestWorkerDiesBeforeService(t *testing.T) {
	dir := holdImportDir(t)
	c, _ := newContainer(t, Config{App: "holdimport:app", Dir: dir, NoPreload: true, Workers: 2,
		Env: []string{"GRAFT_TEST_DIR=" + dir}})
	old := workerPIDs(c.Status())
	touch(t, dir, "hold")
	reloaded := reloadAsync(c)
	held, heldPID := waitHeldImport(t, dir, "a new worker's import")
	ready := 0
	waitFor(t, 10*time.Second, "the other new worker to be ready (reading its socket)", func() bool {
		for _, pid := range appProcs(t, dir) {
			if !old[pid] && pid != heldPID {
				ready = pid
			}
		}
		// After READY, the worker's main thread waits for requests on its
		// socket: before, it reads nothing from it.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", ready))
		return ready != 0 && string(b) == "unix_stream_read_generic"
	})
	if err := syscall.Kill(ready, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("worker %d to be reaped", ready), func() bool { return !pidAlive(ready) })
	if err := os.Remove(held); err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitFor(t, 15*time.Second, "2 live workers of the new generation, none draining", func() bool {
		st := c.Status()
		if len(st.Workers) != 2 {
			return false
		}
		for _, w := range st.Workers {
			if w.State == "draining" || w.Generation != st.Generation || w.PID == ready || !pidAlive(w.PID) {
				return false
			}
		}
		return true
	})
}

// TestReloadWaitHonoursContext: a Reload waiting for another one to finish
// (one at a time) returns when its context is done. It waited for the
// other reload whatever its context: Serve, shutting down with a SIGHUP's
// reload waiting behind another one (AutoReload's, or a program's own),
// waited for that reload, an import that hangs for StartTimeout, past its
// graceful timeout and a second signal. Here the first reload's import
// is held (testdata/holdimport.py).
func TestReloadWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	c, _ := newContainer(t, Config{App: "holdimport:app", Workers: 1, Env: []string{"GRAFT_TEST_DIR=" + dir}})
	touch(t, dir, "hold")
	first := reloadAsync(c)
	held, _ := waitHeldImport(t, dir, "the first reload's import")
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- c.Reload(ctx) }()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("second Reload: %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the second Reload did not return when its context was cancelled")
	}
	if err := os.Remove(held); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Reload: %v", err)
	}
	if t.Failed() {
		<-second
	}
}

// TestReadyLogFollowsDeath: a replacement worker that dies once it is
// ready but before it is put into service (killed here in that window,
// which a real worker hits by dying right after READY) is replaced, and
// never logged as ready. "wsgi: worker ready" was logged after addLocked
// whatever it had found: right after "worker died before it was put into
// service".
func TestReadyLogFollowsDeath(t *testing.T) {
	c, logs := newContainer(t, Config{App: "apps:pid"})
	pl := poolOf(c)
	g := pl.current()
	p, err := pl.startAndWait(g)
	if err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGKILL)
	waitFor(t, 10*time.Second, "the killed worker to be found dead", func() bool {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		return p.ended
	})
	if !pl.putInService(g, p) {
		t.Fatal("putInService: the worker is not needed; want it needed (the pool serves generation g)")
	}
	logHas(t, logs, 5*time.Second, "worker died before it was put into service", fmt.Sprintf("%s=%d", logWorker, p.pid))
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "wsgi: worker ready") && slices.Contains(strings.Fields(line), fmt.Sprintf("%s=%d", logWorker, p.pid)) {
			t.Errorf("the dead worker is logged as ready: %s", line)
		}
	}
	if slices.Contains(pl.pids(), p.pid) {
		t.Errorf("the dead worker %d is in service", p.pid)
	}
}

// TestTimeoutWhileLeaving: a request that times out on a worker already
// leaving (here retired by a reload while the request ran) kills the
// worker, which is not replaced again: the reload's worker took its place
// and graft_wsgi_worker_restarts_total counts it under "reload", not
// "timeout". The log says so, on the timeout's line and on the worker's
// exit line; the timeout's line used to read as for a worker in service
// ("…then it is killed"), so the timeout lines outnumbered the timeout
// restarts (a soak saw 85 lines against 69 counted).
func TestTimeoutWhileLeaving(t *testing.T) {
	a := startApp(t, "dispatch", Config{Workers: 1, Timeout: 5 * time.Second}, nil)
	old := a.c.Status().Workers[0].PID
	status := make(chan int, 1)
	go func() {
		resp, _, _ := get(t, nil, "GET", a.srv.URL+"/block?tok=a", nil)
		status <- resp.StatusCode
	}()
	waitFor(t, 10*time.Second, "the request to run", func() bool { return exists(a.dir, "a-started") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.c.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if strings.Contains(a.logs.String(), "request timed out") {
		t.Fatalf("the request timed out before the reload retired its worker (a reload slower than the 5 s Timeout); log:\n%s", a.logs.String())
	}
	if got := <-status; got != 504 {
		t.Errorf("status %d, want 504", got)
	}
	waitFor(t, 10*time.Second, "the old worker to exit", func() bool { return !pidAlive(old) })
	logHas(t, a.logs, 3*time.Second, "wsgi: worker killed for a timeout exited")
	line := logLine(a.logs, "request timed out")
	for _, want := range []string{"already leaving", "not replaced", "graft.reason=reload"} {
		if !strings.Contains(line, want) {
			t.Errorf("the timeout's line lacks %q: %s", want, line)
		}
	}
	exit := logLine(a.logs, "worker killed for a timeout exited")
	if !strings.Contains(exit, "graft.reason=reload") {
		t.Errorf("the exit line lacks graft.reason=reload: %s", exit)
	}
	if died := logLine(a.logs, "worker died"); died != "" {
		t.Errorf("a replacement was started: %s", died)
	}
	if r := a.c.Status().Restarts; r["timeout"] != 0 || r["reload"] != 1 {
		t.Errorf("restarts %v, want reload 1 and timeout 0", r)
	}
	if st := a.c.Status(); len(st.Workers) != 1 {
		t.Errorf("%d workers; want Config.Workers, 1: %+v", len(st.Workers), st.Workers)
	}
}

// TestZygoteDeathLogged: a preload process that dies while it serves (the
// OOM killer's choice, a kill -9) is logged at WARN with how it ended, and
// its workers, which die with it, say so; they are replaced. Nothing said
// that it had died, and each worker's line said that its preload process
// "does not answer".
func TestZygoteDeathLogged(t *testing.T) {
	c, logs := newContainer(t, Config{App: "apps:hello", Workers: 2})
	srv := newServer(t, c)
	worker := c.Status().Workers[0].PID
	zygote := parentPID(t, worker)
	if err := syscall.Kill(zygote, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "two new workers", func() bool {
		st := c.Status()
		if len(st.Workers) != 2 {
			return false
		}
		for _, w := range st.Workers {
			if w.PID == worker {
				return false
			}
		}
		return true
	})
	mustGet(t, srv.URL+"/")
	l := logLine(logs, "preload process died")
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, fmt.Sprintf("graft.zygote=%d", zygote)) ||
		!strings.Contains(l, `graft.exit="killed by signal 9 (killed)"`) {
		t.Errorf("no WARN line saying the preload process died and how; got %q\n%s", l, logs)
	}
	if l := logLine(logs, fmt.Sprintf("graft.worker=%d graft.exit=", worker)); !strings.Contains(l, `graft.exit="killed with its preload process"`) {
		t.Errorf("the worker's line does not say it died with its preload process: %q", l)
	}
	if strings.Contains(logs.String(), "does not answer") {
		t.Errorf("a dead preload process is said not to answer:\n%s", logs)
	}
}
