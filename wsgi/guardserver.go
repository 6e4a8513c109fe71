package wsgi

import (
	"context"
	"net"
	"net/http"
)

// GuardServer sets srv up to serve Guard and GuardTLS listeners (and their
// Report forms) as [Serve] sets up its own server:
//
//	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
//	wsgi.GuardServer(srv)
//	srv.Serve(wsgi.GuardTLS(ln, tlsConfig, wsgi.RequestLimits{}))
//
// It installs [GuardConnState] as srv.ConnState, so that hijacked
// connections pass through; tells
// [github.com/graft-dev/graft/middleware.TrustProxies] the load balancer
// of each request that came through a [ProxyProtocol] listener (under
// Guard or GuardTLS too), so that it judges the request's forwarding
// headers by the balancer as well as by the client the PROXY header
// names, as under Serve; and gives srv's HTTP/2 connections the
// header timeout Serve gives its own: over TLS (from a GuardTLS listener)
// and over h2c (from a Guard listener, when srv serves unencrypted
// HTTP/2), a connection that sends no complete request headers within the
// timeout of its TLS handshake or h2c preface, or leaves a header block
// (HEADERS, then CONTINUATION frames) incomplete for the timeout from its
// first frame, is closed and reported as a refusal with 408 on the
// listener's logger and registry. The timeout is srv.ReadHeaderTimeout,
// or srv.ReadTimeout when that is zero (as net/http's for HTTP/1.x
// heads), or 10 s when both are. Without GuardServer, net/http's HTTP/2
// server holds such a connection over TLS until srv.IdleTimeout, and
// Guard applies 10 s over h2c.
//
// Call it once, after setting srv.ConnState, srv.ConnContext,
// srv.TLSConfig, srv.Protocols and srv.TLSNextProto if you set them (it
// calls the hooks after its own), and before srv serves. It sets up srv's
// HTTP/2 server at once, as srv.ServeTLS does first (net/http's own,
// unless srv.Protocols, srv.TLSNextProto or GODEBUG=http2server=0 say
// otherwise; it adds "h2" and "http/1.1" to srv.TLSConfig.NextProtos,
// making a srv.TLSConfig if there is none), and replaces its hand-off
// over TLS (srv.TLSNextProto["h2"]): connections from other listeners (a
// tls.NewListener, ServeTLS) are handed to net/http's HTTP/2 server as
// before. Serve and ServeTLS then find HTTP/2 set up, and change nothing
// more while connections come, however many listeners srv serves. (Until
// 2026-12-03 the hand-off was replaced at srv's first connection, while a
// ServeTLS started later could read srv.TLSNextProto; and HTTP/2 was set
// up by whichever of Serve or ServeTLS came first: Serve sets up none when
// srv.TLSConfig names no "h2", though a GuardTLS listener offers it, so
// every HTTP/2 client of both listeners was cut.)
func GuardServer(srv *http.Server) {
	srv.ConnState = GuardConnState(srv.ConnState)
	setupHTTP2(srv)
	guardH2TLS(srv)
	next := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if g, ok := c.(interface{ guard() *guardConn }); ok {
			// A Guard listener's connection, not read yet: its h2c header
			// timeout is srv's. A GuardTLS listener's HTTP/1.x connections
			// have none (net/http serves no h2c over TLS).
			if gc := g.guard(); gc != nil && gc.headerTimeout > 0 {
				gc.headerTimeout = serverHeaderTimeout(srv)
			}
		}
		// A PROXY protocol listener's connection (under the guard and TLS
		// too): TrustProxies learns the balancer, the socket's peer.
		ctx = balancerContext(ctx, c)
		if next != nil {
			return next(ctx, c)
		}
		return ctx
	}
}

// setupHTTP2 has net/http set up srv's HTTP/2 server now, as srv.ServeTLS
// does before it serves (its setup runs once per server, and Serve's and
// ServeTLS's later calls find it done). net/http exports no other way to
// it: srv.ServeTLS is called with a certificate file that cannot be
// opened (a name with a NUL byte), so it returns that error right after
// the setup, before it would serve; noListener, which it never reaches,
// would end a Serve at once.
func setupHTTP2(srv *http.Server) {
	srv.ServeTLS(noListener{}, "\x00", "\x00")
}

// noListener is a listener that accepts nothing (see setupHTTP2).
type noListener struct{}

func (noListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (noListener) Close() error              { return nil }
func (noListener) Addr() net.Addr            { return &net.TCPAddr{} }
