package wsgi

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pid1Env marks the run of this test binary that is PID 1 of its own pid
// namespace (see TestReapOrphansAsPID1).
const pid1Env = "GRAFT_TEST_AS_PID1"

// TestReapOrphansAsPID1: graft as PID 1 of a container without an init
// (docker run without --init) inherits every orphaned process, and must
// reap them, as init does. It reaped none: an app's daemonised grandchild
// and the workers of a preload process killed with -9 stayed zombies
// forever. Its own children's exits must still reach their cmd.Wait: a
// killed worker (a fresh interpreter) and a killed preload process are
// logged with how they ended, "killed by signal 9", not a wait's ECHILD.
//
// The test runs this test binary again as PID 1 of a new pid namespace
// (unshare -pf --mount-proc, with a user namespace when not root), where
// the test's body runs.
func TestReapOrphansAsPID1(t *testing.T) {
	if os.Getenv(pid1Env) == "1" {
		reapAsPID1(t)
		return
	}
	python := pythontest.Python(t, "flask")
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare, which runs this test as PID 1 of a new pid namespace, is not found (apt-get install util-linux): %v", err)
	}
	args := []string{"--pid", "--fork", "--mount-proc"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user") // a user namespace: no root needed where they are allowed
	}
	args = append(args, os.Args[0], "-test.run=^TestReapOrphansAsPID1$", "-test.v", "-test.count=1", "-test.timeout=3m")
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), pid1Env+"=1", "GRAFT_PYTHON="+python)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReapOrphansAsPID1") {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// reapAsPID1 is TestReapOrphansAsPID1's body, run as PID 1.
func reapAsPID1(t *testing.T) {
	if os.Getpid() != 1 {
		t.Fatalf("pid %d; want 1 (run by TestReapOrphansAsPID1 in a new pid namespace)", os.Getpid())
	}
	for _, tc := range []struct {
		name      string
		noPreload bool
	}{
		{"fresh", true},    // workers are graft's children (os/exec)
		{"preload", false}, // workers are a preload process's children
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "apps:dispatch", Workers: 2, NoPreload: tc.noPreload})
			srv := newServer(t, c)

			// A child this process started with os/exec, and waits for
			// only later: it is a zombie when the reaper's pass for the
			// orphan below runs, and is left to its cmd.Wait.
			own := exec.Command(pythontest.Python(t), "-c", "raise SystemExit(3)")
			if err := own.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the os/exec child to end", func() bool {
				f := procStat(own.Process.Pid)
				return len(f) == 0 || f[0] == "Z" // gone: reaped by someone other than its Wait
			})

			// An app's orphan: a grandchild whose parent exited.
			gc, err := strconv.Atoi(string(mustGet(t, srv.URL+"/orphan")))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("the orphaned grandchild %d to be reaped", gc), func() bool {
				_, err := os.Stat(fmt.Sprintf("/proc/%d", gc))
				return err != nil
			})
			if err := own.Wait(); own.ProcessState == nil || own.ProcessState.ExitCode() != 3 {
				t.Errorf("the os/exec child's Wait: %v; want exit status 3", err)
			}

			// A killed worker (fresh) or preload process (preload), which
			// graft waits for with cmd.Wait: replaced, and logged with its
			// exit status. With preload, the workers killed with it are
			// orphans.
			worker := c.Status().Workers[0].PID
			victim, line := worker, fmt.Sprintf(`graft.worker=%d graft.exit="killed by signal 9 (killed)"`, worker)
			if !tc.noPreload {
				victim = parentPID(t, worker)
				line = fmt.Sprintf(`graft.zygote=%d graft.exit="killed by signal 9 (killed)"`, victim)
			}
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			logHas(t, logs, 20*time.Second, line)
			waitFor(t, 20*time.Second, "new workers", func() bool {
				st := c.Status()
				return len(st.Workers) == 2 && st.Workers[0].PID != worker && st.Workers[1].PID != worker
			})
			mustGet(t, srv.URL+"/")
			for deadline := time.Now().Add(10 * time.Second); len(zombies()) > 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if z := zombies(); len(z) > 0 {
				t.Errorf("zombies left: %v", z)
			}
		})
	}
}

// zombies lists the processes of this pid namespace that are zombies.
func zombies() []string {
	var z []string
	for pid, parent := range zombieProcs() {
		z = append(z, fmt.Sprintf("%d (parent %d)", pid, parent))
	}
	return z
}

