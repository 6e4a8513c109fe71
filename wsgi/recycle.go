package wsgi

import (
	"log/slog"
	"math/rand/v2"
	"time"
)

// requestLimit draws a worker's request budget: MaxRequests plus jitter.
func (pl *pool) requestLimit() int64 {
	if pl.cfg.MaxRequests <= 0 {
		return 0
	}
	n := int64(pl.cfg.MaxRequests)
	if j := pl.cfg.MaxRequestsJitter; j > 0 {
		n += rand.Int64N(int64(j) + 1)
	}
	return n
}

// countLocked counts a request handed to p against its request limit
// (MaxRequests plus jitter). The request that reaches the limit is the
// last p takes: p is then at its limit, passed by when requests are
// handed out (see takesLocked), and its replacement starts at once; p
// finishes the requests it has (prefetched ones included), while the
// other workers take the new ones, or they wait for the replacement (see
// queueCapLocked). Once a replacement has failed to start, p takes
// requests past its limit rather than leave the pool a worker short (or,
// with one worker, with none) while the start is tried again (see
// recycleFor). The caller holds pl.mu.
//
// A request given back before p began it (see proc.withdrawn) is not
// counted, so the request that reaches the limit must not be one p could
// give back: it would have started the replacement, and p would be
// recycled short of its budget, having served one request fewer than its
// limit (or more fewer, with the prefetched requests ahead of it). So it is
// handed to p only when a thread of p is free and no withdrawal of p is
// unanswered (see pickLocked and lastOfBudgetLocked): p then runs every
// request it holds, none waits behind its threads to be given back, and
// p serves exactly its limit. That request is never prefetched; under load
// it waits in the queue for the next free thread, of p or another worker.
func (pl *pool) countLocked(p *proc) {
	if p.limit == 0 {
		return
	}
	p.handed++
	if p.handed < p.limit {
		return
	}
	if !p.pastLimit {
		p.atLimit = true
	}
	pl.recycleLocked(p, "max-requests")
}

// lastOfBudgetLocked reports whether the next request handed to p would
// complete its request budget (see countLocked). The caller holds pl.mu.
func (p *proc) lastOfBudgetLocked() bool {
	return p.limit > 0 && !p.pastLimit && p.handed+1 >= p.limit
}

// takesLocked reports whether p may be handed a request or a control
// call: it is not retired, nor at its request limit. The caller holds
// pl.mu.
func (p *proc) takesLocked() bool {
	return !p.atLimit && !p.retired.Load()
}

// afterRequest checks the memory limit once a request has finished on p
// (the request limit is counted as requests are handed out: see
// countLocked). A retired worker is on its way out already (a reload, a
// shutdown or another recycle drains it, or it is being killed, and
// whatever retired it sees to its replacement): recycling it would add a
// worker.
func (pl *pool) afterRequest(p *proc) {
	if p.retired.Load() || pl.cfg.MaxRSS <= 0 {
		return
	}
	if rss, err := procRSS(p.pid); err == nil && rss > pl.cfg.MaxRSS {
		pl.recycle(p, "max-rss")
	}
}

// recycle replaces p: a new worker is started and put into service first,
// then p stops taking requests, finishes the ones it has and exits (see
// drain and leave). If the replacement cannot start, p keeps serving (past
// its request limit, see countLocked) while the start is tried again on
// its own (see recycleFor), with no request needed. If p was retired
// meanwhile (reloaded, shut down, dying), the new worker is not needed:
// what retired p replaces it. The new worker goes into service and p is
// retired under one hold of pl.mu, so that p dying right after is no crash
// to replace (gone sees it leaving): either way one worker takes p's place.
func (pl *pool) recycle(p *proc, reason string) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.recycleLocked(p, reason)
}

// recycleLocked is recycle for a caller holding pl.mu.
func (pl *pool) recycleLocked(p *proc, reason string) {
	if !p.recycling.CompareAndSwap(false, true) {
		return
	}
	pl.goBackgroundLocked(func() { pl.recycleFor(p, reason) })
}

