package wsgi

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A response spilled to a file.
//
// Whoever reads a worker's socket hands each response's parts to its
// request's goroutine through a small buffer: ResponseBuffer bytes, at
// most requestParts parts (see stream.deliver). When that goroutine falls
// behind, because its client reads slowly or not at all, the reader would
// have to wait for it, and while it waits nothing else is read from the
// worker's socket: the worker's thread sending that response is held by
// the slow client, and with several threads so are the others' responses,
// queued behind it on the socket. So once a part has waited spillAfter,
// the reader spills it, and the rest of that response, to an unlinked
// temporary file in TempDir (ResponseSpill bytes at most) and goes on
// reading at once: the worker is free, as behind a buffering proxy. The
// request's goroutine takes the parts still in the buffer, then what was
// spilled, in order (stream.Next): the spilled bytes, read back in parts
// of up to a frame, and the parts that carry no bytes (the head, the end).
// When the next part would take the file past ResponseSpill, or a write to
// it fails, the reader waits until the request's goroutine has taken the
// spill to its end, then goes back to the buffer and waits for the client
// there: backpressure, as before, as nginx does past
// proxy_max_temp_file_size.

// spillAfter is how long a part waits for room in its request's buffer
// before its response spills: long enough that a client reading at the
// pace of a loopback or a LAN never spills.
const spillAfter = 10 * time.Millisecond

// DefaultResponseSpill is Config.ResponseSpill's default: nginx's
// proxy_max_temp_file_size.
const DefaultResponseSpill = 1 << 30

// spill is the rest of a response kept for its request's goroutine. The
// reader adds to it (the holder of the worker's read token, one goroutine
// at a time); the request's goroutine takes from it.
type spill struct {
	pl      *pool // its counters
	mu      sync.Mutex
	queue   []spilled     // what is to be taken, in order
	f       *os.File      // the spilled bytes; nil until the first
	size    int64         // bytes written to f
	off     int64         // bytes taken from f
	drained chan struct{} // closed once full and taken to its end
	full    bool          // takes no more: the reader waits for drained
	failed  bool          // full because the file could not be written
	closed  bool          // the request's goroutine is gone, or took the end
	// idle gives up on a client that takes nothing for SendTimeout (see
	// watch); taken is when the request's goroutine last took a part.
	idle  *time.Timer
	taken atomic.Int64
}

// spilled is one item of a spill: a run of bytes in its file, or a part
// that carries no bytes of the body.
type spilled struct {
	bytes int64 // > 0: that many bytes of the file, from spill.off
	part  Part
}

// newSpill returns the spill of s's response, watched for a client that
// takes nothing for SendTimeout (see idleFor).
func newSpill(s *stream, pr *proc) *spill {
	sp := &spill{pl: pr.pool, drained: make(chan struct{})}
	pr.pool.spills.Add(1)
	sp.taken.Store(time.Now().UnixNano())
	if t := pr.pool.cfg.SendTimeout; t > 0 {
		sp.mu.Lock() // idleFor reads sp.idle under it
		sp.idle = time.AfterFunc(t, func() { sp.idleFor(s, pr, t) })
		sp.mu.Unlock()
	}
	return sp
}

// idleFor runs when the client of s may have taken nothing of its response
// for timeout while some of it waited: if so, Go gives up on it, as nginx
// does after send_timeout,
// so that a client that stops reading does not keep the spill file: the
// file is dropped, the app told to stop (CANCEL), and the response ends
// with an error, so that the request's goroutine closes the connection
// once its write to the client returns (a write stalled for SendTimeout
// is cut: see sendWatch). Else it looks again when timeout has passed
// since the last part was taken.
func (sp *spill) idleFor(s *stream, pr *proc, timeout time.Duration) {
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return
	}
	left := timeout - time.Since(time.Unix(0, sp.taken.Load()))
	if len(sp.queue) == 0 && s.buffered.Load() == 0 {
		left = timeout // nothing waits for the client: the app is slow, not it
	}
	if left > 0 {
		sp.idle.Reset(left)
		sp.mu.Unlock()
		return
	}
	sp.closeLocked()
	sp.mu.Unlock()
	// The request's goroutine logs it, once (Container.clientStalled): its
	// write to the client is cut by then (sendWatch), or it finds this
	// error after it.
	s.giveUp(fmt.Errorf("%w: the client took none of it for %v", ErrClientStalled, timeout))
}

// partSpilled is a notice in a request's part buffer: its response's
// spill has more for it. It never leaves the stream (see Next).
const partSpilled PartKind = 0xff

// fromSpill returns the next part of s's spill for the request's
// goroutine, if there is one.
func (s *stream) fromSpill() (Part, bool) {
	sp := s.spill.Load()
	if sp == nil {
		return Part{}, false
	}
	pr := s.proc.Load()
	p, ok := sp.take(pr, bodyFrameSize(pr.pool.cfg.ResponseBuffer))
	if ok && p.Kind != PartData {
		p = s.took(p) // as from the buffer (took unhooks for the last part)
	}
	return p, ok
}

