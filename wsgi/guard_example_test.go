package wsgi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/graft-dev/graft/wsgi"
)

// ExampleGuard serves a handler on a guarded listener; a request carrying
// both Content-Length and Transfer-Encoding is refused before net/http
// sees it, and the request hidden behind it is never served.
func ExampleGuard() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("served", r.URL.Path)
	})}
	srv.ConnState = wsgi.GuardConnState(srv.ConnState) // hijacked connections (WebSockets) pass through
	go srv.Serve(wsgi.Guard(ln, wsgi.RequestLimits{})) // gunicorn's limits: 4094, 100, 8190
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Close)
	fmt.Print(string(body))
	// Output:
	// 400 Bad Request true
	// 400 Bad Request: both Content-Length and Transfer-Encoding
}
