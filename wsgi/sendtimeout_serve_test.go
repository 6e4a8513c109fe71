package wsgi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/slowclient"
	"github.com/graft-dev/graft/internal/testcert"
)

// sendApp is the Python app of the SendTimeout tests under Serve: /whole
// is a 200 KiB body the worker sends whole, /file a 16 MiB file through
// wsgi.file_wrapper, /stream 8 MiB streamed in 64 KiB parts.
const sendApp = `import os
BIG = b"x" * (200 << 10)
FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "big.bin")
def app(environ, start_response):
    if environ["PATH_INFO"] == "/whole":
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BIG)))])
        return [BIG]
    if environ["PATH_INFO"] == "/file":
        f = open(FILE, "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(os.path.getsize(FILE)))])
        return environ["wsgi.file_wrapper"](f)
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"s" * (64 << 10) for _ in range(128))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
`

// sendServed is a Serve of sendApp and native routes, with SendTimeout.
type sendServed struct {
	addr string
	logs *pythontest.Buffer
	tls  *tls.Config // the client's, for a TLS listener
}

// sendNative are the native routes of the SendTimeout tests: /native
// writes 10 MiB in one Write, /small 3 KiB (which net/http holds until
// the handler returns), /mib 1 MiB in one Write, /mibfile the 1 MiB file
// (sendfile(2)), whose bytes are i%251.
func sendNative(next http.Handler, file string) http.Handler {
	big := bytes.Repeat([]byte("n"), 10<<20)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/native":
			w.Write(big)
		case "/small":
			w.Write(big[:3<<10])
		case "/mib":
			w.Header().Set("Content-Length", "1048576")
			w.Write(big[:1<<20])
		case "/mibfile":
			http.ServeFile(w, r, file)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// startSendServe runs Serve on loopback with SendTimeout 500ms: plain with
// H2C, or TLS (HTTP/2 by ALPN); with the app and native routes, or
// (withApp false) the native routes and a 404 only.
func startSendServe(t *testing.T, withTLS, withApp bool) *sendServed {
	t.Helper()
	lc := ListenConfig{Binds: []string{"127.0.0.1:0"}}
	var clientTLS *tls.Config
	if withTLS {
		certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
		lc.CertFile, lc.KeyFile = certFile, keyFile
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	}
	ls, err := Listen(lc)
	if err != nil {
		t.Fatal(err)
	}
	ls.Main[0] = slowclient.Listener{Listener: ls.Main[0]}
	logs := &pythontest.Buffer{}
	var app *Container
	file := filepath.Join(t.TempDir(), "mib.bin")
	if err := os.WriteFile(file, mibPattern(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := sendNative(http.NotFoundHandler(), file)
	if withApp {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sendapp.py"), []byte(sendApp), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("f"), 16<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		app, err = New(Config{App: "sendapp:app", Dir: dir, Python: pythontest.Python(t), Workers: 2,
			Timeout: time.Minute, SendTimeout: 500 * time.Millisecond, Logger: slogNew(logs)})
		if err != nil {
			ls.Close()
			t.Fatal(err)
		}
		h = sendNative(app, file)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := ServeConfig{NoSignals: true, GracefulTimeout: 5 * time.Second, H2C: !withTLS, Logger: slogNew(logs)}
	if !withApp {
		cfg.SendTimeout = 500 * time.Millisecond
	}
	go func() { done <- Serve(ctx, ls, h, app, cfg) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	waitFor(t, 30*time.Second, "the listening line", func() bool { return strings.Contains(logs.String(), "msg=listening") })
	s := &sendServed{addr: ls.Main[0].Addr().String(), logs: logs, tls: clientTLS}
	if withApp {
		// The workers are up (the first request waits for them).
		c := s.dial(t)
		fmt.Fprintf(c, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if b, err := io.ReadAll(c); err != nil || !strings.HasSuffix(string(b), "\r\n\r\nok") {
			t.Fatalf("GET /ok: %q, %v", b, err)
		}
		c.Close()
	}
	return s
}

// dial connects with a 4 KiB receive buffer (a client that reads only
// when the test says, and that the server's writes soon wait for), over
// TLS (offering protos) if the server speaks it.
func (s *sendServed) dial(t *testing.T, protos ...string) net.Conn {
	t.Helper()
	c := slowclient.Dial(t, s.addr)
	if s.tls == nil {
		return c
	}
	cfg := s.tls.Clone()
	cfg.NextProtos = protos
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// quietGoroutines returns the goroutine count once it has stayed the same
// for 100 ms (5 s at most): on a loaded machine a server just started may
// still be starting goroutines of its own, which a count taken at once
// would leave out of the base that settle waits for.
func quietGoroutines() int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// settle waits for the goroutine count to come back to at most base, and
// fails naming what still runs if it does not within 15 s (SendTimeout is
// 500ms).
func settle(t *testing.T, base int, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s: %d goroutines 15 s on, %d before the request: the server still holds the stalled client's response\n%s",
				what, runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeSendTimeout: under Serve, a client that sends a request and
// never reads holds nothing past SendTimeout, whatever serves its
// response: a body the worker sent whole (200 KiB), a wsgi.file_wrapper
// file (sendfile), a native handler's 10 MiB Write, over plain HTTP/1.1
// and over TLS; and a streamed bridged response, which the container
// watched itself before and which the socket's deadline now watches under
// Serve. The write that waits for the client is cut, the
// connection closes before the response's end, the goroutine count comes
// back to what it was, and the cut is logged. Before, only the writes of
// a streamed bridged response were watched: each of these requests held
// its goroutine, its connection and what was being written for as long
// as the client stayed (the test's 15 s).
func TestServeSendTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tls     bool
		withApp bool
		path    string
		size    int
	}{
		{"whole bridged response", false, true, "/whole", 200 << 10},
		{"wsgi.file_wrapper", false, true, "/file", 16 << 20},
		{"streamed bridged response", false, true, "/stream", 8 << 20},
		{"native handler", false, false, "/native", 10 << 20},
		{"native handler over TLS", true, false, "/native", 10 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSendServe(t, tc.tls, tc.withApp)
			base := quietGoroutines()
			c := s.dial(t, "http/1.1")
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.path)
			waitFor(t, 10*time.Second, "the request's goroutine", func() bool { return runtime.NumGoroutine() > base })
			settle(t, base, tc.name)
			logHas(t, s.logs, 5*time.Second, "took none of the response for SendTimeout", "graft.send_timeout=500ms")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() || n >= int64(tc.size) {
				t.Errorf("the client read %d bytes (%v): want the connection closed before the end (%d bytes of body)", n, err, tc.size)
			}
		})
	}
}

// mibPattern is the 1 MiB file of /mibfile: byte i is i%251, so that a
// gap or a repeat shows.
func mibPattern() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// TestServeSendTimeoutSlowReader: a client that reads slowly but steadily
// is never cut, however long the response takes: a native handler's
// single 1 MiB Write, or a 1 MiB file (sendfile(2)), to a client taking 8
// KiB every 20 ms lasts about 2.6 s, five times SendTimeout (500ms), and
// arrives whole and intact. The socket's deadline is renewed by each byte
// the client takes, not set once per write, and a sendfile cut after
// progress resumes where it stopped.
func TestServeSendTimeoutSlowReader(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []byte
	}{
		{"/mib", bytes.Repeat([]byte("n"), 1<<20)},
		{"/mibfile", mibPattern()},
	} {
		t.Run(tc.path, func(t *testing.T) { slowRead(t, tc.path, tc.want) })
	}
}

func slowRead(t *testing.T, path string, want []byte) {
	s := startSendServe(t, false, false)
	c := s.dial(t)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	var got []byte
	buf := make([]byte, 8<<10)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	head, body, ok := strings.Cut(string(got), "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.1 200") || body != string(want) {
		t.Fatalf("got %d bytes of body (head %q), intact: %v; want the whole 1 MiB", len(body), head, body == string(want[:min(len(body), len(want))]))
	}
	if strings.Contains(s.logs.String(), "SendTimeout") {
		t.Errorf("a client that kept reading was cut:\n%s", s.logs)
	}
}

// h2Frame is an HTTP/2 frame as the test client reads it.
type h2Frame struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

func writeH2Frame(w io.Writer, typ, flags byte, stream uint32, payload []byte) error {
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	_, err := w.Write(append(hdr, payload...))
	return err
}

func readH2Frame(r io.Reader) (h2Frame, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return h2Frame{}, err
	}
	f := h2Frame{typ: hdr[3], flags: hdr[4], stream: binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff,
		payload: make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))}
	_, err := io.ReadFull(r, f.payload)
	return f, err
}

