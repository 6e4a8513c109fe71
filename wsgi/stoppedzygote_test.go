package wsgi

import (
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A worker that dies while its preload process is stopped (SIGSTOP, a
// debugger) is replaced all the same: Go learns of its exit from the
// worker itself (its pidfd), not only from the zygote's report, and a
// zygote that does not answer a fork is passed over: the replacement
// starts as a fresh interpreter, as without preload. Once the zygote runs
// again, workers come from it again. The worker's requests never fail.
func TestStoppedZygote(t *testing.T) {
	c, logs := newContainer(t, Config{App: "opsapp:app", Workers: 2, StartTimeout: 60 * time.Second})
	pl := poolOf(c)
	z := pl.current().zygote()
	if z == nil {
		t.Fatal("no zygote with preload")
	}
	before := workerPIDs(c.Status())
	var victim int
	for pid := range before {
		victim = pid
		break
	}
	if err := syscall.Kill(z.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(z.pid, syscall.SIGCONT)
		}
	}()
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Replaced while the zygote is still stopped.
	var replacement int
	waitFor(t, 45*time.Second, "a replacement while the zygote is stopped", func() bool {
		now := workerPIDs(c.Status())
		if len(now) != 2 || now[victim] {
			return false
		}
		for pid := range now {
			if !before[pid] {
				replacement = pid
			}
		}
		return replacement != 0
	})
	if ppid := parentOf(t, replacement); ppid == z.pid {
		t.Errorf("the replacement %d is a child of the stopped zygote", replacement)
	}
	l := logLine(logs, "worker died; starting a replacement")
	if !strings.Contains(l, "graft.worker="+strconv.Itoa(victim)) || strings.Contains(l, "graft.exit=running") {
		t.Errorf("the dead worker's line: %q; want its pid and how it ended", l)
	}
	if !strings.Contains(logs.String(), "does not answer") {
		t.Errorf("no line saying the preload process does not answer:\n%s", logs)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	for range 4 {
		mustAnswer(t, srv.URL+"/pid")
	}

	// Running again: the next replacement is forked by it.
	syscall.Kill(z.pid, syscall.SIGCONT)
	stopped = false
	before = workerPIDs(c.Status())
	if err := syscall.Kill(replacement, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 45*time.Second, "a replacement from the zygote", func() bool {
		now := workerPIDs(c.Status())
		if len(now) != 2 || now[replacement] {
			return false
		}
		for pid := range now {
			if !before[pid] && parentOf(t, pid) == z.pid {
				return true
			}
		}
		return false
	})
	t.Logf("log:\n%s", logs)
}

// parentOf returns the parent pid of pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return ppid
}
