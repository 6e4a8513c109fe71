package wsgi_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/graft-dev/graft/wsgi"
)

// ExampleGuardServer serves a GuardTLS listener on an http.Server of your
// own, set up by GuardServer: a client that negotiates HTTP/2 and sends no
// request headers is closed after the server's ReadHeaderTimeout (without
// GuardServer, net/http's HTTP/2 server would hold it until IdleTimeout),
// while HTTP/2 clients are served as usual.
func ExampleGuardServer() {
	// httptest's certificate, for 127.0.0.1: use your own.
	ts := httptest.NewTLSServer(nil)
	cert, roots := ts.TLS.Certificates[0], x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	ts.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, r.Proto, r.TLS != nil)
		}),
		ReadHeaderTimeout: 200 * time.Millisecond,
	}
	wsgi.GuardServer(srv) // GuardConnState, and the header timeout for HTTP/2
	go srv.Serve(wsgi.GuardTLS(ln, &tls.Config{Certificates: []tls.Certificate{cert}}, wsgi.RequestLimits{}))
	defer srv.Close()

	// A client that negotiates h2 and sends nothing more.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		panic(err)
	}
	start := time.Now()
	io.Copy(io.Discard, conn) // until the server closes it
	fmt.Println(conn.ConnectionState().NegotiatedProtocol, "closed after ReadHeaderTimeout:",
		time.Since(start) >= srv.ReadHeaderTimeout && time.Since(start) < 5*time.Second)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))
	// Output:
	// h2 closed after ReadHeaderTimeout: true
	// HTTP/2.0 true
}
