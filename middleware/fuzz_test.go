package middleware

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzForwarded checks that the forwarding parsers never panic, only ever
// return a client that appears in the headers and has no IPv6 zone, only
// a clean proto and host, a host only with TrustHost, nothing from the
// family of headers the Proxies do not read, and a scheme that every
// X-Forwarded scheme header saying one says, or a contradiction (and no
// scheme) when two disagree.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{
		`for=203.0.113.7;proto=https;host=example.com`,
		`for="[2001:db8:cafe::17]:4711", for=10.0.0.1`,
		`for=unknown, for=_hidden;by=10.0.0.1`,
		`for="a\"b";host="x,y"`,
		"203.0.113.7, 10.0.0.2",
		";;==,,\"",
		`for="[fd00::1%25eth0]:80"`,
		`for="[fd00::1%eth0]"`,
		`for="[2001:db8::1%x y\"z]:80"`,
		"[fe80::1%eth0]:80, 10.0.0.2",
		"fe80::1%eth0",
	} {
		f.Add(s, s)
	}
	f.Add("https", "on")
	f.Add("http", "ON")
	f.Add("ssl", "off")
	f.Add("HTTP, https", "on, off")
	x := MustParseProxies("10.0.0.0/8", "fd00::/8")
	modes := []*Proxies{x, x.TrustHost(), x.UseForwarded(), x.UseForwarded().TrustHost()}
	f.Fuzz(func(t *testing.T, fwd, xff string) {
		for _, p := range modes {
			for _, h := range []http.Header{
				{"Forwarded": {fwd}},
				{"X-Forwarded-For": {xff}, "X-Forwarded-Proto": {fwd}, "X-Forwarded-Host": {fwd}},
				{"X-Forwarded-Proto": {fwd}, "X-Forwarded-Ssl": {xff}, "X-Forwarded-Protocol": {fwd}},
				{"X-Forwarded-Proto": {xff}, "X-Forwarded-Ssl": {fwd, xff}, "X-Forwarded-Protocol": {xff}},
			} {
				r := resolveForwarding(h, p)
				if r.contradicts && (r.proto != "" || p.forwarded) {
					t.Fatalf("%+v: a contradiction with a scheme, or in forwarded mode %v", r, p.forwarded)
				}
				if !p.forwarded {
					said := map[string]bool{}
					for _, v := range []string{
						normProto(lastValue(h.Values("X-Forwarded-Proto"))),
						normSSL(lastValue(h.Values("X-Forwarded-Ssl"))),
						normProtocol(lastValue(h.Values("X-Forwarded-Protocol"))),
					} {
						if v != "" {
							said[v] = true
						}
					}
					if r.contradicts != (len(said) > 1) || !r.contradicts && len(said) == 1 && !said[r.proto] ||
						len(said) == 0 && r.proto != "" {
						t.Fatalf("%+v from %v: the headers say %v", r, h, said)
					}
				}
				if r.client.IsValid() {
					if r.client.Addr().Zone() != "" {
						t.Fatalf("client %v has a zone, from %q %q", r.client, fwd, xff)
					}
					a := r.client.Addr().String()
					if !strings.Contains(fwd+xff, a) && !strings.Contains(strings.ToLower(fwd+xff), a) {
						// Normalised forms (mapped IPv4, leading zeros in
						// IPv6) must still come from a parsable node.
						if _, ok := parseNode(a); !ok {
							t.Fatalf("client %v not from the headers %q %q", r.client, fwd, xff)
						}
					}
				}
				if r.proto != "" && r.proto != "http" && r.proto != "https" {
					t.Fatalf("proto %q", r.proto)
				}
				if strings.ContainsAny(r.host, " \t\r\n/@?#\\\"") {
					t.Fatalf("host %q", r.host)
				}
				if r.host != "" && !p.host {
					t.Fatalf("host %q read without TrustHost", r.host)
				}
				if _, ok := h["Forwarded"]; ok != p.forwarded && r != (forwarding{}) {
					t.Fatalf("%+v read from the other family, forwarded mode %v", r, p.forwarded)
				}
			}
		}
	})
}