// h2Start starts an HTTP/2 connection on c whose streams get no
// flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0, never a
// WINDOW_UPDATE), though it reads every frame and answers pings. It
// reports the error code of the RST_STREAM of stream 1, or -1 if the
// connection ends first.
func h2Start(c net.Conn) <-chan int {
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeH2Frame(c, 0x4, 0, 0, []byte{0, 4, 0, 0, 0, 0}) // INITIAL_WINDOW_SIZE 0
	out := make(chan int, 1)
	go func() {
		for {
			f, err := readH2Frame(c)
			if err != nil {
				out <- -1
				return
			}
			switch {
			case f.typ == 0x4 && f.flags&1 == 0:
				writeH2Frame(c, 0x4, 1, 0, nil)
			case f.typ == 0x6 && f.flags&1 == 0:
				writeH2Frame(c, 0x6, 1, 0, f.payload)
			case f.typ == 0x3 && f.stream == 1:
				out <- int(binary.BigEndian.Uint32(f.payload))
				return
			case f.typ == 0x7:
				out <- -1
				return
			}
		}
	}()
	return out
}

// h2Get asks for path on stream 1 of c.
func h2Get(c net.Conn, path string) {
	// HPACK: :method GET, :scheme http(s), :path, :authority x, literals
	// without indexing and without Huffman coding.
	scheme := byte(0x86)
	if _, ok := c.(*tls.Conn); ok {
		scheme = 0x87
	}
	block := []byte{0x82, scheme, 0x04, byte(len(path))}
	block = append(block, path...)
	block = append(block, 0x01, 1, 'x')
	writeH2Frame(c, 0x1, 0x5, 1, block) // END_STREAM | END_HEADERS
}

