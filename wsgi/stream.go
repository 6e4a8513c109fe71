package wsgi

import (
	"context"
	"sync"
	"sync/atomic"
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
			return Part{Kind: PartEnd, Err: errNotStarted}, nil
		}
		return Part{Kind: PartEnd, Err: ErrWorkerDied}, nil
	case <-ctx.Done():
		return Part{}, ctx.Err()
	}
}

// took accounts for a part leaving the buffer.
func (s *stream) took(p Part) Part {
	if n := int64(len(p.Data)); n > 0 && s.buffered.Add(-n) <= int64(s.proc.pool.cfg.ResponseBuffer) {
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
	n := int64(len(p.Data))
	select {
	case s.parts <- p:
	case <-s.gone:
		if p.File != nil {
			p.File.Close()
		}
		return false
	}
	if n > 0 && s.buffered.Add(n) > limit {
		for s.buffered.Load() > limit {
			select {
			case <-s.space:
			case <-s.gone:
				return false
			}
		}
	}
	return true
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

// finish delivers the final part of the response.
func (s *stream) finish(p Part) {
	s.answered.Store(true)
	select {
	case s.parts <- p:
	case <-s.gone:
	}
}
