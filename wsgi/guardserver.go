package wsgi

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// GuardServer sets srv up to serve Guard and GuardTLS listeners (and their
// Report forms) as [Serve] sets up its own server:
//
//	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
//	wsgi.GuardServer(srv)
//	srv.Serve(wsgi.GuardTLS(ln, tlsConfig, wsgi.RequestLimits{}))
//
// It installs [GuardConnState] as srv.ConnState, so that hijacked
// connections pass through, and gives srv's HTTP/2 connections the
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
// Call it once, after setting srv.ConnState and srv.ConnContext if you
// set them (it calls them after its own), and before srv serves. Its
// ConnContext hook replaces net/http's HTTP/2 hand-off over TLS
// (srv.TLSNextProto["h2"]) when srv accepts its first connection, once
// srv.Serve has set it up: connections from other listeners (a
// tls.NewListener) are handed to net/http's HTTP/2 server as before.
func GuardServer(srv *http.Server) {
	srv.ConnState = GuardConnState(srv.ConnState)
	next := srv.ConnContext
	var once sync.Once
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		// Called by srv.Serve for each connection before it is served, so
		// that no connection is served while TLSNextProto changes.
		once.Do(func() { guardH2TLS(srv) })
		if g, ok := c.(interface{ guard() *guardConn }); ok {
			// A Guard listener's connection, not read yet: its h2c header
			// timeout is srv's. A GuardTLS listener's HTTP/1.x connections
			// have none (net/http serves no h2c over TLS).
			if gc := g.guard(); gc != nil && gc.headerTimeout > 0 {
				gc.headerTimeout = serverHeaderTimeout(srv)
			}
		}
		if next != nil {
			return next(ctx, c)
		}
		return ctx
	}
}
