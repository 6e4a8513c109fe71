package wsgi

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The socket's side of SendTimeout (see sendtimeout.go).
//
// Serve gives every connection it accepts a write deadline of SendTimeout
// around each write to the socket, renewed whenever a write makes
// progress (the client's kernel took some bytes): a write that has waited
// SendTimeout without progress fails, whatever is writing (a native
// handler, net/http's file copy through sendfile(2), TLS records, the
// HTTP/2 connection's frames), and net/http then closes the connection.
// It lies under TLS and the guards, so that a cut is seen by them as a
// failed write, and a TLS record is never cut in two by a deadline that
// only renews.
//
// A deadline the server or a handler sets (http.Server.WriteTimeout,
// http.ResponseController.SetWriteDeadline, a guard's own) is kept: the
// earlier of the two applies, and only this one renews on progress.

// sendListener gives its connections SendTimeout (see above).
type sendListener struct {
	net.Listener
	timeout time.Duration
	log     *slog.Logger
	clock   atomic.Uint64 // ticks every timeout/128: see sendConn.arm
	stop    chan struct{}
	once    sync.Once
}

// SendTimeout returns ln with a send timeout of d on the writes of its
// connections (see above): a write that waits d without the client taking
// a byte fails, and net/http closes the connection; a slow client that
// keeps taking bytes is never cut. Serve applies it to its listeners
// itself (ServeConfig.SendTimeout); SendTimeout is for a server of your
// own. Wrap the accepted TCP listener with it first, under Guard, GuardTLS
// or tls.NewListener, so that a TLS record is never cut in two; for HTTP/2
// add [SendTimeoutHandler] too. log (nil: no line) gets a WARN line for
// each connection it cuts. ln itself is returned when d <= 0. Closing the
// returned listener stops its clock.
func SendTimeout(ln net.Listener, d time.Duration, log *slog.Logger) net.Listener {
	if d <= 0 {
		return ln
	}
	l := &sendListener{Listener: ln, timeout: d, log: log, stop: make(chan struct{})}
	go l.tick()
	return l
}

func (l *sendListener) tick() {
	t := time.NewTicker(l.timeout / 128)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.clock.Add(1)
		case <-l.stop:
			return
		}
	}
}

func (l *sendListener) Close() error {
	l.once.Do(func() { close(l.stop) })
	return l.Listener.Close()
}

func (l *sendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &sendConn{Conn: c, timeout: l.timeout, clock: &l.clock, log: l.log}
	if _, ok := c.(io.ReaderFrom); ok {
		return readFromSendConn{sc}, nil
	}
	return sc, nil
}

// sendConn is a connection whose writes must make progress within timeout.
type sendConn struct {
	net.Conn
	timeout time.Duration
	clock   *atomic.Uint64 // its listener's
	log     *slog.Logger

	armedAt atomic.Uint64 // clock+1 when this deadline was set; 0: renew it
	userSet atomic.Bool   // user is not zero

	mu       sync.Mutex
	user     time.Time // the write deadline its user set; zero: none
	deadline time.Time // the write deadline set on Conn
	cut      bool      // a write was cut: logged
}

// guard returns the guarded connection under c (SendTimeout put over
// Guard rather than under it), nil if none, so that GuardConnState finds
// it either way.
func (c *sendConn) guard() *guardConn {
	if g, ok := c.Conn.(interface{ guard() *guardConn }); ok {
		return g.guard()
	}
	return nil
}

// NetConn returns the connection whose writes are watched (see
// resetConn).
func (c *sendConn) NetConn() net.Conn { return c.Conn }

