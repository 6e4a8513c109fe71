package wsgi

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// proxyV2 builds a version 2 header: command (0 LOCAL, 1 PROXY), family
// and protocol byte, and the address block (TLVs after it, if any).
func proxyV2(cmd, fam byte, block []byte) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(block)))
	return append(b, block...)
}

// inet4 is the address block of TCP over IPv4 from src:sport to
// 10.0.0.1:443, then extra (TLVs).
func inet4(src string, sport uint16, extra ...byte) []byte {
	a := netip.MustParseAddr(src).As4()
	b := append(a[:], 10, 0, 0, 1, byte(sport>>8), byte(sport), 1, 187)
	return append(b, extra...)
}

// inet6 is the address block of TCP over IPv6 from src:sport to
// [2001:db8::1]:443.
func inet6(src string, sport uint16) []byte {
	a := netip.MustParseAddr(src).As16()
	d := netip.MustParseAddr("2001:db8::1").As16()
	return append(append(a[:], d[:]...), byte(sport>>8), byte(sport), 1, 187)
}

func TestParseProxyHeader(t *testing.T) {
	tlv := []byte{0xea, 0, 5, 1, 'v', 'p', 'c', 'e'} // AWS's VPC endpoint TLV
	for _, tc := range []struct {
		name string
		in   []byte
		want string // the client; "" for the socket's peer
		err  string // substring; "" for none
	}{
		{"v1 tcp4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n"), "203.0.113.7:56324", ""},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n"), "[2001:db8::7]:56324", ""},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), "", ""},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), "", ""},
		{"v1 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", ""},
		{"v2 tcp4", proxyV2(1, 0x11, inet4("203.0.113.7", 56324)), "203.0.113.7:56324", ""},
		{"v2 tcp4 with TLVs", proxyV2(1, 0x11, inet4("203.0.113.7", 56324, tlv...)), "203.0.113.7:56324", ""},
		{"v2 tcp6", proxyV2(1, 0x21, inet6("2001:db8::7", 56324)), "[2001:db8::7]:56324", ""},
		{"v2 local", proxyV2(0, 0x00, nil), "", ""},
		{"v2 local with addresses", proxyV2(0, 0x11, inet4("203.0.113.7", 1)), "", ""},
		{"v2 unspecified", proxyV2(1, 0x00, nil), "", ""},
		{"v2 unix", proxyV2(1, 0x31, make([]byte, 216)), "", ""},

		{"plain HTTP", []byte("GET / HTTP/1.1\r\n"), "", "does not begin with a PROXY header"},
		{"TLS", []byte{0x16, 3, 1, 0, 0xa5}, "", "does not begin with a PROXY header"},
		{"lower case", []byte("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "", "does not begin"},
		{"v1 LF only", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "", "not CRLF"},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), "", "within 107 bytes"},
		{"v1 endless", []byte("PROXY UNKNOWN " + strings.Repeat("x", 200)), "", "within 107 bytes"},
		{"v1 two spaces", []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), "", "want PROXY"},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n"), "", "not of TCP4"},
		{"v1 tcp6 with v4", []byte("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), "", "not of TCP6"},
		{"v1 bad protocol", []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), "", "protocol"},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), "", "port"},
		{"v1 port too big", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), "", "port"},
		{"v1 port signed", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), "", "port"},
		{"v1 bad address", []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), "", "ParseAddr"},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), "", "not of TCP6"},
		{"v2 version 1", append(append([]byte(nil), proxyV2Sig...), 0x11, 0x11, 0, 0), "", "of version 1"},
		{"v2 command 2", append(append([]byte(nil), proxyV2Sig...), 0x22, 0x11, 0, 0), "", "command 2"},
		{"v2 udp", proxyV2(1, 0x12, inet4("203.0.113.7", 1)), "", "want TCP"},
		{"v2 short address block", proxyV2(1, 0x11, make([]byte, 8)), "", "address bytes"},
		{"v2 short v6 block", proxyV2(1, 0x21, make([]byte, 12)), "", "address bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(append([]byte(nil), tc.in...), "GET / HTTP/1.1\r\n"...)
			addr, n, err := parseProxyHeader(in)
			if tc.err != "" {
				if err == nil || errors.Is(err, errProxyShort) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.in) {
				t.Errorf("header length %d, want %d", n, len(tc.in))
			}
			got := ""
			if addr != nil {
				got = addr.String()
			}
			if got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
			// Every prefix of a good header is short, never an error.
			for i := range len(tc.in) {
				if _, _, err := parseProxyHeader(tc.in[:i]); !errors.Is(err, errProxyShort) {
					t.Fatalf("first %d bytes: %v, want errProxyShort", i, err)
				}
			}
		})
	}
}

