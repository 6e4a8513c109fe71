package wsgi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The HTTP/2 stream's side of SendTimeout (see sendtimeout.go).
//
// An HTTP/2 client can stall one response without stalling its socket: it
// reads the connection but never grants the stream (or the connection)
// more flow-control window (WINDOW_UPDATE). A handler's write then waits
// for the window, not for the socket, so the socket's deadline (see
// sendconn.go) never sees it, and net/http's HTTP2Config has no limit on
// it (WriteByteTimeout is the socket's; pings are answered). So Serve
// watches each write of an HTTP/2 response with a sendWatch, in pieces of
// at most one DATA frame (16 KiB, the unit a client grants window in): a
// piece the client has not taken after SendTimeout resets the stream. What
// the handler leaves buffered when it returns (up to 4 KiB, which net/http
// sends after it) gets the stream's write deadline of SendTimeout, which
// resets the stream unlogged.

// streamPiece is the most bytes of an HTTP/2 response written under one
// watch: a DATA frame's default (and usual) maximum size.
const streamPiece = 16 << 10

// sendWatched reports whether Serve watches the responses of the
// request with ctx: the container's own watch then steps aside, so that
// one rule applies.
func sendWatched(ctx context.Context) bool { return ctx.Value(sendWatchedCtxKey) != nil }

// SendTimeoutHandler watches the writes of h's HTTP/2 responses with a
// send timeout of d (see above): a stream whose client has taken nothing
// of a write for d is reset, and the connection serves on. HTTP/1
// responses pass through: their socket's deadline is [SendTimeout]'s.
// Serve applies it itself (ServeConfig.SendTimeout); SendTimeoutHandler
// is for a server of your own that speaks HTTP/2. log (nil: no line) gets
// a WARN line for each stream it gives up. h itself is returned when
// d <= 0.
func SendTimeoutHandler(h http.Handler, d time.Duration, log *slog.Logger) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			h.ServeHTTP(w, r)
			return
		}
		sw := &streamWriter{ResponseWriter: w, watch: sendWatch{w: w, timeout: d}}
		defer sw.finish(r, log)
		h.ServeHTTP(sw, r)
	})
}

// streamWriter is an HTTP/2 response whose writes are watched.
type streamWriter struct {
	http.ResponseWriter
	watch   sendWatch
	pending bool // bytes written since the last flush: net/http may hold them

	mu   sync.Mutex
	user time.Time // the write deadline the handler set; zero: none
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *streamWriter) Write(p []byte) (int, error) {
	s.pending = true
	written := 0
	for {
		piece := p[written:]
		if len(piece) > streamPiece {
			piece = piece[:streamPiece]
		}
		n, err := s.watch.write(piece)
		written += n
		if err != nil || written == len(p) {
			return written, err
		}
	}
}

func (s *streamWriter) WriteString(str string) (int, error) {
	sw, ok := s.ResponseWriter.(io.StringWriter)
	if !ok {
		return s.Write([]byte(str))
	}
	s.pending = true
	written := 0
	for {
		piece := str[written:]
		if len(piece) > streamPiece {
			piece = piece[:streamPiece]
		}
		s.watch.begin()
		n, err := sw.WriteString(piece)
		s.watch.end()
		written += n
		if err != nil || written == len(str) {
			return written, err
		}
	}
}

// Flush sends what net/http holds, under the watch.
func (s *streamWriter) Flush() { _ = s.FlushError() }

// FlushError is Flush with its error (http.ResponseController.Flush).
func (s *streamWriter) FlushError() error {
	s.watch.begin()
	err := http.NewResponseController(s.ResponseWriter).Flush()
	s.watch.end()
	if err == nil {
		s.pending = false
	}
	return err
}

// Push passes a server push on.
func (s *streamWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := s.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// CloseNotify passes net/http's (deprecated) close notification on, for
// handlers that still ask for it.
func (s *streamWriter) CloseNotify() <-chan bool {
	if cn, ok := s.ResponseWriter.(http.CloseNotifier); ok { //nolint:staticcheck // kept for old handlers
		return cn.CloseNotify()
	}
	return nil
}

// SetWriteDeadline notes the handler's deadline, which the end of the
// response keeps if it is earlier (see finish), and passes it on.
func (s *streamWriter) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.user = t
	s.mu.Unlock()
	return http.NewResponseController(s.ResponseWriter).SetWriteDeadline(t)
}

// finish ends the watch as the handler returns. A client given up is
// logged; else what net/http still holds of the body, which it sends
// after the handler, gets the stream's write deadline: a reset by it is
// not logged (net/http tells nothing of it, and the request's context
// ends as the handler returns).
func (s *streamWriter) finish(r *http.Request, log *slog.Logger) {
	s.watch.stop()
	if s.watch.fired.Load() {
		if log != nil {
			logClientStalled(log, r, s.watch.timeout)
		}
		return
	}
	if !s.pending {
		return
	}
	dl := time.Now().Add(s.watch.timeout)
	s.mu.Lock()
	if !s.user.IsZero() && s.user.Before(dl) {
		dl = s.user
	}
	s.mu.Unlock()
	_ = http.NewResponseController(s.ResponseWriter).SetWriteDeadline(dl)
}
