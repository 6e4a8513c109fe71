package wsgi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/graft-dev/graft/internal/netlist"
	"github.com/graft-dev/graft/internal/reqctx"
)

// ProxyHeaderTimeout bounds the time a load balancer takes to send the
// PROXY protocol header of a connection (see [ProxyProtocol]).
const ProxyHeaderTimeout = 10 * time.Second

// ProxyProtocol returns a listener for connections that arrive through
// load balancers speaking HAProxy's PROXY protocol (version 1, text, or 2,
// binary), as AWS's Network Load Balancer, Google Cloud's TCP/SSL proxy
// and HAProxy (send-proxy) do when they pass TCP through: each connection
// from an address in from must begin with the header, and its RemoteAddr
// is then the client's address the header gives, for net/http, the access
// log and the app's REMOTE_ADDR. A header that says the connection is the
// load balancer's own (v2 LOCAL, as in health checks; v1 UNKNOWN; a v2
// address family other than IPv4 or IPv6) leaves RemoteAddr the socket's
// peer. Connections from other addresses are passed through as they are:
// their bytes are plain HTTP (or TLS), so a client that sends a header of
// its own gets 400 from the guard. On a Unix socket every connection must
// send the header (only local processes can connect).
//
// The header is read by the connection's first Read or RemoteAddr, in the
// connection's own goroutine, within [ProxyHeaderTimeout] (or the read
// deadline set before, if sooner): a connection that sends none, or a
// malformed one, is closed and logged at WARN on log (nil: not logged),
// since it means the load balancer and graft disagree about the protocol.
// LocalAddr stays the socket's.
//
// [Serve] installs it on the application's listeners when
// [Listeners.ProxyFrom] is set ([ListenConfig.ProxyProtocol]), under the
// guard and TLS: the header comes before the TLS handshake. A server set
// up with [GuardServer] (Serve's is) tells
// [github.com/graft-dev/graft/middleware.TrustProxies] each request's
// balancer, whose forwarding headers it then trusts when the balancer is
// a trusted proxy (HAProxy in HTTP mode with send-proxy writes them);
// without GuardServer it judges by the header's client only.
func ProxyProtocol(ln net.Listener, from []netip.Prefix, log *slog.Logger) net.Listener {
	return &proxyListener{Listener: ln, from: from, log: log}
}

type proxyListener struct {
	net.Listener
	from netlist.List
	log  *slog.Logger
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	switch a := c.RemoteAddr().(type) {
	case *net.UnixAddr:
	case *net.TCPAddr:
		if !l.from.Contains(a.AddrPort().Addr()) {
			return c, nil
		}
	default:
		return c, nil
	}
	pc := &proxyConn{Conn: c, log: l.log}
	if _, ok := c.(io.ReaderFrom); ok {
		return readFromProxyConn{pc}, nil
	}
	return pc, nil
}

// proxyConn is a connection whose first bytes are a PROXY protocol header.
type proxyConn struct {
	net.Conn
	log  *slog.Logger
	once sync.Once
	// Set by the header's read, then only read.
	remote net.Addr // the client the header names; nil: the socket's peer
	err    error    // why the header was refused; every Read returns it
	// rest holds the bytes read past the header, for the first Reads (one
	// reader at a time, as for any net.Conn).
	rest []byte

	mu       sync.Mutex
	deadline time.Time // the read deadline its user set
}

// balancer returns the address of the load balancer that sent the header
// (the socket's peer) when the header named a client, nil otherwise: the
// value of reqctx.BalancerKey, which middleware.TrustProxies reads.
func (c *proxyConn) balancer() net.Addr {
	if c.header() != nil || c.remote == nil {
		return nil
	}
	return c.Conn.RemoteAddr()
}

