package wsgi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stream is one request on the process transport: its Exchange. A
// request that finds every worker busy is a stream too, queued with its
// frame ready (see pool.Start), and gets its worker from the goroutine that
// frees a slot. Whoever reads the worker's socket pushes parts (see
// reader.go); the request's goroutine takes them with Next, reading the
// socket itself when nobody else does. Once the request's goroutine and
// the transport are both done with a stream that ended the ordinary way,
// it serves another request (see Release).
type stream struct {
	id   uint16
	seq  uint64               // order of sending on the worker
	proc atomic.Pointer[proc] // the worker, once the request has one
	pool *pool

	parts chan Part
	// buffered counts body bytes pushed and not yet taken; the reader stops
	// taking frames from the worker while it is over the response buffer.
	buffered atomic.Int64
	space    chan struct{} // signalled when buffered drops
	gone     chan struct{} // closed by Cancel: discard the rest
	goneOnce sync.Once
	ended    chan struct{} // closed by end: no more parts will come
	endErr   error         // why, set before ended is closed
	endOnce  sync.Once
	timedOut atomic.Bool
	answered atomic.Bool  // a frame of the response arrived
	req      bool         // a request, not a control call; guarded by proc.mu
	asked    bool         // the worker was asked to give it back (see withdrawBehind); guarded by proc.mu
	settled  atomic.Int32 // who owns the final part: see Complete
	// truncated: a part was dropped when the worker's socket was closed
	// (see deliver); the response can only end with an error.
	truncated atomic.Bool
	// spill holds the rest of the response in a file while its client
	// reads slowly (spill.go); nil otherwise. noSpill: a spill file
	// failed, the response does without.
	spill   atomic.Pointer[spill]
	noSpill atomic.Bool
	// refs counts who still uses a request's stream: the request's
	// goroutine, until Release, and the transport, until done. The last to
	// let go recycles it (see recycle) if the exchange ended the ordinary
	// way; any other end leaves it to the garbage collector.
	refs     atomic.Int32
	deadline time.Time // the request's timeout, if any (see proc.checkTimeouts)
	// unhook stops the hook that interrupts the goroutine's read when its
	// context ends (see proc.readFor); the request's goroutine only, as is
	// hooked, set if the hook ran.
	unhook      func() bool
	hooked      bool
	interrupted bool        // the hook interrupted the read; guarded by proc.mu
	expired     bool        // checkTimeouts took it to time out; guarded by proc.mu
	slow        *time.Timer // slow-request log
	start       time.Time
	method      string
	path        string
	reqID       string

	// A queued request: its frame (flags, timeout) until a worker takes it,
	// and then how long it waited. Guarded by pool.mu.
	frame   *[]byte
	flags   byte
	timeout time.Duration
	waited  time.Duration
}

// requestParts is how many parts of a response a request's stream holds
// before the reader waits for the request's goroutine to take them.
const requestParts = 4

// requestStream returns a stream for req: a recycled one if there is one.
func (pl *pool) requestStream(req *Request) *stream {
	s, _ := pl.spareStreams.Get().(*stream)
	if s == nil {
		s = pl.newStream(req.Method, req.Path, req.ID, requestParts)
	} else {
		s.method, s.path, s.reqID = req.Method, req.Path, req.ID
	}
	s.refs.Store(2) // the request's goroutine and the transport
	return s
}

// newStream returns a new stream for a request (or a control call, with a
// smaller part buffer: its answer is one part).
func (pl *pool) newStream(method, path, id string, parts int) *stream {
	return &stream{
		pool:   pl,
		parts:  make(chan Part, parts),
		space:  make(chan struct{}, 1),
		gone:   make(chan struct{}),
		ended:  make(chan struct{}),
		method: method,
		path:   path,
		reqID:  id,
	}
}

// encode builds req's REQ frame in a pooled buffer, with room for the frame
// header: the environ, then the body when it is inline.
func (pl *pool) encode(req *Request) (*[]byte, byte, error) {
	buf := pl.bufs.get()
	b, flags := appendEnvFrame((*buf)[:0], req.Env)
	if req.BodyFile != nil {
		flags |= flagBodyFD
	} else {
		b = append(b, req.Body...)
	}
	*buf = b
	if len(b)-frameHeaderSize > pl.maxRequest {
		pl.bufs.put(buf)
		return nil, 0, fmt.Errorf("wsgi: request too large for one frame")
	}
	return buf, flags, nil
}

