package wsgi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// pool is graft's Transport: Config.Workers supervised Python processes
// with Config.Threads request slots each, and a bounded queue of requests
// waiting for a slot.
type pool struct {
	cfg    Config
	log    *slog.Logger
	spawn  func(*exec.Cmd) error
	sp     *spawner
	reaper *reaper // the process's, when it is PID 1 or a child subreaper (see reaper); else nil

	mu           sync.Mutex
	procs        map[*proc]bool
	list         []*proc     // the procs in service, in start order
	waiters      []waiter    // requests waiting for a slot, oldest first
	queueErr     error       // set by CloseQueue: requests that would wait fail with it
	expiry       *time.Timer // fails the waiters older than QueueTimeout
	expiryOn     bool        // expiry is armed
	unsent       []*proc     // workers given queued frames by a hand-off (see kick)
	unsentSpare  []*proc
	hasUnsent    atomic.Bool // len(unsent) > 0
	bufs         bufPool
	spareStreams sync.Pool // recycled request streams (see stream.recycle)
	closed       bool
	active       sync.WaitGroup // requests holding a slot
	backoff      time.Duration
	stopped      chan struct{}    // closed when shutdown starts
	cur          *gen             // the generation new workers come from
	zygotes      map[*zygote]bool // preload processes not yet exited
	maxRequest   int              // largest REQ payload: maxFrame (tests lower it)
	bg           sync.WaitGroup   // supervisor goroutines (see goBackground)
	genSeq       int              // the number of the last generation put into service
	restarts     map[string]int64 // worker replacements by reason
	reloadSem    chan struct{}    // one reload at a time: holds a token while one runs
	reloading    bool

	// Responses spilled for slow clients (spill.go): how many, how many
	// bytes, and how many spill files are open now.
	spills, spilledBytes, spillFiles atomic.Int64
}

var (
	_ Transport     = (*pool)(nil)
	_ QueueReporter = (*pool)(nil)
	_ QueueCloser   = (*pool)(nil)
)

// newPool starts the first generation of workers and waits until each has
// imported the app. If any cannot, it stops them all and returns the
// Python error.
func newPool(cfg Config) (*pool, error) {
	r, err := processReaper(cfg.ChildSubreaper)
	if err != nil {
		if cfg.ChildSubreaper {
			return nil, err
		}
		cfg.Logger.Warn("wsgi: running as PID 1, graft does not reap orphaned processes here: they stay zombies; run it under an init (docker run --init, tini)",
			slog.String(logError, err.Error()))
	}
	pl := &pool{
		cfg:        cfg,
		log:        cfg.Logger,
		procs:      make(map[*proc]bool),
		zygotes:    make(map[*zygote]bool),
		maxRequest: maxFrame,
		stopped:    make(chan struct{}),
		sp:         newSpawner(),
		restarts:   make(map[string]int64),
		reloadSem:  make(chan struct{}, 1),
	}
	pl.spawn = pl.sp.start
	pl.reaper = r
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
	pl.setCurrentLocked(g)
	for _, p := range procs {
		pl.addLocked(p)
	}
	pl.mu.Unlock() // nothing is queued yet: no kick
	pl.goBackground(pl.watch)
	if pl.withdraws() {
		pl.goBackground(pl.watchStalls)
	}
	pl.log.Info("wsgi: workers ready", slog.String("graft.app", cfg.App), slog.Int("graft.workers", cfg.Workers),
		slog.Int("graft.threads", cfg.Threads), slog.String("graft.python", cfg.Python), slog.Bool("graft.preload", !cfg.NoPreload),
		slog.Bool("graft.sched_batch", cfg.BatchScheduling))
	return pl, nil
}

// waiter is a request waiting for a slot: either a stream whose frame is
// ready, which the goroutine that frees a slot sends (the request's own
// goroutine sleeps once, until its response, instead of also waking up to
// send it), or a goroutine blocked in acquire (a spooled body, whose
// descriptor its own goroutine sends; a control call).
type waiter struct {
	s     *stream
	ch    chan *proc // nil sent on it: ErrQueueTimeout; closed: queueErr (CloseQueue)
	call  bool       // a control call (on ch): not counted against a worker's request limit
	since time.Time
}

