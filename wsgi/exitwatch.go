package wsgi

import (
	"os"
	"syscall"
	"time"
)

// watchExit waits, on the pidfd its zygote z sent with FORKED, for p, a
// worker z forked, to end. z reaps its workers and reports each exit with
// how it ended (EXITED), and die waits for that report before a dead
// worker is replaced: a zygote that cannot report it (stopped by SIGSTOP
// or a debugger, or hung) would hold the replacement up until it ran
// again. So once the pidfd shows the end, z gets lastWordsGrace to report
// it; then p is marked exited without knowing how. Its pid stays its own
// until z reaps it (a zombie's pid is not reused), and signal sends
// nothing once p is marked exited, so no other process is signalled by
// that pid. Without a pollable pidfd (a kernel before Linux 5.3), the
// exit is known from EXITED only. Once the pidfd is closed, the reaper
// (when graft is PID 1) is nudged: p may be a zombie given to PID 1 by
// z's death, which the reaper left alone while the pidfd was held.
func (p *proc) watchExit(z *zygote) {
	defer p.pool.reaper.nudge() // after the pidfd's close, deferred below
	if err := syscall.SetNonblock(p.pidfd, true); err != nil {
		syscall.Close(p.pidfd)
		return
	}
	f := os.NewFile(uintptr(p.pidfd), "graft-worker-pidfd") // non-blocking: on Go's poller
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// A pidfd polls readable once its process has ended. The first call
	// only waits for that; the poller calls again when it comes.
	waited := false
	if err := rc.Read(func(uintptr) bool {
		done := waited
		waited = true
		return done
	}); err != nil {
		return // not pollable: EXITED only
	}
	t := time.NewTimer(lastWordsGrace)
	defer t.Stop()
	select {
	case <-p.exited: // reported by z
	case <-z.dead:
		// z died (and reports nothing): p died with it (PR_SET_PDEATHSIG,
		// and z's end kills its workers). It used to wait lastWordsGrace
		// and say that z "does not answer".
		p.markExited("killed with its preload process")
	case <-t.C:
		z.forget(p)
		p.markExited("ended (how is not known: its preload process, which has not reaped it, does not answer)")
	}
}
