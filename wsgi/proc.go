package wsgi

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one Python worker process and the Go side of its socket.
type proc struct {
	pool    *pool
	gen     *gen
	cmd     *exec.Cmd // nil for a worker forked by a zygote
	pid     int
	conn    *net.UnixConn
	started time.Time
	log     *slog.Logger

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	streams map[uint16]*stream
	nextID  uint16
	seq     uint64 // requests sent so far
	running uint64 // at death: seq of the oldest unfinished request

	inflight     int          // requests sent and not finished; guarded by pool.mu
	retired      atomic.Bool  // takes no new requests (dying, recycled, shutting down)
	leaving      atomic.Bool  // retired on purpose: its exit needs no replacement
	recycling    atomic.Bool  // a replacement is being started
	timedOutKill atomic.Bool  // killed for a request timeout
	ewma         atomic.Int64 // smoothed request time in ns, for the prefetch gate
	lastDone     time.Time    // when the last response ended (reader goroutine only)

	ready    chan error    // startup result: nil once READY, else why not
	dead     chan struct{} // closed when the worker is gone
	exited   chan struct{} // closed when the process has been reaped
	exitDesc string        // how it ended, set before exited is closed
	served   atomic.Int64
	killOnce sync.Once
	limit    int64         // requests before recycling (max-requests + jitter); 0: none
	out      *os.File      // read end of the worker's stdout/stderr
	output   *outputLog    // what it printed
	lifetime time.Duration // age at which to recycle; 0: none
}

// retire stops p from taking new requests.
func (p *proc) retire() { p.retired.Store(true) }

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

// kill stops the process now.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		p.retire()
		p.signal(syscall.SIGKILL)
		p.conn.Close()
	})
}

// die runs once when the reader stops: the worker is finished, whatever
// the reason. In-flight requests see it through p.dead.
func (p *proc) die(err error) {
	p.retire()
	p.mu.Lock()
	// Anything sent after the oldest unfinished request never started.
	// With none unfinished, anything sent after the last one never did.
	p.running = p.seq
	for _, s := range p.streams {
		p.running = min(p.running, s.seq)
	}
	p.mu.Unlock()
	close(p.dead)
	p.conn.Close()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.kill()
		<-p.exited
	}
	p.pool.gone(p, err)
}

// exitStatus describes how the process ended, once it has.
func (p *proc) exitStatus() string {
	select {
	case <-p.exited:
		return p.exitDesc
	default:
		return "running"
	}
}

// signal sends sig to the worker process.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
		return
	}
	select {
	case <-p.exited: // reaped: the pid may belong to someone else now
	default:
		syscall.Kill(p.pid, sig)
	}
}
