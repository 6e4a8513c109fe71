package middleware

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzForwarded checks that the forwarding parsers never panic, only ever
// return a client that appears in the headers and has no IPv6 zone, only
// a clean proto and host, a host only with TrustHost, and nothing from the
// family of headers the Proxies do not read.
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
	x := MustParseProxies("10.0.0.0/8", "fd00::/8")
	modes := []*Proxies{x, x.TrustHost(), x.UseForwarded(), x.UseForwarded().TrustHost()}
	f.Fuzz(func(t *testing.T, fwd, xff string) {
		for _, p := range modes {
			for _, h := range []http.Header{
				{"Forwarded": {fwd}},
				{"X-Forwarded-For": {xff}, "X-Forwarded-Proto": {fwd}, "X-Forwarded-Host": {fwd}},
			} {
				r := resolveForwarding(h, p)
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
