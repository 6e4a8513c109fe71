package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// The supervisor's timings. They bound how long Go waits for a process
// that should already be going, or paces restarts; none is configurable.
const (
	// exitGrace is how long a process told to stop (its socket closed)
	// gets to exit before it is killed.
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
	// cancelWriteTimeout bounds writing a CANCEL frame to a worker that
	// does not read its socket.
	cancelWriteTimeout = time.Second
	// youngDeath: a worker that dies younger than this is replaced with
	// exponential backoff, from minBackoff up to maxBackoff, so that a
	// broken app never becomes a fork loop.
	youngDeath = 2 * time.Second
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// recycleRetry is how long a worker whose replacement failed to start
	// keeps serving before recycling is tried again.
	recycleRetry = 5 * time.Second
	// watchInterval is how often worker lifetimes are checked.
	watchInterval = time.Second
	// orphanPoll is how often the workers of a dead zygote are checked for
	// exit.
	orphanPoll = 10 * time.Millisecond
)

// gen is a generation of workers: the ones running the same code. A
// reload starts a new generation and retires the old one.
type gen struct {
	id  int
	zyg *zygote // nil unless Config.Preload
}

// startGeneration starts a generation: its zygote (unless NoPreload) and
// cfg.Workers workers, all ready. On failure nothing of it is left running.
func (pl *pool) startGeneration() (*gen, []*proc, error) {
	pl.mu.Lock()
	pl.genSeq++
	g := &gen{id: pl.genSeq}
	pl.mu.Unlock()
	if !pl.cfg.NoPreload {
		z, err := pl.startZygote(g)
		if err != nil {
			return nil, nil, err
		}
		g.zyg = z
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
		for _, p := range started {
			p.leaving.Store(true)
			p.kill()
			<-p.exited
		}
		if g.zyg != nil {
			g.zyg.stop()
		}
		return nil, nil, errs[0]
	}
	return g, started, nil
}

// startAndWait starts a worker of generation g and waits for its app to
// load. A dead zygote is restarted first.
func (pl *pool) startAndWait(g *gen) (*proc, error) {
	if g.zyg != nil && !g.zyg.alive() {
		z, err := pl.startZygote(g)
		if err != nil {
			return nil, err
		}
		pl.mu.Lock()
		g.zyg = z
		pl.mu.Unlock()
	}
	p, err := pl.startProc(g)
	if err != nil {
		return nil, err
	}
	select {
	case err = <-p.ready:
	case <-time.After(pl.cfg.StartTimeout):
		err = fmt.Errorf("wsgi: worker %d did not load the app within %v", p.pid, pl.cfg.StartTimeout)
	}
	if err != nil {
		p.leaving.Store(true)
		p.kill()
		<-p.exited
		return nil, startFailure(pl.cfg.App, err, p.output, p.exitStatus())
	}
	return p, nil
}

// gone removes a dead worker and, unless it left on purpose, starts its
// replacement.
func (pl *pool) gone(p *proc, err error) {
	pl.mu.Lock()
	if !pl.procs[p] {
		// Never put into service (it failed to start, or its generation
		// was discarded): whoever started it handles that.
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
	if !leaving && !closed {
		pl.restarts[reason]++
	}
	pl.mu.Unlock()
	if closed || leaving {
		p.log.Info("wsgi: worker exited", slog.String("exit", p.exitStatus()), slog.Int64("served", p.served.Load()))
		return
	}
	attrs := []any{slog.String("exit", p.exitStatus()), slog.Int64("served", p.served.Load()), slog.String("reason", reason)}
	if err != nil && !errors.Is(err, io.EOF) {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	p.log.Warn("wsgi: worker died; starting a replacement", attrs...)
	go pl.replace(time.Since(p.started) < youngDeath)
}

// replace starts a new worker of the current generation, backing off while
// workers die young or fail to load, so a broken app never becomes a fork
// loop.
func (pl *pool) replace(young bool) {
	for {
		pl.mu.Lock()
		if young {
			pl.backoff = min(max(pl.backoff*2, minBackoff), maxBackoff)
		} else {
			pl.backoff = 0
		}
		wait := pl.backoff
		g := pl.cur
		pl.mu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-pl.stopped:
				return
			}
		}
		p, err := pl.startAndWait(g)
		if err == nil {
			pl.mu.Lock()
			if pl.closed || pl.cur != g {
				// Shut down or reloaded meanwhile: this one is not needed.
				pl.mu.Unlock()
				p.leaving.Store(true)
				p.kill()
				if pl.cur != g {
					continue
				}
				return
			}
			pl.addLocked(p)
			pl.mu.Unlock()
			p.log.Info("wsgi: worker ready")
			return
		}
		pl.log.Error("wsgi: could not start a replacement worker", slog.String("error", err.Error()))
		young = true
	}
}

