package wsgi

import (
	"crypto/tls"
	"io"
	"log/slog"
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

// h2TLSGuard gives [Serve]'s HTTP/2 connections over TLS the header
// deadline of the guard's h2c connections (see h2Wait): from the TLS
// handshake until the first complete header block, and from the first
// frame of each header block until its last, at most the header timeout
// may pass, or the connection is closed and the refusal reported with
// 408.
//
// net/http hands a connection that negotiated "h2" by ALPN to its HTTP/2
// server as the *tls.Conn itself (http.Server.TLSNextProto["h2"]), so a
// guard below TLS sees only encrypted bytes, and net/http's HTTP/2 server
// bounds a header block left open by IdleTimeout only. h2TLSGuard
// replaces that entry, once net/http has set it up: the connection is
// read through a guardConn over the *tls.Conn, which checks its preface
// and follows its frames, and handed to net/http's own HTTP/2 server
// under nextProtoUnencryptedHTTP2. The guarded connection has the
// *tls.Conn's ConnectionState, from which the HTTP/2 server checks the TLS
// version and cipher suite as before and fills Request.TLS; the hand-off
// happens inside net/http's serving of the connection, so Shutdown's
// GOAWAY and wait, ConnContext and the rest are net/http's as before.
type h2TLSGuard struct {
	srv           *http.Server
	lim           RequestLimits
	refused       refusedFunc // or nil
	headerTimeout time.Duration
	log           *slog.Logger

	once sync.Once
}

// listener returns ln, installing the guard in g.srv at its first Accept:
// http.Server.Serve sets up HTTP/2 (TLSNextProto) before it accepts, and
// reads TLSNextProto only for connections accepted, so that every one of
// g.srv's listeners must be wrapped, and each Accept waits for the
// install (sync.Once) before it returns a connection.
func (g *h2TLSGuard) listener(ln net.Listener) net.Listener {
	return &h2TLSListener{Listener: ln, g: g}
}

type h2TLSListener struct {
	net.Listener
	g *h2TLSGuard
}

func (l *h2TLSListener) Accept() (net.Conn, error) {
	l.g.once.Do(l.g.install)
	return l.Listener.Accept()
}

// install replaces g.srv's TLSNextProto["h2"]. Without HTTP/2 (NoHTTP2,
// GODEBUG=http2server=0) there is nothing to guard; without the h2c
// hand-off (an HTTP/2 server of another kind) HTTP/2 stays unguarded, and
// a warning says so.
func (g *h2TLSGuard) install() {
	h2 := g.srv.TLSNextProto["h2"]
	plain := g.srv.TLSNextProto[nextProtoUnencryptedHTTP2]
	if h2 == nil {
		return
	}
	if plain == nil {
		g.log.Warn("wsgi: serve: HTTP/2 over TLS has no header timeout but IdleTimeout: the HTTP/2 server takes no h2c connections")
		return
	}
	g.srv.TLSNextProto["h2"] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		g.serve(hs, tc, h, plain)
	}
}

// serve reads the preface of tc, which negotiated "h2", through a guarded
// connection, and hands that to plain, net/http's HTTP/2 server; h is
// net/http's handler for the connection, which sets Request.TLS from tc.
func (g *h2TLSGuard) serve(hs *http.Server, tc *tls.Conn, h http.Handler, plain func(*http.Server, *tls.Conn, http.Handler)) {
	gc := newGuardConn(tc, g.lim, g.refused, g.headerTimeout)
	gc.st = stPass
	gc.startH2() // the deadline runs from now: the preface is within it
	c := &tlsGuardConn{guardConn: gc, tc: tc}
	var p [h2ClientPrefaceLen]byte
	if _, err := io.ReadFull(c, p[:]); err != nil || string(p[:]) != h2ClientPreface {
		if err == nil && g.refused != nil {
			// net/http's HTTP/2 server closes it alike ("bogus greeting").
			g.refused(http.StatusBadRequest, "no HTTP/2 connection preface after ALPN h2", tc.RemoteAddr())
		}
		c.Close()
		return
	}
	plain(hs, tls.Client(h2PlainConn{c}, nil), h)
}

// h2PlainConn carries a connection already decrypted to net/http's HTTP/2
// server through the *tls.Conn of a TLSNextProto function, as net/http
// carries its h2c connections: the server takes it by its
// UnencryptedNetConn method.
type h2PlainConn struct{ net.Conn }

// UnencryptedNetConn returns the connection to serve.
func (c h2PlainConn) UnencryptedNetConn() net.Conn { return c.Conn }