// send writes a request to the worker and registers its stream. The
// caller holds one of p's free slots; on an error, send gives it back.
func (p *proc) send(req *Request) (*stream, error) {
	buf, flags, err := p.pool.encode(req)
	if err != nil {
		p.pool.release(p)
		return nil, err
	}
	defer p.pool.bufs.put(buf)
	s := p.pool.requestStream(req)
	p.post(s, frameReq, flags, *buf, req.BodyFile, req.Timeout, true)
	return s, nil
}

// end ends s without a response (or the rest of one): Next returns the
// parts already pushed, then a PartEnd with err.
func (s *stream) end(err error) {
	s.endOnce.Do(func() {
		s.endErr = err
		close(s.ended)
	})
}

// post registers s and writes its frame b (which starts with room for the
// frame header) to the worker, with any frames queued before it. A frame
// carrying a descriptor (a spooled body) is written on its own, after
// whatever was queued before it. If the worker cannot take it, post kills
// the worker: s ends when its reader notices.
func (p *proc) post(s *stream, kind, flags byte, b []byte, body *os.File, timeout time.Duration, slowLog bool) {
	if body != nil {
		p.wmu.Lock()
	}
	p.mu.Lock()
	if !p.registerLocked(s, kind, flags, b, timeout, slowLog) {
		p.mu.Unlock()
		if body != nil {
			p.wmu.Unlock()
		}
		return
	}
	if body == nil {
		p.queued = append(p.queued, b...)
		p.mu.Unlock()
		p.write()
		return
	}
	batch := p.takeQueuedLocked()
	p.mu.Unlock()
	err := p.writeBatch(batch)
	if err == nil {
		err = writeAll(p.conn, b, body)
	}
	if p.flush(err) != nil {
		p.kill() // its reader retires it; s ends with the others
	}
}

// registerLocked numbers s, sets its timers and makes it visible to the
// reader, and puts the header of its frame b in place. Frames reach the
// worker in the order of their sequence numbers, which die relies on to
// tell the requests a single-threaded worker never started: numbering and
// queueing happen under p.mu, and frames are written in queue order. It
// returns false, having ended s with ErrNotStarted, if the worker is gone.
// The caller holds p.mu.
func (p *proc) registerLocked(s *stream, kind, flags byte, b []byte, timeout time.Duration, slowLog bool) bool {
	if p.down {
		s.end(ErrNotStarted) // never sent: safe to send elsewhere
		return false
	}
	for {
		p.nextID++
		if _, busy := p.streams[p.nextID]; !busy {
			break
		}
	}
	s.id = p.nextID
	s.req, s.asked = kind == frameReq, false
	if p.startMap != nil {
		p.startMap.clear(s.id)
	}
	p.seq++
	s.seq = p.seq
	s.start = time.Now()
	if timeout > 0 {
		s.deadline = s.start.Add(timeout)
		p.armTimeoutLocked(s.deadline)
	}
	p.streams[s.id] = s
	p.sent = append(p.sent, s)
	s.proc.Store(p)
	if d := p.pool.cfg.SlowRequest; d > 0 && slowLog {
		if s.slow == nil {
			s.slow = time.AfterFunc(d, s.slowFired)
		} else {
			s.slow.Reset(d) // a recycled stream's, stopped before it fired
		}
	}
	putFrameHeader(b, frameHeader{kind: kind, flags: flags, stream: s.id, length: uint32(len(b) - frameHeaderSize)})
	return true
}

// write writes the queued frames unless another goroutine is writing (it
// will write them), waiting for the socket if need be. A write error
// kills the worker.
func (p *proc) write() {
	if !p.wmu.TryLock() {
		return
	}
	if p.flush(nil) != nil {
		p.kill()
	}
}

