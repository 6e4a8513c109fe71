// Package slowclient gives tests a client that reads slowly, and a server
// whose writes soon wait for it: sockets with 4 KiB buffers, so that a
// response the client does not read blocks the server's write (or its
// sendfile(2)) instead of vanishing into the loopback's buffers, which
// take megabytes.
package slowclient

import (
	"net"
	"syscall"
	"testing"
)

// Buffer is the size of the small socket buffers, in bytes.
const Buffer = 4096

// Listener gives the TCP connections ln accepts a send buffer of Buffer
// bytes.
type Listener struct{ net.Listener }

// Accept accepts a connection and shrinks its send buffer.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(Buffer)
	}
	return c, err
}

// Dial connects to the TCP address addr with a receive buffer of Buffer
// bytes (a client that reads only when the test says), and closes the
// connection when t ends.
func Dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, Buffer)
		})
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
