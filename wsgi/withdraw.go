package wsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"
)

// Withdrawal: requests prefetched into a busy worker's socket (see
// prefetchDepth) wait for a thread of it to come free, and when the
// requests its threads run turn slow they would wait for one to end, or for
// Timeout, though other workers are free. Go cannot take back what it wrote
// to the socket, and the worker does not begin them. So each such worker
// also has a control socket, read by a thread of its own that waits in recv
// (worker.py's watch_withdrawals): once each of its threads has had a
// request in flight for long (see withdrawFloor and stuckLocked), Go sends
// a frameWithdraw there naming the requests behind them by sequence number;
// the thread marks those the worker has not begun, under the lock a thread
// takes to begin a request, so that each is either begun by the worker or
// skipped by it, never both, and answers frameWithdrawn on the worker's
// socket with the ones it marked. Go ends only those, with errWithdrawn:
// the Container sends them again, at the front of the queue, without
// counting an attempt, and they do not count against the worker's request
// limit. A worker that does not answer (the app holds the GIL in C) keeps
// its requests, and so does one no other worker could take them from
// (watchStalls): they would only wait in the queue instead.

// withdrawFloor and withdrawFactor set when the requests behind a slow one
// are taken back: once it has been in flight for the longer of
// withdrawFloor and withdrawFactor times the worker's smoothed request
// time. A worker gets prefetch only while that time is under 10 ms (see
// prefetchBudget), so this is withdrawFloor in practice: long enough that
// an ordinary request never causes a withdrawal, short beside Timeout.
const (
	withdrawFloor  = time.Second
	withdrawFactor = 20
)

// withdrawTick is how often the pool looks for workers stuck on requests
// with others waiting behind them: the wait is withdrawFloor + withdrawTick
// to withdrawFloor + 2 withdrawTick (see watchStalls), plus the worker's
// answer.
const withdrawTick = 250 * time.Millisecond

// errWithdrawn ends a request that a worker gave back before beginning it.
var errWithdrawn error = withdrawn{}

type withdrawn struct{}

func (withdrawn) Error() string {
	return "wsgi: the request was taken back from a worker stuck on the request ahead of it"
}
func (withdrawn) Unwrap() error { return ErrNotStarted }

// maxWithdrawals bounds how many times one request is taken back before
// its withdrawals count as attempts (see Container.ServeHTTP).
const maxWithdrawals = 8

// withdraws reports whether the pool's workers get a control socket: they
// may be given prefetched requests.
func (pl *pool) withdraws() bool {
	return pl.cfg.Prefetch > 0 && pl.cfg.MaxQueue > 0
}

// giveControl creates a worker's control socket and writes the
// frameControl that gives the worker its end to c, the worker's socket,
// before any request (see proc.handOver). It returns Go's end.
func giveControl(c *net.UnixConn) (*net.UnixConn, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("wsgi: the worker's control socket: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "graft-worker-control-child")
	defer child.Close() // the frame in flight keeps it
	parent := os.NewFile(uintptr(fds[0]), "graft-worker-control")
	fc, err := net.FileConn(parent)
	parent.Close()
	if err != nil {
		return nil, fmt.Errorf("wsgi: the worker's control socket: %w", err)
	}
	var frame [frameHeaderSize]byte
	putFrameHeader(frame[:], frameHeader{kind: frameControl})
	if _, _, err := c.WriteMsgUnix(frame[:], syscall.UnixRights(int(child.Fd())), nil); err != nil {
		fc.Close()
		return nil, fmt.Errorf("wsgi: the worker's control socket: %w", err)
	}
	return fc.(*net.UnixConn), nil
}

// watchStalls takes back, every withdrawTick, the requests waiting in the
// socket of a worker stuck since the last tick (see checkStall and
// withdrawBehind), when another worker could take them: one that takes
// requests and is not stuck itself. With none (a single worker, or every
// one stuck) they stay: given back, they would only wait in the queue, for
// the same workers. Waiting a tick lets workers that got stuck at about
// the same time all be seen stuck: else the first one seen would give its
// requests back to a queue that the others, stuck a moment later, cannot
// serve either.
func (pl *pool) watchStalls() {
	t := time.NewTicker(withdrawTick)
	defer t.Stop()
	var procs, stuck []*proc
	for {
		select {
		case <-pl.stopped:
			return
		case <-t.C:
		}
		pl.mu.Lock()
		procs = append(procs[:0], pl.list...)
		pl.mu.Unlock()
		now := time.Now()
		for _, p := range procs {
			if p.checkStall(now) {
				stuck = append(stuck, p)
			}
		}
		pl.mu.Lock()
		free := false // a worker takes requests and is not stuck
		for _, p := range pl.list {
			free = free || p.takesLocked() && !p.stalled.Load()
		}
		pl.mu.Unlock()
		if free {
			for _, p := range stuck {
				p.withdrawBehind()
			}
		}
		clear(procs)
		clear(stuck)
		stuck = stuck[:0]
	}
}

// checkStall marks p stalled, or not, as of now: stalled while each of its
// threads has had a request in flight for long (see stuckLocked).
// pickLocked passes a stalled worker by when its threads are all taken.
// It reports whether p was stalled at the last check already, and still
// is.
func (p *proc) checkStall(now time.Time) bool {
	if p.ctl.Load() == nil {
		return false
	}
	after := max(withdrawFloor, time.Duration(withdrawFactor*p.ewma.Load()))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.trimSentLocked()
	stalled := p.stuckLocked(now, after) >= 0
	return p.stalled.Swap(stalled) && stalled
}

// stuckLocked returns the index in p.sent of the first request behind
// those p's threads run, if each of those has been in flight for after or
// longer, else -1. Requests are begun in the order they were sent, so
// those threads run the oldest requests in flight (a control call takes a
// thread only of a single-threaded worker: a threaded one runs calls on a
// thread of their own); a request that waited behind slow ones and has
// just begun counts as old too. The caller holds p.mu, after
// trimSentLocked.
func (p *proc) stuckLocked(now time.Time, after time.Duration) int {
	threads := p.pool.cfg.Threads
	n := 0
	for i, s := range p.sent {
		if p.streams[s.id] != s || !s.req && threads > 1 {
			continue // ended, or a threaded worker's call
		}
		if n == threads {
			return i
		}
		if now.Sub(s.start) < after {
			return -1
		}
		n++
	}
	if n == threads {
		return len(p.sent) // stuck, with nothing behind
	}
	return -1
}

// withdrawBehind asks a stalled p to give back the requests waiting behind
// those its threads run. Each request is asked for once. The frame is
// written whole or not at all as far as the worker can tell: what the
// control socket does not take within a tick goes on in a goroutine of its
// own (see writeControl), and p is asked nothing more until it is written.
func (p *proc) withdrawBehind() {
	ctl := p.ctl.Load()
	if ctl == nil || !p.ctlMu.TryLock() {
		return // no control socket, or the last frame is still being written
	}
	now := time.Now()
	after := max(withdrawFloor, time.Duration(withdrawFactor*p.ewma.Load()))
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		p.ctlMu.Unlock()
		return
	}
	p.trimSentLocked()
	i := p.stuckLocked(now, after)
	if i < 0 {
		p.mu.Unlock()
		p.ctlMu.Unlock()
		return
	}
	var b []byte
	for _, s := range p.sent[i:] {
		if !s.req || s.asked || p.streams[s.id] != s || s.answered.Load() || isClosed(s.gone) {
			continue
		}
		s.asked = true
		if b == nil {
			b = make([]byte, frameHeaderSize, frameHeaderSize+8*len(p.sent))
		}
		b = binary.LittleEndian.AppendUint64(b, s.seq)
	}
	p.mu.Unlock()
	if b == nil {
		p.ctlMu.Unlock()
		return
	}
	putFrameHeader(b, frameHeader{kind: frameWithdraw, length: uint32(len(b) - frameHeaderSize)})
	p.withdrawing.Add(1) // until the worker's answer (see withdrawn)
	p.writeControl(ctl, b, now.Add(withdrawTick))
}