// Start implements Transport. A request without a spooled body is encoded
// first; if every slot is taken it is queued with its frame, and Start
// returns at once: its stream gets a worker, or ends with ErrQueueTimeout
// or ErrClosed, later (see QueueWaiter). One a worker gave back (front) is
// never refused with ErrQueueFull: it was accepted already.
func (pl *pool) Start(ctx context.Context, req *Request) (Exchange, error) {
	if req.BodyFile != nil {
		p, err := pl.acquire(ctx, false, req.front)
		if err != nil {
			return nil, err
		}
		s, err := p.send(req)
		if err != nil {
			return nil, err // not a typed nil: s is a nil *stream here
		}
		return s, nil
	}
	buf, flags, err := pl.encode(req)
	if err != nil {
		return nil, err
	}
	s := pl.requestStream(req)
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		pl.bufs.put(buf)
		return nil, ErrClosed
	}
	if len(pl.waiters) == 0 {
		if p := pl.pickLocked(true); p != nil {
			pl.mu.Unlock()
			p.post(s, frameReq, flags, *buf, nil, req.Timeout, true)
			pl.bufs.put(buf)
			return s, nil
		}
	}
	if len(pl.waiters) >= pl.queueCapLocked() && !req.front {
		pl.mu.Unlock()
		pl.bufs.put(buf)
		return nil, ErrQueueFull
	}
	if err := pl.queueErr; err != nil {
		pl.mu.Unlock()
		pl.bufs.put(buf)
		return nil, err
	}
	s.frame, s.flags, s.timeout = buf, flags, req.Timeout
	if req.front && len(pl.waiters) > 0 {
		// Given back by a worker stuck on a slow request: it has waited
		// already. It takes the oldest waiter's time, so that the queue
		// stays in order of age for expire.
		pl.waiters = slices.Insert(pl.waiters, 0, waiter{s: s, since: pl.waiters[0].since})
	} else {
		pl.waiters = append(pl.waiters, waiter{s: s, since: time.Now()})
	}
	pl.armExpiryLocked()
	pl.mu.Unlock()
	return s, nil
}

// QueueFull implements QueueReporter: a request arriving now would be
// refused with ErrQueueFull (see Start), unless a slot frees up first.
func (pl *pool) QueueFull() bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return false // Start reports ErrClosed
	}
	room := pl.queueCapLocked()
	if len(pl.waiters) > 0 {
		return len(pl.waiters) >= room
	}
	if room > 0 {
		return false // it would wait, or get a slot
	}
	// No queue (and so no prefetch, see pickLocked): full when no worker
	// has a free thread.
	for _, p := range pl.list {
		if p.takesLocked() && p.inflight < pl.cfg.Threads {
			return false
		}
	}
	return true
}

// acquire takes a slot on a worker, waiting in the queue if none is free,
// for a request, or for a control call (call), which does not count
// against the worker's request limit. A request a worker gave back
// (front) waits at the front of the queue, and is never refused with
// ErrQueueFull (see Start).
func (pl *pool) acquire(ctx context.Context, call, front bool) (*proc, error) {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, ErrClosed
	}
	if len(pl.waiters) == 0 {
		if p := pl.pickLocked(!call); p != nil {
			pl.mu.Unlock()
			return p, nil
		}
	}
	if len(pl.waiters) >= pl.queueCapLocked() && !front {
		pl.mu.Unlock()
		return nil, ErrQueueFull
	}
	if err := pl.queueErr; err != nil {
		pl.mu.Unlock()
		return nil, err
	}
	ch := make(chan *proc, 1)
	if front && len(pl.waiters) > 0 {
		pl.waiters = slices.Insert(pl.waiters, 0, waiter{ch: ch, since: pl.waiters[0].since}) // see Start
	} else {
		pl.waiters = append(pl.waiters, waiter{ch: ch, call: call, since: time.Now()})
	}
	pl.armExpiryLocked()
	pl.mu.Unlock()

	var err error
	select {
	case p, ok := <-ch:
		if p != nil {
			return p, nil
		}
		if !ok { // CloseQueue
			pl.mu.Lock()
			defer pl.mu.Unlock()
			return nil, pl.queueErr
		}
		return nil, ErrQueueTimeout
	case <-ctx.Done():
		err = ctx.Err()
	case <-pl.stopped:
		err = ErrClosed
	}
	pl.mu.Lock()
	for i, w := range pl.waiters {
		if w.ch == ch {
			pl.waiters = append(pl.waiters[:i], pl.waiters[i+1:]...)
			break
		}
	}
	pl.mu.Unlock()
	select {
	case p := <-ch: // handed a slot while giving up: pass it on
		if p != nil {
			pl.release(p)
		}
	default:
	}
	return nil, err
}

