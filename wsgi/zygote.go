package wsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// zygote is the preload process of a generation: it imported the app once
// and forks workers on request, so they share its memory copy-on-write and
// start in milliseconds.
type zygote struct {
	pl       *pool
	g        *gen
	pid      int
	wait     func() error // reaps the zygote
	exitDesc string       // how it ended, set before dead is closed
	conn     *net.UnixConn
	log      *slog.Logger
	stdio    *stdioLog // what its Python code printed, and its logging records

	wmu sync.Mutex // serialises writes to conn

	mu          sync.Mutex
	nextTag     uint16
	forks       map[uint16]*forking // FORKs waiting for FORKED
	children    map[int]*proc       // forked workers not yet reaped
	leaveReason string              // why it was told to leave ("" while it serves)
	leaveTimer  *time.Timer         // kills it exitGrace after its last worker is gone (see leave)
	forcedOut   atomic.Bool         // killed for not leaving in time (see forceOut)

	heard  atomic.Int64 // when its last frame came (Unix nanoseconds)
	silent atomic.Bool  // a fork went unanswered: passed over until it is heard again (see fork)

	ready chan error
	dead  chan struct{}
}

// forking is a FORK waiting for its answer.
type forking struct {
	p    *proc
	done chan int // the pid; 0 if the fork failed
}

// startZygote starts the zygote of g and waits until it has imported the
// app (or failed to).
func (pl *pool) startZygote(g *gen) (*zygote, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("wsgi: socketpair: %w", err)
	}
	parentF := os.NewFile(uintptr(fds[0]), "graft-zygote-socket")
	childF := os.NewFile(uintptr(fds[1]), "graft-zygote-socket-child")
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		childF.Close()
		return nil, fmt.Errorf("wsgi: socket: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		fc.Close()
		childF.Close()
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	cmd, err := pl.pythonCmd("zygote", outW, childF)
	outW.Close()
	childF.Close() // the zygote has its copy; ours would hide its EOF
	if err != nil {
		outR.Close()
		fc.Close()
		return nil, err
	}
	z := &zygote{
		pl: pl, g: g, conn: fc.(*net.UnixConn),
		pid:      cmd.Process.Pid,
		wait:     cmd.Wait,
		forks:    make(map[uint16]*forking),
		children: make(map[int]*proc),
		ready:    make(chan error, 1),
		dead:     make(chan struct{}),
	}
	z.log = pl.log.With(slog.Int("graft.zygote", z.pid))
	out := newOutputLog()
	z.stdio = newStdioLog(z.log, out)
	go out.run(z.log, outR)
	pl.mu.Lock()
	pl.zygotes[z] = true // Shutdown waits for every zygote
	pl.mu.Unlock()
	go z.readLoop()

	var werr error
	t := time.NewTimer(pl.cfg.StartTimeout)
	defer t.Stop()
	select {
	case werr = <-z.ready:
	case <-t.C:
		pl.startTimedOut(z.log, out, func(sig syscall.Signal) { syscall.Kill(z.pid, sig) }, "preload process")
		z.kill()
		<-z.dead
		out.wait()
		return nil, pl.startTimeoutError(z.log, out, "preload process", z.pid, z.exitDesc)
	case <-pl.stopped:
		// Shutdown began: a preload process still importing the app has
		// served nothing and forked nothing.
		z.kill()
		<-z.dead
		return nil, ErrClosed
	}
	if werr != nil {
		z.stop()
		waitOrKill(z.dead, exitGrace, z.kill)
		return nil, startFailure(pl.cfg.App, pl.cfg.Python, pl.cfg.Dir, werr, out, z.exitDesc)
	}
	return z, nil
}