// subreaperEnv marks the run of this test binary that makes itself a
// child subreaper (see TestReapOrphansAsSubreaper).
const subreaperEnv = "GRAFT_TEST_AS_SUBREAPER"

// TestReapOrphansAsSubreaper: with Config.ChildSubreaper, graft (not PID
// 1) inherits the orphans of its descendants and reaps them: an app's
// grandchild whose parent exited is given to graft, not to the system's
// init, and is reaped when it ends; with preload, the workers of a
// preload process killed with -9 are too. Its own children's exits still
// reach their cmd.Wait, as for PID 1. The test runs this test binary
// again, since a subreaper stays one for the rest of the process.
func TestReapOrphansAsSubreaper(t *testing.T) {
	if os.Getenv(subreaperEnv) == "1" {
		reapAsSubreaper(t)
		return
	}
	python := pythontest.Python(t, "flask")
	cmd := exec.Command(os.Args[0], "-test.run=^TestReapOrphansAsSubreaper$", "-test.v", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), subreaperEnv+"=1", "GRAFT_PYTHON="+python)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReapOrphansAsSubreaper") {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// reapAsSubreaper is TestReapOrphansAsSubreaper's body.
func reapAsSubreaper(t *testing.T) {
	self := os.Getpid()
	for _, tc := range []struct {
		name      string
		noPreload bool
	}{
		{"fresh", true},    // workers are graft's children (os/exec)
		{"preload", false}, // workers are a preload process's children
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "apps:dispatch", Workers: 2, NoPreload: tc.noPreload, ChildSubreaper: true})
			srv := newServer(t, c)

			// A child this process started with os/exec and waits for
			// later: left to its cmd.Wait.
			own := exec.Command(pythontest.Python(t), "-c", "raise SystemExit(3)")
			if err := own.Start(); err != nil {
				t.Fatal(err)
			}

			// An app's orphan, alive until killed (its linger, 60 s, is
			// far longer than the test): given to this process, which
			// reaps it once it is killed. The answer comes as soon as
			// the grandchild's parent has exited, so the grandchild is
			// alive when the test looks for its parent, however slow
			// the machine: no race with the reaper.
			gc, err := strconv.Atoi(string(mustGet(t, srv.URL+"/orphan?linger=60")))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if f := procStat(gc); len(f) >= 2 && f[1] == strconv.Itoa(self) {
					syscall.Kill(gc, syscall.SIGKILL) // the test failed before killing it
				}
			})
			parent := "none seen"
			waitFor(t, 10*time.Second, fmt.Sprintf("the orphaned grandchild %d to be given to this process (%d)", gc, self), func() bool {
				f := procStat(gc)
				if len(f) < 2 {
					t.Fatalf("the grandchild %d ended before the test killed it, and was reaped without being seen given to this process (%d); its last parent: %s", gc, self, parent)
				}
				parent = f[1]
				return parent == strconv.Itoa(self)
			})
			if err := syscall.Kill(gc, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("the orphaned grandchild %d to be reaped", gc), func() bool {
				return len(procStat(gc)) == 0
			})
			if err := own.Wait(); own.ProcessState == nil || own.ProcessState.ExitCode() != 3 {
				t.Errorf("the os/exec child's Wait: %v; want exit status 3", err)
			}

			if !tc.noPreload {
				// The preload process killed with -9: its workers,
				// orphans, are given to this process and reaped once
				// they exit; graft logs the preload process's end.
				worker := c.Status().Workers[0].PID
				z := parentPID(t, worker)
				if err := syscall.Kill(z, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				logHas(t, logs, 20*time.Second, fmt.Sprintf(`graft.zygote=%d graft.exit="killed by signal 9 (killed)"`, z))
				waitFor(t, 20*time.Second, "new workers", func() bool {
					st := c.Status()
					return len(st.Workers) == 2 && st.Workers[0].PID != worker && st.Workers[1].PID != worker
				})
				mustGet(t, srv.URL+"/")
			}
			var left []int
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				left = left[:0]
				for pid, parent := range zombieProcs() {
					if parent == self {
						left = append(left, pid)
					}
				}
				if len(left) == 0 {
					break
				}
			}
			if len(left) > 0 {
				t.Errorf("zombie children left: %v", left)
			}
		})
	}
}