// kick writes the queued frames like write, but without waiting: the
// reader goroutine sends the frames of the requests it handed slots to,
// and must never block on a worker that is itself blocked writing to Go
// (nor should a request whose client left, sending a CANCEL). What the
// socket does not take at once is written by a goroutine of its own.
func (p *proc) kick() {
	if !p.wmu.TryLock() {
		return
	}
	for {
		p.mu.Lock()
		if len(p.queued) == 0 {
			p.wmu.Unlock()
			p.mu.Unlock()
			return
		}
		batch := p.takeQueuedLocked()
		p.mu.Unlock()
		n, err := p.tryWrite(batch)
		if err != nil {
			p.writeBatch(batch[:0])
			p.flush(err)
			p.kill()
			return
		}
		if n < len(batch) {
			go func() {
				err := writeAll(p.conn, batch[n:], nil)
				if err == nil {
					err = p.writeBatch(batch[:0])
				}
				if p.flush(err) != nil {
					p.kill()
				}
			}()
			return
		}
		p.writeBatch(batch[:0])
	}
}

// tryWrite makes one non-blocking write of b and returns how much of it
// the socket took.
func (p *proc) tryWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := p.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				return true
			}
		}
	})
	if err == nil {
		err = werr
	}
	if err == syscall.EAGAIN {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, nil
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

// Worker implements Exchange: the pid of the worker process, 0 while the
// request waits for one.
func (s *stream) Worker() int {
	if p := s.proc.Load(); p != nil {
		return p.pid
	}
	return 0
}

// settled states: the final part goes to the request's goroutine, or the
// request's goroutine has left (Complete) and the reader handles it.
const (
	settledOpen int32 = iota
	settledLeft
	settledEnded
)

// Complete implements Completer: it returns false if the final part has
// been delivered already.
func (s *stream) Complete() bool {
	if !s.settled.CompareAndSwap(settledOpen, settledLeft) {
		return false
	}
	// Nobody takes parts any more: drop any (none should come after a
	// whole body), rather than ever block the reader on them.
	s.leave()
	return true
}

// leave is how a request's goroutine stops taking parts before the end of
// the response without cancelling it: what the worker still sends for s is
// read by somebody else (see ensureReaderLocked) and dropped.
func (s *stream) leave() {
	s.unhookCtx()
	s.goneOnce.Do(func() { close(s.gone) })
	s.closeSpill()
	if p := s.proc.Load(); p != nil {
		p.mu.Lock()
		p.ensureReaderLocked()
		p.mu.Unlock()
	}
}

// QueueWait implements QueueWaiter: how long the request waited for a
// worker, once it has one (or gave up waiting).
func (s *stream) QueueWait() time.Duration { return s.waited }

// Next implements Exchange. When nobody reads the worker's socket, the
// request's goroutine reads it (see reader.go).
func (s *stream) Next(ctx context.Context) (Part, error) {
	for {
		select {
		case part := <-s.parts:
			if part.Kind == partSpilled {
				continue // the spill is looked at below
			}
			return s.took(part), nil
		case <-s.ended:
			return s.endPart(), nil
		default:
		}
		if part, ok := s.fromSpill(); ok {
			return part, nil
		}
		if err := ctx.Err(); err != nil {
			s.unhookCtx()
			return Part{}, err
		}
		var lead <-chan struct{}
		p := s.proc.Load()
		if p != nil { // nil: queued, the worker's reader answers
			var led bool
			if led, lead = p.takeTokenFor(s); led {
				if err := p.readFor(ctx, s); err != nil {
					s.unhookCtx()
					return Part{}, err
				}
				continue
			}
		}
		// Whatever comes first but the token, a following goroutine
		// stops following.
		unfollow := func() {
			if lead != nil {
				p.unfollow()
			}
		}
		select {
		case part := <-s.parts:
			unfollow()
			if part.Kind == partSpilled {
				continue
			}
			return s.took(part), nil
		case <-s.ended:
			unfollow()
			return s.endPart(), nil
		case <-ctx.Done():
			unfollow()
			s.unhookCtx()
			return Part{}, ctx.Err()
		case <-lead:
			p.followed(s)
			if err := p.readFor(ctx, s); err != nil {
				s.unhookCtx()
				return Part{}, err
			}
		}
	}
}

// endPart returns the end of a stream that has ended: the parts that
// arrived before the end come first.
func (s *stream) endPart() Part {
	s.unhookCtx()
	for {
		select {
		case p := <-s.parts:
			if p.Kind == partSpilled {
				continue
			}
			return s.took(p)
		default:
		}
		break
	}
	if p, ok := s.fromSpill(); ok {
		return p
	}
	s.closeSpill()
	return Part{Kind: PartEnd, Err: s.endErr}
}

// hasEnded reports whether s has ended.
func (s *stream) hasEnded() bool { return isClosed(s.ended) }

// unhookCtx stops the context hook of the request's reads, if it has one.
func (s *stream) unhookCtx() {
	if s.unhook != nil {
		s.hooked = !s.unhook() // false: it has run, or is running
		s.unhook = nil
	}
}

// Release implements Releaser: the request's goroutine lets go of s.
func (s *stream) Release() {
	s.unhookCtx()
	s.unref()
}

// unref lets go of one reference to s; the last one recycles it.
func (s *stream) unref() {
	if s.refs.Add(-1) == 0 {
		s.recycle()
	}
}

// recycle keeps s for another request, unless it did not end the ordinary
// way: its request's goroutine left it before its end (Cancel, Complete:
// the reader may still read for it), its context hook ran (it may still
// be running), or a part is left. Its channels are reused as they are (an
// ordinary end closes none of them), and so is its slow-request timer,
// stopped before it fired (see done). (hooked, written by the request's
// goroutine, is seen here through refs, whose last decrement comes after
// it.)
func (s *stream) recycle() {
	if s.hooked || len(s.parts) > 0 || isClosed(s.ended) || isClosed(s.gone) || s.spill.Load() != nil {
		return
	}
	select {
	case <-s.space: // a signal nobody waited for
	default:
	}
	*s = stream{pool: s.pool, parts: s.parts, space: s.space, gone: s.gone, ended: s.ended, slow: s.slow}
	s.pool.spareStreams.Put(s)
}

// took accounts for a part leaving the buffer.
func (s *stream) took(p Part) Part {
	if sp := s.spill.Load(); sp != nil {
		sp.taken.Store(time.Now().UnixNano()) // the client makes progress
	}
	if p.Kind == PartResponse || p.Kind == PartEnd {
		s.unhookCtx() // the last part
	}
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
	s.unhookCtx()
	s.closeSpill()
	s.goneOnce.Do(func() {
		close(s.gone)
		if s.proc.Load() == nil && s.pool.unqueue(s) {
			return // it never reached a worker
		}
		if p := s.proc.Load(); p != nil {
			p.cancelStream(s)
		}
	})
}

// cancelStream is cancel for s, unless s is no longer in flight on p (it
// ended, or the worker gave it back: see withdrawn), whose id may carry
// another request by now.
func (p *proc) cancelStream(s *stream) {
	p.mu.Lock()
	current := p.streams[s.id] == s
	p.mu.Unlock()
	if current {
		p.cancel(s.id)
	}
}

// giveUp ends s with err from another goroutine than the request's: the
// rest of its response is dropped (and its app told to stop, if the
// worker is still on it), and the request's goroutine gets the parts it
// had, then err.
func (s *stream) giveUp(err error) {
	s.goneOnce.Do(func() {
		close(s.gone)
		if p := s.proc.Load(); p != nil {
			p.mu.Lock()
			current := p.streams[s.id] == s
			p.mu.Unlock()
			if current {
				p.cancel(s.id)
			}
		}
	})
	s.end(err)
}

// cancel tells the worker that the client of stream id went away. The
// CANCEL frame goes after the frames queued before it (its request's
// among them), written like the reader's (kick): the request's goroutine
// never waits on a worker that does not read.
func (p *proc) cancel(id uint16) {
	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{kind: frameCancel, stream: id})
	p.mu.Lock()
	p.queued = append(p.queued, b[:]...)
	p.ensureReaderLocked() // for the rest of the response, and its end
	p.mu.Unlock()
	p.kick()
}

