package middleware

import (
	"io"
	"sync"
	"time"
)

// DefaultLogFlushInterval is how long [LogWriter] keeps a line at most
// when given no interval.
const DefaultLogFlushInterval = 200 * time.Millisecond

// logBufferSize is the size of [LogWriter]'s buffer: a write that would
// overflow it writes the buffer out first.
const logBufferSize = 64 << 10

// LogWriter batches the lines of a log handler into few large writes, so
// that the access log costs one system call per batch instead of one per
// request:
//
//	lw := middleware.NewLogWriter(os.Stderr, 0)
//	defer lw.Close() // after the server and the workers have stopped
//	logger := slog.New(slog.NewJSONHandler(lw, nil))
//
// Lines are written in the order they came, whole (slog's handlers write
// one record per Write), within the flush interval of their arrival, or
// at once when the 64 KiB buffer fills up. [LogWriter.Flush] writes what
// is buffered; [LogWriter.Close] does too and makes later writes go
// straight through, unbuffered, so that nothing logged during or after
// shutdown is lost. Whoever owns the server must call Close (or Flush)
// before the process exits: a line still buffered when the process dies
// without it (os.Exit, a fatal signal, an unrecovered panic in another
// goroutine) is lost, and at most one flush interval of lines can be.
// It is safe for concurrent use.
type LogWriter struct {
	w        io.Writer
	interval time.Duration
	timer    *time.Timer

	mu     sync.Mutex // guards the fields below
	buf    []byte     // lines not yet written
	spare  []byte     // the other buffer, while not being written
	armed  bool       // timer will flush
	closed bool
	err    error // the first error of w

	out sync.Mutex // held while writing to w, so that batches keep their order
}

// NewLogWriter returns a LogWriter that writes to w at most interval
// after a line arrives (interval <= 0 means [DefaultLogFlushInterval]).
// w is never closed by the LogWriter.
func NewLogWriter(w io.Writer, interval time.Duration) *LogWriter {
	if interval <= 0 {
		interval = DefaultLogFlushInterval
	}
	l := &LogWriter{w: w, interval: interval, buf: make([]byte, 0, logBufferSize)}
	l.timer = time.AfterFunc(time.Hour, func() {
		l.mu.Lock()
		l.armed = false
		l.mu.Unlock()
		l.out.Lock()
		err := l.flushLocked()
		l.out.Unlock()
		if err != nil {
			l.mu.Lock()
			if l.err == nil {
				l.err = err // for the next Flush or Close
			}
			l.mu.Unlock()
		}
	})
	l.timer.Stop()
	return l
}

// Write buffers p (it always succeeds then), or writes it at once when
// the buffer is full or the LogWriter closed.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if !l.closed && len(l.buf)+len(p) <= logBufferSize {
		l.buf = append(l.buf, p...)
		if !l.armed {
			l.armed = true
			l.timer.Reset(l.interval)
		}
		l.mu.Unlock()
		return len(p), nil
	}
	l.mu.Unlock()
	// Full, too big or closed: write what is buffered, then p.
	l.out.Lock()
	defer l.out.Unlock()
	if err := l.flushLocked(); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}

// Flush writes the buffered lines. It returns the error of that write or,
// if there was none, of an earlier write made by the flush timer.
func (l *LogWriter) Flush() error {
	l.out.Lock()
	err := l.flushLocked()
	l.out.Unlock()
	l.mu.Lock()
	if err == nil {
		err = l.err
	}
	l.err = nil
	l.mu.Unlock()
	return err
}

// flushLocked writes the buffer out; l.out is held.
func (l *LogWriter) flushLocked() error {
	l.mu.Lock()
	buf := l.buf
	l.buf, l.spare = l.spare[:0], nil
	if l.buf == nil {
		l.buf = make([]byte, 0, logBufferSize)
	}
	l.mu.Unlock()
	var err error
	if len(buf) > 0 {
		_, err = l.w.Write(buf)
	}
	l.mu.Lock()
	l.spare = buf[:0]
	l.mu.Unlock()
	return err
}

// Close flushes the buffer and stops buffering: later writes go straight
// to the underlying writer. It returns Flush's error; calling it again is
// harmless.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.armed = false
	l.timer.Stop()
	l.mu.Unlock()
	return l.Flush()
}