func FuzzProxyHeader(f *testing.F) {
	for _, s := range [][]byte{
		[]byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET"),
		[]byte("PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		proxyV2(1, 0x11, inet4("203.0.113.7", 56324)),
		proxyV2(1, 0x21, inet6("2001:db8::7", 1)),
		proxyV2(0, 0x00, nil),
		[]byte("GET / HTTP/1.1\r\n"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, n, err := parseProxyHeader(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("header length %d of %d bytes", n, len(b))
		}
		// The header alone parses the same: nothing past it was looked at.
		addr2, n2, err := parseProxyHeader(b[:n])
		if err != nil || n2 != n || (addr == nil) != (addr2 == nil) || addr != nil && addr.String() != addr2.String() {
			t.Fatalf("the header alone: %v %d %v, with the rest: %v %d", addr2, n2, err, addr, n)
		}
	})
}

// clientApp answers what the app sees of the client.
const clientApp = `def app(environ, start_response):
    body = ("%s %s" % (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// TestProxyProtocol serves a real worker behind ListenConfig.ProxyProtocol:
// the app sees the client the header names, for every request of the
// connection, over TLS too; a load balancer's own connection (v2 LOCAL)
// is its own; a connection without a header from a load balancer is
// closed and logged; one from elsewhere is plain HTTP, and a header it
// sends is refused by the guard.
func TestProxyProtocol(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clientapp.py"), []byte(clientApp), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	c, err := New(Config{App: "clientapp:app", Dir: dir, Python: pythontest.Python(t), Workers: 1, Logger: slogNew(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Shutdown(context.Background())
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	serve := func(cfg ListenConfig) string {
		cfg.Binds = []string{"127.0.0.1:0"}
		ls, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, ls, c, nil, ServeConfig{NoSignals: true, Logger: slogNew(logs)}) }()
		t.Cleanup(func() { cancel(); <-done })
		return ls.Main[0].Addr().String()
	}
	lb := serve(ListenConfig{ProxyProtocol: []string{"10.0.0.0/8", "127.0.0.1"}})
	lbTLS := serve(ListenConfig{ProxyProtocol: []string{"127.0.0.1"}, CertFile: certFile, KeyFile: keyFile})
	other := serve(ListenConfig{ProxyProtocol: []string{"10.0.0.0/8"}})

	// exchange sends header, then two requests on one connection (over TLS
	// with tlsConf), and returns the bodies, or the error that ended it.
	exchange := func(addr string, header []byte, tlsConf *tls.Config) ([]string, error) {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(header); err != nil {
			return nil, err
		}
		var rw net.Conn = conn
		if tlsConf != nil {
			tc := tls.Client(conn, tlsConf)
			if err := tc.Handshake(); err != nil {
				return nil, err
			}
			rw = tc
		}
		br := bufio.NewReader(rw)
		var bodies []string
		for range 2 {
			if _, err := io.WriteString(rw, "GET / HTTP/1.1\r\nHost: app.example\r\n\r\n"); err != nil {
				return bodies, err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return bodies, err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies = append(bodies, fmt.Sprintf("%d %s", resp.StatusCode, b))
		}
		return bodies, nil
	}
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	// Load balancer connections that have sent nothing yet hold up no
	// other connection: the header is read in the connection's goroutine.
	for _, addr := range []string{lb, lbTLS} {
		silent, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
	}
	for _, tc := range []struct {
		name   string
		addr   string
		header []byte
		tls    *tls.Config
		want   string // each request's "status body"; "" for a closed connection
	}{
		{"v1", lb, []byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n"), nil, "200 203.0.113.7 http"},
		{"v2", lb, proxyV2(1, 0x21, inet6("2001:db8::7", 56324)), nil, "200 2001:db8::7 http"},
		{"v2 over TLS", lbTLS, proxyV2(1, 0x11, inet4("198.51.100.9", 4000)), tlsConf, "200 198.51.100.9 https"},
		{"v2 local", lb, proxyV2(0, 0, nil), nil, "200 127.0.0.1 http"},
		{"no header from the load balancer", lb, nil, nil, ""},
		{"malformed header", lb, []byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n"), nil, ""},
		{"not a load balancer", other, nil, nil, "200 127.0.0.1 http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bodies, err := exchange(tc.addr, tc.header, tc.tls)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("served %q, want the connection closed", bodies)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (after %q)", err, bodies)
			}
			for i, b := range bodies {
				if b != tc.want {
					t.Errorf("request %d: %q, want %q", i+1, b, tc.want)
				}
			}
		})
	}
	waitFor(t, 5*time.Second, "the refusals logged", func() bool {
		return strings.Count(logs.String(), "no valid PROXY protocol header") == 2
	})
	if !strings.Contains(logs.String(), "client.ip=127.0.0.1 ") {
		t.Errorf("the refusals do not name the load balancer's address (without port):\n%s", logs)
	}
	if !strings.Contains(logs.String(), "wsgi: PROXY protocol: version 1 header") {
		t.Errorf("the malformed header's reason is not logged:\n%s", logs)
	}

	// A header from a client that is not a load balancer is not HTTP.
	conn, err := net.Dial("tcp", other)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("a client's own PROXY line: %v %v, want 400", resp, err)
	}
}

// TestProxyProtocolDeadlines: the header's read keeps a deadline set
// before it (the sooner one wins), and the connection's user gets its own
// deadline back afterwards.
func TestProxyProtocolDeadlines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pl := ProxyProtocol(ln, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil)
	// connect returns both ends of a new connection through pl.
	connect := func() (client, server net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		server, err = pl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { server.Close() })
		return client, server
	}
	_, sc := connect()
	if _, ok := sc.(io.ReaderFrom); !ok {
		t.Errorf("the connection of a TCP socket lost its ReadFrom (sendfile)")
	}
	// No header within the deadline set before the first Read.
	sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := sc.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "no header in time") {
		t.Fatalf("Read: %v, want no header in time", err)
	}

	client2, sc2 := connect()
	io.WriteString(client2, "PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\nab")
	if got := sc2.RemoteAddr().String(); got != "203.0.113.7:56324" {
		t.Errorf("RemoteAddr %s", got)
	}
	buf := make([]byte, 10)
	if n, err := sc2.Read(buf); err != nil || string(buf[:n]) != "ab" {
		t.Fatalf("Read after the header: %q %v", buf[:n], err)
	}
	// No deadline was set before: none is left after the header.
	go func() { time.Sleep(100 * time.Millisecond); io.WriteString(client2, "c") }()
	if n, err := sc2.Read(buf); err != nil || string(buf[:n]) != "c" {
		t.Fatalf("Read: %q %v", buf[:n], err)
	}
}
