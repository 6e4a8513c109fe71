// Package netlist holds graft's one rule for a list of trusted network
// addresses, as operators write it: the proxies whose forwarding headers
// package middleware believes, and the load balancers whose PROXY protocol
// headers package wsgi accepts.
package netlist

import (
	"fmt"
	"net/netip"
	"strings"
)

// List is a set of networks. The zero value contains nothing.
type List []netip.Prefix

// Parse returns the List of entries: CIDRs ("10.0.0.0/8", "fd00::/8"),
// single addresses ("127.0.0.1", "::1"), or "*" for every address. Spaces
// around an entry are ignored. IPv4-mapped IPv6 addresses and prefixes
// ("::ffff:10.0.0.0/104") stand for their IPv4 form. An error names the
// entry it could not read.
func Parse(entries ...string) (List, error) {
	var l List
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "*" {
			l = append(l, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))
			continue
		}
		if !strings.Contains(e, "/") {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", e, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("%q: an address with a zone", e)
			}
			a = a.Unmap()
			l = append(l, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", e, err)
		}
		if pr.Addr().Is4In6() {
			if pr.Bits() < 96 {
				return nil, fmt.Errorf("%q: IPv4-mapped prefix shorter than /96", e)
			}
			pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
		}
		l = append(l, pr.Masked())
	}
	return l, nil
}

// Contains reports whether a is in l. IPv4-mapped IPv6 addresses are
// compared as IPv4, and a zone is ignored; an invalid address is in no
// List.
func (l List) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pr := range l {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