// arm sets the write deadline for a write beginning now: now+timeout, or
// the user's if earlier. Reading the time and setting a deadline cost
// about half a microsecond on a virtual machine, for every write: so the
// deadline set for an earlier write is kept while the listener's clock
// has not ticked since (less than timeout/128 ago, give or take the
// ticker's delay), and a write is cut after 63/64 of timeout or more
// without progress, never after more than timeout.
func (c *sendConn) arm() {
	if c.armedAt.Load() == c.clock.Load()+1 && !c.userSet.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.clock.Load() + 1
	dl := time.Now().Add(c.timeout)
	if !c.user.IsZero() && c.user.Before(dl) {
		dl, at = c.user, 0
	}
	c.deadline = dl
	c.armedAt.Store(at)
	c.Conn.SetWriteDeadline(dl)
}

// done ends a write that wrote n bytes with err, and reports whether it
// is to go on: only a write cut by this deadline (not the user's) after
// some progress is. A write cut without progress is logged, once.
func (c *sendConn) done(n int64, err error) (again bool) {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armedAt.Store(0)
	if !c.user.IsZero() && !time.Now().Before(c.user) {
		return false // the user's deadline: its error
	}
	if n > 0 {
		return true
	}
	if !c.cut && c.log != nil {
		c.cut = true
		c.log.Warn("wsgi: the client took none of the response for SendTimeout; closing its connection",
			slog.String(logClient, peerIP(c.Conn.RemoteAddr())), slog.Duration("graft.send_timeout", c.timeout))
	}
	return false
}

// Write writes p, each part of it within timeout of the last.
func (c *sendConn) Write(p []byte) (int, error) {
	written := 0
	for {
		c.arm()
		n, err := c.Conn.Write(p[written:])
		written += n
		if !c.done(int64(n), err) {
			return written, err
		}
	}
}

// SetWriteDeadline sets the user's write deadline. One earlier than the
// deadline set applies at once (a deadline in the past cuts the write in
// progress); a later one, or none, from the next write on (net/http
// clears it after every request: that costs nothing), unless the
// deadline set is the user's earlier one, which is renewed at once.
func (c *sendConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.user = t
	c.userSet.Store(!t.IsZero())
	switch {
	case !t.IsZero() && (c.deadline.IsZero() || t.Before(c.deadline)):
		c.deadline = t
	case c.armedAt.Load() == 0 && !c.deadline.IsZero():
		// The user's earlier deadline (or a cut's) is on Conn.
		c.deadline = time.Now().Add(c.timeout)
		if !t.IsZero() && t.Before(c.deadline) {
			c.deadline = t
		}
	default:
		return nil
	}
	c.armedAt.Store(0)
	return c.Conn.SetWriteDeadline(c.deadline)
}

// SetDeadline sets the read deadline and the user's write deadline.
func (c *sendConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// CloseWrite shuts the socket's sending side, as net/http and the guard do
// before a close.
func (c *sendConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// readFromSendConn passes a file sent as a response body to the socket's
// ReadFrom (sendfile(2)), renewing the deadline as it progresses; other
// readers are copied through Write.
type readFromSendConn struct{ *sendConn }

func (c readFromSendConn) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if ok {
		_, ok = lr.R.(*os.File)
	} else if f, isFile := r.(*os.File); isFile {
		// Counted, so that a resumption can be checked (below).
		lr, ok = &io.LimitedReader{R: f, N: math.MaxInt64}, true
	}
	if !ok {
		// A copy whose bytes read but not written would be lost on a cut
		// cannot be resumed: each write is watched instead.
		return io.Copy(struct{ io.Writer }{c.sendConn}, r)
	}
	// sendfile(2) moves the file's offset (and the LimitedReader's N) by
	// what it sent, so a cut after progress resumes where it stopped;
	// if the socket fell back to its own copy (a file sendfile refuses),
	// bytes read but not sent are lost with the cut, and it is not
	// resumed.
	var written int64
	for {
		before := lr.N
		c.arm()
		n, err := c.Conn.(io.ReaderFrom).ReadFrom(lr)
		written += n
		if !c.done(n, err) || before-lr.N != n {
			return written, err
		}
	}
}
