package wsgi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
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
