package middleware

import (
	"net/http"
	"testing"
)

func TestResolveForwarding(t *testing.T) {
	x := MustParseProxies("10.0.0.0/8", "192.168.1.1", "fd00::/8") // X-Forwarded-For and -Proto
	xh := x.TrustHost()                                            // and X-Forwarded-Host
	f := x.UseForwarded()                                          // Forwarded, without host=
	fh := f.TrustHost()                                            // Forwarded with host=
	tests := []struct {
		name    string
		p       *Proxies
		headers map[string][]string
		client  string // "" = none
		proto   string
		host    string
	}{
		{"none", x, nil, "", "", ""},
		{"none, forwarded mode", fh, nil, "", "", ""},
		{"xff single", x, map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7:0", "", ""},
		{"xff skips trusted hops", x, map[string][]string{"X-Forwarded-For": {"203.0.113.7, 10.0.0.2, 192.168.1.1"}}, "203.0.113.7:0", "", ""},
		{"xff spoofed left part ignored", x, map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.7, 10.0.0.2"}}, "203.0.113.7:0", "", ""},
		{"xff several lines", x, map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.7", "10.0.0.2"}}, "203.0.113.7:0", "", ""},
		{"xff all trusted: leftmost", x, map[string][]string{"X-Forwarded-For": {"10.1.1.1, 10.0.0.2"}}, "10.1.1.1:0", "", ""},
		{"xff garbage stops the walk", x, map[string][]string{"X-Forwarded-For": {"evil, 10.0.0.3"}}, "10.0.0.3:0", "", ""},
		{"xff garbage only", x, map[string][]string{"X-Forwarded-For": {"not-an-ip"}}, "", "", ""},
		{"xff with port", x, map[string][]string{"X-Forwarded-For": {"203.0.113.7:4711"}}, "203.0.113.7:4711", "", ""},
		{"xff ipv6", x, map[string][]string{"X-Forwarded-For": {"2001:db8::1, fd00::1"}}, "[2001:db8::1]:0", "", ""},
		{"xff mapped ipv4", x, map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.7"}}, "203.0.113.7:0", "", ""},
		{"xff zone stops the walk", x, map[string][]string{"X-Forwarded-For": {"fe80::1%eth0, 10.0.0.3"}}, "10.0.0.3:0", "", ""},
		{"xff zone with port stops the walk", x, map[string][]string{"X-Forwarded-For": {"[fe80::1%eth0]:80, 10.0.0.3"}}, "10.0.0.3:0", "", ""},
		{"xfp and xfh", xh, map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"HTTPS"}, "X-Forwarded-Host": {"www.example.com:8443"},
		}, "203.0.113.7:0", "https", "www.example.com:8443"},
		{"xfh not read by default", x, map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
		}, "203.0.113.7:0", "https", ""},
		{"xfp rightmost wins", x, map[string][]string{"X-Forwarded-Proto": {"http, https"}}, "", "https", ""},
		{"xfp invalid", x, map[string][]string{"X-Forwarded-Proto": {"javascript"}}, "", "", ""},
		// gunicorn's secure_scheme_headers, and what graft does when they
		// disagree ("!": the request is refused).
		{"x-forwarded-ssl on", x, map[string][]string{"X-Forwarded-Ssl": {"on"}}, "", "https", ""},
		{"x-forwarded-ssl ON", x, map[string][]string{"X-Forwarded-Ssl": {"ON"}}, "", "https", ""},
		{"x-forwarded-ssl off", x, map[string][]string{"X-Forwarded-Ssl": {"off"}}, "", "http", ""},
		{"x-forwarded-ssl rightmost wins", x, map[string][]string{"X-Forwarded-Ssl": {"off", "off, on"}}, "", "https", ""},
		{"x-forwarded-ssl invalid", x, map[string][]string{"X-Forwarded-Ssl": {"yes"}}, "", "", ""},
		{"x-forwarded-protocol ssl", x, map[string][]string{"X-Forwarded-Protocol": {"ssl"}}, "", "https", ""},
		{"x-forwarded-protocol https", x, map[string][]string{"X-Forwarded-Protocol": {"HTTPS"}}, "", "https", ""},
		{"x-forwarded-protocol http", x, map[string][]string{"X-Forwarded-Protocol": {"http"}}, "", "http", ""},
		{"x-forwarded-protocol invalid", x, map[string][]string{"X-Forwarded-Protocol": {"tls"}}, "", "", ""},
		{"scheme headers agree", x, map[string][]string{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Ssl": {"on"}, "X-Forwarded-Protocol": {"ssl"},
		}, "", "https", ""},
		{"scheme headers agree on http", x, map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Ssl": {"off"}}, "", "http", ""},
		{"invalid value does not contradict", x, map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Ssl": {"yes"}}, "", "http", ""},
		{"proto http, ssl on", x, map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Ssl": {"on"}}, "", "!", ""},
		{"proto https, ssl off", x, map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Ssl": {"off"}}, "", "!", ""},
		{"proto https, protocol http", x, map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Protocol": {"http"}}, "", "!", ""},
		{"ssl on, protocol http", x, map[string][]string{"X-Forwarded-Ssl": {"on"}, "X-Forwarded-Protocol": {"http"}}, "", "!", ""},
		{"x-forwarded-ssl not read in forwarded mode", f, map[string][]string{
			"Forwarded": {`for=203.0.113.7;proto=http`}, "X-Forwarded-Ssl": {"on"}, "X-Forwarded-Protocol": {"ssl"},
		}, "203.0.113.7:0", "http", ""},
		{"xfh invalid", xh, map[string][]string{"X-Forwarded-Host": {"evil.com/path"}}, "", "", ""},
		{"xfh injection", xh, map[string][]string{"X-Forwarded-Host": {"a.com\r\nX: y"}}, "", "", ""},
		// A client's Forwarded, passed on by a proxy that writes
		// X-Forwarded-For, chooses nothing.
		{"forwarded not read by default", xh, map[string][]string{
			"Forwarded": {`for=198.51.100.66;host=evil.example;proto=https`}, "X-Forwarded-For": {"203.0.113.9"},
		}, "203.0.113.9:0", "", ""},
		{"forwarded only, not read by default", xh, map[string][]string{
			"Forwarded": {`for=198.51.100.66;host=evil.example;proto=https`},
		}, "", "", ""},
		{"forwarded", fh, map[string][]string{"Forwarded": {`for=203.0.113.7;proto=https;host=example.com`}}, "203.0.113.7:0", "https", "example.com"},
		{"forwarded host not read by default", f, map[string][]string{"Forwarded": {`for=203.0.113.7;proto=https;host=example.com`}}, "203.0.113.7:0", "https", ""},
		// In Forwarded mode, a client's X-Forwarded-* chooses nothing.
		{"xff not read in forwarded mode", fh, map[string][]string{
			"Forwarded": {`for=203.0.113.7`}, "X-Forwarded-For": {"198.51.100.1"},
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
		}, "203.0.113.7:0", "", ""},
		{"xff only, not read in forwarded mode", fh, map[string][]string{
			"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
		}, "", "", ""},
		{"forwarded quoted ipv6 with port", f, map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "[2001:db8:cafe::17]:4711", "", ""},
		{"forwarded zone stops", f, map[string][]string{"Forwarded": {`for="[fd00::1%eth0]", for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded zone with port stops", f, map[string][]string{"Forwarded": {`for="[fd00::1%eth0]:80", for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded zone of any text with port", f, map[string][]string{"Forwarded": {`for="[2001:db8::1%x y\"z]:80"`}}, "", "", ""},
		{"forwarded chain", f, map[string][]string{"Forwarded": {`for=1.1.1.1, for=203.0.113.7;proto=https, for=10.0.0.2;proto=http`}}, "203.0.113.7:0", "https", ""},
		{"forwarded proto from nearer hop", fh, map[string][]string{"Forwarded": {`for=203.0.113.7, for=10.0.0.2;proto=https;host=h.example`}}, "203.0.113.7:0", "https", "h.example"},
		{"forwarded case-insensitive names", f, map[string][]string{"Forwarded": {`For=203.0.113.7;PROTO=https`}}, "203.0.113.7:0", "https", ""},
		{"forwarded several lines", f, map[string][]string{"Forwarded": {`for=1.1.1.1`, `for=203.0.113.7`}}, "203.0.113.7:0", "", ""},
		{"forwarded unknown stops", f, map[string][]string{"Forwarded": {`for=1.1.1.1, for=unknown, for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded obfuscated stops", f, map[string][]string{"Forwarded": {`for=_hidden, for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded syntax error stops", f, map[string][]string{"Forwarded": {`for=1.1.1.1;;=x, for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded unclosed quote", f, map[string][]string{"Forwarded": {`for="1.1.1.1`}}, "", "", ""},
		{"forwarded escaped quote", f, map[string][]string{"Forwarded": {`for="1.1.1.1\"x", for=10.0.0.2`}}, "10.0.0.2:0", "", ""},
		{"forwarded comma in quotes", fh, map[string][]string{"Forwarded": {`for=203.0.113.7;host="a,b"`}}, "203.0.113.7:0", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := resolveForwarding(http.Header(tc.headers), tc.p)
			client := ""
			if f.client.IsValid() {
				client = f.client.String()
			}
			proto := f.proto
			if f.contradicts {
				proto += "!"
			}
			if client != tc.client || proto != tc.proto || f.host != tc.host {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", client, proto, f.host, tc.client, tc.proto, tc.host)
			}
		})
	}
}

func TestParseProxies(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8", " 127.0.0.1 ", "::1", "::ffff:172.16.0.0/108")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "11.0.0.1": false, "127.0.0.1": true, "::ffff:127.0.0.1": true,
		"::1": true, "::2": false, "172.16.5.5": true, "172.32.0.1": false,
	} {
		if got := p.Contains(remoteAddr(addr)); got != want {
			t.Errorf("Contains(%s): got %v, want %v", addr, got, want)
		}
	}
	all := MustParseProxies("*")
	for _, addr := range []string{"192.0.2.1", "::ffff:10.0.0.1", "2001:db8::1", "fe80::1"} {
		if !all.Contains(remoteAddr(addr)) {
			t.Errorf("* does not contain %s", addr)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "::ffff:1.2.3.4/64", "**", "*/8"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q): no error", bad)
		}
	}
	var none *Proxies
	if none.Contains(remoteAddr("127.0.0.1")) {
		t.Errorf("nil Proxies trusts")
	}
}