// spillPart puts p, a part of s's response, in sp, s's spill: the reader
// calls it (deliver) once p has waited spillAfter for room in the buffer,
// and at once while s spills. It reports false when the spill takes no
// more (see spill.full): the caller waits for drained, then goes back to
// the buffer. The request's goroutine is woken by a partSpilled notice in
// its buffer, if it has room.
func (s *stream) spillPart(sp *spill, p Part, pr *proc) bool {
	sp.mu.Lock()
	switch {
	case sp.closed:
		sp.mu.Unlock()
		p.drop()
		return true
	case sp.full:
		sp.mu.Unlock()
		return false
	case p.Kind == PartData && len(p.Data) == 0:
		sp.mu.Unlock()
		return true // nothing to write to the client
	case p.Kind == PartData:
		if !sp.writeLocked(p.Data, pr) {
			sp.full = true
			sp.closeIfDrainedLocked()
			sp.mu.Unlock()
			return false
		}
		if n := len(sp.queue); n > 0 && sp.queue[n-1].bytes > 0 {
			sp.queue[n-1].bytes += int64(len(p.Data))
		} else {
			sp.queue = append(sp.queue, spilled{bytes: int64(len(p.Data))})
		}
		p.drop()
	default:
		sp.queue = append(sp.queue, spilled{part: p})
	}
	sp.mu.Unlock()
	select {
	case s.parts <- Part{Kind: partSpilled}:
	default: // the buffer is full: its goroutine has parts to take first
	}
	return true
}

// writeLocked appends b to the spill file, creating it if need be, and
// reports whether it did. Past the limit (ResponseSpill) it does not; if
// the file cannot be created or written (a full disk), it logs why and
// marks the spill failed. The caller holds sp.mu.
func (sp *spill) writeLocked(b []byte, pr *proc) bool {
	if sp.size+int64(len(b)) > pr.pool.cfg.ResponseSpill {
		return false
	}
	var err error
	if sp.f == nil {
		if sp.f, err = tempFile(pr.pool.cfg.TempDir, "graft-response-*"); err == nil {
			sp.pl.spillFiles.Add(1)
		}
	}
	if err == nil {
		// Bytes written past size by a write that failed are never read.
		_, err = sp.f.WriteAt(b, sp.size)
	}
	if err != nil {
		sp.failed = true
		pr.log.Error("wsgi: cannot spill a response for a slow client; it waits for the client instead",
			slog.String(logError, err.Error()))
		return false
	}
	sp.size += int64(len(b))
	sp.pl.spilledBytes.Add(int64(len(b)))
	return true
}

// close lets go of the spill (see closeLocked) and reports whether its
// file failed.
func (sp *spill) close() (failed bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.closeLocked()
	return sp.failed
}

// take returns the spill's next part for the request's goroutine: up to
// max spilled bytes, or the part next in line; ok is false when there is
// nothing yet (or any more). Taking the response's last part lets go of
// the spill.
func (sp *spill) take(pr *proc, max int) (p Part, ok bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed || len(sp.queue) == 0 {
		return Part{}, false
	}
	sp.taken.Store(time.Now().UnixNano())
	next := &sp.queue[0]
	if next.bytes == 0 {
		p = next.part
		sp.queue = sp.queue[1:]
		if p.Kind == PartResponse || p.Kind == PartEnd {
			sp.closeLocked()
		}
		sp.closeIfDrainedLocked()
		return p, true
	}
	n := int(min(int64(max), next.bytes))
	d := pr.fc.emptyDataBuf(n)
	if _, err := sp.f.ReadAt(d.b, sp.off); err != nil {
		d.home.Put(d)
		sp.closeLocked()
		return Part{Kind: PartEnd, Err: fmt.Errorf("%w: reading back a spilled response: %v", ErrWorkerDied, err)}, true
	}
	sp.off += int64(n)
	if next.bytes -= int64(n); next.bytes == 0 {
		sp.queue = sp.queue[1:]
	}
	if sp.off == sp.size && sp.f.Truncate(0) == nil {
		// All taken: the file holds no disk while the client takes it
		// (or not), nor while more comes.
		sp.off, sp.size = 0, 0
	}
	sp.closeIfDrainedLocked()
	return Part{Kind: PartData, Data: d.b, buf: d}, true
}

// closeIfDrainedLocked tells the reader waiting on a full spill that it
// has been taken to its end. The caller holds sp.mu.
func (sp *spill) closeIfDrainedLocked() {
	if sp.full && len(sp.queue) == 0 && !isClosed(sp.drained) {
		close(sp.drained)
	}
}

// closeLocked lets go of the spill: its file is closed (its space freed,
// being unlinked), the parts in it are dropped, and so are parts spilled
// from now on. The caller holds sp.mu.
func (sp *spill) closeLocked() {
	sp.closed = true
	if sp.idle != nil {
		sp.idle.Stop()
	}
	if sp.f != nil {
		sp.f.Close()
		sp.f = nil
		sp.pl.spillFiles.Add(-1)
	}
	for _, x := range sp.queue {
		x.part.drop()
	}
	sp.queue = nil
}

// closeSpill lets go of s's spill, if it has one: its request's goroutine
// leaves, or has taken the end.
func (s *stream) closeSpill() {
	if sp := s.spill.Load(); sp != nil {
		sp.close()
	}
}

// tempFile creates an unlinked temporary file in dir (os.TempDir() when
// empty): its space is freed when its last descriptor closes.
func tempFile(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
