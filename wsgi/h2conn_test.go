package wsgi

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTP2ErrorKeepsConnection: a request the container refuses for its
// body (413 over MaxBodySize, 400 for a body the client gave up: an
// RST_STREAM during an upload) costs its HTTP/2 connection nothing: the
// client's next requests go on the same connection. Over HTTP/1.1 the 413
// still closes the connection (its unread body would be read as the next
// request). Before, DefaultErrorHandler's Connection: close made net/http's
// HTTP/2 server send GOAWAY for the whole connection, so every such
// refusal cost the client a new connection and TLS handshake.
func TestHTTP2ErrorKeepsConnection(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:body", MaxBodySize: 100})
	posted := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.ServeHTTP(w, r)
		if r.Method == "POST" {
			posted <- struct{}{}
		}
	})
	var conns atomic.Int64
	newServer := func(h2 bool) *httptest.Server {
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		if h2 {
			srv.EnableHTTP2 = true
			srv.StartTLS()
		} else {
			srv.Start()
		}
		t.Cleanup(srv.Close)
		return srv
	}

	for _, tc := range []struct {
		name      string
		h2        bool
		wantConns int64
	}{
		{"413 over HTTP/2", true, 1},
		{"413 over HTTP/1.1", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(tc.h2)
			client := srv.Client()
			defer client.CloseIdleConnections()
			conns.Store(0)
			do := func(method string, body string, want int) {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+"/?mode=read", strings.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("%s: %s %d, want %d", method, resp.Proto, resp.StatusCode, want)
				}
				if method == "POST" {
					<-posted
				}
			}
			do("GET", "", 200)
			do("POST", strings.Repeat("z", 1000), 413)
			for range 3 {
				do("GET", "", 200)
			}
			if got := conns.Load(); got != tc.wantConns {
				t.Errorf("%d connections for a 413 and four GETs, want %d", got, tc.wantConns)
			}
		})
	}

	t.Run("upload reset over HTTP/2", func(t *testing.T) {
		srv := newServer(true)
		conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		writeH2Frame(conn, 0x4, 0, 0, nil) // SETTINGS
		// HPACK: :method POST, :scheme https, :path, :authority x,
		// content-length 50, as literals without indexing.
		path := "/?mode=read"
		block := []byte{0x83, 0x87, 0x04, byte(len(path))}
		block = append(block, path...)
		block = append(block, 0x01, 1, 'x', 0x00, 14)
		block = append(block, "content-length"...)
		block = append(block, 2, '5', '0')
		writeH2Frame(conn, 0x1, 0x4, 1, block)            // HEADERS, END_HEADERS
		writeH2Frame(conn, 0x0, 0, 1, make([]byte, 10))   // 10 bytes of the 50
		writeH2Frame(conn, 0x3, 0, 1, []byte{0, 0, 0, 8}) // RST_STREAM CANCEL
		select {
		case <-posted:
		case <-time.After(20 * time.Second):
			t.Fatal("the reset upload's handler did not return")
		}

		// The next request on the same connection, then a PING: every
		// frame the server had queued is in before the PING's ack.
		get := []byte{0x82, 0x87, 0x04, 1, '/', 0x01, 1, 'x'}
		writeH2Frame(conn, 0x1, 0x5, 3, get) // END_STREAM | END_HEADERS
		served, pinged := false, false
		for !pinged {
			f, err := readH2Frame(conn)
			if err != nil {
				t.Fatalf("reading: %v (served %v)", err, served)
			}
			switch {
			case f.typ == 0x7: // GOAWAY
				t.Fatalf("GOAWAY (last stream %d) after the reset upload: the connection is closed for the client's next requests",
					binary.BigEndian.Uint32(f.payload)&0x7fffffff)
			case f.typ == 0x4 && f.flags&1 == 0:
				writeH2Frame(conn, 0x4, 1, 0, nil)
			case f.typ == 0x6 && f.flags&1 == 1:
				pinged = true
			case f.stream == 3 && (f.typ == 0x0 || f.typ == 0x1) && f.flags&1 == 1:
				served = true
				writeH2Frame(conn, 0x6, 0, 0, make([]byte, 8))
			case f.typ == 0x3 && f.stream == 3:
				t.Fatalf("stream 3 reset (code %d)", binary.BigEndian.Uint32(f.payload))
			}
		}
	})
}
