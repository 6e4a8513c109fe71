package wsgi

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsEnv is boundaryapp.py behind GuardTLS on an http.Server.
type tlsEnv struct {
	addr   string
	client *http.Client // trusts the server; HTTP/2 when the server offers it
	cfg    *tls.Config  // client config trusting the server
	seen   *seenLog
}

func startGuardedTLS(t *testing.T) *tlsEnv {
	t.Helper()
	c, _ := newContainer(t, Config{App: "boundaryapp:app"})
	// Borrow httptest's certificate and a client that trusts it.
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	srvCfg := ts.TLS.Clone()
	srvCfg.NextProtos = nil
	tr := ts.Client().Transport.(*http.Transport).Clone()
	ts.Close()
	tr.ForceAttemptHTTP2 = true
	t.Cleanup(tr.CloseIdleConnections)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := &seenLog{}
	srv := &http.Server{Handler: seen.wrap(c)}
	go srv.Serve(GuardTLS(ln, srvCfg, RequestLimits{}))
	t.Cleanup(func() { srv.Close() })
	return &tlsEnv{addr: ln.Addr().String(), client: &http.Client{Transport: tr}, cfg: tr.TLSClientConfig.Clone(), seen: seen}
}

// TestGuardTLS checks GuardTLS: HTTP/1.1 over TLS is guarded and still
// sees TLS (HTTPS=on), HTTP/2 is served by net/http's HTTP/2 server, and
// plain HTTP on the TLS port is refused.
func TestGuardTLS(t *testing.T) {
	e := startGuardedTLS(t)

	t.Run("HTTP/2", func(t *testing.T) {
		resp, b, err := get(t, e.client, "GET", "https://"+e.addr+"/h2?x=1", nil)
		if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Fatalf("%v %v %s", resp.Proto, err, b)
		}
		var env map[string]any
		decodeJSON(t, b, &env)
		if env["wsgi.url_scheme"] != "https" || env["HTTPS"] != "on" || env["SERVER_PROTOCOL"] != "HTTP/2.0" {
			t.Errorf("environ %v", env)
		}
	})

	t.Run("HTTP/2 no sniffed Content-Type", func(t *testing.T) {
		for _, mode := range []string{"fast", "stream", "file", "exc_info"} {
			resp, b, err := get(t, e.client, "GET", "https://"+e.addr+"/nosniff?mode="+mode, nil)
			if err != nil || resp.ProtoMajor != 2 || string(b) != boundaryHTML {
				t.Fatalf("%s: %v %v %q", mode, resp.Proto, err, b)
			}
			if ct, ok := resp.Header["Content-Type"]; ok {
				t.Errorf("%s: Content-Type %q sent; the app sent none", mode, ct)
			}
		}
	})

	dial := func(t *testing.T, proto string) *tls.Conn {
		cfg := e.cfg.Clone()
		cfg.NextProtos = []string{proto}
		conn, err := tls.Dial("tcp", e.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if got := conn.ConnectionState().NegotiatedProtocol; got != proto {
			t.Fatalf("negotiated %q, want %q", got, proto)
		}
		return conn
	}

	t.Run("HTTP/1.1 environ", func(t *testing.T) {
		res := exchangeOn(t, dial(t, "http/1.1"), "GET /t?page=1#frag HTTP/1.1\r\n"+hostH+"Connection: close\r\n\r\n", false)
		if len(res.status) != 1 || res.status[0] != 200 {
			t.Fatalf("statuses %v", res.status)
		}
		var env map[string]any
		decodeJSON(t, []byte(res.body[0]), &env)
		if env["wsgi.url_scheme"] != "https" || env["HTTPS"] != "on" || env["QUERY_STRING"] != "page=1" {
			t.Errorf("environ %v", env)
		}
	})

	for _, tc := range smugglingCases[:4] {
		t.Run("HTTP/1.1 "+tc.name, func(t *testing.T) {
			res := exchangeOn(t, dial(t, "http/1.1"), tc.raw, false)
			if !equalInts(res.status, tc.want) || !res.closed {
				t.Errorf("statuses %v closed %v, want %v closed", res.status, res.closed, tc.want)
			}
		})
	}

	t.Run("plain HTTP on the TLS port", func(t *testing.T) {
		resp, b := rawHTTP(t, e.addr, "GET / HTTP/1.1\r\n"+hostH+"\r\n")
		if resp.StatusCode != 400 || !strings.Contains(string(b), "HTTPS") {
			t.Errorf("%d %q", resp.StatusCode, b)
		}
	})

	t.Run("HTTP/2 connection-specific headers", func(t *testing.T) {
		conn := dial(t, "h2")
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		writeFrame(t, conn, 0x4, 0, 0, nil) // SETTINGS
		req := func(stream uint32, path string, extra ...string) {
			block := hpackLiterals(append([]string{":method", "GET", ":scheme", "https", ":path", path, ":authority", "h"}, extra...)...)
			writeFrame(t, conn, 0x1, 0x5, stream, block) // HEADERS, END_STREAM|END_HEADERS
		}
		// A valid request first, to show that the exchange works.
		req(1, "/ok")
		if got := h2Answer(t, conn, 1); got != "200" {
			t.Fatalf("valid request: %s", got)
		}
		for i, h := range [][]string{{"connection", "close"}, {"transfer-encoding", "chunked"},
			{"keep-alive", "1"}, {"upgrade", "websocket"}, {"proxy-connection", "x"}, {"te", "gzip"}} {
			stream := uint32(3 + 2*i)
			req(stream, "/smuggled-"+h[0], h...)
			if got := h2Answer(t, conn, stream); got != "RST_STREAM" && got != "400" {
				t.Errorf("%s: %s, want the stream reset", h[0], got)
			}
		}
		for _, r := range e.seen.all() {
			if strings.Contains(r, "smuggled") {
				t.Errorf("served: %q", r)
			}
		}
	})
}

func writeFrame(t *testing.T, w io.Writer, typ, flags byte, stream uint32, payload []byte) {
	t.Helper()
	hdr := make([]byte, 9)
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	if _, err := w.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

// hpackLiterals encodes name/value pairs as HPACK literals without
// indexing and without Huffman coding (each string under 127 bytes).
func hpackLiterals(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, 0x00, byte(len(kv[i])))
		b = append(b, kv[i]...)
		b = append(b, byte(len(kv[i+1])))
		b = append(b, kv[i+1]...)
	}
	return b
}

// h2Answer reads frames until stream is answered: "RST_STREAM", the
// status of its response headers ("200", "400", ... for the static-table
// statuses), or "GOAWAY". It acknowledges the server's SETTINGS.
func h2Answer(t *testing.T, conn net.Conn, stream uint32) string {
	t.Helper()
	statuses := map[byte]string{0x88: "200", 0x89: "204", 0x8a: "206", 0x8b: "304", 0x8c: "400", 0x8d: "404", 0x8e: "500"}
	for {
		hdr := make([]byte, 9)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			t.Fatalf("reading frame: %v", err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		payload := make([]byte, n)
		if _, err := io.ReadFull(conn, payload); err != nil {
			t.Fatalf("reading frame: %v", err)
		}
		typ, flags, id := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
		switch {
		case typ == 0x4 && flags&1 == 0:
			writeFrame(t, conn, 0x4, 1, 0, nil)
		case typ == 0x7:
			return "GOAWAY"
		case typ == 0x3 && id == stream:
			return "RST_STREAM"
		case typ == 0x1 && id == stream && n > 0:
			if s, ok := statuses[payload[0]]; ok {
				return s
			}
			return "headers"
		}
	}
}
