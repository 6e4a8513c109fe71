package wsgi

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestZygoteForkFails: a fork the preload process cannot make (EAGAIN: a
// process limit, a cgroup's pids.max, systemd's TasksMax) is answered as a
// failed fork, with the reason logged, and the zygote, with the app it
// imported, stays to fork the replacement once the limit allows. The
// OSError escaped the zygote's loop: it died, and a new one had to import
// the app again, under the same limit.
func TestZygoteForkFails(t *testing.T) {
	a := startApp(t, "pid", Config{Workers: 1, Env: []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "forkfail")}}, nil)
	z := poolOf(a.c).current().zygote()
	if z == nil {
		t.Fatal("no zygote with preload")
	}
	victim := pidOf(t, a.srv.URL)
	touch(t, a.dir, "forkfail")
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	logHas(t, a.logs, 10*time.Second, "fork failed", "Resource temporarily unavailable")
	if !z.alive() {
		t.Fatalf("the zygote exited after a failed fork:\n%s", a.logs.String())
	}
	if err := os.Remove(filepath.Join(a.dir, "forkfail")); err != nil {
		t.Fatal(err)
	}
	var pid int
	waitFor(t, 30*time.Second, "a replacement worker", func() bool {
		pids := poolOf(a.c).pids()
		if len(pids) != 1 || pids[0] == victim {
			return false
		}
		pid = pids[0]
		return true
	})
	if ppid := parentOf(t, pid); ppid != z.pid {
		t.Errorf("the replacement %d is a child of %d, not of the zygote %d", pid, ppid, z.pid)
	}
	if got := pidOf(t, a.srv.URL); got != pid {
		t.Errorf("served by %d, want the replacement %d", got, pid)
	}
}
