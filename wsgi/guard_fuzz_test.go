package wsgi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"testing"
	"time"
)

// memConn is a net.Conn reading from a fixed input and discarding writes.
type memConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)        { return c.w.Write(p) }
func (c *memConn) Close() error                       { return nil }
func (c *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzGuard feeds arbitrary bytes through the guard's head checks and its
// connection reader. Properties: a head the guard accepts is framed the
// same way by net/http (chunked, or the same Content-Length) whenever
// net/http accepts it too; and no request net/http reads from what the
// guard passes has a fragment or a control byte in its target.
func FuzzGuard(f *testing.F) {
	for _, tc := range slices.Concat(smugglingCases, targetCases) {
		f.Add([]byte(tc.raw))
	}
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /y#f HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\nabcdefg"))
	lim := RequestLimits{}.withDefaults()
	f.Fuzz(func(t *testing.T, in []byte) {
		// The first head, checked alone and compared with net/http.
		var s headScanner
		if end, rej := s.scan(in, lim, false); rej == nil && end > 0 {
			h, rej := checkRequestHead(in[:end], lim)
			if rej == nil && !h.preface {
				head := slices.Concat(in[:h.cutFrom], in[h.cutTo:end])
				if h.cutFrom == h.cutTo {
					head = in[:end]
				}
				req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
				if err == nil {
					if h.chunked != slices.Equal(req.TransferEncoding, []string{"chunked"}) {
						t.Fatalf("guard chunked=%v, net/http TransferEncoding %q", h.chunked, req.TransferEncoding)
					}
					if !h.chunked && req.ContentLength != h.length {
						t.Fatalf("guard length %d, net/http %d", h.length, req.ContentLength)
					}
					if strings.ContainsAny(req.RequestURI, "#") {
						t.Fatalf("fragment left in %q", req.RequestURI)
					}
				}
			}
		}
		// The whole input through a guarded connection.
		g := newGuardConn(&memConn{r: bytes.NewReader(in)}, lim, nil, 0)
		out, _ := io.ReadAll(io.LimitReader(g, int64(len(in))+1))
		if len(out) > len(in) {
			t.Fatalf("guard gave %d bytes for %d", len(out), len(in))
		}
		br := bufio.NewReader(bytes.NewReader(out))
		for i := 0; i < 100; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				break
			}
			if strings.ContainsAny(req.RequestURI, "#\x00\r\n\x7f") {
				t.Fatalf("request target %q passed", req.RequestURI)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				break
			}
			if g.st == stPass {
				break
			}
		}
		g.Close()
	})
}

// FuzzChunkLine compares the chunk-size parser with net/http's chunked
// reader, which reads what the guard passes: a line the guard accepts,
// net/http reads with the same size (the guard never passes a line
// net/http then fails on mid-body); and a line net/http accepts, the
// guard accepts too unless its size reaches 2^60 or its extensions carry a
// control byte.
func FuzzChunkLine(f *testing.F) {
	for _, tc := range chunkLineCases {
		f.Add([]byte(tc.line))
	}
	f.Add([]byte("00000000000000000000000000000000000000000000000001\r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) > maxChunkLine || bytes.IndexByte(line, '\n') != len(line)-1 {
			return // the guard refuses a longer line before parsing it
		}
		size, ok := parseChunkLine(line)
		// net/http, with one data byte: 1 byte read means a size of 1 or
		// more accepted, io.EOF a size of 0.
		cr := httputil.NewChunkedReader(bytes.NewReader(append(slices.Clip(line), 'X')))
		var one [1]byte
		n, err := cr.Read(one[:])
		netOK := n == 1 || n == 0 && err == io.EOF
		if ok {
			if !netOK || (size == 0) != (n == 0) {
				t.Fatalf("guard size %d; net/http read %d, %v", size, n, err)
			}
			if size > 0 && size < 1<<12 {
				body := slices.Concat(line, bytes.Repeat([]byte("X"), int(size)), []byte("\r\n0\r\n\r\n"))
				got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
				if err != nil || int64(len(got)) != size {
					t.Fatalf("guard size %d; net/http read %d bytes, %v", size, len(got), err)
				}
			}
			return
		}
		if !netOK {
			return
		}
		i := 0
		for i < len(line) && isHexDigit(line[i]) {
			i++
		}
		digits := line[:i]
		control := slices.ContainsFunc(line[:len(line)-2], func(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f })
		if len(bytes.TrimLeft(digits, "0")) <= 15 && !control {
			t.Fatalf("guard refuses %q, which net/http reads", line)
		}
	})
}
