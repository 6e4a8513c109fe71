package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The supervisor's timings. They bound how long Go waits for a process
// that should already be going, or paces restarts; none is configurable.
const (
	// exitGrace is how long a process told to stop gets to exit before it
	// is killed: a worker from the moment it has been told to leave with
	// no request left (its socket closed for writing: it runs its exit
	// hooks and exits), a zygote from the moment its last worker is gone.
	// It is also how long Go waits for a killed process to be reaped.
	exitGrace = 2 * time.Second
	// stackDumpGrace is how long a timed-out worker gets to dump its Python
	// stacks (SIGUSR1) before it is killed.
	stackDumpGrace = 500 * time.Millisecond
	// lastWordsGrace is how long the reader of an exited worker may go on
	// reading what it sent before exiting, before its socket is closed.
	lastWordsGrace = time.Second
	// outputTailWait is how long a start failure waits for the last
	// output of the dead process.
	outputTailWait = time.Second
	// youngDeath: a worker that dies younger than this is replaced with
	// exponential backoff, from minBackoff up to maxBackoff, so that a
	// broken app never becomes a fork loop. A recycle whose replacement
	// failed to start is tried again with the same backoff.
	youngDeath = 2 * time.Second
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// watchInterval is how often worker lifetimes are checked.
	watchInterval = time.Second
	// orphanPoll is how often the workers of a dead zygote are checked for
	// exit.
	orphanPoll = 10 * time.Millisecond
)

// gen is a generation of workers: the ones running the same code. A
// reload starts a new generation and retires the old one.
type gen struct {
	id int // 1 for the first, +1 per generation put into service; 0 before (guarded by pl.mu)

	mu      sync.Mutex // guards zyg and retired, and serialises restarting zyg
	zyg     *zygote    // nil with Config.NoPreload
	retired bool       // a reload replaced g: its preload process is not restarted
}

// errGenRetired is why no worker of a generation a reload replaced is
// started once its preload process is gone.
var errGenRetired = errors.New("wsgi: the generation was replaced by a reload")

// zygote returns g's preload process, or nil.
func (g *gen) zygote() *zygote {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.zyg
}

// retire marks g replaced by a reload and returns its preload process
// (nil without preload): no other is started for g from now on. It waits
// for a restart of the preload process under way (see liveZygote), which
// can take as long as the app's import: never call it holding pl.mu.
func (g *gen) retire() *zygote {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retired = true
	return g.zyg
}

// goBackground runs fn in a supervisor goroutine that Shutdown waits for,
// unless the pool is shut down; it reports whether fn was started. The
// caller holds pl.mu.
func (pl *pool) goBackgroundLocked(fn func()) bool {
	if pl.closed {
		return false
	}
	pl.bg.Add(1)
	go func() {
		defer pl.bg.Done()
		fn()
	}()
	return true
}

// goBackground is goBackgroundLocked for a caller not holding pl.mu.
func (pl *pool) goBackground(fn func()) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.goBackgroundLocked(fn)
}

// current returns the generation new workers come from.
func (pl *pool) current() *gen {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.cur
}

// setCurrentLocked puts g into service as the generation new workers come
// from, and gives it the next generation number: numbers count the
// generations put into service, so a reload that failed takes none (the
// status page shows no gap). The caller holds pl.mu.
func (pl *pool) setCurrentLocked(g *gen) {
	pl.genSeq++
	g.id = pl.genSeq
	pl.cur = g
}

// startGeneration starts a generation: its zygote (unless NoPreload) and
// cfg.Workers workers, all ready. On failure nothing of it is left running.
func (pl *pool) startGeneration() (*gen, []*proc, error) {
	g := &gen{} // numbered when it goes into service (setCurrentLocked)
	if !pl.cfg.NoPreload {
		z, err := pl.startZygote(g)
		if err != nil {
			return nil, nil, err
		}
		g.zyg = z // g is not shared yet
	}
	type result struct {
		p   *proc
		err error
	}
	results := make(chan result, pl.cfg.Workers)
	for i := 0; i < pl.cfg.Workers; i++ {
		go func() {
			p, err := pl.startAndWait(g)
			results <- result{p, err}
		}()
	}
	var errs []error
	var started []*proc
	for i := 0; i < pl.cfg.Workers; i++ {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			started = append(started, r.p)
		}
	}
	if len(errs) > 0 {
		pl.discard(g, started)
		for _, err := range errs {
			if errors.Is(err, ErrClosed) {
				return nil, nil, ErrClosed
			}
		}
		return nil, nil, errs[0]
	}
	return g, started, nil
}

