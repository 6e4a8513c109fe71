package wsgi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stream is one request in flight on a worker: the Exchange of the process
// transport. The worker's reader goroutine pushes parts; the request's
// goroutine takes them with Next.
type stream struct {
	id   uint16
	seq  uint64 // order of sending on the worker
	proc *proc

	parts chan Part
	// buffered counts body bytes pushed and not yet taken; the reader stops
	// taking frames from the worker while it is over the response buffer.
	buffered atomic.Int64
	space    chan struct{} // signalled when buffered drops
	gone     chan struct{} // closed by Cancel: discard the rest
	goneOnce sync.Once
	timedOut atomic.Bool
	answered atomic.Bool // a frame of the response arrived
	timer    *time.Timer // request timeout
	slow     *time.Timer // slow-request log
	start    time.Time
	method   string
	path     string
	reqID    string
}

// send writes a request to the worker and registers its stream. The
// caller holds one of p's free slots.
func (p *proc) send(req *Request) (*stream, error) {
	buf := p.pool.bufs.get()
	defer p.pool.bufs.put(buf)
	b, flags := appendEnvFrame((*buf)[:0], req.Env)
	if req.BodyFile != nil {
		flags |= flagBodyFD
	} else {
		b = append(b, req.Body...)
	}
	*buf = b
	if len(b)-frameHeaderSize > p.pool.maxRequest {
		p.pool.release(p)
		return nil, fmt.Errorf("wsgi: request too large for one frame")
	}
	s := &stream{
		proc:   p,
		parts:  make(chan Part, 4),
		space:  make(chan struct{}, 1),
		gone:   make(chan struct{}),
		method: req.Method,
		path:   req.Path,
		reqID:  req.ID,
	}
	if err := p.post(s, frameReq, flags, b, req.BodyFile, req.Timeout, true); err != nil {
		s.stopTimers()
		// The worker is gone or broken; its reader retires it.
		p.kill()
		return s, nil // Next reports ErrWorkerDied once the reader notices
	}
	return s, nil
}

