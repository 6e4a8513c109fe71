package wsgi

import (
	"context"
	"time"
)

// addLocked puts a ready worker into service.
func (pl *pool) addLocked(p *proc) {
	pl.procs[p] = true
	pl.list = append(pl.list, p)
	for pl.handOffLocked() {
	}
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
