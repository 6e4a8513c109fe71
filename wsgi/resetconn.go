package wsgi

import (
	"net"
	"net/http"
)

// abortSent aborts a response whose headers are out, for a failure on
// graft's side of it (the app raised, its worker died, Config.Timeout or a
// deadline passed, a file could not be sent): with http.ErrAbortHandler,
// which cuts an HTTP/2 stream (RST_STREAM) and closes an HTTP/1
// connection, whose client then lacks the last chunk of a chunked body or
// part of a declared Content-Length, and knows the response was cut.
//
// A response to HTTP/1.0 without a Content-Length has neither: its body
// ends where the connection does, and a closed connection would tell the
// client (nginx's proxy_pass, HTTP/1.0 unless proxy_http_version says
// otherwise; a cache) that the part it got is the whole response. Its
// connection is reset instead (resetConn), which the client sees as an
// error.
func abortSent(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 && r.Method != http.MethodHead && w.Header().Get("Content-Length") == "" {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			resetConn(conn)
		}
	}
	panic(http.ErrAbortHandler)
}

// resetConn closes conn with a TCP reset (SO_LINGER 0) rather than an
// orderly close. The TCP connection is found by unwrapping conn through
// NetConn methods (*tls.Conn's, graft's listener wrappers'), and closed
// first, so that a TLS connection cannot send its close_notify alert, the
// orderly end of its data; conn's own Close then lets its wrappers do
// their accounting. A connection that is not TCP (a Unix socket) is
// closed as it is.
func resetConn(conn net.Conn) {
	for c := conn; c != nil; {
		if l, ok := c.(interface{ SetLinger(sec int) error }); ok {
			if l.SetLinger(0) == nil {
				c.Close()
			}
			break
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	conn.Close()
}
