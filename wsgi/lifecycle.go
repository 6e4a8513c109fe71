package wsgi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
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
// then p stops taking requests, finishes the ones it has and exits. If the
// replacement cannot start, p keeps serving and recycling is tried again
// later.
func (pl *pool) recycle(p *proc, reason string) {
	if !p.recycling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		pl.mu.Lock()
		g := pl.cur
		pl.mu.Unlock()
		np, err := pl.startAndWait(g)
		pl.mu.Lock()
		if pl.closed || !pl.procs[p] {
			pl.mu.Unlock()
			if np != nil {
				np.leaving.Store(true)
				np.kill()
			}
			return
		}
		if err != nil {
			pl.mu.Unlock()
			p.log.Error("wsgi: could not start a replacement to recycle a worker; it keeps serving",
				slog.String("reason", reason), slog.String("error", err.Error()))
			time.AfterFunc(5*time.Second, func() { p.recycling.Store(false) })
			return
		}
		pl.addLocked(np)
		pl.restarts[reason]++
		pl.mu.Unlock()
		p.log.Info("wsgi: recycling worker", slog.String("reason", reason),
			slog.Int64("served", p.served.Load()), slog.Int("replacement", np.pid))
		pl.drain(p)
	}()
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

// watch recycles workers past MaxLifetime and samples their memory.
func (pl *pool) watch() {
	t := time.NewTicker(time.Second)
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

// procRSS returns the resident memory of a process in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("wsgi: bad statm for %d", pid)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}