// CloseQueue implements QueueCloser.
func (pl *pool) CloseQueue(err error) int {
	pl.mu.Lock()
	pl.queueErr = err
	ended := append([]waiter(nil), pl.waiters...)
	clear(pl.waiters)
	pl.waiters = pl.waiters[:0]
	now := time.Now()
	for _, w := range ended {
		if w.s != nil {
			w.s.waited = now.Sub(w.since)
			pl.bufs.put(w.s.frame)
			w.s.frame = nil
		}
	}
	pl.mu.Unlock()
	for _, w := range ended {
		if w.s != nil {
			w.s.end(err)
		} else {
			close(w.ch) // acquire returns queueErr
		}
	}
	return len(ended)
}

// unqueue takes a queued stream out of the queue, when its client goes
// away before it has a worker. It returns false if s is no longer queued
// (it has a worker, or has ended).
func (pl *pool) unqueue(s *stream) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for i, w := range pl.waiters {
		if w.s == s {
			pl.waiters = append(pl.waiters[:i], pl.waiters[i+1:]...)
			s.waited = time.Since(w.since)
			pl.bufs.put(s.frame)
			s.frame = nil
			return true
		}
	}
	return false
}

// armExpiryLocked sets the queue's timer for when its oldest request has
// waited Config.QueueTimeout, unless it is set already. One timer serves
// the whole queue: requests wait in order and have the same limit, so when
// it fires it fails every request over the limit and is set again for the
// oldest one left (a request handed a slot meanwhile just makes it fire
// early, for nothing).
func (pl *pool) armExpiryLocked() {
	if pl.expiryOn || len(pl.waiters) == 0 {
		return
	}
	d := time.Until(pl.waiters[0].since.Add(pl.cfg.QueueTimeout))
	if pl.expiry == nil {
		pl.expiry = time.AfterFunc(d, pl.expire)
	} else {
		pl.expiry.Reset(d)
	}
	pl.expiryOn = true
}

// expire fails the requests that have waited Config.QueueTimeout.
func (pl *pool) expire() {
	pl.mu.Lock()
	pl.expiryOn = false
	now := time.Now()
	n := 0
	for n < len(pl.waiters) && now.Sub(pl.waiters[n].since) >= pl.cfg.QueueTimeout {
		n++
	}
	late := append([]waiter(nil), pl.waiters[:n]...)
	pl.waiters = append(pl.waiters[:0], pl.waiters[n:]...)
	for _, w := range late {
		if w.s != nil {
			w.s.waited = now.Sub(w.since)
			pl.bufs.put(w.s.frame)
			w.s.frame = nil
		}
	}
	pl.armExpiryLocked()
	pl.mu.Unlock()
	for _, w := range late {
		if w.s != nil {
			w.s.end(ErrQueueTimeout)
		} else {
			w.ch <- nil
		}
	}
}

// queueCapLocked is how many requests may wait for a slot:
// Config.MaxQueue, plus the threads of each worker at its request limit
// (see countLocked). The requests those threads would have taken wait
// for its replacement, or for another worker, instead of being refused:
// a recycle does not lower the pool's capacity, with no queue
// (MaxQueue negative) too.
func (pl *pool) queueCapLocked() int {
	n := pl.cfg.MaxQueue
	for _, p := range pl.list {
		if p.atLimit && !p.retired.Load() {
			n += pl.cfg.Threads
		}
	}
	return n
}