// readLoop handles the zygote's frames until it exits.
func (z *zygote) readLoop() {
	fc := newFrameConn(z.conn)
	started := false // it said whether the app loaded
	loaded := false  // it did: its death later is a crash, and it is replaced
	var err error
	for {
		var h frameHeader
		var payload []byte
		h, payload, err = fc.next()
		if err != nil {
			break
		}
		z.heard.Store(time.Now().UnixNano())
		if z.silent.CompareAndSwap(true, false) {
			z.log.Info("wsgi: the preload process answers again; workers are forked from it again")
		}
		switch h.kind {
		case frameReady:
			started, loaded = true, true
			z.ready <- nil
		case frameFail:
			started = true
			z.ready <- &LoadError{App: z.pl.cfg.App, Traceback: string(payload)}
		case frameLog:
			z.stdio.record(h.stream, h.flags, payload)
		case frameStdio:
			z.stdio.write(h.stream, h.flags, payload)
		case frameForked:
			pid := 0
			if len(payload) >= 4 {
				pid = int(binary.LittleEndian.Uint32(payload))
			}
			pidfd := -1
			if h.flags&flagPidFD != 0 {
				pidfd = fc.takeRawFD()
			}
			z.mu.Lock()
			f := z.forks[h.stream]
			delete(z.forks, h.stream)
			if f != nil && pid > 0 {
				f.p.pid, f.p.pidfd = pid, pidfd
				z.children[pid] = f.p
			} else if pidfd >= 0 {
				syscall.Close(pidfd) // a fork given up on (see fork): its worker finds its socket closed and exits
			}
			z.mu.Unlock()
			if f != nil {
				f.done <- pid
			}
		case frameExited:
			f := strings.Split(string(payload), "\x00")
			if len(f) != 3 {
				continue
			}
			pid, _ := strconv.Atoi(f[0])
			n, _ := strconv.Atoi(f[2])
			desc := fmt.Sprintf("exit status %d", n)
			if f[1] == "signal" {
				desc = signalDesc(syscall.Signal(n))
			}
			z.mu.Lock()
			p := z.children[pid]
			delete(z.children, pid)
			z.armLeaveLocked()
			z.mu.Unlock()
			if p != nil {
				p.markExited(desc)
			}
		}
	}
	fc.closeFDs()
	z.stdio.close()
	if !started {
		z.ready <- &startExit{who: "the preload process", err: err}
	}
	z.exitDesc = describeExit(z.wait())
	z.conn.Close()
	// Its workers die with it (they have PR_SET_PDEATHSIG); make sure, and
	// mark them reaped once they are gone.
	z.mu.Lock()
	orphans := z.children
	z.children = map[int]*proc{}
	for _, f := range z.forks {
		f.done <- 0
	}
	z.forks = map[uint16]*forking{}
	reason := z.leaveReason
	z.mu.Unlock()
	z.pl.mu.Lock()
	closed := z.pl.closed
	z.pl.mu.Unlock()
	if loaded && reason == "" && !closed {
		// Nobody told it to go: killed (the OOM killer's pick, a kill -9)
		// or crashed. The next worker needed starts a new one. One that
		// could not load the app exits by itself, and its caller reports
		// the LoadError instead (New fails, Reload keeps the old code).
		z.log.Warn("wsgi: the preload process died; its workers die with it and are replaced, forked from a new one",
			slog.String("graft.exit", z.exitDesc), slog.Int("graft.workers", len(orphans)))
	}
	for pid, p := range orphans {
		syscall.Kill(pid, syscall.SIGKILL)
		go func() {
			// A worker's pidfd (watchExit) sees it end at once; this
			// loop is for kernels without one. A dead worker stays a
			// zombie until init reaps it: stop at its pidfd's word.
			for !isClosed(p.exited) && syscall.Kill(pid, 0) == nil {
				time.Sleep(orphanPoll)
			}
			p.markExited("killed with its preload process")
			p.closeSocket()
		}()
	}
	z.pl.mu.Lock()
	delete(z.pl.zygotes, z)
	z.pl.mu.Unlock()
	close(z.dead)
}

// forkSilence is how long a zygote may stay silent while a fork it was
// asked for is pending before it is passed over (see fork). A fork takes
// milliseconds, even of a big app; a zygote answering a burst of forks one
// after the other is heard after each.
const forkSilence = 5 * time.Second

// errZygoteSilent is fork's error for a zygote that does not answer.
var errZygoteSilent = errors.New("the preload process does not answer")

// fork asks the zygote for a new worker. A zygote silent for forkSilence
// while the fork is pending (stopped by SIGSTOP or a debugger, or hung) is
// marked silent and the error wraps errZygoteSilent: startProc then starts
// the worker as a fresh interpreter, and so every worker until the zygote
// is heard from again (readLoop). The zygote is not killed: its workers
// would die with it (PR_SET_PDEATHSIG).
func (z *zygote) fork() (*proc, error) {
	p, childSock, outW, err := z.pl.newProc(z.g)
	if err != nil {
		return nil, err
	}
	defer childSock.Close()
	defer outW.Close()
	f := &forking{p: p, done: make(chan int, 1)}
	z.mu.Lock()
	z.nextTag++
	tag := z.nextTag
	z.forks[tag] = f
	z.mu.Unlock()

	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{kind: frameFork, stream: tag})
	sent := time.Now()
	z.wmu.Lock()
	_, _, err = z.conn.WriteMsgUnix(b[:], syscall.UnixRights(int(childSock.Fd()), int(outW.Fd())), nil)
	z.wmu.Unlock()
	var pid int
	if err == nil {
		pid, err = z.await(tag, f, sent)
	}
	if pid == 0 {
		p.abandon()
		if err == nil {
			err = errors.New("the preload process could not fork")
		}
		return nil, fmt.Errorf("wsgi: fork a worker: %w", err)
	}
	p.start()
	if p.pidfd >= 0 {
		go p.watchExit(z)
	}
	return p, nil
}

