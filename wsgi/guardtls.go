package wsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLSHandshakeTimeout bounds a TLS handshake on a GuardTLS listener.
const TLSHandshakeTimeout = 10 * time.Second

// GuardTLS returns a TLS listener (like tls.NewListener) whose HTTP/1.x
// connections are checked as by Guard. Serve it with http.Server.Serve, not
// ServeTLS. The handshake is done before the connection is handed to
// net/http (concurrently, within TLSHandshakeTimeout, so a slow client
// holds up no other): a connection that negotiated "h2" by ALPN is returned
// as the *tls.Conn itself, for net/http's HTTP/2 server, whose framing
// leaves no request boundary to disagree on; any other is returned guarded,
// with a ConnectionState method from which net/http sets Request.TLS. Set
// the server up with [GuardServer]: it installs [GuardConnState], and has
// the HTTP/2 connections read through the guard too, for the server's
// ReadHeaderTimeout, as [Serve] does (without it, net/http bounds an
// HTTP/2 header block left open by its IdleTimeout only).
// config.NextProtos defaults to "h2", "http/1.1". A client speaking plain
// HTTP to it gets a 400, as from net/http.
//
// What no handler and no access line sees is reported as under [Serve]
// and as by [Guard] used alone: each failed handshake (a client refusing
// the certificate, no TLS version or cipher suite in common, a timeout)
// is counted in graft_tls_handshake_failures_total by reason, and each
// request refused before any handler (plain HTTP on the TLS port among
// them) in graft_http_refused_total by status, both registered with
// prometheus.DefaultRegisterer (the registry promhttp.Handler serves;
// a Guard or another GuardTLS in the process counts into the same
// ones), and logged on slog.Default() as of the call, as "wsgi: TLS
// handshake failed" and "wsgi: request refused at the HTTP boundary"
// (see [GuardTLSReport], which takes a logger and a registry of your
// own). A temporary accept error (the process out of descriptors:
// EMFILE, ENFILE) is retried with back-off and returned by Accept, so
// that the server logs it as for a plain listener; any other ends the
// listener. It panics if config is nil or has no certificate (no
// Certificates, GetCertificate or GetConfigForClient).
func GuardTLS(ln net.Listener, config *tls.Config, lim RequestLimits) net.Listener {
	return guardTLSReport(ln, config, lim, slog.Default(), prometheus.DefaultRegisterer)
}

// GuardTLSReport is [GuardTLS] reporting on log and reg what Serve
// reports on its TLS listeners, for a server of your own: each failed
// handshake is counted in graft_tls_handshake_failures_total by reason
// and logged on log as "wsgi: TLS handshake failed" (those that concern
// the certificate or the configuration at WARN, one line a second at
// most, the others at DEBUG), and each request the guard refuses before
// any handler sees it (plain HTTP on the TLS port among them) is counted
// in graft_http_refused_total by status and logged at INFO; the lines
// have httplog's attribute keys (docs/operations.md lists the reasons).
// The counters are registered with reg, or taken from it when a Serve or
// another GuardTLSReport registered them there already. A nil log logs
// nothing, a nil reg exports nothing (the failures are still logged), as
// for [GuardReport].
func GuardTLSReport(ln net.Listener, config *tls.Config, lim RequestLimits, log *slog.Logger, reg *prometheus.Registry) net.Listener {
	log, r := reportTo(log, reg)
	return guardTLSReport(ln, config, lim, log, r)
}

// guardTLSReport is GuardTLS reporting on log and reg (see guard).
func guardTLSReport(ln net.Listener, config *tls.Config, lim RequestLimits, log *slog.Logger, reg prometheus.Registerer) net.Listener {
	return guardTLS(ln, config, lim, newRefusals(reg, log).report, newHandshakeFailures(reg, log), log)
}

// guardTLS is GuardTLS, telling refused of the requests it refuses and
// failed of the handshakes that fail, and warning on log (see guardH2TLS).
func guardTLS(ln net.Listener, config *tls.Config, lim RequestLimits, refused refusedFunc, failed *handshakeFailures, log *slog.Logger) net.Listener {
	if config == nil || len(config.Certificates) == 0 && config.GetCertificate == nil && config.GetConfigForClient == nil {
		panic("wsgi: GuardTLS needs a tls.Config with a certificate")
	}
	cfg := config.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	l := &tlsGuardListener{ln: ln, cfg: cfg, lim: lim.withDefaults(), refused: refused, failed: failed, log: log,
		conns: make(chan net.Conn), errs: make(chan error, 1), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

type tlsGuardListener struct {
	ln      net.Listener
	cfg     *tls.Config
	lim     RequestLimits
	refused refusedFunc        // or nil
	failed  *handshakeFailures // or nil
	log     *slog.Logger
	conns   chan net.Conn
	errs    chan error // a temporary accept error, for the server to log
	done    chan struct{}
	once    sync.Once

	mu  sync.Mutex
	err error // the error that ended acceptLoop
}

// tlsGuardConn is a guarded connection over TLS.
type tlsGuardConn struct {
	*guardConn
	tc *tls.Conn
}

// ConnectionState lets net/http fill Request.TLS.
func (c *tlsGuardConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (l *tlsGuardListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if temporary(err) {
				// Out of descriptors (EMFILE, ENFILE): back off and retry, as
				// net/http's Serve does; it gets the error to log (once
				// per back-off, not per failed accept).
				select {
				case l.errs <- err:
				default:
				}
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.Close()
			return
		}
		delay = 0
		go l.handshake(c)
	}
}

// temporary reports whether an accept error passes, as net/http's Serve
// judges it (net.Error's Temporary, deprecated for other uses: it is true
// for EMFILE, ENFILE, EINTR and timeouts).
func temporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func (l *tlsGuardListener) handshake(c net.Conn) {
	tc := tls.Server(&tlsRawConn{Conn: c, l: l}, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), TLSHandshakeTimeout)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := tc.HandshakeContext(ctx); err != nil {
		reason := handshakeReason(err)
		if l.failed != nil && reason != "" {
			l.failed.report(reason, err, c.RemoteAddr())
		}
		var re tls.RecordHeaderError
		if reason == tlsFailHTTP && errors.As(err, &re) {
			re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			if l.refused != nil { // a refusal like the guard's: no access line tells of it
				l.refused(http.StatusBadRequest, "plain HTTP on an HTTPS listener", c.RemoteAddr())
			}
		}
		c.Close()
		return
	}
	var out net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		out = &tlsGuardConn{guardConn: newGuardConn(tc, l.lim, l.refused, 0), tc: tc}
	}
	select {
	case l.conns <- out:
	case <-l.done:
		out.Close()
	}
}

func looksLikeHTTP(hdr [5]byte) bool {
	return slices.Contains([]string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"}, string(hdr[:]))
}

func (l *tlsGuardListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err // temporary: the server logs it and calls again
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *tlsGuardListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

func (l *tlsGuardListener) Addr() net.Addr { return l.ln.Addr() }