// post registers s and writes its frame b (which starts with room for the
// frame header) to the worker. Frames reach the worker in the order of
// the streams' sequence numbers, which die relies on to tell the requests
// a single-threaded worker never started: numbering and queueing happen
// under p.mu, and only the holder of p.wmu writes. When another request
// is writing, b is copied to p.queued and that writer sends it after its
// own frame, with every other frame queued meanwhile, in one write: under
// load a worker's requests go out in batches, one system call each. A
// frame carrying a descriptor (a spooled body) is written on its own,
// after whatever was queued before it. The timers are set before the
// stream is visible to the reader.
func (p *proc) post(s *stream, kind, flags byte, b []byte, body *os.File, timeout time.Duration, slowLog bool) error {
	if body != nil {
		p.wmu.Lock()
	}
	p.mu.Lock()
	for {
		p.nextID++
		if _, busy := p.streams[p.nextID]; !busy {
			break
		}
	}
	s.id = p.nextID
	p.seq++
	s.seq = p.seq
	s.start = time.Now()
	if timeout > 0 {
		s.timer = time.AfterFunc(timeout, func() { p.timeout(s) })
	}
	if d := p.pool.cfg.SlowRequest; d > 0 && slowLog {
		s.slow = time.AfterFunc(d, func() { p.slowRequest(s) })
	}
	p.streams[s.id] = s
	putFrameHeader(b, frameHeader{kind: kind, flags: flags, stream: s.id, length: uint32(len(b) - frameHeaderSize)})
	if body == nil {
		if !p.wmu.TryLock() {
			p.queued = append(p.queued, b...)
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		return p.flush(writeAll(p.conn, b, nil))
	}
	// Frames queued before this one go first.
	batch := p.takeQueuedLocked()
	p.mu.Unlock()
	err := p.writeBatch(batch)
	if err == nil {
		err = writeAll(p.conn, b, body)
	}
	return p.flush(err)
}

// takeQueuedLocked takes the queued frames, leaving the spare buffer in
// their place. The caller holds p.mu and p.wmu.
func (p *proc) takeQueuedLocked() []byte {
	batch := p.queued
	p.queued, p.spare = p.spare[:0], nil
	return batch
}

// writeBatch writes frames taken from the queue, then keeps their buffer
// as the spare. The caller holds p.wmu.
func (p *proc) writeBatch(batch []byte) error {
	var err error
	if len(batch) > 0 {
		err = writeAll(p.conn, batch, nil)
	}
	if cap(batch) > 256<<10 {
		batch = nil // don't keep a buffer grown by a large body
	}
	p.mu.Lock()
	p.spare = batch[:0]
	p.mu.Unlock()
	return err
}

// flush writes the frames queued while the caller, who holds p.wmu,
// wrote its own, then releases p.wmu. It returns err, the caller's write
// error, or the first error of its own writes; after an error the queued
// frames are dropped (the caller kills the worker: its requests fail with
// ErrNotStarted or ErrWorkerDied).
func (p *proc) flush(err error) error {
	for {
		p.mu.Lock()
		if len(p.queued) == 0 {
			p.wmu.Unlock()
			p.mu.Unlock()
			return err
		}
		batch := p.takeQueuedLocked()
		p.mu.Unlock()
		if err != nil {
			batch = batch[:0] // dropped
		}
		if werr := p.writeBatch(batch); err == nil {
			err = werr
		}
	}
}

// Worker implements Exchange: the pid of the worker process.
func (s *stream) Worker() int { return s.proc.pid }

// Next implements Exchange.
func (s *stream) Next(ctx context.Context) (Part, error) {
	select {
	case p := <-s.parts:
		return s.took(p), nil
	case <-s.proc.dead:
		// Parts that arrived before the worker died come first.
		select {
		case p := <-s.parts:
			return s.took(p), nil
		default:
		}
		if s.timedOut.Load() {
			return Part{Kind: PartEnd, Err: ErrTimeout}, nil
		}
		if s.proc.pool.cfg.Threads == 1 && !s.answered.Load() && s.seq > s.proc.running {
			// Single-threaded workers run requests in order: one sent
			// after the request that was running never started.
			return Part{Kind: PartEnd, Err: ErrNotStarted}, nil
		}
		return Part{Kind: PartEnd, Err: ErrWorkerDied}, nil
	case <-ctx.Done():
		return Part{}, ctx.Err()
	}
}

// took accounts for a part leaving the buffer.
func (s *stream) took(p Part) Part {
	if n := int64(len(p.Data)); n > 0 {
		s.buffered.Add(-n)
		select {
		case s.space <- struct{}{}:
		default:
		}
	}
	return p
}

// Cancel implements Exchange.
func (s *stream) Cancel() {
	s.goneOnce.Do(func() {
		close(s.gone)
		s.proc.cancel(s.id)
	})
}

// cancel tells the worker that the client of stream id went away.
func (p *proc) cancel(id uint16) {
	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{kind: frameCancel, stream: id})
	p.mu.Lock()
	if !p.wmu.TryLock() {
		p.queued = append(p.queued, b[:]...) // the writer sends it
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.conn.SetWriteDeadline(time.Now().Add(cancelWriteTimeout))
	p.conn.Write(b[:])
	p.conn.SetWriteDeadline(time.Time{})
	p.flush(nil)
}

// push delivers p to the request, waiting while more than the response
// buffer is pending. It returns false if the request was cancelled, in
// which case the part is dropped (and a file in it closed).
func (s *stream) push(p Part, limit int64) bool {
	s.answered.Store(true)
	select {
	case <-s.gone:
		if p.File != nil {
			p.File.Close()
		}
		return false
	default:
	}
	// Wait until the part fits in the window, unless nothing is pending:
	// Go never holds more than the window of a response (a frame is never
	// larger than the window, see bodyFrameSize).
	n := int64(len(p.Data))
	for n > 0 {
		b := s.buffered.Load()
		if b == 0 || b+n <= limit {
			break
		}
		select {
		case <-s.space:
		case <-s.gone:
			return false
		}
	}
	s.buffered.Add(n)
	select {
	case s.parts <- p:
	case <-s.gone:
		if p.File != nil {
			p.File.Close()
		}
		return false
	}
	return true
}

// finish delivers the final part of the response.
func (s *stream) finish(p Part) {
	s.answered.Store(true)
	select {
	case s.parts <- p:
	case <-s.gone:
	}
}

// stopTimers stops the request's timeout and slow-request timers.
func (s *stream) stopTimers() {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.slow != nil {
		s.slow.Stop()
	}
}

// stream returns the in-flight stream with id, or nil.
func (p *proc) stream(id uint16) *stream {
	p.mu.Lock()
	s := p.streams[id]
	p.mu.Unlock()
	return s
}

// done ends stream s with its final part and frees its slot.
func (p *proc) done(s *stream, final Part) {
	s.stopTimers()
	// The request's service time: from when it was sent, or from the end
	// of the previous one if it waited behind it (prefetched).
	now := time.Now()
	began := s.start
	if p.lastDone.After(began) {
		began = p.lastDone
	}
	p.lastDone = now
	d := int64(now.Sub(began))
	old := p.ewma.Load()
	p.ewma.Store(old - old/8 + d/8)
	// Account for the request before its client can see the end of it, so
	// that status and metrics read afterwards agree.
	p.mu.Lock()
	delete(p.streams, s.id)
	p.mu.Unlock()
	p.served.Add(1)
	p.pool.release(p)
	s.finish(final)
	p.pool.afterRequest(p)
}

// timeout handles a request over its time limit: it dumps the worker's
// Python stacks to the log (faulthandler on SIGUSR1), then kills the worker.
func (p *proc) timeout(s *stream) {
	select {
	case <-p.dead:
		return
	default:
	}
	s.timedOut.Store(true)
	p.timedOutKill.Store(true)
	p.log.Error("wsgi: request timed out; the worker's Python stacks follow, then it is killed",
		slog.String(logMethod, s.method), slog.String(logPath, s.path), slog.String(logRequestID, s.reqID),
		slog.Duration("graft.timeout", p.pool.cfg.Timeout), slog.Duration("graft.running", time.Since(s.start)))
	p.retire()
	p.output.expectDump(slog.LevelError, "wsgi: Python stacks of the timed-out request's worker",
		slog.String(logMethod, s.method), slog.String(logPath, s.path), slog.String(logRequestID, s.reqID))
	p.signal(syscall.SIGUSR1)
	waitOrKill(p.exited, stackDumpGrace, p.kill)
}

// slowRequest logs a request that has run for Config.SlowRequest, with
// the worker's Python stacks (faulthandler dumps them on SIGUSR1 to the
// worker's stderr, which is logged).
func (p *proc) slowRequest(s *stream) {
	select {
	case <-p.dead:
		return
	default:
	}
	p.log.Warn("wsgi: slow request; the worker's Python stacks follow",
		slog.String(logMethod, s.method), slog.String(logPath, s.path), slog.String(logRequestID, s.reqID),
		slog.Duration("graft.running", time.Since(s.start)))
	p.output.expectDump(slog.LevelWarn, "wsgi: Python stacks of the slow request's worker",
		slog.String(logMethod, s.method), slog.String(logPath, s.path), slog.String(logRequestID, s.reqID))
	p.signal(syscall.SIGUSR1)
}