// writeControl writes the frame b to p's control socket ctl, then unlocks
// p.ctlMu, which the caller holds. The socket nearly always takes it at
// once (it is tens of bytes, and the worker's thread reads it whenever it
// has the GIL), but a worker whose thread cannot read (the app holds the
// GIL in C code) may leave it full; then the socket may take part of the
// frame only by deadline. The worker reads frames from a byte stream: a
// frame cut short would make it read the next one's bytes as the rest of
// this one. So what is left after deadline is written in a goroutine of
// its own, with no deadline, while ctlMu keeps any other frame out: the
// watcher's tick never waits on a worker longer than until deadline, and
// holds no lock while it waits. That goroutine ends when the worker reads
// the rest, or when its socket is closed (closeSocket, at its death). A
// frame the worker will never read (the socket failed) is no withdrawal
// to wait for (see lastOfBudgetLocked).
func (p *proc) writeControl(ctl *net.UnixConn, b []byte, deadline time.Time) {
	ctl.SetWriteDeadline(deadline)
	n, err := ctl.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		go func() {
			defer p.ctlMu.Unlock()
			ctl.SetWriteDeadline(time.Time{})
			if writeAll(ctl, b[n:], nil) != nil {
				p.withdrawing.Add(-1)
			}
		}()
		return
	}
	if err != nil {
		p.withdrawing.Add(-1)
	}
	p.ctlMu.Unlock()
}

// withdrawn handles the worker's frameWithdrawn: the requests it will
// skip, by sequence number. Each ends with errWithdrawn and gives its
// slot back, and its count against p's request limit (it was never served
// there: see countLocked); the worker sends nothing more for it.
func (p *proc) withdrawn(payload []byte) {
	p.withdrawing.Add(-1)
	var ended []*stream
	p.mu.Lock()
	for len(payload) >= 8 {
		seq := binary.LittleEndian.Uint64(payload)
		payload = payload[8:]
		for _, s := range p.sent {
			if s.seq == seq && p.streams[s.id] == s {
				delete(p.streams, s.id)
				ended = append(ended, s)
				break
			}
		}
	}
	p.trimSentLocked()
	p.mu.Unlock()
	if len(ended) > 0 && p.limit > 0 {
		p.pool.mu.Lock()
		p.handed -= int64(len(ended))
		p.pool.mu.Unlock()
	}
	for _, s := range ended {
		s.stopTimers()
		p.pool.free(p)
		s.end(errWithdrawn)
	}
	if len(ended) > 0 {
		p.pool.kick()
		p.log.Info("wsgi: requests taken back from a worker stuck on a slow request, sent to another",
			slog.Int("graft.withdrawn", len(ended)))
	}
}