// startAndWait starts a worker of generation g and waits for its app to
// load. A dead zygote is restarted first. It fails with ErrClosed once
// Shutdown has begun.
func (pl *pool) startAndWait(g *gen) (*proc, error) {
	z, err := pl.liveZygote(g)
	if err != nil {
		return nil, err
	}
	p, err := pl.startProc(g, z)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(pl.cfg.StartTimeout)
	defer t.Stop()
	select {
	case err = <-p.ready:
	case <-t.C:
		pl.startTimedOut(p.log, p.output, p.signal, "worker")
		pl.dismiss(p)
		p.output.wait()
		return nil, pl.startTimeoutError(p.log, p.output, "worker", p.pid, p.exitStatus())
	case <-pl.stopped:
		pl.dismiss(p)
		return nil, ErrClosed
	}
	if err != nil {
		pl.dismiss(p)
		return nil, startFailure(pl.cfg.App, pl.cfg.Python, pl.cfg.Dir, err, p.output, p.exitStatus())
	}
	return p, nil
}

// startTimedOut handles a process (a worker, or a preload process) that
// has not loaded the app within Config.StartTimeout: it asks the process
// for its Python stacks, which out logs once, at ERROR, and the caller
// then kills it.
func (pl *pool) startTimedOut(log *slog.Logger, out *outputLog, signal func(syscall.Signal), what string) {
	log.Error("wsgi: the app did not load in time; the Python stack of its import follows, then the "+what+" is killed",
		slog.String("graft.app", pl.cfg.App), slog.Duration("graft.start_timeout", pl.cfg.StartTimeout))
	out.expectDump(slog.LevelError, "wsgi: Python stacks of the "+what+" that did not load the app in time",
		slog.String("graft.app", pl.cfg.App))
	signal(syscall.SIGUSR1)
	time.Sleep(stackDumpGrace)
}

// startTimeoutError is the error of a start that timed out, called once
// the process is gone and its output read (out.wait): exit says how it
// ended. A process that sent no stack dump had not begun importing the
// app: Python was still starting up (an overloaded machine, a slow
// sitecustomize), before the worker program installs its SIGUSR1 handler
// (faulthandler), so SIGUSR1 ended it or SIGKILL did; that is logged, and
// the error says so instead of pointing at a stack that is not in the log.
func (pl *pool) startTimeoutError(log *slog.Logger, out *outputLog, what string, pid int, exit string) error {
	if out.dumpMissing() {
		log.Error("wsgi: no Python stack came from the "+what+" that did not load the app in time: Python was still starting up, before graft's worker program could answer, so it had not begun importing the app",
			slog.String("graft.app", pl.cfg.App), slog.String("graft.exit", exit))
		return fmt.Errorf("%w (%v): the %s %d had not begun importing %q: Python itself was still starting up (an overloaded machine, or a slow site initialisation, needs a longer StartTimeout, the examples' -start-timeout)",
			ErrStartTimeout, pl.cfg.StartTimeout, what, pid, pl.cfg.App)
	}
	return fmt.Errorf("%w (%v): the %s %d was still importing %q; its Python stack is in the log (an import that is only slow needs a longer StartTimeout, the examples' -start-timeout)",
		ErrStartTimeout, pl.cfg.StartTimeout, what, pid, pl.cfg.App)
}

// liveZygote returns g's preload process (nil without preload), starting a
// new one if it died, unless a reload has replaced g (errGenRetired). It
// holds g.mu while it starts one: the caller must not hold pl.mu, which
// startZygote takes.
func (pl *pool) liveZygote(g *gen) (*zygote, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.zyg == nil || g.zyg.alive() {
		return g.zyg, nil
	}
	if g.retired {
		return nil, errGenRetired
	}
	z, err := pl.startZygote(g)
	if err != nil {
		return nil, err
	}
	g.zyg = z
	return z, nil
}

// leavingReason says why p is leaving (the reason it was retired for:
// "reload", "shutdown", a recycle's), "" while it is in service (and, once
// dead, would be replaced). A worker whose pool is closed is leaving for
// "shutdown".
func (pl *pool) leavingReason(p *proc) string {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.leavingReasonLocked(p)
}

// leavingReasonLocked is leavingReason for a caller holding pl.mu.
func (pl *pool) leavingReasonLocked(p *proc) string {
	switch {
	case p.leaving.Load() && p.leaveReason != "":
		return p.leaveReason
	case p.leaving.Load() || pl.closed:
		return "shutdown"
	}
	return ""
}

// dismiss stops a worker that is not (or no longer) in service and waits
// until it has exited.
func (pl *pool) dismiss(p *proc) {
	p.leaving.Store(true)
	p.kill()
	<-p.exited
}