// push hands p, a part of s's response before its final one, to the
// request's goroutine (see deliver).
func (s *stream) push(p Part, pr *proc) bool { return s.deliver(p, pr, false) }

// finish hands the final part of s's response to the request's goroutine
// (see deliver); if a part before it was dropped, or it is, when Go closed
// the worker's socket or timed the request out, the response ends with
// cutError instead.
func (s *stream) finish(p Part, pr *proc) {
	if !s.deliver(p, pr, true) && (s.truncated.Load() || s.timedOut.Load()) {
		s.end(s.cutError())
	}
}

// deliver hands p, a part of s's response, to the request's goroutine
// through its buffer, waiting while the buffer is full (ResponseBuffer
// bytes of data, the final part apart, or requestParts parts); once p has
// waited spillAfter, and while s spills, through its spill file instead
// (see spill.go). It returns false if p was dropped (and a file in it
// closed): the request timed out, its goroutine is gone, or Go closed the worker's
// socket (pr.cut) while p waited: then the request's goroutine misses a
// part, so the stream is truncated (it drops the rest).
func (s *stream) deliver(p Part, pr *proc, final bool) bool {
	s.answered.Store(true)
	if s.truncated.Load() || s.timedOut.Load() {
		// Timed out: its worker is being killed, and what it still sends
		// (an app that the stack dump's signal woke from a C call may
		// finish) is not the client's, who gets the 504 (or, after the
		// head, the abort) that the timeout's log line announces.
		p.drop()
		return false
	}
	select {
	case <-s.gone:
		p.drop()
		return false
	default:
	}
	n := int64(len(p.Data))
	if final {
		n = 0 // never held back by the window: it frees the worker's slot
	}
	limit := int64(pr.pool.cfg.ResponseBuffer)
	var spillAt *time.Timer // armed at the first wait
	defer func() {
		if spillAt != nil {
			spillAt.Stop()
		}
	}()
	for {
		// Where p may go: the buffer (send), or the spill; what to wait
		// for if neither takes it now.
		var send chan Part
		var drained <-chan struct{}
		var spillC <-chan time.Time
		sp := s.spill.Load()
		if sp != nil {
			if s.spillPart(sp, p, pr) {
				return true
			}
			// The spill takes no more: back to the buffer once it has
			// been read to its end (and for good if its file failed).
			drained = sp.drained
		} else {
			// Go never holds more than the window of a response, unless
			// nothing is pending (a frame is never larger than the
			// window, see bodyFrameSize).
			if b := s.buffered.Load(); n == 0 || b == 0 || b+n <= limit {
				send = s.parts
				select {
				case send <- p: // the usual case: room at once, no timer
					s.buffered.Add(n)
					return true
				default:
				}
			}
			if spillAt == nil && pr.pool.cfg.ResponseSpill > 0 && !s.noSpill.Load() {
				spillAt = time.NewTimer(spillAfter)
			}
			if spillAt != nil {
				spillC = spillAt.C
			}
		}
		select {
		case send <- p: // nil while the window is full
			s.buffered.Add(n)
			return true
		case <-s.space: // the window may have room: look again
		case <-spillC:
			spillAt = nil // fired: a later wait arms another
			s.spill.Store(newSpill(s, pr))
		case <-drained:
			s.spill.Store(nil)
			if sp.close() { // its file failed: this response spills no more
				s.noSpill.Store(true)
			}
		case <-s.gone:
			p.drop()
			return false
		case <-pr.cut:
			s.truncate(p)
			return false
		}
	}
}

