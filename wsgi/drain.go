package wsgi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultKeepAliveDrain is ServeConfig.KeepAliveDrain's default: how
// long, at the start of a shutdown, Serve keeps the application's
// keep-alive connections open before net/http's Shutdown closes the idle
// ones, at most a quarter of GracefulTimeout. Meanwhile every request that
// begins is answered with Connection: close, so that a client sending on
// an idle connection as the shutdown begins gets its answer, and a closed
// connection, instead of an EOF or a reset in place of its response (what
// Envoy's drain does; net/http's Shutdown alone closes idle connections at
// once). It ends early once no application connection is open.
const DefaultKeepAliveDrain = time.Second

// keepAliveDrain returns how long Serve's shutdown drains keep-alive
// connections for cfg (see ServeConfig.KeepAliveDrain), GracefulTimeout
// set: DefaultKeepAliveDrain when 0, bounded by a quarter of
// GracefulTimeout; 0 (no drain) when negative; else the value, which
// checkKeepAliveDrain has bounded.
func keepAliveDrain(cfg ServeConfig) time.Duration {
	switch {
	case cfg.KeepAliveDrain == 0:
		return min(DefaultKeepAliveDrain, cfg.GracefulTimeout/4)
	case cfg.KeepAliveDrain < 0:
		return 0
	}
	return cfg.KeepAliveDrain
}

// checkKeepAliveDrain refuses a KeepAliveDrain set over a quarter of
// GracefulTimeout (set or defaulted): requests begun at the drain's end
// must keep most of the grace period to finish, and a longer drain cut
// short without a word would be a silent surprise.
func checkKeepAliveDrain(cfg ServeConfig) error {
	if cfg.KeepAliveDrain > cfg.GracefulTimeout/4 {
		return fmt.Errorf("wsgi: serve: KeepAliveDrain %v is more than a quarter of GracefulTimeout (%v): make GracefulTimeout at least %v",
			cfg.KeepAliveDrain, cfg.GracefulTimeout, 4*cfg.KeepAliveDrain)
	}
	return nil
}

// connDrain is Serve's drain of keep-alive connections at shutdown (see
// keepAliveDrain): it counts the application's open connections through
// the server's ConnState hook, and marks the requests that begin once it
// has started with Connection: close.
type connDrain struct {
	closing atomic.Bool
	mu      sync.Mutex
	open    int           // connections accepted and not closed or hijacked
	closed  chan struct{} // a connection closed: signalled, not closed (buffered 1)
}

func newConnDrain() *connDrain {
	return &connDrain{closed: make(chan struct{}, 1)}
}

// handler wraps h: once the drain has begun, a request's response
// carries Connection: close, and net/http closes the connection after it
// (for HTTP/2, net/http sends GOAWAY instead).
func (d *connDrain) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.closing.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// connState returns a ConnState hook that counts the open connections,
// then calls next (which may be nil).
func (d *connDrain) connState(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			d.mu.Lock()
			d.open++
			d.mu.Unlock()
		case http.StateClosed, http.StateHijacked:
			d.mu.Lock()
			d.open--
			d.mu.Unlock()
			select {
			case d.closed <- struct{}{}:
			default:
			}
		}
		if next != nil {
			next(c, s)
		}
	}
}

// drain marks the requests from now on with Connection: close and waits
// until grace has passed, no connection is open, or ctx is done.
func (d *connDrain) drain(ctx context.Context, grace time.Duration) {
	d.closing.Store(true)
	if grace <= 0 {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		d.mu.Lock()
		open := d.open
		d.mu.Unlock()
		if open <= 0 {
			return
		}
		select {
		case <-d.closed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