// gone removes a dead worker and, unless it left on purpose, starts its
// replacement.
func (pl *pool) gone(p *proc, err error) {
	pl.mu.Lock()
	p.ended = true
	if !pl.procs[p] {
		// Not in service: it failed to start, or its generation was
		// discarded, and whoever started it handles that; or it was ready
		// and waits to be put into service (with the rest of a reload's
		// generation, say): addLocked replaces it then.
		pl.mu.Unlock()
		return
	}
	delete(pl.procs, p)
	for i, q := range pl.list {
		if q == p {
			pl.list = append(pl.list[:i], pl.list[i+1:]...)
			break
		}
	}
	// The dead worker's in-flight requests end through p.dead; their
	// slots are given back here.
	for ; p.inflight > 0; p.inflight-- {
		pl.active.Done()
	}
	closed := pl.closed
	leaving := p.leaving.Load()
	reason := "crash"
	if p.timedOutKill.Load() {
		reason = "timeout"
	}
	young := time.Since(p.started) < youngDeath
	replacing := false
	if !leaving && !closed {
		pl.restarts[reason]++
		g := pl.cur // p's generation: every worker not leaving is of the current one
		replacing = pl.goBackgroundLocked(func() { pl.replace(g, young) })
	}
	why := pl.leavingReasonLocked(p) // not replacing: p is leaving, or the pool closed
	pl.mu.Unlock()
	if !replacing {
		if p.timedOutKill.Load() {
			// Retired on purpose before or after its timeout's line: not
			// replaced, nor counted as a timeout restart.
			p.log.Info("wsgi: worker killed for a timeout exited; it was already leaving, so it is not replaced (graft.reason says why it was leaving)",
				slog.String("graft.exit", p.exitStatus()), slog.Int64("graft.served", p.served.Load()), slog.String("graft.reason", why))
			return
		}
		p.log.Info("wsgi: worker exited", slog.String("graft.exit", p.exitStatus()), slog.Int64("graft.served", p.served.Load()))
		return
	}
	attrs := []any{slog.String("graft.exit", p.exitStatus()), slog.Int64("graft.served", p.served.Load()), slog.String("graft.reason", reason)}
	// The reader's error says why the socket ended, unless Go closed it
	// itself (a timeout's kill): then it is only "use of closed network
	// connection".
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		attrs = append(attrs, slog.String(logError, err.Error()))
	}
	p.log.Warn("wsgi: worker died; starting a replacement", attrs...)
}

// replace starts a worker of generation g, the current one when a worker
// of it died, backing off while workers die young or fail to load, so a
// broken app never becomes a fork loop. It gives up when the pool shuts
// down, and once a reload has put another generation into service: that
// one has Config.Workers workers without this one (a worker started
// meanwhile is dismissed).
func (pl *pool) replace(g *gen, young bool) {
	for {
		pl.mu.Lock()
		if pl.cur != g {
			pl.mu.Unlock()
			return
		}
		if young {
			pl.backoff = nextBackoff(pl.backoff)
		} else {
			pl.backoff = 0
		}
		wait := pl.backoff
		pl.mu.Unlock()
		if wait > 0 && !pl.sleep(wait) {
			return
		}
		p, err := pl.startAndWait(g)
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			pl.mu.Lock()
			closed, reloaded := pl.closed, pl.cur != g
			pl.mu.Unlock()
			if closed || reloaded {
				return // not needed any more
			}
			pl.log.Error("wsgi: could not start a replacement worker", slog.String(logError, err.Error()))
			young = true
			continue
		}
		needed := pl.putInService(g, p)
		pl.kick()
		if !needed {
			pl.dismiss(p)
		}
		return
	}
}

// putInService puts p, a ready replacement worker of generation g, into
// service, unless the pool has closed or another generation has gone into
// service meanwhile: then p is not needed, and the caller dismisses it.
// "wsgi: worker ready" is logged only for a worker put into service (one
// that died once ready is replaced instead, see addLocked), and under
// pl.mu, so that its death, which gone logs after taking pl.mu, comes
// after it in the log.
func (pl *pool) putInService(g *gen, p *proc) (needed bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed || pl.cur != g {
		return false
	}
	if pl.addLocked(p) {
		p.log.Info("wsgi: worker ready")
	}
	return true
}

