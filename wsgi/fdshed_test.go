package wsgi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/heldclients"
	"github.com/graft-dev/graft/internal/pythontest"
)

// fdLimitListener behaves as a listener of a process that may hold at
// most limit connections (its `ulimit -n` reached): while limit accepted
// connections are open, Accept fails with EMFILE at once and the
// connection stays in the kernel's backlog, as accept(2) leaves it.
type fdLimitListener struct {
	net.Listener
	limit int64
	open  atomic.Int64
}

func (l *fdLimitListener) Accept() (net.Conn, error) {
	if l.open.Load() >= l.limit {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &fdLimitConn{Conn: c, l: l}, nil
}

// fdLimitConn gives its descriptor back to its fdLimitListener on Close.
type fdLimitConn struct {
	net.Conn
	l    *fdLimitListener
	once sync.Once
}

func (c *fdLimitConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// TestServeOutOfDescriptors: when the process is out of descriptors,
// Serve closes its idle keep-alive connections so that the clients waiting
// in the backlog are accepted and answered. Before, a server at its
// `ulimit -n` with its descriptors held by idle keep-alive connections
// (browsers keep theirs open) answered nobody new until those timed out
// (IdleTimeout, 2 minutes by default), logging "too many open files;
// retrying in 1s" meanwhile, with its workers idle: with `ulimit -n 64`,
// 150 clients that keep their connections open, 48 were answered and the
// others timed out; gunicorn 20.1 (sync workers close every connection,
// gthread's close after 2 s idle) answered all 150. Here the listener
// holds 4 connections at most and 16 clients each send a request on a
// connection of their own and keep it open. The listener backs off and
// retries by itself, logging one line a second at most.
func TestServeOutOfDescriptors(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:hello", Workers: 2})
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	srvTLS := ts.TLS.Clone()
	ts.Close()
	for _, tc := range []struct {
		name string
		tls  bool
	}{
		{"HTTP/1.1", false},
		{"HTTPS", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ls := &Listeners{Main: []net.Listener{&fdLimitListener{Listener: ln, limit: 4}}}
			if tc.tls {
				ls.TLS = srvTLS
			}
			logs := &pythontest.Buffer{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Serve(ctx, ls, c, nil, ServeConfig{NoSignals: true, IdleTimeout: time.Hour, Logger: slogNew(logs)})
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
				if t.Failed() {
					t.Logf("server log:\n%s", logs)
				}
			}()

			start := time.Now()
			const clients = 16
			// The handshake waits for an accept too: bounded as the
			// request is, far below IdleTimeout, which would free the
			// descriptors otherwise.
			d := &net.Dialer{Timeout: 2 * time.Minute}
			errs := heldclients.Run(clients, func() (net.Conn, error) {
				if tc.tls {
					return tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
				}
				return d.Dial("tcp", ln.Addr().String())
			})
			for _, err := range errs {
				t.Error(err)
			}
			n := len(errs)
			if n > 0 {
				t.Fatalf("%d of %d clients got no answer", n, clients)
			}
			// One line a second at most, saying what happened and the
			// error; net/http's back-off, reset by every accept, would log
			// a line per retry.
			lines := strings.Count(logs.String(), "too many open files")
			if lines == 0 || !strings.Contains(logs.String(), "wsgi: out of file descriptors: closed the idle keep-alive connections") {
				t.Error("no line says that the process ran out of descriptors and closed idle connections")
			}
			if most := int(time.Since(start)/time.Second) + 2; lines > most {
				t.Errorf("%d lines about the accept error in %v; want one a second at most", lines, time.Since(start))
			}
		})
	}
}
