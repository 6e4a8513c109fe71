package main

import (
	"errors"
	"fmt"
	"sync"
)

// A client makes calls to the peer over a link.
type client interface {
	// call sends one frame and waits for its answer, which it copies
	// into out (len(out) >= maxPayload), returning its length.
	call(op, flags byte, payload, out []byte) (int, error)
	// close stops the client and closes its link.
	close()
}

// directClient is the transport without a hand-off: the calling
// goroutine sends its frame and reads the answer itself, one call at a
// time (a mutex serializes concurrent callers, so nothing is pipelined).
type directClient struct {
	mu sync.Mutex
	l  link
}

func newDirectClient(l link) *directClient { return &directClient{l: l} }

func (c *directClient) call(op, flags byte, payload, out []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.l.send(header{length: uint32(len(payload)), op: op, flags: flags}, payload); err != nil {
		return 0, err
	}
	n := -1
	var bad error
	for n < 0 {
		err := c.l.recv(func(h header, p []byte) {
			if n >= 0 || h.stream != 0 || h.op != op {
				bad = fmt.Errorf("ring bench: unexpected frame (op %d, stream %d)", h.op, h.stream)
				return
			}
			n = copy(out, p)
		})
		if err != nil {
			return 0, err
		}
		if bad != nil {
			return 0, bad
		}
	}
	return n, nil
}

func (c *directClient) close() { c.l.close() }

// handoffClient is the transport as wsgi does it: one reader goroutine
// reads every answer and hands it to the goroutine that asked over a
// channel; up to window calls are in flight (pipelined) at once.
type handoffClient struct {
	l     link
	free  chan uint16   // stream ids not in flight
	bufs  chan []byte   // answer buffers, maxPayload each
	slots []chan answer // per stream: its answer
	done  chan struct{} // closed when the reader stops
	err   error         // why, set before done is closed
	stop  sync.Once
}

// answer is one answer handed from the reader to its caller.
type answer struct {
	op  byte
	buf []byte
}

// errClientClosed is what calls get after close.
var errClientClosed = errors.New("ring bench: client closed")

func newHandoffClient(l link, window int) *handoffClient {
	c := &handoffClient{
		l:     l,
		free:  make(chan uint16, window),
		bufs:  make(chan []byte, window),
		slots: make([]chan answer, window),
		done:  make(chan struct{}),
	}
	for i := range window {
		c.free <- uint16(i)
		c.bufs <- make([]byte, maxPayload)
		c.slots[i] = make(chan answer, 1)
	}
	go c.read()
	return c
}

// read is the reader goroutine.
func (c *handoffClient) read() {
	var bad error
	dispatch := func(h header, p []byte) {
		if int(h.stream) >= len(c.slots) {
			bad = fmt.Errorf("ring bench: answer on unknown stream %d", h.stream)
			return
		}
		buf := <-c.bufs
		buf = buf[:copy(buf[:cap(buf)], p)]
		select {
		case c.slots[h.stream] <- answer{op: h.op, buf: buf}:
		default:
			bad = fmt.Errorf("ring bench: second answer on stream %d", h.stream)
		}
	}
	for bad == nil {
		if err := c.l.recv(dispatch); err != nil {
			bad = err
		}
	}
	c.err = bad
	close(c.done)
}

func (c *handoffClient) call(op, flags byte, payload, out []byte) (int, error) {
	var id uint16
	select {
	case id = <-c.free:
	case <-c.done:
		return 0, c.err
	}
	if err := c.l.send(header{length: uint32(len(payload)), stream: id, op: op, flags: flags}, payload); err != nil {
		return 0, err
	}
	select {
	case a := <-c.slots[id]:
		n := copy(out, a.buf)
		c.bufs <- a.buf
		c.free <- id
		if a.op != op {
			return 0, fmt.Errorf("ring bench: answer op %d to op %d", a.op, op)
		}
		return n, nil
	case <-c.done:
		return 0, c.err
	}
}

// close stops the reader by closing the link.
func (c *handoffClient) close() {
	c.stop.Do(func() { c.l.close() })
	<-c.done
}
