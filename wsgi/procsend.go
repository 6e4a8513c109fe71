package wsgi

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"syscall"
	"time"
)

// send writes a request to the worker and registers its stream. The
// caller holds one of p's free slots.
func (p *proc) send(req *Request) (*stream, error) {
	p.mu.Lock()
	for {
		p.nextID++
		if _, busy := p.streams[p.nextID]; !busy {
			break
		}
	}
	s := &stream{
		id:     p.nextID,
		proc:   p,
		parts:  make(chan Part, 4),
		space:  make(chan struct{}, 1),
		gone:   make(chan struct{}),
		start:  time.Now(),
		method: req.Method,
		path:   req.Path,
		reqID:  req.ID,
	}
	p.seq++
	s.seq = p.seq
	// The timers are set before the stream is visible to the reader.
	if req.Timeout > 0 {
		s.timer = time.AfterFunc(req.Timeout, func() { p.timeout(s) })
	}
	if d := p.pool.cfg.SlowRequest; d > 0 {
		s.slow = time.AfterFunc(d, func() { p.slowRequest(s) })
	}
	p.streams[s.id] = s
	p.mu.Unlock()

	var flags byte
	buf := p.pool.bufs.get()
	defer p.pool.bufs.put(buf)
	b := append((*buf)[:0], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // header, env length
	b, lp := appendEnv(b, req.Env)
	if lp {
		flags |= flagEnvLP
	}
	binary.LittleEndian.PutUint32(b[frameHeaderSize:], uint32(len(b)-frameHeaderSize-4))
	if req.BodyFile != nil {
		flags |= flagBodyFD
	} else {
		b = append(b, req.Body...)
	}
	*buf = b
	if len(b)-frameHeaderSize > maxFrame {
		s.stopTimers()
		p.forget(s)
		return nil, fmt.Errorf("wsgi: request too large for one frame")
	}
	putFrameHeader(b, frameHeader{kind: frameReq, flags: flags, stream: s.id, length: uint32(len(b) - frameHeaderSize)})
	p.wmu.Lock()
	err := writeAll(p.conn, b, req.BodyFile)
	p.wmu.Unlock()
	if err != nil {
		s.stopTimers()
		// The worker is gone or broken; its reader retires it.
		p.kill()
		return s, nil // Next reports ErrWorkerDied once the reader notices
	}
	return s, nil
}

// forget unregisters a stream that never reached the worker.
func (p *proc) forget(s *stream) {
	p.mu.Lock()
	delete(p.streams, s.id)
	p.mu.Unlock()
	p.pool.release(p)
}

// cancel tells the worker that the client of stream id went away.
func (p *proc) cancel(id uint16) {
	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{kind: frameCancel, stream: id})
	p.wmu.Lock()
	p.conn.SetWriteDeadline(time.Now().Add(time.Second))
	p.conn.Write(b[:])
	p.conn.SetWriteDeadline(time.Time{})
	p.wmu.Unlock()
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
		slog.String("method", s.method), slog.String("path", s.path), slog.String("request_id", s.reqID),
		slog.Duration("timeout", p.pool.cfg.Timeout), slog.Duration("running", time.Since(s.start)))
	p.retire()
	p.signal(syscall.SIGUSR1)
	select {
	case <-p.exited:
	case <-time.After(500 * time.Millisecond):
	}
	p.kill()
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
		slog.String("method", s.method), slog.String("path", s.path), slog.String("request_id", s.reqID),
		slog.Duration("running", time.Since(s.start)))
	p.signal(syscall.SIGUSR1)
}
