package middleware

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxies is the set of networks whose forwarding headers are believed:
// the load balancers and reverse proxies in front of graft. A nil or empty
// *Proxies trusts nobody, which is the safe default.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies returns the Proxies for the given CIDRs ("10.0.0.0/8",
// "fd00::/8") or single addresses ("127.0.0.1", "::1").
func ParseProxies(cidrs ...string) (*Proxies, error) {
	p := &Proxies{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("middleware: trusted proxy %q: %w", c, err)
			}
			a = a.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("middleware: trusted proxy %q: %w", c, err)
		}
		if pr.Addr().Is4In6() {
			if pr.Bits() < 96 {
				return nil, fmt.Errorf("middleware: trusted proxy %q: IPv4-mapped prefix shorter than /96", c)
			}
			pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
		}
		p.prefixes = append(p.prefixes, pr.Masked())
	}
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

// Contains reports whether a is a trusted proxy. IPv4-mapped IPv6
// addresses are compared as IPv4.
func (p *Proxies) Contains(a netip.Addr) bool {
	if p == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pr := range p.prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
