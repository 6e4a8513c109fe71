package wsgi

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// pool is graft's Transport: Config.Workers supervised Python processes
// with Config.Threads request slots each, and a bounded queue of requests
// waiting for a slot.
type pool struct {
	cfg   Config
	log   *slog.Logger
	spawn func(*exec.Cmd) error
	sp    *spawner

	mu        sync.Mutex
	procs     map[*proc]bool
	list      []*proc      // the procs in service, in start order
	waiters   []chan *proc // requests waiting for a slot, oldest first
	prefetch  bool         // allow one prefetched request per fast worker
	bufs      bufPool
	closed    bool
	active    sync.WaitGroup // requests holding a slot
	backoff   time.Duration
	stopped   chan struct{} // closed when shutdown starts
	cur       *gen          // the generation new workers come from
	genSeq    int
	restarts  map[string]int64 // worker replacements by reason
	queueWait prometheus.Histogram
	reloadMu  sync.Mutex // one reload at a time
	reloading bool
}

var _ Transport = (*pool)(nil)

// newPool starts the first generation of workers and waits until each has
// imported the app. If any cannot, it stops them all and returns the
// Python error.
func newPool(cfg Config) (*pool, error) {
	pl := &pool{
		cfg:       cfg,
		log:       cfg.Logger,
		procs:     make(map[*proc]bool),
		stopped:   make(chan struct{}),
		sp:        newSpawner(),
		prefetch:  true,
		restarts:  make(map[string]int64),
		queueWait: newQueueWait(),
	}
	pl.spawn = pl.sp.start
	g, procs, err := pl.startGeneration()
	if err != nil {
		pl.mu.Lock()
		pl.closed = true
		pl.mu.Unlock()
		close(pl.stopped)
		pl.sp.stop()
		return nil, err
	}
	pl.mu.Lock()
	pl.cur = g
	for _, p := range procs {
		pl.addLocked(p)
	}
	pl.mu.Unlock()
	go pl.watch()
	pl.log.Info("wsgi: workers ready", slog.String("app", cfg.App), slog.Int("workers", cfg.Workers),
		slog.Int("threads", cfg.Threads), slog.String("python", cfg.Python), slog.Bool("preload", !cfg.NoPreload))
	return pl, nil
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

// addLocked puts a ready worker into service.
func (pl *pool) addLocked(p *proc) {
	pl.procs[p] = true
	pl.list = append(pl.list, p)
	for pl.handOffLocked() {
	}
}

// Start implements Transport.
func (pl *pool) Start(ctx context.Context, req *Request) (Exchange, error) {
	p, err := pl.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return p.send(req)
}

// pickLocked takes a slot on the worker that should get the next request,
// or returns nil when all are full. A worker with a free thread is
// preferred (the least busy); failing that, a request may be prefetched:
// queued in the socket of a busy worker whose requests are fast, so that
// the worker finds its next request waiting instead of sleeping until Go
// sends it (NGINX Unit's trick). Slow apps get no prefetch, so that no
// request waits behind a slow one.
func (pl *pool) pickLocked() *proc {
	var best *proc
	for _, p := range pl.list {
		if p.retired.Load() {
			continue
		}
		if best == nil || p.inflight < best.inflight {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	limit := pl.cfg.Threads
	if best.inflight == limit && pl.prefetch && pl.cfg.MaxQueue > 0 && best.fast() {
		limit++
	}
	if best.inflight >= limit {
		return nil
	}
	best.inflight++
	pl.active.Add(1)
	return best
}

// acquire takes a slot on a worker, waiting in the queue if none is free.
func (pl *pool) acquire(ctx context.Context) (*proc, error) {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, ErrClosed
	}
	if len(pl.waiters) == 0 {
		if p := pl.pickLocked(); p != nil {
			pl.mu.Unlock()
			pl.queueWait.Observe(0)
			return p, nil
		}
	}
	if len(pl.waiters) >= pl.cfg.MaxQueue {
		pl.mu.Unlock()
		return nil, ErrQueueFull
	}
	ch := make(chan *proc, 1)
	pl.waiters = append(pl.waiters, ch)
	pl.mu.Unlock()

	start := time.Now()
	t := time.NewTimer(pl.cfg.QueueTimeout)
	defer t.Stop()
	var err error
	select {
	case p := <-ch:
		pl.queueWait.Observe(time.Since(start).Seconds())
		return p, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = ErrQueueTimeout
	case <-pl.stopped:
		err = ErrClosed
	}
	pl.mu.Lock()
	for i, w := range pl.waiters {
		if w == ch {
			pl.waiters = append(pl.waiters[:i], pl.waiters[i+1:]...)
			break
		}
	}
	pl.mu.Unlock()
	select {
	case p := <-ch: // handed a slot while giving up: pass it on
		pl.release(p)
	default:
	}
	return nil, err
}

// release frees a slot of p and hands free slots to waiting requests.
func (pl *pool) release(p *proc) {
	pl.mu.Lock()
	if pl.procs[p] { // else gone() has given its slots back
		p.inflight--
		pl.active.Done()
		if p.inflight == 0 && p.retired.Load() && p.leaving.Load() {
			p.closeIdle() // a drained worker: let it exit
		}
	}
	for pl.handOffLocked() {
	}
	pl.mu.Unlock()
}

// handOffLocked gives a free slot to the oldest waiting request, if both
// exist.
func (pl *pool) handOffLocked() bool {
	if len(pl.waiters) == 0 {
		return false
	}
	p := pl.pickLocked()
	if p == nil {
		return false
	}
	ch := pl.waiters[0]
	pl.waiters = pl.waiters[1:]
	ch <- p
	return true
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
	go pl.replace(time.Since(p.started) < 2*time.Second)
}

// replace starts a new worker of the current generation, backing off while
// workers die young or fail to load, so a broken app never becomes a fork
// loop.
func (pl *pool) replace(young bool) {
	for {
		pl.mu.Lock()
		if young {
			pl.backoff = min(max(pl.backoff*2, 100*time.Millisecond), 10*time.Second)
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
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
			p.kill()
			<-p.exited
		}
	}
	for z := range zygotes {
		select {
		case <-z.dead:
		case <-time.After(2 * time.Second):
			syscall.Kill(z.pid, syscall.SIGKILL)
			<-z.dead
		}
	}
	pl.sp.stop()
	return err
}
