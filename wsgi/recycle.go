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

// afterRequest checks the recycling limits once a request has finished on p.
func (pl *pool) afterRequest(p *proc) {
	if p.limit > 0 && p.served.Load() >= p.limit {
		pl.recycle(p, "max-requests")
		return
	}
	if pl.cfg.MaxRSS > 0 {
		if rss, err := procRSS(p.pid); err == nil && rss > pl.cfg.MaxRSS {
			pl.recycle(p, "max-rss")
		}
	}
}

// recycle replaces p: a new worker is started and put into service first,
// then p stops taking requests, finishes the ones it has and exits (see
// drain and leave). If the replacement cannot start, p keeps serving and
// recycling is tried again later.
func (pl *pool) recycle(p *proc, reason string) {
	if !p.recycling.CompareAndSwap(false, true) {
		return
	}
	pl.goBackground(func() {
		g := pl.current()
		np, err := pl.startAndWait(g)
		pl.mu.Lock()
		if pl.closed || !pl.procs[p] || pl.cur != g {
			// Shut down, p died, or reloaded (p is draining): np is not
			// needed.
			pl.mu.Unlock()
			if np != nil {
				pl.dismiss(np)
			}
			return
		}
		if err != nil {
			pl.mu.Unlock()
			p.log.Error("wsgi: could not start a replacement to recycle a worker; it keeps serving",
				slog.String("graft.reason", reason), slog.String(logError, err.Error()))
			time.AfterFunc(recycleRetry, func() { p.recycling.Store(false) })
			return
		}
		pl.addLocked(np)
		pl.restarts[reason]++
		pl.mu.Unlock()
		pl.kick()
		p.log.Info("wsgi: recycling worker", slog.String("graft.reason", reason),
			slog.Int64("graft.served", p.served.Load()), slog.Int("graft.replacement", np.pid))
		pl.drain(p, reason)
	})
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
