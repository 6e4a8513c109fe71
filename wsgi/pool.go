package wsgi

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// Start implements Transport.
func (pl *pool) Start(ctx context.Context, req *Request) (Exchange, error) {
	p, err := pl.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return p.send(req)
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
