package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/graft-dev/graft/internal/netlist"
	"github.com/graft-dev/graft/internal/reqctx"
)

// Proxies is the set of networks whose forwarding headers are believed:
// the load balancers and reverse proxies in front of graft, and what they
// write. A nil or empty *Proxies trusts nobody, which is the safe default.
//
// By default the proxies are taken to write X-Forwarded-For and
// X-Forwarded-Proto, what nearly every proxy writes (nginx, HAProxy, AWS's
// load balancers, Cloudflare), or X-Forwarded-Ssl or X-Forwarded-Protocol
// for the scheme (gunicorn's secure_scheme_headers), and only those are
// read (see [TrustProxies]): a proxy
// passes on any other header a client sends, so reading it would let the
// client choose. [Proxies.UseForwarded] reads RFC 7239 Forwarded instead,
// and [Proxies.TrustHost] also reads the host. A Proxies is not modified
// once made: both return a configured copy.
type Proxies struct {
	prefixes  netlist.List
	unix      bool // trust peers on Unix sockets ("unix")
	forwarded bool // read RFC 7239 Forwarded instead of X-Forwarded-*
	host      bool // read the host: X-Forwarded-Host, or Forwarded's host=
}

// ParseProxies returns the Proxies for the given CIDRs ("10.0.0.0/8",
// "fd00::/8") or single addresses ("127.0.0.1", "::1"), with the defaults:
// X-Forwarded-For and the scheme headers (X-Forwarded-Proto,
// X-Forwarded-Ssl, X-Forwarded-Protocol) are read, the host is not. "*" is
// every address (gunicorn's forwarded_allow_ips="*"): right only when
// nothing but the proxies can reach graft's port, as in a Kubernetes pod
// behind its ingress. "unix" trusts the peers of Unix sockets, which have
// no address (a proxy on the same host, such as nginx with proxy_pass
// http://unix:/run/app.sock): only processes the socket file's
// permissions let in can connect, and gunicorn trusts them too.
func ParseProxies(cidrs ...string) (*Proxies, error) {
	p := &Proxies{}
	addrs := make([]string, 0, len(cidrs))
	for _, c := range cidrs {
		if strings.TrimSpace(c) == "unix" {
			p.unix = true
		} else {
			addrs = append(addrs, c)
		}
	}
	l, err := netlist.Parse(addrs...)
	if err != nil {
		return nil, fmt.Errorf("middleware: trusted proxy %w", err)
	}
	p.prefixes = l
	return p, nil
}

// MustParseProxies is [ParseProxies] for constant lists: it panics on an
// invalid entry.
func MustParseProxies(cidrs ...string) *Proxies {
	p, err := ParseProxies(cidrs...)
	if err != nil {
		panic(err.Error())
	}
	return p
}

// UseForwarded returns a copy of p for proxies that write RFC 7239
// Forwarded (and replace or extend the one a client sent) instead of
// X-Forwarded-For and X-Forwarded-Proto (or -Ssl, -Protocol): [TrustProxies] then reads the
// client address and scheme (and, with [Proxies.TrustHost], the host) from
// Forwarded only, and X-Forwarded-* not at all. Use it only when every
// trusted proxy writes Forwarded: a proxy that passes a client's Forwarded
// on unchanged lets the client choose its address and scheme.
func (p *Proxies) UseForwarded() *Proxies {
	q := p.clone()
	q.forwarded = true
	return q
}

// TrustHost returns a copy of p for proxies that write the host the client
// asked for: [TrustProxies] then also sets r.Host from X-Forwarded-Host
// (or, with [Proxies.UseForwarded], from Forwarded's host=). By default
// the host is never taken from a forwarding header, as with werkzeug's
// ProxyFix (x_host=0) and Django (USE_X_FORWARDED_HOST = False): a proxy
// that does not set the header passes on a client's, and the host would
// be the client's choice. Use it only when every trusted proxy writes that
// header (sets it or appends to it: the rightmost value is read);
// otherwise keep the client's Host header in the proxy (nginx:
// proxy_set_header Host $host).
func (p *Proxies) TrustHost() *Proxies {
	q := p.clone()
	q.host = true
	return q
}

// clone returns a copy of p that shares its networks (never modified once
// parsed); the copy of nil is empty, and trusts nobody.
func (p *Proxies) clone() *Proxies {
	if p == nil {
		return &Proxies{}
	}
	q := *p
	return &q
}

// Contains reports whether a is a trusted proxy. IPv4-mapped IPv6
// addresses are compared as IPv4.
func (p *Proxies) Contains(a netip.Addr) bool {
	return p != nil && p.prefixes.Contains(a)
}

// trustsPeer reports whether the peer of r, whose address is peer, is a
// trusted proxy: peer is in p, or p trusts Unix sockets and r came over
// one from a peer without an address. A connection that came through the
// PROXY protocol has two peers, the client (or the hop) its header names,
// which is peer, and the load balancer that sent it, the socket's peer:
// either one trusted makes the headers trusted, since either may have
// written them (HAProxy in HTTP mode with send-proxy writes
// X-Forwarded-For and X-Forwarded-Proto itself; a CDN in front of a TCP
// balancer writes them before it).
func (p *Proxies) trustsPeer(r *http.Request, peer netip.Addr) bool {
	if p.Contains(peer) {
		return true
	}
	if p == nil {
		return false
	}
	if b, _ := r.Context().Value(reqctx.BalancerKey).(func() net.Addr); b != nil {
		switch a := b().(type) {
		case *net.TCPAddr:
			if p.Contains(a.AddrPort().Addr().Unmap()) {
				return true
			}
		case *net.UnixAddr:
			if p.unix {
				return true
			}
		}
	}
	if !p.unix || peer.IsValid() {
		return false
	}
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && la.Network() == "unix"
}
