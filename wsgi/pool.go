package wsgi

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"sort"
	"sync"
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

	mu         sync.Mutex
	procs      map[*proc]bool
	list       []*proc      // the procs in service, in start order
	waiters    []chan *proc // requests waiting for a slot, oldest first
	bufs       bufPool
	closed     bool
	active     sync.WaitGroup // requests holding a slot
	backoff    time.Duration
	stopped    chan struct{}    // closed when shutdown starts
	cur        *gen             // the generation new workers come from
	zygotes    map[*zygote]bool // preload processes not yet exited
	maxRequest int              // largest REQ payload: maxFrame (tests lower it)
	bg         sync.WaitGroup   // supervisor goroutines (see goBackground)
	genSeq     int
	restarts   map[string]int64 // worker replacements by reason
	reloadMu   sync.Mutex       // one reload at a time
	reloading  bool
}

var _ Transport = (*pool)(nil)

// newPool starts the first generation of workers and waits until each has
// imported the app. If any cannot, it stops them all and returns the
// Python error.
func newPool(cfg Config) (*pool, error) {
	pl := &pool{
		cfg:        cfg,
		log:        cfg.Logger,
		procs:      make(map[*proc]bool),
		zygotes:    make(map[*zygote]bool),
		maxRequest: maxFrame,
		stopped:    make(chan struct{}),
		sp:         newSpawner(),
		restarts:   make(map[string]int64),
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
	pl.goBackground(pl.watch)
	pl.log.Info("wsgi: workers ready", slog.String("graft.app", cfg.App), slog.Int("graft.workers", cfg.Workers),
		slog.Int("graft.threads", cfg.Threads), slog.String("graft.python", cfg.Python), slog.Bool("graft.preload", !cfg.NoPreload))
	return pl, nil
}

// Start implements Transport.
func (pl *pool) Start(ctx context.Context, req *Request) (Exchange, error) {
	p, err := pl.acquire(ctx)
	if err != nil {
		return nil, err
	}
	s, err := p.send(req)
	if err != nil {
		return nil, err // not a typed nil: s is a nil *stream here
	}
	return s, nil
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

	t := time.NewTimer(pl.cfg.QueueTimeout)
	defer t.Stop()
	var err error
	select {
	case p := <-ch:
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

// pickLocked takes a slot on the worker that should get the next request,
// or returns nil when all are full. A worker with a free thread is
// preferred (the least busy); failing that, up to Config.Prefetch requests
// may be queued in the socket of a busy worker whose requests are fast, so
// that the worker finds its next requests waiting instead of sleeping until
// Go sends them, and Go reads several responses per read (NGINX Unit's
// trick). Slow apps, and workers running a request that is not young, get
// no prefetch, so that no request waits behind a slow one.
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
	if best.inflight >= limit && pl.cfg.Prefetch > 0 && pl.cfg.MaxQueue > 0 && best.fast() {
		limit += pl.cfg.Prefetch
	}
	if best.inflight >= limit {
		return nil
	}
	best.inflight++
	pl.active.Add(1)
	return best
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

// addLocked puts a ready worker into service.
func (pl *pool) addLocked(p *proc) {
	pl.procs[p] = true
	pl.list = append(pl.list, p)
	for pl.handOffLocked() {
	}
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

// prefetchBelow is the smoothed request time under which a worker may get
// a prefetched request.
const prefetchBelow = 10 * time.Millisecond

// fast reports whether a request may be prefetched to p: its requests
// are usually quick, and the ones it runs now have not been running long
// (so none of them is the rare slow one a request would wait behind).
func (p *proc) fast() bool {
	if time.Duration(p.ewma.Load()) >= prefetchBelow {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.streams {
		if time.Since(s.start) >= prefetchBelow/2 {
			return false
		}
	}
	return true
}

// Shutdown implements Transport: no new requests, in-flight ones finish
// (until ctx is done), then the workers get EOF on their sockets and exit;
// any still running after that are killed. When it returns, no process of
// the pool is left and none will be started.
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
	for _, p := range procs {
		p.retire()
		p.leaving.Store(true)
		p.closeIdle() // EOF: the worker exits
	}
	for _, p := range procs {
		waitOrKill(p.exited, exitGrace, p.kill)
	}
	// Supervisor goroutines (replacements, recycling, reloads) see that the
	// pool is closed and stop what they were starting.
	pl.bg.Wait()
	pl.mu.Lock()
	zygotes := make([]*zygote, 0, len(pl.zygotes))
	for z := range pl.zygotes {
		zygotes = append(zygotes, z)
	}
	pl.mu.Unlock()
	for _, z := range zygotes {
		z.stop()
	}
	for _, z := range zygotes {
		waitOrKill(z.dead, exitGrace, z.kill)
	}
	pl.sp.stop()
	return err
}

// Status implements StatusReporter.
func (pl *pool) Status() Status {
	pl.mu.Lock()
	st := Status{
		App: pl.cfg.App, Python: pl.cfg.Python, Queued: len(pl.waiters), MaxQueue: pl.cfg.MaxQueue,
		Reloading: pl.reloading, Restarts: make(map[string]int64, len(pl.restarts)),
		Threads: pl.cfg.Threads, Preload: !pl.cfg.NoPreload, Time: time.Now(),
	}
	if pl.cur != nil {
		st.Generation = pl.cur.id
	}
	for k, v := range pl.restarts {
		st.Restarts[k] = v
	}
	procs := append([]*proc(nil), pl.list...)
	inflight := make([]int, len(procs))
	for i, p := range procs {
		inflight[i] = p.inflight
	}
	st.Ready = !pl.closed
	pl.mu.Unlock()

	anyServing := false
	now := time.Now()
	for i, p := range procs {
		ws := WorkerStatus{PID: p.pid, Generation: p.gen.id, Served: p.served.Load(),
			Started: p.started, Age: now.Sub(p.started).Seconds(), State: "idle"}
		switch {
		case p.retired.Load():
			ws.State = "draining"
		case inflight[i] > 0:
			ws.State = "busy"
		}
		if ws.State != "draining" {
			anyServing = true
		}
		ws.RSS, _ = procRSS(p.pid)
		p.mu.Lock()
		for _, s := range p.streams {
			ws.Requests = append(ws.Requests, RequestStatus{Method: s.method, Path: s.path, ID: s.reqID,
				Running: now.Sub(s.start).Seconds()})
		}
		p.mu.Unlock()
		sort.Slice(ws.Requests, func(a, b int) bool { return ws.Requests[a].Running > ws.Requests[b].Running })
		st.Workers = append(st.Workers, ws)
	}
	st.Ready = st.Ready && anyServing
	return st
}