// await waits for the answer to the fork tag (f), sent at sent: the
// worker's pid, or 0 with why. It gives up on a zygote that has exited, on
// one silent for forkSilence (errZygoteSilent; see fork), and after
// Config.StartTimeout.
func (z *zygote) await(tag uint16, f *forking, sent time.Time) (int, error) {
	deadline := sent.Add(z.pl.cfg.StartTimeout)
	t := time.NewTimer(forkSilence)
	defer t.Stop()
	var err error
	for err == nil {
		select {
		case pid := <-f.done:
			return pid, nil
		case <-z.dead:
			err = errors.New("the preload process exited")
		case now := <-t.C:
			last := time.Unix(0, max(sent.UnixNano(), z.heard.Load()))
			switch {
			case now.Sub(last) >= forkSilence:
				err = fmt.Errorf("%w (stopped, or hung) within %v", errZygoteSilent, forkSilence)
			case !now.Before(deadline):
				err = fmt.Errorf("no answer within Config.StartTimeout (%v)", z.pl.cfg.StartTimeout)
			default:
				t.Reset(min(last.Add(forkSilence).Sub(now), deadline.Sub(now)))
			}
		}
	}
	z.mu.Lock()
	_, pending := z.forks[tag]
	delete(z.forks, tag)
	z.armLeaveLocked()
	z.mu.Unlock()
	if !pending {
		// The answer came meanwhile: readLoop has taken it and sends it.
		return <-f.done, nil
	}
	if errors.Is(err, errZygoteSilent) && z.silent.CompareAndSwap(false, true) {
		z.log.Warn("wsgi: the preload process does not answer (stopped, or hung); workers start as fresh interpreters until it does",
			slog.Duration("graft.silence", forkSilence))
	}
	return 0, err
}

// forget drops p, a worker whose end its pidfd showed, from the children
// whose exit the zygote is to report.
func (z *zygote) forget(p *proc) {
	z.mu.Lock()
	if z.children[p.pid] == p {
		delete(z.children, p.pid)
		z.armLeaveLocked()
	}
	z.mu.Unlock()
}

// alive reports whether the zygote can still fork.
func (z *zygote) alive() bool { return !isClosed(z.dead) }

// kill stops the zygote now.
func (z *zygote) kill() { syscall.Kill(z.pid, syscall.SIGKILL) }

// stop closes the zygote's control socket: it forks no more and exits once
// its workers have exited (after its exit hooks, the app's atexit ones
// included: it imported the app).
func (z *zygote) stop() {
	z.wmu.Lock()
	z.conn.CloseWrite()
	z.wmu.Unlock()
}

// leave stops the zygote (see stop) and makes sure it goes: once it has no
// worker left, it gets exitGrace to exit, then it is killed (forceOut).
// reason says why, for the log; the first one stands.
func (z *zygote) leave(reason string) {
	z.stop()
	z.mu.Lock()
	if z.leaveReason == "" {
		z.leaveReason = reason
	}
	z.armLeaveLocked()
	z.mu.Unlock()
}

// armLeaveLocked starts the exit grace of a zygote told to leave, once it
// has no worker left (and none being forked). The caller holds z.mu.
func (z *zygote) armLeaveLocked() {
	if z.leaveReason == "" || z.leaveTimer != nil || len(z.children) > 0 || len(z.forks) > 0 {
		return
	}
	z.leaveTimer = time.AfterFunc(exitGrace, func() { z.forceOut(false) })
}

// forceOut kills the zygote, told to leave, if it is still running, and
// says so at WARN with the reason it was told to leave: once. shutdownOver
// says that a shutdown's ctx ended: the zygote, told to leave only once
// its workers are gone, is then killed at once, and the line says so
// rather than blame an exit hook it had no time to run.
func (z *zygote) forceOut(shutdownOver bool) {
	if !z.alive() || !z.forcedOut.CompareAndSwap(false, true) {
		return
	}
	z.mu.Lock()
	reason := z.leaveReason
	z.mu.Unlock()
	if shutdownOver {
		z.log.Warn("wsgi: preload process still running when the shutdown's time ran out; killing it",
			slog.String("graft.reason", reason))
	} else {
		z.log.Warn("wsgi: preload process told to exit is still running (an exit hook that does not return, or a stopped process); killing it",
			slog.String("graft.reason", reason))
	}
	z.kill()
}