// Reload starts a new generation of workers with freshly imported code and,
// once every one of them is ready, retires the old ones, which finish their
// requests and exit (see leave: killed if still running exitGrace after
// their last request); then the old zygote does (see zygote.leave). No
// request fails during a reload. If the new code does not load, the old
// workers keep serving and the error is returned; if the pool shuts down
// meanwhile, the error wraps ErrClosed. Reloads run one at a time: one
// waits for the one running, as long as ctx allows.
func (pl *pool) Reload(ctx context.Context) error {
	// One at a time; waiting for another reload is bounded by ctx too.
	select {
	case pl.reloadSem <- struct{}{}:
	case <-ctx.Done():
		return pl.reloadGivenUp(ctx)
	}
	defer func() { <-pl.reloadSem }()

	type result struct {
		g     *gen
		procs []*proc
		err   error
	}
	done := make(chan result)
	abandon := make(chan struct{})
	pl.mu.Lock()
	started := pl.goBackgroundLocked(func() {
		g, procs, err := pl.startGeneration()
		select {
		case done <- result{g, procs, err}:
		case <-abandon: // do not leave the new generation running
			if err == nil {
				pl.discard(g, procs)
			}
		}
	})
	if !started {
		pl.mu.Unlock()
		return reloadFailed(ErrClosed)
	}
	pl.reloading = true
	pl.mu.Unlock()
	defer func() {
		pl.mu.Lock()
		pl.reloading = false
		pl.mu.Unlock()
	}()

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		close(abandon)
		return pl.reloadGivenUp(ctx)
	}
	if errors.Is(r.err, ErrClosed) {
		return reloadFailed(ErrClosed)
	}
	if r.err != nil {
		// Logged here, once, with the traceback as its own attribute: the
		// callers (Serve, AutoReload) do not log it again.
		pl.log.Error("wsgi: reload failed; the old workers keep serving", errorAttrs(r.err)...)
		return reloadFailed(r.err)
	}
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		pl.discard(r.g, r.procs)
		return reloadFailed(ErrClosed)
	}
	old := append([]*proc(nil), pl.list...)
	oldGen := pl.cur
	pl.setCurrentLocked(r.g)
	for _, p := range r.procs {
		pl.addLocked(p)
	}
	for _, p := range old {
		if !p.leaving.Load() {
			// One already leaving (draining since a recycle or an
			// earlier reload) was counted when it was replaced.
			pl.restarts["reload"]++
		}
	}
	// The old generation's zygote stops once its workers have left (a
	// shutdown meanwhile stops it itself). It is looked up here, not
	// under pl.mu: a restart of it under way (its workers died with it)
	// holds oldGen.mu until the old code has imported, and needs pl.mu.
	pl.goBackgroundLocked(func() {
		z := oldGen.retire()
		if z == nil {
			return
		}
		for _, p := range old {
			select {
			case <-p.exited:
			case <-pl.stopped:
				return
			}
		}
		z.leave("reload")
	})
	pl.mu.Unlock()
	pl.kick()
	for _, p := range old {
		pl.drain(p, "reload")
	}
	pl.log.Info("wsgi: reloaded", slog.Int("graft.workers", len(r.procs)), slog.Int("graft.generation", r.g.id))
	return nil
}

// reloadGivenUp is the error of a reload whose ctx ended (waiting for
// another reload, or for its workers), logged unless the caller gave up on
// purpose (a shutdown).
func (pl *pool) reloadGivenUp(ctx context.Context) error {
	err := reloadFailed(ctx.Err())
	if !errors.Is(err, context.Canceled) {
		pl.log.Error("wsgi: reload failed; the old workers keep serving", slog.String(logError, err.Error()))
	}
	return err
}

// reloadFailure is the error of a failed Reload: "wsgi: reload: " and the
// cause, whose own "wsgi: " prefix (a *LoadError's, ErrClosed's) is not
// repeated. It unwraps to the cause.
type reloadFailure struct{ err error }

// reloadFailed returns the error of a reload that failed because of err.
func reloadFailed(err error) error { return reloadFailure{err} }

func (e reloadFailure) Error() string {
	return "wsgi: reload: " + strings.TrimPrefix(e.err.Error(), "wsgi: ")
}

func (e reloadFailure) Unwrap() error { return e.err }

// discard stops a generation that was started but not put into service.
func (pl *pool) discard(g *gen, procs []*proc) {
	for _, p := range procs {
		pl.dismiss(p)
	}
	if z := g.zygote(); z != nil {
		z.leave("discarded")
	}
}

// drain stops p from taking requests and lets it exit once the requests
// it has are done (see leave); reason says why, for the log.
func (pl *pool) drain(p *proc, reason string) {
	pl.mu.Lock()
	idle := pl.retireLocked(p, reason)
	pl.mu.Unlock()
	if idle {
		p.leave(reason)
	}
	// Otherwise free() tells it to leave when its last request ends.
}

