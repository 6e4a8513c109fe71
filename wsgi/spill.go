package wsgi

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// A response spilled to a file.
//
// Whoever reads a worker's socket hands each response's parts to its
// request's goroutine through a small buffer: ResponseBuffer bytes, at
// most requestParts parts (see stream.push). When that goroutine falls
// behind, because its client reads slowly or not at all, the reader would
// have to wait for it, and while it waits nothing else is read from the
// worker's socket: the worker's thread sending that response is held by
// the slow client, and with several threads so are the others' responses,
// queued behind it on the socket. So once a part has waited spillAfter,
// the reader spills it, and the rest of that response, to an unlinked
// temporary file in TempDir (ResponseSpill bytes at most) and goes on
// reading at once: the worker is free, as behind a buffering proxy. The
// request's goroutine takes the parts still in the buffer, then the
// spilled bytes in order, then the response's end (stream.Next). When the
// next part would take the file past ResponseSpill, or a write to it
// fails, the reader waits until the request's goroutine has read the file
// to its end, then goes back to the buffer and waits for the client
// there: backpressure, as before, as nginx does past
// proxy_max_temp_file_size.

// spillAfter is how long a part waits for room in its request's buffer
// before its response spills: long enough that a client reading at the
// pace of a loopback or a LAN never spills.
const spillAfter = 10 * time.Millisecond

// DefaultResponseSpill is Config.ResponseSpill's default: nginx's
// proxy_max_temp_file_size.
const DefaultResponseSpill = 1 << 30

// spill is the part of a response kept in a file for its request's
// goroutine. The reader writes it (the holder of the worker's read token,
// one goroutine at a time); the request's goroutine reads it.
type spill struct {
	mu      sync.Mutex
	f       *os.File      // nil until the first bytes are spilled
	size    int64         // bytes written to f
	off     int64         // bytes read back from f
	final   *Part         // the response's final part, once it came
	drained chan struct{} // closed once full and read to its end (see wait)
	full    bool          // takes no more: the next part waits for drained
	failed  bool          // full because the file could not be written
	closed  bool          // the request's goroutine is gone, or took the end
}

func newSpill() *spill { return &spill{drained: make(chan struct{})} }

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
		p = s.took(p) // the last part: as from the buffer
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
	case p.Kind == PartData:
		if !sp.writeLocked(p.Data, pr) {
			sp.full = true
			sp.closeIfDrainedLocked()
			sp.mu.Unlock()
			return false
		}
		p.drop()
	default:
		sp.final = &p
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
		sp.f, err = tempFile(pr.pool.cfg.TempDir, "graft-response-*")
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
	return true
}

// close lets go of a spill that has been read to its end, once the reader
// goes back to the buffer.
func (sp *spill) close() {
	sp.mu.Lock()
	sp.closeLocked()
	sp.mu.Unlock()
}

// take returns the spill's next part for the request's goroutine: up to
// max spilled bytes, or the final part once they are all read; ok is false
// when there is nothing yet (or any more).
func (sp *spill) take(pr *proc, max int) (p Part, ok bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return Part{}, false
	}
	if sp.off < sp.size {
		n := int(min(int64(max), sp.size-sp.off))
		d := pr.fc.emptyDataBuf(n)
		if _, err := sp.f.ReadAt(d.b, sp.off); err != nil {
			d.home.Put(d)
			sp.closeLocked()
			return Part{Kind: PartEnd, Err: fmt.Errorf("%w: reading back a spilled response: %v", ErrWorkerDied, err)}, true
		}
		sp.off += int64(n)
		sp.closeIfDrainedLocked()
		return Part{Kind: PartData, Data: d.b, buf: d}, true
	}
	if sp.final != nil {
		p := *sp.final
		sp.final = nil
		sp.closeLocked()
		return p, true
	}
	return Part{}, false
}

// closeIfDrainedLocked tells the reader waiting on a full spill that it
// has been read to its end. The caller holds sp.mu.
func (sp *spill) closeIfDrainedLocked() {
	if sp.full && sp.off == sp.size && !isClosed(sp.drained) {
		close(sp.drained)
	}
}

// closeLocked lets go of the spill: its file is closed (its space freed,
// being unlinked), and parts spilled from now on are dropped. The caller
// holds sp.mu.
func (sp *spill) closeLocked() {
	sp.closed = true
	if sp.f != nil {
		sp.f.Close()
		sp.f = nil
	}
	if sp.final != nil {
		sp.final.drop()
		sp.final = nil
	}
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