// balancerContext returns ctx carrying reqctx.BalancerKey when c, or a
// connection it wraps (found through NetConn methods: TLS, the guard),
// came through a PROXY protocol listener; ctx itself otherwise.
// GuardServer's ConnContext calls it.
func balancerContext(ctx context.Context, c net.Conn) context.Context {
	for c != nil {
		switch pc := c.(type) {
		case *proxyConn:
			return context.WithValue(ctx, reqctx.BalancerKey, pc.balancer)
		case readFromProxyConn:
			return context.WithValue(ctx, reqctx.BalancerKey, pc.balancer)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return ctx
}

// NetConn returns the connection the header came on (see resetConn).
func (c *proxyConn) NetConn() net.Conn { return c.Conn }

// readFromProxyConn passes a response body to the socket's ReadFrom
// (sendfile(2), splice(2)), as net/http does for a bare *net.TCPConn.
type readFromProxyConn struct{ *proxyConn }

func (c readFromProxyConn) ReadFrom(r io.Reader) (int64, error) {
	return c.Conn.(io.ReaderFrom).ReadFrom(r)
}

// header reads the PROXY header once and returns why it was refused.
func (c *proxyConn) header() error {
	c.once.Do(c.readHeader)
	return c.err
}

func (c *proxyConn) readHeader() {
	c.mu.Lock()
	user := c.deadline
	c.mu.Unlock()
	d := time.Now().Add(ProxyHeaderTimeout)
	if !user.IsZero() && user.Before(d) {
		d = user
	}
	c.Conn.SetReadDeadline(d)
	remote, rest, err := readProxyHeader(c.Conn)
	c.mu.Lock()
	c.Conn.SetReadDeadline(c.deadline) // the user's, perhaps set meanwhile
	c.mu.Unlock()
	if err != nil {
		c.err = fmt.Errorf("%w: %w", errProxyHeader, err)
		if c.log != nil {
			c.log.Warn("wsgi: connection closed: no valid PROXY protocol header from a load balancer",
				slog.String(logClient, peerIP(c.Conn.RemoteAddr())), slog.String(logError, c.err.Error()))
		}
		c.Conn.Close()
		return
	}
	c.remote, c.rest = remote, rest
}

func (c *proxyConn) Read(p []byte) (int, error) {
	if err := c.header(); err != nil {
		return 0, err
	}
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// RemoteAddr returns the client's address the header gave, else the
// socket's peer.
func (c *proxyConn) RemoteAddr() net.Addr {
	if c.header() == nil && c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

func (c *proxyConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

func (c *proxyConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// CloseWrite shuts the socket's sending side, as net/http and the guard do
// before a close.
func (c *proxyConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// peerIP returns a's IP address without its port, as the access log's
// client.ip has it, or a's string when it has none.
func peerIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	return a.String()
}

// The PROXY protocol's framing (HAProxy's proxy-protocol.txt).
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	proxyV1Max   = 107 // the longest version 1 line, CRLF included
	proxyV2Fixed = 16  // signature, version and command, family, length
)

// errProxyShort means the bytes given end before the header does.
var errProxyShort = errors.New("short header")

// errProxyHeader begins the error of a connection whose PROXY protocol
// header was refused (logged when it was).
var errProxyHeader = errors.New("wsgi: PROXY protocol")

// readProxyHeader reads a PROXY header from r and returns the client's
// address it gives (nil for the load balancer's own connections) and the
// bytes read past it.
func readProxyHeader(r io.Reader) (net.Addr, []byte, error) {
	buf := make([]byte, 0, 256)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		addr, used, perr := parseProxyHeader(buf)
		if perr == nil {
			return addr, buf[used:], nil
		}
		if perr != errProxyShort {
			return nil, nil, perr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(buf) == 0 {
					return nil, nil, errors.New("connection closed before the header")
				}
				return nil, nil, errors.New("connection closed in the header")
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, nil, errors.New("no header in time")
			}
			return nil, nil, err
		}
	}
}

// parseProxyHeader parses the PROXY header at the start of b: the client's
// address (nil for the load balancer's own connections) and the header's
// length; errProxyShort if b ends before the header can be told complete.
func parseProxyHeader(b []byte) (net.Addr, int, error) {
	if n := min(len(b), len(proxyV2Sig)); bytes.Equal(b[:n], proxyV2Sig[:n]) {
		if n < len(proxyV2Sig) {
			return nil, 0, errProxyShort
		}
		return parseProxyV2(b)
	}
	const v1 = "PROXY "
	if n := min(len(b), len(v1)); string(b[:n]) != v1[:n] {
		return nil, 0, errors.New("the connection does not begin with a PROXY header")
	} else if n < len(v1) {
		return nil, 0, errProxyShort
	}
	return parseProxyV1(b)
}

// parseProxyV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN ...\r\n".
func parseProxyV1(b []byte) (net.Addr, int, error) {
	lf := bytes.IndexByte(b[:min(len(b), proxyV1Max)], '\n')
	if lf < 0 {
		if len(b) >= proxyV1Max {
			return nil, 0, errors.New("version 1 header: no CRLF within 107 bytes")
		}
		return nil, 0, errProxyShort
	}
	if b[lf-1] != '\r' {
		return nil, 0, errors.New("version 1 header: ends with LF, not CRLF")
	}
	end := lf - 1
	f := bytes.Split(b[:end], []byte(" "))
	if len(f) >= 2 && string(f[1]) == "UNKNOWN" {
		return nil, end + 2, nil
	}
	if len(f) != 6 {
		return nil, 0, fmt.Errorf("version 1 header %q: want PROXY TCP4|TCP6 SRC DST SPORT DPORT", b[:end])
	}
	src, err1 := netip.ParseAddr(string(f[2]))
	dst, err2 := netip.ParseAddr(string(f[3]))
	sport, err3 := parsePort(f[4])
	_, err4 := parsePort(f[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, 0, fmt.Errorf("version 1 header %q: %v", b[:end], err)
	}
	want4 := string(f[1]) == "TCP4"
	if !want4 && string(f[1]) != "TCP6" {
		return nil, 0, fmt.Errorf("version 1 header %q: protocol %q", b[:end], f[1])
	}
	if src.Is4() != want4 || dst.Is4() != want4 || src.Zone() != "" || dst.Zone() != "" {
		return nil, 0, fmt.Errorf("version 1 header %q: addresses not of %s", b[:end], f[1])
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, sport)), end + 2, nil
}

// parsePort parses a decimal port, 0 to 65535, without sign or leading
// zeros.
func parsePort(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' || b[0] < '0' || b[0] > '9' {
		return 0, fmt.Errorf("port %q", b)
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q", b)
	}
	return uint16(n), nil
}

// parseProxyV2 parses a version 2 header, its signature already checked.
func parseProxyV2(b []byte) (net.Addr, int, error) {
	if len(b) < proxyV2Fixed {
		return nil, 0, errProxyShort
	}
	verCmd, fam := b[12], b[13]
	size := proxyV2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return nil, 0, fmt.Errorf("version 2 header of version %d", verCmd>>4)
	}
	cmd := verCmd & 0xf
	if cmd > 1 {
		return nil, 0, fmt.Errorf("version 2 header with command %d", cmd)
	}
	if len(b) < size {
		return nil, 0, errProxyShort
	}
	if cmd == 0 { // LOCAL: the load balancer's own connection
		return nil, size, nil
	}
	var addrLen int
	switch fam {
	case 0x11: // TCP over IPv4
		addrLen = 12
	case 0x21: // TCP over IPv6
		addrLen = 36
	case 0x00, 0x31, 0x32: // unspecified, Unix stream and datagram
		return nil, size, nil
	default:
		return nil, 0, fmt.Errorf("version 2 header of family and protocol %#02x: want TCP", fam)
	}
	if size-proxyV2Fixed < addrLen {
		return nil, 0, fmt.Errorf("version 2 header of %d address bytes for family %#02x", size-proxyV2Fixed, fam)
	}
	a := b[proxyV2Fixed:]
	var src netip.Addr
	var port uint16
	if fam == 0x11 {
		src = netip.AddrFrom4([4]byte(a[0:4]))
		port = binary.BigEndian.Uint16(a[8:10])
	} else {
		src = netip.AddrFrom16([16]byte(a[0:16]))
		port = binary.BigEndian.Uint16(a[32:34])
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, port)), size, nil
}
