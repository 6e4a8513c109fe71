package wsgi

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaper reaps the orphans a process running as PID 1 inherits: in a
// container started without an init (docker run without --init, a
// Kubernetes pod), every process whose parent dies is given to PID 1, and
// stays a zombie until PID 1 waits for it. graft's own processes make such
// orphans (the workers of a preload process that died), and so do apps (a
// daemonised grandchild of a subprocess). A child subreaper
// (Config.ChildSubreaper) inherits the orphans of its descendants in the
// same way, and reaps them the same way.
//
// It must not reap the children whose exit someone in this process waits
// for: graft's workers and preload processes, whose cmd.Wait says how they
// ended, and any process the program embedding graft starts with os/exec.
// A wait for any child (wait4(-1)) would take their exit status, and their
// cmd.Wait would fail with ECHILD. What tells them apart: os/exec (Go 1.23
// and later, on Linux 5.4 and later) starts every child with a pidfd, made
// by the same clone call, and holds it until Wait has reaped the child (or
// Release). So a zombie child for which this process holds no pidfd has
// no waiter in this process, and the reaper reaps it; one it holds a pidfd
// for is left to that pidfd's owner. A worker forked by a preload process
// comes with a pidfd too (see watchExit); once graft closes it, the reaper
// is nudged, as such a worker may already be a zombie whose SIGCHLD came
// and went.
//
// The order matters: the zombies are listed first, the pidfds after. A
// zombie was started before the list of pidfds was read, so a pidfd made
// with it is in that list unless its owner has reaped it already (then
// wait4 finds nothing). Reading the pidfds first would let a child started
// and ended in between look unowned.
type reaper struct {
	kick chan struct{} // a pass is wanted: a pidfd was closed (see nudge)
}

// subreaperSupported: Config.ChildSubreaper works here.
const subreaperSupported = true

// processReaper returns the process's reaper, started by the first call
// that needs one: nil unless the process is PID 1 or subreaper is set,
// which makes the process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER) first, so that the orphans of its descendants
// are given to it. The error says why no reaper runs (the kernel does not
// give os/exec pidfds, so graft could not tell its own children from
// orphans); the process is then not made a subreaper.
func processReaper(subreaper bool) (*reaper, error) {
	if os.Getpid() != 1 && !subreaper {
		return nil, nil
	}
	if err := pidfdWaitWorks(); err != nil {
		return nil, fmt.Errorf("wsgi: os/exec cannot wait by pidfd here (Linux 5.4 or later, and a seccomp profile allowing pidfd_open, are needed), so orphans cannot be told from children it waits for: %w", err)
	}
	if subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("wsgi: ChildSubreaper: prctl(PR_SET_CHILD_SUBREAPER): %w", err)
		}
	}
	return startReaper(), nil
}

// startReaper starts the process's reaper once. It is the one piece of
// package state, because a process has one set of children, whatever
// number of pools it runs: two reapers could each find the same orphan,
// and the second's wait4 could take a new child that was given its pid in
// between.
var startReaper = sync.OnceValue(func() *reaper {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	r := &reaper{kick: make(chan struct{}, 1)}
	go r.run(sig)
	r.nudge() // the orphans inherited before now
	return r
})

// run makes a pass on each SIGCHLD or nudge. Signals that come during a
// pass are kept (one is enough: the channels hold one), so a child that
// ends after a pass read /proc gets a pass of its own.
func (r *reaper) run(sig <-chan os.Signal) {
	for {
		select {
		case <-sig:
		case <-r.kick:
		}
		reapOrphans()
	}
}

// nudge asks for a pass: a pidfd of a child was closed, and a child left
// as a zombie for the pidfd's owner may now be an orphan. No-op on a nil
// reaper (neither PID 1 nor a subreaper).
func (r *reaper) nudge() {
	if r == nil {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default: // a pass is pending already
	}
}

// reapOrphans reaps every zombie child of this process for which the
// process holds no pidfd (see reaper).
func reapOrphans() {
	if !zombieChild() {
		return
	}
	self := os.Getpid()
	var zombies []int
	for pid, parent := range zombieProcs() {
		if parent == self {
			zombies = append(zombies, pid)
		}
	}
	if len(zombies) == 0 {
		return
	}
	held := pidfdPids()
	for _, pid := range zombies {
		if held[pid] {
			continue // its owner waits for it (os/exec), or closes the pidfd and nudges
		}
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err != syscall.EINTR {
				break
			}
		}
	}
}

// zombieProcs returns the zombie processes that /proc shows, each with
// its parent's pid.
func zombieProcs() map[int]int {
	z := make(map[int]int)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// fields[0] is the state, fields[1] the parent.
		if f := procStat(pid); len(f) >= 2 && f[0] == "Z" {
			if parent, err := strconv.Atoi(f[1]); err == nil {
				z[pid] = parent
			}
		}
	}
	return z
}

// zombieChild reports whether a child of this process has ended and waits
// to be reaped, without reaping it (waitid with WNOWAIT): a SIGCHLD for a
// child already reaped by its cmd.Wait costs no reading of /proc.
func zombieChild() bool {
	var info unix.Siginfo // left zeroed by WNOHANG when no child has ended
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err == nil && info.Signo == int32(unix.SIGCHLD)
	}
}

// pidfdPids returns the pids of the processes this process holds a pidfd
// for: the "Pid:" line of a pidfd's /proc/self/fdinfo entry, which no
// other kind of descriptor has.
func pidfdPids() map[int]bool {
	held := make(map[int]bool)
	ents, _ := os.ReadDir("/proc/self/fdinfo")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Pid:"); ok {
				if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && pid > 0 {
					held[pid] = true
				}
			}
		}
	}
	return held
}

// pidfdWaitWorks reports whether os/exec waits for its children by pidfd
// here, as it does when pidfd_open and waitid(P_PIDFD) work (part of the
// test the os package makes; without them it waits by pid, and the reaper
// could not tell its children from orphans).
func pidfdWaitWorks() error {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(fd)
	var info unix.Siginfo
	switch err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil); err {
	case unix.ECHILD: // a process is not its own child
		return nil
	case nil:
		return errors.New("waitid(P_PIDFD) on this process did not fail")
	default:
		return fmt.Errorf("waitid(P_PIDFD): %w", err)
	}
}
