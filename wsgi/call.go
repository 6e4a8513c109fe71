package wsgi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Call is a control call: a question the container asks the Python app
// outside of any request, such as its route map ([Container.AppRoutes]) or
// the identity of a request's user ([Container.Identity]). The worker
// answers it without calling the WSGI app, and it does not count as a
// request for [Config].MaxRequests.
type Call struct {
	// Name is the call: "routes" or "identity".
	Name string
	// Arg is the call's argument (the hook of an identity call).
	Arg string
	// Env holds environ keys and values, alternating, as in [Request].Env
	// (the request's environ for an identity call; may be empty).
	Env []string
}

// Caller is implemented by a [Transport] that can run control calls. Call
// runs c in the Python runtime, on an idle worker when there is one, and
// returns the JSON value it produced; a failure in Python is a
// [*CallError]. graft's process transport implements it; a Container whose
// transport does not cannot answer AppRoutes or Identity.
type Caller interface {
	Call(ctx context.Context, c *Call) (json.RawMessage, error)
}

// CallError is a control call that raised in Python.
type CallError struct {
	// Name is the call ("routes", "identity").
	Name string
	// Message is the Python exception, "TypeError: ...".
	Message string
	// Traceback is the Python traceback.
	Traceback string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("wsgi: control call %q failed in Python: %s", e.Name, e.Message)
}

// Unwrap returns ErrAppError: the app's Python code raised.
func (e *CallError) Unwrap() error { return ErrAppError }

// call runs c on the container's transport.
func (c *Container) call(ctx context.Context, call *Call) (json.RawMessage, error) {
	cl, ok := c.tr.(Caller)
	if !ok {
		return nil, fmt.Errorf("wsgi: control call %q: this transport cannot run control calls", call.Name)
	}
	return cl.Call(ctx, call)
}

// Call implements Caller: the call runs on an idle worker, or waits in
// the request queue for a slot like a request (bounded by
// Config.QueueTimeout and ctx). A worker that does not answer within
// Config.Timeout is treated like one stuck on a request: its stacks are
// logged, it is killed and the call fails with ErrTimeout. A worker that
// dies before starting the call is replaced by another one, twice at most.
func (pl *pool) Call(ctx context.Context, call *Call) (json.RawMessage, error) {
	for attempt := 1; ; attempt++ {
		p, err := pl.acquireIdle(ctx)
		if err != nil {
			return nil, fmt.Errorf("wsgi: control call %q: %w", call.Name, err)
		}
		s, err := p.sendCall(call)
		if err != nil {
			return nil, fmt.Errorf("wsgi: control call %q: %w", call.Name, err)
		}
		part, err := s.Next(ctx)
		if err != nil {
			// Give up waiting; the answer is dropped when it comes, and
			// the slot is freed then.
			s.leave()
			return nil, fmt.Errorf("wsgi: control call %q: %w", call.Name, err)
		}
		if part.Kind == PartEnd {
			if errors.Is(part.Err, ErrNotStarted) && attempt < 3 {
				continue
			}
			err := part.Err
			if errors.Is(err, ErrNotStarted) {
				err = ErrWorkerDied
			}
			return nil, fmt.Errorf("wsgi: control call %q on worker %d: %w", call.Name, p.pid, err)
		}
		return decodeCallResult(call.Name, part.Data)
	}
}

// decodeCallResult decodes a CALL_RESULT payload.
func decodeCallResult(name string, data []byte) (json.RawMessage, error) {
	var res struct {
		OK        bool            `json:"ok"`
		Value     json.RawMessage `json:"value"`
		Error     string          `json:"error"`
		Traceback string          `json:"traceback"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("wsgi: control call %q: %w: bad result: %v", name, ErrProtocol, err)
	}
	if !res.OK {
		return nil, &CallError{Name: name, Message: res.Error, Traceback: res.Traceback}
	}
	return res.Value, nil
}

// acquireIdle takes a slot on a worker running nothing, or else waits for
// one like a request does.
func (pl *pool) acquireIdle(ctx context.Context) (*proc, error) {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, ErrClosed
	}
	for _, p := range pl.list {
		if p.takesLocked() && p.inflight == 0 {
			p.inflight++
			pl.active.Add(1)
			pl.mu.Unlock()
			return p, nil
		}
	}
	pl.mu.Unlock()
	return pl.acquire(ctx, true, false)
}

// sendCall writes a control call to the worker, as a stream of its own so
// that the worker's death, timeouts and status pages treat it like a
// request. The caller holds one of p's slots.
func (p *proc) sendCall(call *Call) (*stream, error) {
	b, flags := appendEnvFrame(make([]byte, 0, 512), call.Env)
	b = append(b, call.Name...)
	b = append(b, 0)
	b = append(b, call.Arg...)
	if len(b)-frameHeaderSize > maxFrame {
		p.pool.release(p)
		return nil, errors.New("control call too large for one frame")
	}
	s := p.pool.newStream("CALL", call.Name, "", 1)
	p.post(s, frameCall, flags, b, nil, p.pool.cfg.Timeout, false)
	return s, nil
}

// callDone ends a control call with the worker's answer. Unlike done, it
// leaves the request count, the service-time average and recycling alone:
// a control call is not a request.
func (p *proc) callDone(s *stream, payload []byte) {
	s.stopTimers()
	p.mu.Lock()
	delete(p.streams, s.id)
	p.trimSentLocked()
	p.mu.Unlock()
	p.pool.free(p) // the reader kicks, as for done
	s.finish(Part{Kind: PartResponse, Data: append([]byte(nil), payload...)}, p)
}
