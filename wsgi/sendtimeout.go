package wsgi

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A write to a client that takes nothing.
//
// net/http sets no deadline on a response's writes (the serve loop sets no
// WriteTimeout: it would cut long downloads and streams), so a write to a
// client that stops reading but keeps its connection open blocks for as
// long as the client stays: the request's goroutine, its connection and
// the part being written (up to ResponseBuffer, 1 MiB, for a response
// that fitted in it) are held; without a spill (past ResponseSpill, or
// spilling off) the worker waits too, until Timeout. A thousand such
// clients held a thousand responses' memory indefinitely.
//
// SendTimeout's rule: no write may wait longer than it without progress.
// Under Serve it is kept in two places, for every response (native or
// bridged, whole, streamed or a file): the socket (sendconn.go: a write
// deadline renewed by progress, for HTTP/1.x and HTTP/2's connection) and
// the HTTP/2 stream (sendstream.go: a client that grants no flow-control
// window stalls a stream, not the socket). The container's own watch
// below then steps aside (sendWatched).
//
// Served by another server, the container watches the writes of its
// streamed responses itself: one that has not returned after SendTimeout
// gets a write deadline in the past, which makes it fail at once (HTTP/1:
// the connection's; HTTP/2: the stream's, which is reset), as nginx's
// send_timeout does. Only a write in progress counts: an app that pauses
// between writes, however long, is not a stalled client. A write must
// finish within SendTimeout, so a client must take each part (up to 256
// KiB) within it: a client reading over 4.3 KB/s (256 KiB a minute) is
// never cut with the default 60 s; a smaller SendTimeout asks more of slow
// clients (5 s: 52 KB/s). The same sendWatch watches the pieces of an
// HTTP/2 stream's writes under Serve.

// DefaultSendTimeout is Config.SendTimeout's and ServeConfig.SendTimeout's
// default, nginx's send_timeout.
const DefaultSendTimeout = 60 * time.Second

// sendWatch watches the writes of one response (see above). The zero
// timeout watches nothing.
type sendWatch struct {
	w       http.ResponseWriter
	timeout time.Duration
	since   atomic.Int64 // when the write in progress began (UnixNano); 0: none
	mu      sync.Mutex   // orders check's deadline with stop
	timer   *time.Timer
	stopped bool
	fired   atomic.Bool // a write was cut: the client is given up
}

// begin notes that a write to the client begins.
func (s *sendWatch) begin() {
	if s.timeout <= 0 {
		return
	}
	s.since.Store(time.Now().UnixNano())
	if s.timer == nil {
		s.mu.Lock() // check reads s.timer under it
		s.timer = time.AfterFunc(s.timeout, s.check)
		s.mu.Unlock()
	}
}

// end notes that the write returned.
func (s *sendWatch) end() { s.since.Store(0) }

// check runs on the timer: a write in progress for timeout is cut; else
// it looks again when the write in progress (or the next one) could have.
func (s *sendWatch) check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	left := s.timeout
	if began := s.since.Load(); began != 0 {
		left -= time.Since(time.Unix(0, began))
	}
	if left > 0 {
		s.timer.Reset(left)
		return
	}
	s.fired.Store(true)
	// A deadline in the past fails the write in progress at once. The
	// response is not reused: the caller gives up on it when the write
	// returns.
	_ = http.NewResponseController(s.w).SetWriteDeadline(time.Now().Add(-time.Second))
}

// stop ends the watch (nil: none) before the handler returns: no deadline
// is set on the response after it (w may be reused then).
func (s *sendWatch) stop() {
	if s == nil || s.timer == nil {
		return
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.timer.Stop()
}

// write writes b to the client under the watch.
func (s *sendWatch) write(b []byte) (int, error) {
	s.begin()
	n, err := s.w.Write(b)
	s.end()
	return n, err
}

// flush flushes f under the watch.
func (s *sendWatch) flush(f http.Flusher) {
	s.begin()
	f.Flush()
	s.end()
}
