package middleware

import (
	"net"
	"net/http"
	"net/netip"
)

// forwardingHeaders are consumed by TrustProxies and never passed on.
var forwardingHeaders = [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

// TrustProxies returns a middleware that honours the forwarding headers of
// requests whose socket peer is in p: RFC 7239 Forwarded when present,
// else X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host. It sets,
// for Go handlers and the Python app alike:
//
//   - r.RemoteAddr to the client ("ip:port", port 0 when the proxies did
//     not give one), found by walking the addresses right to left and
//     skipping trusted hops;
//   - the scheme ("http" or "https"), read with [Scheme] and passed to the
//     WSGI container as wsgi.url_scheme (wsgi.WithURLScheme);
//   - r.Host, so that host rules and SERVER_NAME/HTTP_HOST see the
//     original host.
//
// The forwarding headers are then removed, whoever sent them, so that the
// Python app (werkzeug's ProxyFix, Django's USE_X_FORWARDED_HOST) cannot
// be fooled by a client's copy and does not apply them twice; from an
// untrusted peer X-Forwarded-Prefix is removed too. A nil p trusts nobody:
// the headers are only removed. X-Real-Ip is neither read nor removed.
//
// Only the outermost TrustProxies of a request acts: wrapping a
// [github.com/graft-dev/graft/router.Hosts] with it (so that host rules see the forwarded host) and
// also using [Stack] in the host Routers is fine.
func TrustProxies(p *Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, rw := begin(r)
			c.trust(r, p, &rw)
			next.ServeHTTP(w, rw.apply(r))
		})
	}
}

func hasAny(h http.Header, trusted bool) bool {
	for _, k := range forwardingHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	_, ok := h["X-Forwarded-Prefix"]
	return ok && !trusted
}

// Scheme returns the scheme of the request as the client used it: the one
// given by a trusted proxy (see [TrustProxies]), else "https" for a TLS
// connection and "http" otherwise.
func Scheme(r *http.Request) string {
	if c := infoFrom(r.Context()); c != nil && c.proxied {
		return c.scheme
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
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