// recycleFor starts p's replacement and, once it is ready, puts it into
// service and retires p. A start that fails is tried again with backoff,
// from minBackoff doubling up to maxBackoff, as gunicorn's arbiter keeps
// spawning: an idle server gets its capacity back without waiting for a
// request (until 2026-12-03 only a request handed to p retried it). The
// first failure of a streak is logged at ERROR, the later ones at DEBUG,
// and the recovery says how many starts failed (graft.failed_starts).
// It gives up when p is no longer needed to be replaced: the pool shuts
// down (its wait ends with pl.stopped, which Shutdown closes before it
// waits for the supervisor goroutines), p died (gone replaces it) or is
// retired (a reload's workers take its place). No try is made while a
// reload runs: the reload's own starts get the resources (descriptors,
// processes) a failed start lacked, and it retires p if it succeeds.
func (pl *pool) recycleFor(p *proc, reason string) {
	failed := 0
	var wait time.Duration
	for {
		if failed > 0 {
			wait = nextBackoff(wait)
			if !pl.sleep(wait) {
				return
			}
			pl.mu.Lock()
			gone := pl.closed || !pl.procs[p] || p.retired.Load()
			reloading := pl.reloading
			pl.mu.Unlock()
			if gone {
				return
			}
			if reloading {
				continue
			}
		}
		g := pl.current()
		np, err := pl.startAndWait(g)
		pl.mu.Lock()
		if pl.closed || !pl.procs[p] || pl.cur != g || p.retired.Load() {
			// Shut down, p died or is dying, or reloaded (p is draining):
			// np is not needed.
			pl.mu.Unlock()
			if np != nil {
				pl.dismiss(np)
			}
			return
		}
		if err != nil {
			failed++
			if failed > 1 {
				pl.mu.Unlock()
				p.log.Debug("wsgi: could not start a replacement to recycle a worker, again; it keeps serving",
					append([]any{slog.String("graft.reason", reason), slog.Int("graft.failed_starts", failed)}, errorAttrs(err)...)...)
				continue
			}
			// p serves on, past its limit if it has reached it: the
			// requests waiting for its replacement get it back.
			p.pastLimit = true
			if p.atLimit {
				p.atLimit = false
				for pl.handOffLocked() {
				}
			}
			pl.mu.Unlock()
			pl.kick()
			p.log.Error("wsgi: could not start a replacement to recycle a worker; it keeps serving, and the start is tried again with backoff until one is ready",
				append([]any{slog.String("graft.reason", reason)}, errorAttrs(err)...)...)
			continue
		}
		pl.addLocked(np)
		pl.restarts[reason]++
		idle := pl.retireLocked(p, reason)
		pl.mu.Unlock()
		pl.kick()
		attrs := []any{slog.String("graft.reason", reason), slog.Int64("graft.served", p.served.Load()),
			slog.Int("graft.replacement", np.pid)}
		if failed > 0 {
			attrs = append(attrs, slog.Int("graft.failed_starts", failed))
		}
		p.log.Info("wsgi: recycling worker", attrs...)
		if idle {
			p.leave(reason)
		} // else free() tells it to leave when its last request ends
		return
	}
}

// watch recycles workers past MaxLifetime and samples their memory.
func (pl *pool) watch() {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-pl.stopped:
			return
		case <-t.C:
		}
		if pl.cfg.MaxLifetime <= 0 {
			continue
		}
		pl.mu.Lock()
		var old []*proc
		for _, p := range pl.list {
			if !p.retired.Load() && time.Since(p.started) > p.lifetime {
				old = append(old, p)
			}
		}
		pl.mu.Unlock()
		for _, p := range old {
			pl.recycle(p, "lifetime")
		}
	}
}

// lifetimeFor draws a worker's lifetime: MaxLifetime plus up to 10%.
func (pl *pool) lifetimeFor() time.Duration {
	if pl.cfg.MaxLifetime <= 0 {
		return 0
	}
	return pl.cfg.MaxLifetime + rand.N(pl.cfg.MaxLifetime/10+1)
}
