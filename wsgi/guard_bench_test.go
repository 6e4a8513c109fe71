package wsgi

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkGuardRead measures what the guard adds to reading a connection
// of pipelined requests (typical browser-like heads, a small POST body, a
// chunked upload), against reading the same bytes unguarded.
func BenchmarkGuardRead(b *testing.B) {
	req := "GET /static/app.js?v=3 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Cookie: session=abcdef0123456789; theme=dark\r\nConnection: keep-alive\r\n\r\n" +
		"POST /api/items HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n" +
		`{"name":"x","tags":["a","b"]}`[:27] +
		"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"400\r\n" + strings.Repeat("z", 1024) + "\r\n0\r\n\r\n"
	in := []byte(strings.Repeat(req, 64))
	buf := make([]byte, 4096)
	lim := RequestLimits{}.withDefaults()
	for _, guarded := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "guarded"}[guarded]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var r io.Reader = &memConn{r: bytes.NewReader(in)}
				if guarded {
					r = newGuardConn(r.(*memConn), lim, nil, 0)
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
			}
		})
	}
}