// Reload starts a new generation of workers with freshly imported code and,
// once every one of them is ready, retires the old ones, which finish their
// requests and exit. No request fails during a reload. If the new code does
// not load, the old workers keep serving and the error is returned.
func (pl *pool) Reload(ctx context.Context) error {
	pl.reloadMu.Lock()
	defer pl.reloadMu.Unlock()
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return ErrClosed
	}
	pl.reloading = true
	pl.mu.Unlock()
	defer func() {
		pl.mu.Lock()
		pl.reloading = false
		pl.mu.Unlock()
	}()

	type result struct {
		g     *gen
		procs []*proc
		err   error
	}
	done := make(chan result, 1)
	go func() {
		g, procs, err := pl.startGeneration()
		done <- result{g, procs, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() { // do not leave the new generation running
			if r := <-done; r.err == nil {
				pl.discard(r.g, r.procs)
			}
		}()
		return fmt.Errorf("wsgi: reload: %w", ctx.Err())
	}
	if r.err != nil {
		pl.log.Error("wsgi: reload failed; the old workers keep serving", slog.String("error", r.err.Error()))
		return fmt.Errorf("wsgi: reload: %w", r.err)
	}
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		pl.discard(r.g, r.procs)
		return ErrClosed
	}
	old := append([]*proc(nil), pl.list...)
	oldGen := pl.cur
	pl.cur = r.g
	for _, p := range r.procs {
		pl.addLocked(p)
	}
	pl.restarts["reload"] += int64(len(old))
	pl.mu.Unlock()
	for _, p := range old {
		pl.drain(p)
	}
	if oldGen != nil && oldGen.zyg != nil {
		z := oldGen.zyg
		go func() {
			for _, p := range old {
				<-p.exited
			}
			z.stop()
		}()
	}
	pl.log.Info("wsgi: reloaded", slog.Int("workers", len(r.procs)), slog.Int("generation", r.g.id))
	return nil
}

// discard stops a generation that was started but not put into service.
func (pl *pool) discard(g *gen, procs []*proc) {
	for _, p := range procs {
		p.leaving.Store(true)
		p.kill()
	}
	if g.zyg != nil {
		g.zyg.stop()
	}
}

// drain stops p from taking requests and lets it exit once the requests
// it has are done.
func (pl *pool) drain(p *proc) {
	pl.mu.Lock() // retired before leaving, both under the lock pickLocked holds
	p.retire()
	p.leaving.Store(true)
	idle := p.inflight == 0
	pl.mu.Unlock()
	if idle {
		p.closeIdle()
	}
	// Otherwise release() closes it when its last request ends.
}

// closeIdle closes a drained worker's socket for writing: it reads EOF and
// exits.
func (p *proc) closeIdle() {
	p.wmu.Lock()
	p.conn.CloseWrite()
	p.wmu.Unlock()
}

// Shutdown implements Transport: no new requests, in-flight ones finish
// (until ctx is done), then the workers get EOF on their sockets and exit;
// any still running after that are killed.
func (pl *pool) Shutdown(ctx context.Context) error {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil
	}
	pl.closed = true
	close(pl.stopped)
	pl.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		pl.active.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("wsgi: shutdown: %w", ctx.Err())
	}
	pl.mu.Lock()
	procs := make([]*proc, 0, len(pl.procs))
	for p := range pl.procs {
		procs = append(procs, p)
	}
	pl.mu.Unlock()
	zygotes := map[*zygote]bool{}
	for _, p := range procs {
		p.retire()
		p.leaving.Store(true)
		p.conn.CloseWrite() // EOF: the worker exits
		if p.gen.zyg != nil {
			zygotes[p.gen.zyg] = true
		}
	}
	if pl.cur != nil && pl.cur.zyg != nil {
		zygotes[pl.cur.zyg] = true
	}
	for z := range zygotes {
		z.stop()
	}
	for _, p := range procs {
		waitOrKill(p.exited, exitGrace, p.kill)
	}
	for z := range zygotes {
		waitOrKill(z.dead, exitGrace, z.kill)
	}
	pl.sp.stop()
	return err
}