// pickLocked takes a slot on the worker that should get the next request
// (a control call unless request), or returns nil when all are full. A
// request counts against the worker's request limit (see countLocked):
// workers at theirs, like retired ones, are passed by, and the last
// request of a worker's budget goes to it only if a thread of it is free.
// A worker with a free thread is
// preferred (the least busy); failing that, requests may be queued in the
// socket of a busy worker whose requests are fast (see prefetchDepth), so
// that the worker finds its next requests waiting instead of sleeping until
// Go sends them, and Go reads several responses per read (NGINX Unit's
// trick). Slow apps, and workers running a request that is not young, get
// no prefetch, so that no request waits behind a slow one.
func (pl *pool) pickLocked(request bool) *proc {
	var best *proc
	for _, p := range pl.list {
		if !p.takesLocked() || p.inflight >= pl.cfg.Threads && p.stalled.Load() {
			continue // a worker stuck on a request gets nothing to queue behind it
		}
		if request && p.lastOfBudgetLocked() && (p.inflight >= pl.cfg.Threads || p.withdrawing.Load() > 0) {
			continue // its last request goes to a free thread only (see countLocked)
		}
		if best == nil || p.inflight < best.inflight {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	limit := pl.cfg.Threads
	if best.inflight >= limit && pl.cfg.Prefetch > 0 && pl.cfg.MaxQueue > 0 {
		limit += best.prefetchDepth(pl.cfg.Prefetch)
	}
	if best.inflight >= limit {
		return nil
	}
	best.inflight++
	pl.active.Add(1)
	if request {
		pl.countLocked(best)
	}
	return best
}

// handOffLocked gives a free slot to the oldest waiting request, if both
// exist. A queued stream's frame goes into the worker's write queue: kick
// sends it once the pool's lock is released.
func (pl *pool) handOffLocked() bool {
	if len(pl.waiters) == 0 {
		return false
	}
	w := pl.waiters[0]
	p := pl.pickLocked(!w.call)
	if p == nil {
		return false
	}
	pl.waiters[0] = waiter{}
	pl.waiters = pl.waiters[1:]
	if w.ch != nil {
		w.ch <- p
		return true
	}
	s := w.s
	s.waited = time.Since(w.since)
	p.mu.Lock()
	if p.registerLocked(s, frameReq, s.flags, *s.frame, s.timeout, true) {
		p.queued = append(p.queued, *s.frame...)
		p.ensureReaderLocked() // s's goroutine waits without knowing p
		if n := len(pl.unsent); n == 0 || pl.unsent[n-1] != p {
			pl.unsent = append(pl.unsent, p)
			pl.hasUnsent.Store(true)
		}
	}
	p.mu.Unlock()
	pl.bufs.put(s.frame)
	s.frame = nil
	return true
}

// addLocked puts a ready worker into service and reports whether it did.
// The caller calls kick after releasing pl.mu. A worker that died after it
// was ready (gone has passed it by: it was not in service) is replaced
// instead, as a crash, by a worker of the current generation, the one it
// was to serve in.
func (pl *pool) addLocked(p *proc) (added bool) {
	if p.ended {
		pl.restarts["crash"]++
		g, young := pl.cur, time.Since(p.started) < youngDeath
		pl.goBackgroundLocked(func() { pl.replace(g, young) })
		p.log.Warn("wsgi: worker died before it was put into service; starting a replacement",
			slog.String("graft.exit", p.exitStatus()), slog.String("graft.reason", "crash"))
		return false
	}
	pl.procs[p] = true
	p.index = pl.freeIndexLocked()
	pl.list = append(pl.list, p)
	for pl.handOffLocked() {
	}
	return true
}

// freeIndexLocked returns the lowest index no worker in service holds
// (draining ones included): a worker's number for the per-worker metrics
// and Status. Indexes are reused as workers come and go, so the values
// stay below the most workers alive at once (Config.Workers, plus those
// draining after a recycle or a reload), however many ever ran: a
// Prometheus series per index instead of one per pid.
func (pl *pool) freeIndexLocked() int {
	for i := 0; ; i++ {
		taken := false
		for _, q := range pl.list {
			if q.index == i {
				taken = true
				break
			}
		}
		if !taken {
			return i
		}
	}
}

// release frees a slot of p, hands free slots to waiting requests and
// sends the frames of those it gave one.
func (pl *pool) release(p *proc) {
	pl.free(p)
	pl.kick()
}

// free frees a slot of p and hands free slots to waiting requests; the
// caller calls kick afterwards (the reader goroutine does once it has
// handled the frames of one read, so that the requests its responses made
// room for go out in one write per worker).
func (pl *pool) free(p *proc) {
	pl.mu.Lock()
	if pl.procs[p] { // else gone() has given its slots back
		p.inflight--
		pl.active.Done()
		if p.inflight == 0 && p.retired.Load() && p.leaving.Load() {
			p.leave(p.leaveReason) // a drained worker: let it exit
		}
	}
	for pl.handOffLocked() {
	}
	pl.mu.Unlock()
}

// kick sends the frames that hand-offs queued, without waiting for a
// worker's socket (see proc.kick).
func (pl *pool) kick() {
	if !pl.hasUnsent.Load() {
		return
	}
	pl.mu.Lock()
	ps := pl.unsent
	pl.unsent, pl.unsentSpare = pl.unsentSpare[:0], nil
	pl.hasUnsent.Store(false)
	pl.mu.Unlock()
	for i, p := range ps {
		p.kick()
		ps[i] = nil
	}
	pl.mu.Lock()
	if pl.unsentSpare == nil {
		pl.unsentSpare = ps[:0]
	}
	pl.mu.Unlock()
}

// prefetchBudget is how much of a worker's work, counted in its smoothed
// request time, may wait in its socket: a prefetched request expects to
// wait no longer than this behind the requests ahead of it.
const prefetchBudget = 10 * time.Millisecond

// prefetchDepth returns how many requests may wait in p's socket beyond
// its threads: the most whose smoothed request times add up to less than
// prefetchBudget, up to most (none for a worker whose requests take the
// budget or more); none while one of its requests has been running for
// half the budget (the rare slow one a request would wait behind).
func (p *proc) prefetchDepth(most int) int {
	n := most
	if avg := p.ewma.Load(); avg > 0 && (int64(prefetchBudget)-1)/avg < int64(n) {
		n = int((int64(prefetchBudget) - 1) / avg)
	}
	if n == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trimSentLocked()
	if len(p.sent) > 0 && time.Since(p.sent[0].start) >= prefetchBudget/2 {
		return 0 // the oldest request in flight
	}
	return n
}

// trimSentLocked drops from the front of p.sent the streams no longer in
// flight (a stream id may be in use again by then: the stream itself is
// compared). A stream ended behind an older one still in flight stays
// until that one ends; p.sent holds at most as many as were sent since.
// The caller holds p.mu.
func (p *proc) trimSentLocked() {
	i := 0
	for i < len(p.sent) && p.streams[p.sent[i].id] != p.sent[i] {
		p.sent[i] = nil
		i++
	}
	if i == len(p.sent) {
		p.sent = p.sent[:0] // keep the array: the usual case, every request answered
	} else if i > 0 {
		p.sent = p.sent[i:]
	}
}

// Shutdown implements Transport: no new requests; every worker is told to
// leave (EOF on its socket: it runs its exit hooks and exits) as soon as it
// has no request, at once if idle; in-flight requests finish until ctx is
// done. Then each worker still running is killed once it has had exitGrace
// since the wait for requests ended, or as soon as ctx is done: all of them
// at the same time. The zygotes go the same way once their workers are
// gone. When it returns, no process of the pool is left (but one the
// kernel did not reap within exitGrace of its SIGKILL, which the error
// counts) and none will be started.
func (pl *pool) Shutdown(ctx context.Context) error {
	return pl.shutdown(ctx, ctx)
}

// shutdown is Shutdown with two bounds (see Container.stop): in-flight
// requests finish until reqCtx is done, and the workers still running
// requests then are killed at once; every other process (a worker told to
// leave once idle, a zygote) has exitGrace to exit, or until ctx is done,
// before it is killed.
func (pl *pool) shutdown(reqCtx, ctx context.Context) error {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil
	}
	pl.closed = true
	close(pl.stopped) // requests blocked in acquire see it
	var queued []*stream
	kept := pl.waiters[:0]
	for _, w := range pl.waiters {
		if w.s == nil {
			kept = append(kept, w)
			continue
		}
		w.s.waited = time.Since(w.since)
		pl.bufs.put(w.s.frame)
		w.s.frame = nil
		queued = append(queued, w.s)
	}
	pl.waiters = kept
	if pl.expiry != nil {
		pl.expiry.Stop()
	}
	// No worker is added once the pool is closed: these are all of them.
	procs := make([]*proc, 0, len(pl.procs))
	reasons := make([]string, 0, len(pl.procs)) // why each was told to leave: "shutdown", or a drain's reason
	var idle []*proc
	for p := range pl.procs {
		if pl.retireLocked(p, "shutdown") {
			idle = append(idle, p)
		}
		procs = append(procs, p)
		reasons = append(reasons, p.leaveReason)
	}
	pl.mu.Unlock()
	for _, s := range queued {
		s.end(ErrClosed)
	}
	for _, p := range idle {
		p.leave("shutdown")
	}

	drained := make(chan struct{})
	go func() {
		pl.active.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-reqCtx.Done():
		err = fmt.Errorf("wsgi: shutdown: %w", reqCtx.Err())
	case <-ctx.Done():
		err = fmt.Errorf("wsgi: shutdown: %w", ctx.Err())
	}
	// Every worker without requests has been told to leave; those still
	// running requests (their time is up) are killed now, at the same
	// time, and the others when they have had exitGrace or ctx is done.
	if err != nil {
		for i, p := range procs {
			p.mu.Lock()
			running := len(p.streams)
			p.mu.Unlock()
			if running > 0 {
				p.forceOut(reasons[i], true)
			}
		}
	}
	exited := make([]<-chan struct{}, len(procs))
	for i, p := range procs {
		exited[i] = p.exited
	}
	left := stopAll(ctx, exitGrace, exited, func(i int) { procs[i].forceOut(reasons[i], ctx.Err() != nil) })
	// Supervisor goroutines (replacements, recycling, reloads) see that the
	// pool is closed and stop what they were starting.
	pl.bg.Wait()
	pl.mu.Lock()
	zygotes := make([]*zygote, 0, len(pl.zygotes))
	for z := range pl.zygotes {
		zygotes = append(zygotes, z)
	}
	pl.mu.Unlock()
	dead := make([]<-chan struct{}, len(zygotes))
	for i, z := range zygotes {
		z.leave("shutdown")
		dead[i] = z.dead
	}
	zleft := stopAll(ctx, exitGrace, dead, func(i int) { zygotes[i].forceOut(ctx.Err() != nil) })
	if len(left) > 0 {
		// Killed workers whose zygote did not report their exit (it was
		// stopped): its end does.
		still := make([]<-chan struct{}, len(left))
		for k, i := range left {
			still[k] = procs[i].exited
		}
		left = waitAll(still, exitGrace)
	}
	pl.sp.stop()
	if n := len(left) + len(zleft); n > 0 {
		err = errors.Join(err, fmt.Errorf("wsgi: shutdown: %d processes not reaped %v after SIGKILL", n, exitGrace))
	}
	return err
}

// Status implements StatusReporter.
func (pl *pool) Status() Status {
	pl.mu.Lock()
	st := Status{
		App: pl.cfg.App, Python: pl.cfg.Python, Queued: len(pl.waiters), MaxQueue: pl.cfg.MaxQueue,
		Reloading: pl.reloading, Restarts: make(map[string]int64, len(pl.restarts)),
		Threads: pl.cfg.Threads, Preload: !pl.cfg.NoPreload, Time: time.Now(),
		SpilledResponses: pl.spills.Load(), SpilledBytes: pl.spilledBytes.Load(), SpillFiles: pl.spillFiles.Load(),
	}
	if pl.cur != nil {
		st.Generation = pl.cur.id
	}
	for k, v := range pl.restarts {
		st.Restarts[k] = v
	}
	procs := append([]*proc(nil), pl.list...)
	inflight := make([]int, len(procs))
	indexes := make([]int, len(procs))
	atLimit := make([]bool, len(procs))
	for i, p := range procs {
		inflight[i] = p.inflight
		indexes[i] = p.index
		atLimit[i] = p.atLimit
	}
	st.Ready = !pl.closed
	pl.mu.Unlock()
	st.Workers = make([]WorkerStatus, 0, len(procs)) // [] in JSON, not null

	anyServing := false
	now := time.Now()
	for i, p := range procs {
		ws := WorkerStatus{PID: p.pid, Index: indexes[i], Generation: p.gen.id, Served: p.served.Load(),
			Started: p.started, Age: now.Sub(p.started).Seconds(), State: "idle"}
		retired := p.retired.Load()
		switch {
		case retired || atLimit[i]:
			// At its request limit, a worker takes no new request
			// either; it serves until its replacement is in service,
			// which requests wait for: the pool is still ready.
			ws.State = "draining"
		case inflight[i] > 0:
			ws.State = "busy"
		}
		if !retired {
			anyServing = true
		}
		ws.RSS, _ = procRSS(p.pid)
		p.mu.Lock()
		ws.Requests = make([]RequestStatus, 0, len(p.streams)) // [] in JSON, not null
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
