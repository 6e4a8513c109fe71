package middleware

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/graft-dev/graft/internal/hdrname"
	"github.com/graft-dev/graft/wsgi"
)

// forwardingHeaders are consumed by TrustProxies and never passed on, in
// any spelling (see forwardingHeader).
var forwardingHeaders = [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

// trustedOnlyHeaders are passed on from a trusted peer only, and only
// under a name without '_': headers that an app may read
// (X-Forwarded-Prefix for a mount, Django's USE_X_FORWARDED_PORT,
// gunicorn's secure_scheme_headers X-Forwarded-Ssl and
// X-Forwarded-Protocol, which a SECURE_PROXY_SSL_HEADER may name, and
// which graft reads too, see xForwardedScheme), so that a client cannot
// choose them.
var trustedOnlyHeaders = [...]string{"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Ssl", "X-Forwarded-Protocol"}

// TrustProxies returns a middleware that honours the forwarding headers of
// requests whose socket peer is in p, reading the one family p says its
// proxies write: X-Forwarded-For and the scheme headers (X-Forwarded-Proto,
// X-Forwarded-Ssl, X-Forwarded-Protocol) by default, or RFC 7239 Forwarded
// after [Proxies.UseForwarded]. The host (X-Forwarded-Host, or Forwarded's
// host=) is read only after [Proxies.TrustHost]. It sets, for Go handlers
// and the Python app alike:
//
//   - r.RemoteAddr to the client ("ip:port", port 0 when the proxies did
//     not give one), found by walking the addresses right to left and
//     skipping trusted hops;
//   - the scheme ("http" or "https"), read with [Scheme] and passed to the
//     WSGI container as wsgi.url_scheme (wsgi.WithURLScheme);
//   - with TrustHost, r.Host, so that host rules and SERVER_NAME/HTTP_HOST
//     see the original host.
//
// A connection that came through the PROXY protocol ([wsgi.Serve] with
// ListenConfig.ProxyProtocol) has two peers, the client its header names
// (r.RemoteAddr) and the load balancer that sent it: the headers are
// trusted when either is in p, since HAProxy in HTTP mode with send-proxy
// writes them itself. List a TCP balancer, which writes none, in the
// PROXY protocol's list only.
//
// When a trusted peer's scheme headers say different schemes
// (X-Forwarded-Proto: http with X-Forwarded-Ssl: on), the request is
// answered 400 "Contradictory scheme headers", as gunicorn does, and the
// handler is not called: graft cannot tell the proxy's header from a
// client's that the proxy passed on, and a guess would let a client make
// a plain-HTTP request look like HTTPS.
//
// The forwarding headers of both families are then removed, whoever sent
// them and whichever family was read, in every spelling a WSGI server
// reads as them (any letter case, '_' for '-': gunicorn 20 passes
// X_Forwarded_For as HTTP_X_FORWARDED_FOR), so that the Python app
// (werkzeug's ProxyFix, Django's USE_X_FORWARDED_HOST) cannot be fooled by
// a client's copy and does not apply them twice. X-Forwarded-Prefix,
// X-Forwarded-Port, X-Forwarded-Ssl and X-Forwarded-Protocol are removed
// too, except when the peer is trusted and the name has no '_': an app
// that reads them (Django's USE_X_FORWARDED_PORT, a
// SECURE_PROXY_SSL_HEADER naming X-Forwarded-Ssl) gets its proxy's (which,
// without UseForwarded, agree with the scheme graft read). A nil p trusts nobody: the headers are
// only removed. X-Real-Ip is neither read nor removed.
//
// Only the outermost TrustProxies of a request acts: wrapping a
// [github.com/graft-dev/graft/router.Hosts] with it (so that host rules see the forwarded host, with TrustHost) and
// also using [Stack] in the host Routers is fine.
func TrustProxies(p *Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hasForwarding(r.Header, false) {
				// Nothing to read or remove: r is served as it is (Scheme
				// and the client address read it alike), without a copy,
				// and a TrustProxies further in finds nothing either.
				next.ServeHTTP(w, r)
				return
			}
			c, rw := begin(r)
			c.trust(r, p, &rw)
			if c.badScheme {
				refuseScheme(w, r)
				return
			}
			next.ServeHTTP(w, rw.apply(r))
		})
	}
}

// forwardingHeader reports whether TrustProxies removes the request header
// named k: a spelling of one of forwardingHeaders (as [hdrname.Is] decides),
// or of one of trustedOnlyHeaders unless the peer is trusted and k has no
// '_' (a proxy writes the name with '-': one with '_' is a client's,
// passed on).
func forwardingHeader(k string, trusted bool) bool {
	for _, n := range forwardingHeaders {
		if hdrname.Is(k, n) {
			return true
		}
	}
	for _, n := range trustedOnlyHeaders {
		if hdrname.Is(k, n) {
			return !trusted || strings.IndexByte(k, '_') >= 0
		}
	}
	return false
}

// hasForwarding reports whether h has a header that TrustProxies removes.
func hasForwarding(h http.Header, trusted bool) bool {
	for k := range h {
		if forwardingHeader(k, trusted) {
			return true
		}
	}
	return false
}

// dropForwarding removes the headers that TrustProxies removes from h.
func dropForwarding(h http.Header, trusted bool) {
	for k := range h {
		if forwardingHeader(k, trusted) {
			delete(h, k)
		}
	}
}

// refuseScheme answers a request whose trusted proxy's scheme headers
// contradict each other (see [TrustProxies]).
func refuseScheme(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Bad Request: Contradictory scheme headers (X-Forwarded-Proto, X-Forwarded-Ssl and X-Forwarded-Protocol from a trusted proxy say different schemes)", http.StatusBadRequest)
}

// Scheme returns the scheme of the request as the client used it: the one
// given by a trusted proxy (see [TrustProxies]), else "https" for a TLS
// connection and "http" otherwise. It is [wsgi.RequestScheme], the one
// rule for the request's scheme: the Python app's wsgi.url_scheme, the
// access log's url.scheme, migrate's Location comparison and its CSRF
// check all use it.
func Scheme(r *http.Request) string {
	return wsgi.RequestScheme(r)
}

// peerAddr returns the socket peer of r: the one TrustProxies saw, or
// r.RemoteAddr when it did not run.
func peerAddr(r *http.Request) netip.Addr {
	if c := infoFrom(r.Context()); c != nil && c.proxied {
		return c.peer
	}
	return remoteAddr(r.RemoteAddr)
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}