// truncate drops p, a part the request's goroutine did not take before
// the worker's socket was closed: the response is cut short. Frames behind
// it may be left unread (see deathError).
func (s *stream) truncate(p Part) {
	p.drop()
	s.truncated.Store(true)
	if pr := s.proc.Load(); pr != nil {
		pr.lost.Store(true)
	}
}

// cutError is how a response that cannot be completed ends: ErrTimeout if
// its worker was killed for it, else ErrWorkerDied.
func (s *stream) cutError() error {
	if s.timedOut.Load() {
		return ErrTimeout
	}
	return ErrWorkerDied
}

// endAfterComplete handles the final part of a request whose goroutine
// left once the client had the whole body (see Complete): an error the app
// raised after it is logged here, since nobody else will see it.
func (p *proc) endAfterComplete(s *stream, final Part) {
	if final.Err == nil {
		return
	}
	attrs := []slog.Attr{slog.String(logMethod, s.method), slog.String(logPath, s.path),
		slog.String(logError, final.Err.Error())}
	if s.reqID != "" {
		attrs = append(attrs, slog.String(logRequestID, s.reqID))
	}
	if final.Traceback != "" {
		attrs = append(attrs, slog.String(logTraceback, final.Traceback))
	}
	p.log.LogAttrs(context.Background(), slog.LevelError, "wsgi: app failed after its whole response was sent", attrs...)
}

// stopTimers stops the request's slow-request timer, and reports false if
// it had fired. (Its timeout needs no stopping: the worker's timer looks
// at the requests still in flight.)
func (s *stream) stopTimers() bool {
	return s.slow == nil || s.slow.Stop()
}

