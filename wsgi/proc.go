package wsgi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one Python worker process and the Go side of its socket.
type proc struct {
	pool    *pool
	gen     *gen
	cmd     *exec.Cmd // nil for a worker forked by a zygote
	pid     int
	conn    *net.UnixConn
	raw     syscall.RawConn // conn's, for kick's writes that never wait
	fc      *frameConn      // conn's frame reader: the read token's holder only (see reader.go)
	started time.Time
	log     *slog.Logger

	wmu sync.Mutex // held by the one goroutine writing to conn

	mu      sync.Mutex
	queued  []byte // frames waiting for the holder of wmu to write them
	spare   []byte // queued's other buffer, while a batch is written
	streams map[uint16]*stream
	// sent holds the streams in the order they were registered, oldest
	// first; ones already gone from streams are trimmed from its front
	// (trimSentLocked), so its first element is the oldest in flight.
	sent    []*stream
	nextID  uint16
	seq     uint64 // requests sent so far
	running uint64 // at death: seq of the oldest unfinished request
	// startMap says which requests the worker started (Threads > 1 only,
	// else nil; see startMap); unmapped by die, which sets it to nil.
	startMap startMap
	// ctl is Go's end of the worker's control socket (withdraw.go):
	// workers given prefetch only, else nil.
	ctl     atomic.Pointer[net.UnixConn]
	stalled atomic.Bool // each of its threads runs a slow request: no request is queued behind them (see checkStall)
	// withdrawing counts the frameWithdraw sent and not answered yet (the
	// worker answers each one): requests may be given back meanwhile.
	withdrawing atomic.Int32
	ctlMu       sync.Mutex // held while a frame is written to ctl (see writeControl)
	down        bool       // the reader has stopped: no stream may be registered

	// The read token (see reader.go), guarded by mu.
	reading   bool          // somebody holds it: reads conn, or is being handed it
	following int           // requests' goroutines waiting on lead for it
	leader    *stream       // the request whose goroutine reads, if one does
	readErr   error         // a leader's read failed: for the reader goroutine
	lead      chan struct{} // hands the token to a following request
	wake      chan struct{} // hands the token to the reader goroutine
	startedUp bool          // READY or FAIL came (the token's holder only)
	// The reader goroutine reads an idle worker (see idleRead): since
	// sequence number idleSeq, after idleTimer fired.
	idleReading bool
	idleSeq     uint64
	idleTimer   *time.Timer

	timeoutTimer *time.Timer // fires at timeoutAt: see checkTimeouts
	timeoutAt    time.Time   // zero: the timer is not set

	inflight     int          // requests sent and not finished; guarded by pool.mu
	retired      atomic.Bool  // takes no new requests (dying, recycled, shutting down)
	leaving      atomic.Bool  // retired on purpose: its exit needs no replacement
	recycling    atomic.Bool  // a replacement is being started
	handed       int64        // requests handed to it, counted against limit (see pool.countLocked); guarded by pool.mu
	atLimit      bool         // handed its limit: takes no new request while its replacement starts; guarded by pool.mu
	pastLimit    bool         // a replacement failed to start: it takes requests past its limit; guarded by pool.mu
	leaveReason  string       // why it was told to leave ("reload", "shutdown", a recycle's reason); guarded by pool.mu
	index        int          // its number while in service (see pool.freeIndexLocked); guarded by pool.mu
	ended        bool         // it died and pool.gone has run; guarded by pool.mu
	leaveOnce    sync.Once    // arms the kill of a worker told to leave that does not exit (see leave)
	forcedOut    atomic.Bool  // killed for not leaving in time (see forceOut)
	timedOutKill atomic.Bool  // killed for a request timeout
	ewma         atomic.Int64 // smoothed request time in ns, for the prefetch depth
	lastDone     time.Time    // when the last response ended (the token's holder only)

	ready    chan error    // startup result: nil once READY, else why not
	dead     chan struct{} // closed when the worker is gone
	exited   chan struct{} // closed when the process has been reaped
	exitDesc string        // how it ended, set before exited is closed
	exitOnce sync.Once     // closes exited (see markExited)
	pidfd    int           // a forked worker's pidfd from its zygote, or -1 (see watchExit)
	served   atomic.Int64
	killOnce sync.Once
	limit    int64         // requests before recycling (max-requests + jitter); 0: none
	out      *os.File      // read end of the worker's stdout/stderr
	output   *outputLog    // what it printed
	stdio    *stdioLog     // what Python code printed, and its logging records (set by start)
	lifetime time.Duration // age at which to recycle; 0: none

	// cut is closed when Go closes the worker's socket (closeSocket): it
	// reads no more of it, so the reader must not wait any longer for a
	// request's goroutine to take a part (see stream.deliver). lost: a part
	// was dropped then, so frames may have been left unread.
	cut     chan struct{}
	cutOnce sync.Once
	lost    atomic.Bool
}