// retireLocked stops p from taking requests, on purpose (its exit needs no
// replacement), and reports whether it is idle: if so the caller tells it
// to leave (p.leave, with p.leaveReason); if not, free() does once its last
// request ends. The caller holds pl.mu, which pickLocked holds too.
func (pl *pool) retireLocked(p *proc, reason string) (idle bool) {
	p.retire() // retired before leaving
	p.leaving.Store(true)
	if p.leaveReason == "" { // the first reason stands (a recycled worker draining when a reload comes)
		p.leaveReason = reason
	}
	return p.inflight == 0
}

// leave tells p, retired on purpose and with no request left, to exit: its
// socket is closed for writing, so the worker reads EOF, runs its exit
// hooks and exits. If it is still running exitGrace later (an exit hook
// that hangs, a stopped process), it is killed. Its requests, while it had
// some, were bounded by Config.Timeout like any other.
func (p *proc) leave(reason string) {
	p.closeIdle()
	p.leaveOnce.Do(func() {
		time.AfterFunc(exitGrace, func() { p.forceOut(reason, false) })
	})
}

// forceOut kills p, told to leave, if it is still running, and says so at
// WARN with the reason it was told to leave: once per worker. shutdownOver
// says that a shutdown's ctx ended: an idle worker is then killed for
// that, whether or not it would have exited given more time, and the line
// says so rather than guess at a hung exit hook.
func (p *proc) forceOut(reason string, shutdownOver bool) {
	if isClosed(p.exited) || !p.forcedOut.CompareAndSwap(false, true) {
		return
	}
	p.mu.Lock()
	running := len(p.streams)
	p.mu.Unlock()
	if running > 0 {
		p.log.Warn("wsgi: worker told to exit still has requests running; killing it",
			slog.String("graft.reason", reason), slog.Int64("graft.served", p.served.Load()))
	} else if shutdownOver {
		p.log.Warn("wsgi: worker told to exit is still running when the shutdown's time ran out; killing it",
			slog.String("graft.reason", reason), slog.Int64("graft.served", p.served.Load()))
	} else {
		p.log.Warn("wsgi: worker told to exit is still running (an exit hook that does not return, or a stopped process); killing it",
			slog.String("graft.reason", reason), slog.Int64("graft.served", p.served.Load()))
	}
	p.kill()
}

// closeIdle closes a drained worker's socket for writing: it reads EOF and
// exits.
func (p *proc) closeIdle() {
	p.wmu.Lock()
	p.conn.CloseWrite()
	p.flush(net.ErrClosed) // frames queued meanwhile (cancels) have nowhere to go
}

// stopAll waits for processes told to exit (workers, zygotes: exited[i]
// is closed when process i is gone) until all are gone, grace has passed
// or ctx is done; then every one still running is killed at the same time
// (kill(i)), and stopAll waits for them together, at most exitGrace more.
// It returns the indexes of the processes still not gone then.
func stopAll(ctx context.Context, grace time.Duration, exited []<-chan struct{}, kill func(i int)) []int {
	t := time.NewTimer(grace)
	defer t.Stop()
	for _, ch := range exited {
		select {
		case <-ch:
			continue
		case <-t.C:
		case <-ctx.Done():
		}
		break
	}
	var killed []int
	for i, ch := range exited {
		if !isClosed(ch) {
			kill(i)
			killed = append(killed, i)
		}
	}
	if len(killed) == 0 {
		return nil
	}
	still := make([]<-chan struct{}, len(killed))
	for k, i := range killed {
		still[k] = exited[i]
	}
	left := waitAll(still, exitGrace)
	for k, i := range left {
		left[k] = killed[i]
	}
	return left
}

// waitAll waits up to d for every channel of exited to be closed; it
// returns the indexes of those still open then.
func waitAll(exited []<-chan struct{}, d time.Duration) []int {
	t := time.NewTimer(d)
	defer t.Stop()
	for i, ch := range exited {
		select {
		case <-ch:
		case <-t.C:
			var left []int
			for j := i; j < len(exited); j++ {
				if !isClosed(exited[j]) {
					left = append(left, j)
				}
			}
			return left
		}
	}
	return nil
}

// nextBackoff is the wait before the next try after one more failed
// start: minBackoff, then doubled, up to maxBackoff.
func nextBackoff(wait time.Duration) time.Duration {
	return min(max(wait*2, minBackoff), maxBackoff)
}

// sleep waits d, or until the pool stops: it reports whether d passed.
func (pl *pool) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-pl.stopped:
		return false
	}
}
