package wsgi

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// TestAbortCloseDelimited: a response whose end is the end of the
// connection (HTTP/1.0 without a Content-Length: no chunked encoding)
// cannot tell its client that it was cut by closing the connection, which
// is also how a whole one ends. When the app fails after the headers were
// sent (apps:raise_after: "partial", then an exception), the connection is
// reset instead (TCP RST), so that the client (nginx's proxy_pass, whose
// default is HTTP/1.0; a cache) gets an error rather than a short 200 it
// takes for whole. Through httptest (a bare TCP connection) and through
// Serve, plain and with TLS (its connection wrappers; under TLS not even a
// close_notify is sent). HTTP/1.1's chunked response still ends without
// its last chunk, as before.
func TestAbortCloseDelimited(t *testing.T) {
	a := startApp(t, "raise_after", Config{}, nil)

	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	lsTLS, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	for _, l := range []*Listeners{ls, lsTLS} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		logs := &pythontest.Buffer{}
		go func() { done <- Serve(ctx, l, a.c, nil, ServeConfig{NoSignals: true, Logger: slogNew(logs)}) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}

	cases := []struct {
		name, addr string
		tls        bool
		proto      string
		wantReset  bool
	}{
		{"httptest HTTP/1.0", strings.TrimPrefix(a.srv.URL, "http://"), false, "HTTP/1.0", true},
		{"Serve HTTP/1.0", ls.Main[0].Addr().String(), false, "HTTP/1.0", true},
		{"Serve TLS HTTP/1.0", lsTLS.Main[0].Addr().String(), true, "HTTP/1.0", true},
		{"httptest HTTP/1.1", strings.TrimPrefix(a.srv.URL, "http://"), false, "HTTP/1.1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conn net.Conn
			var err error
			if tc.tls {
				conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tc.addr, clientTLS)
			} else {
				conn, err = net.DialTimeout("tcp", tc.addr, 5*time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(conn, "GET /raise_after "+tc.proto+"\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "partial") {
				t.Fatalf("got %d %q, want 200 and the partial body", resp.StatusCode, body)
			}
			switch {
			case !tc.wantReset:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("chunked body cut: read error %v, want %v", err, io.ErrUnexpectedEOF)
				}
			case err == nil:
				t.Errorf("close-delimited body %q ended cleanly, as a whole response does: want a connection reset", body)
			case !errors.Is(err, syscall.ECONNRESET):
				t.Errorf("read error %v, want a connection reset", err)
			}
		})
	}
	logHas(t, a.logs, 5*time.Second, "raise-after-marker")
}
