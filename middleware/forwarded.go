package middleware

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwarding is what the trusted proxies in front of graft said about the
// client.
type forwarding struct {
	client netip.AddrPort // invalid when unknown
	proto  string         // "http", "https" or ""
	host   string         // "" when not given or invalid

	// contradicts is set when the scheme headers disagree (see
	// xForwardedScheme); proto is then "".
	contradicts bool
}

// resolveForwarding reads the forwarding headers of a request whose peer
// is trusted, from the one family p says its proxies write: RFC 7239
// Forwarded after [Proxies.UseForwarded], else X-Forwarded-For, the scheme
// headers of xForwardedScheme (and X-Forwarded-Host after
// [Proxies.TrustHost]). The other family is not read, even when it is the
// only one present.
// Addresses are walked right to left, skipping trusted hops: the client is
// the first untrusted address, or the leftmost one when all are trusted.
func resolveForwarding(h http.Header, p *Proxies) forwarding {
	if p == nil {
		return forwarding{}
	}
	if p.forwarded {
		f := parseForwarded(h.Values("Forwarded"), p)
		if !p.host {
			f.host = ""
		}
		return f
	}
	f := forwarding{client: walkXFF(h.Values("X-Forwarded-For"), p)}
	f.proto, f.contradicts = xForwardedScheme(h)
	if p.host {
		f.host = normHost(lastValue(h.Values("X-Forwarded-Host")))
	}
	return f
}

// xForwardedScheme is the scheme rule for proxies that write X-Forwarded-*
// headers, the one place that reads them: the scheme said by the
// rightmost value of X-Forwarded-Proto ("http" or "https"),
// X-Forwarded-Ssl ("on" is https, "off" http) and X-Forwarded-Protocol
// ("ssl" or "https" is https, "http" http), gunicorn's
// secure_scheme_headers, letter case ignored. Other values, and absent
// headers, say nothing; "" when none says anything. When two of them say
// different schemes, contradicts is true and scheme "": graft cannot know
// which one the proxy wrote and which one it passed on from the client,
// and the request is refused (see [TrustProxies]).
func xForwardedScheme(h http.Header) (scheme string, contradicts bool) {
	for _, said := range [...]string{
		normProto(lastValue(h.Values("X-Forwarded-Proto"))),
		normSSL(lastValue(h.Values("X-Forwarded-Ssl"))),
		normProtocol(lastValue(h.Values("X-Forwarded-Protocol"))),
	} {
		switch {
		case said == "":
		case scheme == "":
			scheme = said
		case said != scheme:
			return "", true
		}
	}
	return scheme, false
}

// walkXFF returns the client address from X-Forwarded-For lines.
func walkXFF(lines []string, p *Proxies) netip.AddrPort {
	var client netip.AddrPort
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			a, ok := parseNode(strings.TrimSpace(hop))
			if !ok {
				return client
			}
			client = a
			if !p.Contains(a.Addr()) {
				return client
			}
		}
	}
	return client
}

// fwdElem is one element of a Forwarded header.
type fwdElem struct{ forNode, proto, host string }

// parseForwarded walks the elements of RFC 7239 Forwarded lines right to
// left. An element that does not parse, or whose "for" is not an address
// ("unknown", an obfuscated "_name"), ends the walk.
func parseForwarded(lines []string, p *Proxies) forwarding {
	var elems []fwdElem
	for _, line := range lines {
		elems = splitForwarded(line, elems)
	}
	var f forwarding
	idx := -1
	for i := len(elems) - 1; i >= 0; i-- {
		if elems[i].forNode == "\x00" { // syntax error
			break
		}
		a, ok := parseNode(elems[i].forNode)
		if !ok {
			break
		}
		f.client, idx = a, i
		if !p.Contains(a.Addr()) {
			break
		}
	}
	if idx < 0 {
		return f
	}
	for i := idx; i < len(elems) && (f.proto == "" || f.host == ""); i++ {
		if elems[i].forNode == "\x00" {
			break
		}
		if f.proto == "" {
			f.proto = normProto(elems[i].proto)
		}
		if f.host == "" {
			f.host = normHost(elems[i].host)
		}
	}
	return f
}

// splitForwarded appends the elements of one Forwarded line to elems. An
// element with a syntax error gets forNode "\x00".
func splitForwarded(s string, elems []fwdElem) []fwdElem {
	var e fwdElem
	bad := false
	for {
		s = strings.TrimLeft(s, " \t")
		// name
		i := 0
		for i < len(s) && isToken(s[i]) {
			i++
		}
		name := strings.ToLower(s[:i])
		s = s[i:]
		var val string
		if name == "" || len(s) == 0 || s[0] != '=' {
			bad = true
		} else {
			s = s[1:]
			if len(s) > 0 && s[0] == '"' {
				var b strings.Builder
				j, closed := 1, false
				for ; j < len(s); j++ {
					c := s[j]
					if c == '\\' && j+1 < len(s) {
						j++
						b.WriteByte(s[j])
						continue
					}
					if c == '"' {
						closed = true
						j++
						break
					}
					b.WriteByte(c)
				}
				if !closed {
					bad = true
				}
				val, s = b.String(), s[j:]
			} else {
				j := 0
				for j < len(s) && isToken(s[j]) {
					j++
				}
				val, s = s[:j], s[j:]
				if val == "" {
					bad = true
				}
			}
		}
		if !bad {
			switch name {
			case "for":
				e.forNode = val
			case "proto":
				e.proto = val
			case "host":
				e.host = val
			}
		}
		// skip to the next pair or element
		s = strings.TrimLeft(s, " \t")
		switch {
		case s == "":
			return append(elems, finish(e, bad))
		case s[0] == ';':
			s = s[1:]
		case s[0] == ',':
			elems = append(elems, finish(e, bad))
			e, bad, s = fwdElem{}, false, s[1:]
		default:
			bad = true
			j := strings.IndexAny(s, ";,")
			if j < 0 {
				return append(elems, finish(e, bad))
			}
			s = s[j:]
			if s[0] == ';' {
				s = s[1:]
			}
		}
	}
}

func finish(e fwdElem, bad bool) fwdElem {
	if bad {
		return fwdElem{forNode: "\x00"}
	}
	return e
}

// isToken reports whether c is an RFC 7230 tchar.
func isToken(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseNode parses an address as found in X-Forwarded-For or a Forwarded
// "for": "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]:80".
// An IPv6 zone ("fe80::1%eth0") is refused, with a port or without: it
// means nothing off the proxy's host, and it may hold any text.
func parseNode(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Addr().Zone() != "" {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), 0), true
}

func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	l := lines[len(lines)-1]
	if i := strings.LastIndexByte(l, ','); i >= 0 {
		l = l[i+1:]
	}
	return strings.TrimSpace(l)
}

func normProto(s string) string {
	switch strings.ToLower(s) {
	case "http":
		return "http"
	case "https":
		return "https"
	}
	return ""
}

// normSSL returns the scheme an X-Forwarded-Ssl value says, or "".
func normSSL(s string) string {
	switch strings.ToLower(s) {
	case "on":
		return "https"
	case "off":
		return "http"
	}
	return ""
}

// normProtocol returns the scheme an X-Forwarded-Protocol value says, or
// "".
func normProtocol(s string) string {
	switch strings.ToLower(s) {
	case "ssl", "https":
		return "https"
	case "http":
		return "http"
	}
	return ""
}

// normHost returns s if it is a plausible Host header value (a name or an
// address, with an optional port), else "".
func normHost(s string) string {
	if s == "" || len(s) > 255 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '_') {
			return ""
		}
	}
	return s
}
