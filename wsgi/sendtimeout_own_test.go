package wsgi

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/slowclient"
)

// TestSendTimeoutOwnServer: SendTimeout and SendTimeoutHandler give a
// server of one's own (not Serve) what Serve gives its listeners: a
// client that never reads holds nothing past the send timeout, over
// HTTP/1.1 (the socket's write is cut and the connection closed) and
// over h2c (a stream granted no window is reset). Without them, net/http
// waits for such a client for as long as it keeps the connection.
func TestSendTimeoutOwnServer(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"h2c", true}} {
		t.Run(tc.name, func(t *testing.T) {
			tcp, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			logs := &pythontest.Buffer{}
			log := slogNew(logs)
			ln := Guard(SendTimeout(slowclient.Listener{Listener: tcp}, timeout, log), RequestLimits{})
			srv := &http.Server{Handler: SendTimeoutHandler(sendNative(http.NotFoundHandler(), filepath.Join(t.TempDir(), "none")), timeout, log)}
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			c := slowclient.Dial(t, tcp.Addr().String())
			var rst <-chan int
			if tc.h2 {
				rst = h2Start(c)
				time.Sleep(200 * time.Millisecond) // the connection's goroutines are counted in base
			}
			base := quietGoroutines()
			if tc.h2 {
				h2Get(c, "/native")
			} else {
				fmt.Fprintf(c, "GET /native HTTP/1.1\r\nHost: x\r\n\r\n")
			}
			waitFor(t, 10*time.Second, "the request's goroutine", func() bool { return runtime.NumGoroutine() > base })
			if tc.h2 {
				select {
				case code := <-rst:
					if code != 2 {
						t.Errorf("stream 1 ended with %d; want a RST_STREAM with INTERNAL_ERROR (2)", code)
					}
				case <-time.After(15 * time.Second):
					t.Fatal("no RST_STREAM 15 s on (send timeout 500ms): the server still waits for the window")
				}
			}
			settle(t, base, tc.name)
			logHas(t, logs, 5*time.Second, "took none of the response for SendTimeout", "graft.send_timeout=500ms")
			if !tc.h2 {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := io.Copy(io.Discard, c)
				if ne, ok := err.(net.Error); ok && ne.Timeout() || n >= 10<<20 {
					t.Errorf("the client read %d bytes (%v): want the connection closed before the end", n, err)
				}
			}
		})
	}
}