// workerSendBuffer is the send buffer (SO_SNDBUF) of a worker's end of its
// socket, which the kernel doubles: room for a few frames of the largest
// size (maxBodyFrame), so that a worker sending a big response seldom
// waits for Go to read. The default (208 KiB on Linux, 8 KiB on macOS)
// holds less than one such frame. Measured (docs/performance.md, "The
// sixth pass"): 10 MiB downloads through one worker, medians of 8 rounds,
// 99 -> 105 per second, the Go process's CPU 8.3 -> 7.6 ms and the
// worker's 3.1 -> 2.9 ms per download.
const workerSendBuffer = 1 << 20

// newProc prepares the Go side of a worker: its socket and output pipe.
// The caller starts the process on childSock and outW, then closes them.
func (pl *pool) newProc(g *gen) (p *proc, childSock, outW *os.File, err error) {
	fds, err := socketpair()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("wsgi: socketpair: %w", err)
	}
	// Best effort: the kernel caps it (net.core.wmem_max on Linux), and the
	// default works, only slower.
	_ = syscall.SetsockoptInt(fds[1], syscall.SOL_SOCKET, syscall.SO_SNDBUF, workerSendBuffer)
	parentF := os.NewFile(uintptr(fds[0]), "graft-worker-socket")
	childSock = os.NewFile(uintptr(fds[1]), "graft-worker-socket-child")
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		childSock.Close()
		return nil, nil, nil, fmt.Errorf("wsgi: socket: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		fc.Close()
		childSock.Close()
		return nil, nil, nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	uc := fc.(*net.UnixConn)
	raw, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		childSock.Close()
		outR.Close()
		outW.Close()
		return nil, nil, nil, fmt.Errorf("wsgi: socket: %w", err)
	}
	p = &proc{
		pool:     pl,
		gen:      g,
		conn:     uc,
		raw:      raw,
		fc:       newFrameConn(uc),
		reading:  true, // the reader goroutine's, until the app is loaded
		lead:     make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		started:  time.Now(),
		streams:  make(map[uint16]*stream),
		ready:    make(chan error, 1),
		dead:     make(chan struct{}),
		exited:   make(chan struct{}),
		cut:      make(chan struct{}),
		pidfd:    -1,
		limit:    pl.requestLimit(),
		lifetime: pl.lifetimeFor(),
	}
	p.log = pl.log
	p.out = outR
	p.output = newOutputLog()
	return p, childSock, outW, nil
}

// startProc starts one worker of generation g: forked by z, g's zygote, in
// preload mode, else a fresh interpreter. A zygote that does not answer
// (see zygote.fork) is passed over: the worker is a fresh interpreter,
// until the zygote is heard from again. It returns before the app is
// imported; wait on p.ready.
func (pl *pool) startProc(g *gen, z *zygote) (*proc, error) {
	if z != nil && !z.silent.Load() {
		p, err := z.fork()
		if !errors.Is(err, errZygoteSilent) {
			return p, err
		}
	}
	return pl.spawnProc(g)
}