// FuzzForwardedChain builds a chain of proxy hops (IPv4, IPv6, mapped
// IPv4, with and without ports, trusted or not, split over several header
// lines) written as the proxies would write them, in X-Forwarded-For and
// in RFC 7239 Forwarded (quoted as the RFC requires, or more), and checks
// the parsers against the rule docs/middleware.md gives: the client is the
// rightmost untrusted hop, or the leftmost when all are trusted, with its
// port (0 when none); Forwarded's proto and host come from that hop's
// element.
func FuzzForwardedChain(f *testing.F) {
	f.Add([]byte{0x00, 203, 0, 113, 7, 0x03, 10, 0, 0, 1})
	f.Add([]byte{0x05, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x12, 0x34, 0x12, 10, 1, 2, 3})
	f.Add([]byte{0x40, 192, 0, 2, 1, 0x62, 10, 0, 0, 2, 0x16, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 80})
	f.Add([]byte{0x22, 10, 9, 9, 9, 0x12, 10, 8, 8, 8})
	x := MustParseProxies("10.0.0.0/8", "fd00::/8")
	type hop struct {
		addr    netip.Addr // as written
		port    uint16
		trusted bool
		https   bool
		newLine bool // the header's next line starts after this hop
		quote   bool // quote a Forwarded value that could be a token
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var hops []hop
		for len(data) > 0 && len(hops) < 8 {
			fl := data[0]
			data = data[1:]
			h := hop{trusted: fl&2 != 0, https: fl&8 != 0, newLine: fl&16 != 0, quote: fl&32 != 0}
			n := 4
			if fl&1 != 0 {
				n = 16
			}
			if len(data) < n {
				break
			}
			b := slices.Clone(data[:n])
			data = data[n:]
			switch {
			case n == 4 && h.trusted:
				b[0] = 10
			case n == 4 && b[0] == 10:
				b[0] = 11
			case n == 16 && h.trusted:
				b[0] = 0xfd
			case n == 16 && (b[0] == 0xfd || b[0] == 0 || b[0] == 0xfe):
				b[0] = 0x20 // neither trusted nor a mapped or link-local address
			}
			h.addr, _ = netip.AddrFromSlice(b)
			if n == 4 && fl&64 != 0 {
				h.addr = netip.AddrFrom16(h.addr.As16()) // ::ffff:a.b.c.d
			}
			if fl&4 != 0 {
				if len(data) < 2 {
					break
				}
				h.port = uint16(data[0])<<8 | uint16(data[1])
				data = data[2:]
			}
			hops = append(hops, h)
		}
		if len(hops) == 0 {
			return
		}
		// The model.
		ci := 0
		for i := len(hops) - 1; i >= 0; i-- {
			if !hops[i].trusted {
				ci = i
				break
			}
		}
		want := netip.AddrPortFrom(hops[ci].addr.Unmap(), hops[ci].port)
		wantProto := map[bool]string{false: "http", true: "https"}[hops[ci].https]
		wantHost := "h" + strconv.Itoa(ci) + ".example"

		// The headers, as proxies write them.
		var xff, fwd []string
		var xl, fl []string
		for i, h := range hops {
			a := h.addr.String()
			x, fv := a, a
			if h.addr.Is6() {
				fv = "[" + a + "]"
			}
			if h.port != 0 {
				x = netip.AddrPortFrom(h.addr, h.port).String()
				fv = x
			}
			if h.addr.Is6() || h.port != 0 || h.quote {
				fv = `"` + fv + `"`
			}
			xl = append(xl, x)
			fl = append(fl, "for="+fv+";proto="+map[bool]string{false: "http", true: "https"}[h.https]+";host=h"+strconv.Itoa(i)+".example")
			if h.newLine || i == len(hops)-1 {
				xff, fwd = append(xff, strings.Join(xl, ", ")), append(fwd, strings.Join(fl, ", "))
				xl, fl = nil, nil
			}
		}
		got := resolveForwarding(http.Header{"X-Forwarded-For": xff, "X-Forwarded-Proto": {"http, " + wantProto}}, x.TrustHost())
		if got.client != want || got.proto != wantProto {
			t.Fatalf("X-Forwarded-For %q: client %v proto %q, want %v %q", xff, got.client, got.proto, want, wantProto)
		}
		got = resolveForwarding(http.Header{"Forwarded": fwd}, x.UseForwarded().TrustHost())
		if got != (forwarding{client: want, proto: wantProto, host: wantHost}) {
			t.Fatalf("Forwarded %q: %+v, want %v %q %q", fwd, got, want, wantProto, wantHost)
		}
	})
}
