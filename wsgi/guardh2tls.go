package wsgi

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// nextProtoUnencryptedHTTP2 is the http.Server.TLSNextProto key under
// which net/http's HTTP/2 server takes a connection whose preface has
// been read, wrapped in a *tls.Conn that is never used for TLS: net/http
// hands it its h2c connections so, and golang.org/x/net/http2 serves the
// key alike.
const nextProtoUnencryptedHTTP2 = "unencrypted_http2"

// guardH2TLS gives the HTTP/2 connections over TLS of srv's GuardTLS
// listeners the header deadline of the guard's h2c connections (see
// h2Wait): from the TLS handshake until the first complete header block,
// and from the first frame of each header block until its last, at most
// srv's header timeout (serverHeaderTimeout) may pass, or the connection
// is closed and the refusal reported with 408. [GuardServer] calls it
// once it has had net/http set up srv's HTTP/2 server (setupHTTP2),
// before srv serves.
//
// net/http hands a connection that negotiated "h2" by ALPN to its HTTP/2
// server as the *tls.Conn itself (http.Server.TLSNextProto["h2"]), so a
// guard below TLS sees only encrypted bytes, and net/http's HTTP/2 server
// bounds a header block left open by IdleTimeout only. guardH2TLS
// replaces that entry: a *tls.Conn from a GuardTLS listener (its
// connection under TLS is a tlsRawConn) is read through a guardConn, which
// checks its preface and follows its frames, and handed to net/http's own
// HTTP/2 server under nextProtoUnencryptedHTTP2; any other *tls.Conn (a
// tls.NewListener served by the same server) goes to net/http's HTTP/2
// server as before. The guarded connection has the *tls.Conn's
// ConnectionState, from which the HTTP/2 server checks the TLS version and
// cipher suite as before and fills Request.TLS; the hand-off happens inside
// net/http's serving of the connection, so Shutdown's GOAWAY and wait,
// ConnContext and the rest are net/http's as before. Without HTTP/2
// (Protocols, GODEBUG=http2server=0) there is nothing to guard; without
// the h2c hand-off (an HTTP/2 server of another kind) HTTP/2 stays
// unguarded, and a warning says so at the first such connection.
func guardH2TLS(srv *http.Server) {
	h2 := srv.TLSNextProto["h2"]
	plain := srv.TLSNextProto[nextProtoUnencryptedHTTP2]
	if h2 == nil {
		return
	}
	var warn sync.Once
	srv.TLSNextProto["h2"] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		raw, ok := tc.NetConn().(*tlsRawConn)
		switch {
		case !ok:
			h2(hs, tc, h)
		case plain == nil:
			warn.Do(func() {
				raw.l.log.Warn("wsgi: HTTP/2 over TLS has no header timeout but IdleTimeout: the HTTP/2 server takes no h2c connections")
			})
			h2(hs, tc, h)
		default:
			serveH2TLS(hs, tc, h, plain, raw.l)
		}
	}
}

// serveH2TLS reads the preface of tc, which negotiated "h2" on l, through
// a guarded connection, and hands that to plain, net/http's HTTP/2
// server; h is net/http's handler for the connection, which sets
// Request.TLS from tc.
func serveH2TLS(hs *http.Server, tc *tls.Conn, h http.Handler, plain func(*http.Server, *tls.Conn, http.Handler), l *tlsGuardListener) {
	gc := newGuardConn(tc, l.lim, l.refused, serverHeaderTimeout(hs))
	gc.st = stPass
	gc.startH2() // the deadline runs from now: the preface is within it
	c := &tlsGuardConn{guardConn: gc, tc: tc}
	var p [h2ClientPrefaceLen]byte
	if _, err := io.ReadFull(c, p[:]); err != nil || string(p[:]) != h2ClientPreface {
		if err == nil && l.refused != nil {
			// net/http's HTTP/2 server closes it alike ("bogus greeting").
			l.refused(http.StatusBadRequest, "no HTTP/2 connection preface after ALPN h2", tc.RemoteAddr())
		}
		c.Close()
		return
	}
	plain(hs, tls.Client(h2PlainConn{c}, nil), h)
}

// serverHeaderTimeout is the header timeout of srv's HTTP/2 connections
// under GuardServer: srv's ReadHeaderTimeout, or its ReadTimeout when that
// is zero, as net/http's for HTTP/1.x heads, or defaultHeaderTimeout when
// both are.
func serverHeaderTimeout(srv *http.Server) time.Duration {
	switch {
	case srv.ReadHeaderTimeout > 0:
		return srv.ReadHeaderTimeout
	case srv.ReadTimeout > 0:
		return srv.ReadTimeout
	}
	return defaultHeaderTimeout
}

// tlsRawConn is the connection under each *tls.Conn of a GuardTLS
// listener, so that guardH2TLS knows the connections of GuardTLS
// listeners from others, and each one's listener.
type tlsRawConn struct {
	net.Conn
	l *tlsGuardListener
}

// NetConn returns the connection accepted (see resetConn).
func (c *tlsRawConn) NetConn() net.Conn { return c.Conn }

// h2PlainConn carries a connection already decrypted to net/http's HTTP/2
// server through the *tls.Conn of a TLSNextProto function, as net/http
// carries its h2c connections: the server takes it by its
// UnencryptedNetConn method.
type h2PlainConn struct{ net.Conn }

// UnencryptedNetConn returns the connection to serve.
func (c h2PlainConn) UnencryptedNetConn() net.Conn { return c.Conn }