// spawnProc starts a worker of generation g as a fresh interpreter, which
// imports the app itself.
func (pl *pool) spawnProc(g *gen) (*proc, error) {
	p, childSock, outW, err := pl.newProc(g)
	if err != nil {
		return nil, err
	}
	defer childSock.Close()
	defer outW.Close()
	cmd, err := pl.pythonCmd("worker", outW, childSock)
	if err != nil {
		p.abandon()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	go func() {
		p.markExited(describeExit(cmd.Wait()))
	}()
	p.start()
	return p, nil
}

// markExited records that the process has ended, and how (the first
// report stands: its reaper's, or its pidfd's when its zygote says nothing,
// see watchExit), and closes its socket once its reader has read what it
// sent before (closeAfterExit).
func (p *proc) markExited(desc string) {
	p.exitOnce.Do(func() {
		p.exitDesc = desc
		close(p.exited)
		p.closeAfterExit()
	})
}

// start begins serving once the process exists: p.pid is set.
func (p *proc) start() {
	p.log = p.pool.log.With(slog.Int(logWorker, p.pid))
	p.stdio = newStdioLog(p.log, p.output)
	go p.output.run(p.log, p.out)
	go p.readLoop()
}

// retire stops p from taking new requests.
func (p *proc) retire() { p.retired.Store(true) }

// kill stops the process now.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		p.retire()
		p.signal(syscall.SIGKILL)
		p.closeSocket()
	})
}

// closeSocket closes the worker's socket: Go reads and writes no more of
// it. A reader waiting for a request's goroutine to take a part stops
// waiting (see stream.deliver): a client that does not read must not keep a
// dead or killed worker from being replaced.
func (p *proc) closeSocket() {
	p.cutOnce.Do(func() { close(p.cut) })
	p.conn.Close()
	if c := p.ctl.Load(); c != nil {
		c.Close()
	}
}

// handOver gives a worker that has loaded the app what it needs besides
// its socket, before any request: with Threads > 1 its started map
// (startmap.go), with prefetch its control socket (withdraw.go). They go once it is ready, not before: a process that
// ends before reading them (an import that fails) would make its socket
// end in a reset instead of the EOF that tells how it ended.
func (p *proc) handOver() error {
	pl := p.pool
	if pl.cfg.Threads <= 1 && !pl.withdraws() {
		return nil
	}
	p.wmu.Lock() // nothing else writes before the worker is ready
	defer p.wmu.Unlock()
	if pl.cfg.Threads > 1 {
		m, err := giveStartMap(p.conn)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.startMap = m
		p.mu.Unlock()
	}
	if pl.withdraws() {
		c, err := giveControl(p.conn)
		if err != nil {
			return err
		}
		p.ctl.Store(c)
		if isClosed(p.cut) {
			c.Close() // closeSocket ran meanwhile
		}
	}
	return nil
}

// abandon releases the Go side of a worker whose process could not be
// started (its fork or exec failed): its socket and the read end of its
// output pipe, at once rather than when the garbage collector finalizes
// them (p.start, which hands the pipe to its reader, never ran).
func (p *proc) abandon() {
	p.closeSocket()
	p.out.Close()
	p.unmapStarted()
}

// unmapStarted releases p's started map, if it has one.
func (p *proc) unmapStarted() {
	p.mu.Lock()
	if p.startMap != nil {
		p.startMap.unmap()
		p.startMap = nil
	}
	p.mu.Unlock()
}

// signal sends sig to the worker process.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
		return
	}
	if p.pid <= 0 {
		return // not started: kill(0, sig) would signal Go's own process group
	}
	select {
	case <-p.exited: // reaped: the pid may belong to someone else now
	default:
		syscall.Kill(p.pid, sig)
	}
}

