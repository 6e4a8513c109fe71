package wsgi

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerSIGTERM: a SIGTERM to a worker (systemd's default
// KillMode=control-group sends one to every process of the service when it
// stops, at the same time as Go's) leaves the request it runs to finish:
// Go decides when workers stop, after draining. Workers exited at once,
// and the request in flight got a 502.
func TestWorkerSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"preload", Config{Workers: 1}},
		{"no-preload", Config{Workers: 1, NoPreload: true}},
		{"threads", Config{Workers: 1, Threads: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, "dispatch", tc.cfg, nil)
			pids := poolOf(a.c).pids()
			if len(pids) != 1 {
				t.Fatalf("workers %v, want one", pids)
			}
			type result struct {
				status int
				body   string
			}
			done := make(chan result, 1)
			go func() {
				resp, b, err := get(t, nil, "GET", a.srv.URL+"/block?tok=t", nil)
				if err != nil {
					done <- result{body: err.Error()}
					return
				}
				done <- result{resp.StatusCode, string(b)}
			}()
			waitFor(t, 10*time.Second, "the request to start", func() bool { return exists(a.dir, "t-started") })
			if err := syscall.Kill(pids[0], syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// The signal is handled between two bytecodes of the app, which
			// polls for t-go every 5 ms: give the worker time to act on it.
			time.Sleep(200 * time.Millisecond)
			touch(t, a.dir, "t-go")
			r := <-done
			if want := "released t pid " + strconv.Itoa(pids[0]); r.status != 200 || r.body != want {
				t.Errorf("request in flight at the SIGTERM: %d %q, want 200 %q", r.status, r.body, want)
			}
			if !pidAlive(pids[0]) {
				t.Errorf("worker %d gone after a SIGTERM", pids[0])
			}
		})
	}
}

// TestChildSignals: the app's child processes start with the signal
// dispositions graft's own process has. The worker ignored SIGINT with
// SIG_IGN, which a child inherits across exec: an app's subprocess could
// not be interrupted.
func TestChildSignals(t *testing.T) {
	own := sigIgn(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"preload", Config{Workers: 1}},
		{"no-preload", Config{Workers: 1, NoPreload: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, "child_sigign", tc.cfg, nil)
			got, err := strconv.ParseUint(strings.TrimSpace(string(mustGet(t, a.srv.URL))), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
				bit := uint64(1) << (sig - 1)
				if got&bit != own&bit {
					t.Errorf("%v ignored in the app's child: %t, in graft's process: %t", sig, got&bit != 0, own&bit != 0)
				}
			}
		})
	}
}

// sigIgn returns the signals this process ignores (SigIgn of
// /proc/self/status).
func sigIgn(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", "self", "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no SigIgn in /proc/self/status")
	return 0
}