// stream returns the in-flight stream with id, or nil.
func (p *proc) stream(id uint16) *stream {
	p.mu.Lock()
	s := p.streams[id]
	p.mu.Unlock()
	return s
}

// done ends stream s with its final part and frees its slot. Once the
// part is delivered the transport lets go of s, unless something may still
// hold it: its slow-request log or its timeout (which use the stream after
// they fire), or the worker's list of requests sent (see trimSentLocked).
func (p *proc) done(s *stream, final Part) {
	quiet := s.stopTimers()
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
	p.trimSentLocked()
	quiet = quiet && !s.expired && !slices.Contains(p.sent, s)
	p.mu.Unlock()
	p.served.Add(1)
	p.pool.free(p) // the reader sends the next requests' frames (kick)
	if s.settled.CompareAndSwap(settledOpen, settledEnded) {
		s.finish(final, p)
		if quiet {
			s.unref() // the last use of s here
		}
	} else {
		p.endAfterComplete(s, final)
	}
	p.pool.afterRequest(p)
}

// armTimeoutLocked makes p's timeout timer fire by at, the deadline of a
// request just registered. One timer per worker serves all its requests:
// requests are registered in order and usually share Config.Timeout, so a
// new deadline is rarely earlier than the one the timer is set for, and
// the request path makes no timer operation (a timer per request cost an
// allocation and two operations on the runtime's timer heap). The caller
// holds p.mu.
func (p *proc) armTimeoutLocked(at time.Time) {
	if !p.timeoutAt.IsZero() && !at.Before(p.timeoutAt) {
		return // the timer fires earlier: checkTimeouts sets it again then
	}
	p.timeoutAt = at
	if p.timeoutTimer == nil {
		p.timeoutTimer = time.AfterFunc(time.Until(at), p.checkTimeouts)
	} else {
		p.timeoutTimer.Reset(time.Until(at))
	}
}

// checkTimeouts runs when p's timeout timer fires: the request over its
// deadline (the oldest, if several) is timed out; otherwise the timer is
// set for the earliest deadline still ahead.
func (p *proc) checkTimeouts() {
	p.mu.Lock()
	p.timeoutAt = time.Time{}
	if p.down {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	var late *stream
	var next time.Time
	for _, s := range p.streams {
		switch {
		case s.deadline.IsZero():
		case !now.Before(s.deadline):
			if late == nil || s.deadline.Before(late.deadline) {
				late = s
			}
		case next.IsZero() || s.deadline.Before(next):
			next = s.deadline
		}
	}
	if late == nil && !next.IsZero() {
		p.armTimeoutLocked(next)
	}
	if late != nil {
		late.expired = true // used below: never recycled (see done)
	}
	p.mu.Unlock()
	if late != nil {
		p.timeout(late) // kills the worker: its other requests end too
	}
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
	attrs := requestAttrs(s.method, s.path, s.reqID,
		slog.Duration("graft.timeout", p.pool.cfg.Timeout), slog.Duration("graft.running", time.Since(s.start)))
	if why := p.pool.leavingReason(p); why != "" {
		// Recycled, reloaded or shut down: what retired it replaces it
		// (and counts it under that reason); gone does not again.
		p.log.Error("wsgi: request timed out on a worker already leaving; the worker's Python stacks follow, then it is killed, not replaced (graft.reason says why it was leaving)",
			append(attrs, slog.String("graft.reason", why))...)
	} else {
		p.log.Error("wsgi: request timed out; the worker's Python stacks follow, then it is killed", attrs...)
	}
	p.retire()
	p.output.expectDump(slog.LevelError, "wsgi: Python stacks of the timed-out request's worker",
		requestAttrs(s.method, s.path, s.reqID)...)
	p.signal(syscall.SIGUSR1)
	waitOrKill(p.exited, stackDumpGrace, p.kill)
}

// slowFired runs when s has run for Config.SlowRequest.
func (s *stream) slowFired() {
	if p := s.proc.Load(); p != nil {
		p.slowRequest(s)
	}
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
		requestAttrs(s.method, s.path, s.reqID, slog.Duration("graft.running", time.Since(s.start)))...)
	p.output.expectDump(slog.LevelWarn, "wsgi: Python stacks of the slow request's worker",
		requestAttrs(s.method, s.path, s.reqID)...)
	p.signal(syscall.SIGUSR1)
}