// die runs once when the reader goroutine stops: the worker is finished,
// whatever the reason. Its in-flight requests end here.
func (p *proc) die(err error) {
	p.retire()
	p.mu.Lock()
	p.down = true
	// Anything sent after the oldest unfinished request never started.
	// With none unfinished, anything sent after the last one never did.
	p.running = p.seq
	for _, s := range p.streams {
		p.running = min(p.running, s.seq)
	}
	// With Threads > 1, the requests the started map does not show
	// started are decided once the process is gone (below): until then
	// one of its threads might still take one.
	var unsure []*stream
	for _, s := range p.streams {
		if p.maybeUnstartedLocked(s) {
			unsure = append(unsure, s)
			continue
		}
		s.end(p.deathError(s))
	}
	if p.timeoutTimer != nil {
		p.timeoutTimer.Stop()
	}
	if p.idleTimer != nil {
		p.idleTimer.Stop()
	}
	p.mu.Unlock()
	close(p.dead)
	p.closeSocket()
	waitOrKill(p.exited, exitGrace, p.kill)
	if len(unsure) > 0 {
		p.mu.Lock()
		for _, s := range unsure {
			if p.maybeUnstartedLocked(s) {
				s.end(ErrNotStarted) // the app never saw it: safe to send elsewhere
			} else {
				s.end(p.deathError(s))
			}
		}
		p.mu.Unlock()
	}
	p.unmapStarted()
	p.pool.gone(p, err)
}

// deathError is how a request in flight on a dead worker ends: ErrTimeout
// if it was killed for it; ErrNotStarted if the worker, single-threaded,
// runs requests in order and had not reached this one (which Go cannot
// tell once frames may have been left unread: see p.lost), to be sent
// again; ErrTimeout if it had run over its own Timeout too (with Threads >
// 1, a worker killed for another request's: both are 504s); else
// ErrWorkerDied. The caller holds p.mu, after die has set p.running.
func (p *proc) deathError(s *stream) error {
	if !s.timedOut.Load() && p.pool.cfg.Threads == 1 && !s.answered.Load() && s.seq > p.running && !p.lost.Load() {
		return ErrNotStarted
	}
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		s.timedOut.Store(true)
	}
	return s.cutError()
}

// maybeUnstartedLocked reports whether a request in flight on a dead
// worker with Threads > 1 may never have started: the worker mapped its
// started map and did not mark the request there, and the request neither
// timed out nor got any of its response. Once the process is gone, such
// a request never started. The caller holds p.mu.
func (p *proc) maybeUnstartedLocked(s *stream) bool {
	if p.startMap == nil || s.timedOut.Load() || s.answered.Load() {
		return false
	}
	started, known := p.startMap.started(s.id)
	return known && !started
}

// waitOrKill waits up to grace for exited to be closed; if it is not, it
// calls kill and waits for it then. Every process graft stops goes through
// here: asked to leave first, killed if it does not.
func waitOrKill(exited <-chan struct{}, grace time.Duration, kill func()) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		kill()
		<-exited
	}
}

// closeAfterExit closes the socket of a worker that has exited, once its
// reader has read what the worker sent before exiting (a FAIL frame, say):
// EOF normally ends the reader first; closing covers a worker whose
// descendants keep the socket open.
func (p *proc) closeAfterExit() {
	go func() {
		select {
		case <-p.dead:
		case <-time.After(lastWordsGrace):
			p.closeSocket()
		}
	}()
}

// isClosed reports whether ch, a channel closed to signal an event, is
// closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended, once it has.
func (p *proc) exitStatus() string {
	select {
	case <-p.exited:
		return p.exitDesc
	default:
		return "running"
	}
}

// describeExit says how a process ended, from cmd.Wait's error.
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return signalDesc(ws.Signal())
		}
	}
	return err.Error()
}

// signalDesc words a death by signal: "killed by signal 9 (killed)".
func signalDesc(sig syscall.Signal) string {
	return fmt.Sprintf("killed by signal %d (%s)", int(sig), sig)
}
