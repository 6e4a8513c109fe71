package wsgi

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"
)

// Withdrawal: requests prefetched into a single-threaded worker's socket
// (see prefetchDepth) wait for the request ahead of them, and when that one
// turns slow they would wait for it to end, or for Timeout, though other
// workers are free. Go cannot take back what it wrote to the socket, and
// the worker, busy in the app, does not read it. So each such worker also
// has a control socket, read by a thread of its own that waits in recv
// (worker.py's watch_withdrawals): once the request a worker runs has been
// in flight for withdrawAfter, Go sends a frameWithdraw there naming the
// requests behind it by sequence number; the thread marks those the worker
// has not begun, under the lock its main loop takes to begin a request, so
// that each is either begun by the worker or skipped by it, never both,
// and answers frameWithdrawn on the worker's socket with the ones it
// marked. Go ends only those, with errWithdrawn: the Container sends them
// again, at the front of the queue, without counting an attempt. A worker
// that does not answer (the app holds the GIL in C) keeps its requests.

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

// withdrawTick is how often the pool looks for workers stuck on a request
// with others waiting behind it: the wait is withdrawFloor to
// withdrawFloor + withdrawTick, plus the worker's answer.
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
// are single-threaded and may be given prefetched requests.
func (pl *pool) withdraws() bool {
	return pl.cfg.Threads == 1 && pl.cfg.Prefetch > 0 && pl.cfg.MaxQueue > 0
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

// watchStalls takes back, every withdrawTick, the requests waiting behind
// a slow one in a worker's socket (see withdrawBehind).
func (pl *pool) watchStalls() {
	t := time.NewTicker(withdrawTick)
	defer t.Stop()
	var procs []*proc
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
			p.withdrawBehind(now)
		}
		clear(procs)
	}
}

// withdrawBehind asks p to give back the requests waiting behind its
// oldest one, if that one has been in flight for long (see withdrawFloor),
// and marks p stalled meanwhile: pickLocked passes it by. Each request is
// asked for once.
func (p *proc) withdrawBehind(now time.Time) {
	ctl := p.ctl.Load()
	if ctl == nil {
		return
	}
	after := max(withdrawFloor, time.Duration(withdrawFactor*p.ewma.Load()))
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		return
	}
	p.trimSentLocked()
	if len(p.sent) == 0 || now.Sub(p.sent[0].start) < after {
		p.stalled.Store(false)
		p.mu.Unlock()
		return
	}
	p.stalled.Store(true)
	var b []byte
	for _, s := range p.sent[1:] {
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
		return
	}
	putFrameHeader(b, frameHeader{kind: frameWithdraw, length: uint32(len(b) - frameHeaderSize)})
	// The worker's thread reads its control socket whenever it has the
	// GIL; one that cannot take this at once will not answer soon either.
	ctl.SetWriteDeadline(now.Add(withdrawTick))
	ctl.Write(b)
}

// withdrawn handles the worker's frameWithdrawn: the requests it will
// skip, by sequence number. Each ends with errWithdrawn and gives its
// slot back; the worker sends nothing more for it.
func (p *proc) withdrawn(payload []byte) {
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
