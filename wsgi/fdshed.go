package wsgi

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// shedListener is a listener of [Serve] that, when accept fails because
// the process (EMFILE: its `ulimit -n`) or the system (ENFILE) is out of
// descriptors, closes the server's idle keep-alive connections, so that
// the connections waiting in the backlog can be accepted. Otherwise a
// server whose descriptors are held by idle keep-alive connections
// (browsers keep theirs open) accepts nobody new until they time out
// (IdleTimeout, minutes), its workers idle meanwhile; nginx likewise
// closes idle keep-alive connections when it runs out of connections.
// Only HTTP/1.x connections are closed: an idle HTTP/2 connection stays
// until its IdleTimeout.
//
// It retries the accept itself, backing off from 5 ms to 1 s as net/http
// does, and logs one WARN line a second at most (the shedding resets
// net/http's back-off, which would log a line per retry, hundreds a
// second). Other errors are returned as they come.
type shedListener struct {
	net.Listener
	srv  *http.Server
	log  *slog.Logger
	warn *rateLog // one line a second, shared by every listener of srv

	done      chan struct{} // closed by Close: a back-off ends
	closeOnce sync.Once
}

func newShedListener(ln net.Listener, srv *http.Server, log *slog.Logger, warn *rateLog) *shedListener {
	return &shedListener{Listener: ln, srv: srv, log: log, warn: warn, done: make(chan struct{})}
}

func (l *shedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil || !outOfDescriptors(err) {
			return c, err
		}
		// SetKeepAlivesEnabled(false) closes the idle HTTP/1.x
		// connections (and those accepted 5 s ago or more with no
		// request yet); turned on again at once, it leaves keep-alive as
		// it was, the responses written in between closing their
		// connections. It undoes no shutdown: a server shutting down
		// keeps no connection alive either way.
		l.srv.SetKeepAlivesEnabled(false)
		l.srv.SetKeepAlivesEnabled(true)
		if ok, dropped := l.warn.allow(time.Now()); ok {
			attrs := []any{slog.String(logError, err.Error())}
			if dropped > 0 {
				attrs = append(attrs, slog.Int("graft.suppressed", dropped))
			}
			l.log.Warn("wsgi: out of file descriptors: closed the idle keep-alive connections to accept new ones; raise the limit (ulimit -n, systemd's LimitNOFILE=)", attrs...)
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener and ends a back-off under way.
func (l *shedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// outOfDescriptors reports whether err is accept's EMFILE or ENFILE.
func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