// TestServeSendTimeoutHTTP2: an HTTP/2 client that reads its connection
// and answers pings, but grants a stream no flow-control window, holds
// nothing past SendTimeout: the stream is reset (the connection serves
// on) and the response's goroutine returns, for a native handler's 10 MiB
// Write (which waits for the window), a native handler's 3 KiB (which
// net/http sends after the handler returns), a body the worker sent
// whole, a streamed bridged response and a wsgi.file_wrapper file, over
// h2c and TLS (the bridged ones over TLS read through the guard's HTTP/2
// hand-off, guardh2tls.go). Before, net/http waited for the window for as
// long as the client kept the connection: no socket deadline sees it (the
// socket is not stalled), and HTTP2Config has no limit on it.
func TestServeSendTimeoutHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tls     bool
		withApp bool
		path    string
		logged  bool // the reset after the handler returned is not
	}{
		{"native 10 MiB", false, false, "/native", true},
		{"native 3 KiB", false, false, "/small", false},
		{"native 10 MiB over TLS", true, false, "/native", true},
		{"whole bridged response", false, true, "/whole", true},
		{"whole bridged response over TLS", true, true, "/whole", true},
		{"streamed bridged response over TLS", true, true, "/stream", true},
		{"wsgi.file_wrapper over TLS", true, true, "/file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSendServe(t, tc.tls, tc.withApp)
			c := s.dial(t, "h2")
			rst := h2Start(c)
			// The connection is set up (its goroutines counted) before
			// the request.
			time.Sleep(200 * time.Millisecond)
			base := quietGoroutines()
			h2Get(c, tc.path)
			waitFor(t, 10*time.Second, "the request's goroutine", func() bool { return runtime.NumGoroutine() > base })
			select {
			case code := <-rst:
				if code != 2 { // INTERNAL_ERROR, as net/http resets a stream past its write deadline
					t.Errorf("stream 1 ended with %d; want a RST_STREAM with INTERNAL_ERROR (2)", code)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no RST_STREAM 15 s on (SendTimeout 500ms): the server still waits for the window")
			}
			settle(t, base, tc.name)
			if tc.logged {
				logHas(t, s.logs, 5*time.Second, "took none of the response for SendTimeout", "graft.send_timeout=500ms", "url.path="+tc.path)
			}
		})
	}
}
