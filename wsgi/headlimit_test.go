package wsgi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startServeGo runs Serve with a Go handler that counts its requests on a
// plain listener with HTTP/2 (h2c) enabled, and returns the address.
func startServeGo(t *testing.T, lim RequestLimits, served *atomic.Int64) string {
	t.Helper()
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})
	go func() {
		done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, H2C: true, Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ls.Main[0].Addr().String()
}

// TestServeHTTP2HeadLimit: HTTP/2 requests, which the guard does not see,
// get the same total head limit as HTTP/1.x (RequestLimits.Head), through
// net/http's MaxHeaderBytes: Go's HTTP/2 client sees the limit in the
// server's SETTINGS and does not send a larger head, and a client that
// sends one anyway (HEADERS and CONTINUATION frames written here by hand)
// is refused without reaching the handler: 431, or GOAWAY when a frame
// is far over what is left of the limit. Before, HTTP/2 heads were
// bounded at 1 MiB whatever the limits.
func TestServeHTTP2HeadLimit(t *testing.T) {
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}, Timeout: 10 * time.Second}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	for _, tc := range []struct {
		name string
		lim  RequestLimits
		size int // bytes of header values, in fields of 7500
		ok   bool
	}{
		{"default limit, 60 KiB", RequestLimits{}, 60 << 10, true},
		{"default limit, 70 KiB", RequestLimits{}, 70 << 10, false},
		{"raised limit, 200 KiB", RequestLimits{Head: 256 << 10}, 200 << 10, true},
		{"raised limit, 300 KiB", RequestLimits{Head: 256 << 10}, 300 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Int64
			addr := startServeGo(t, tc.lim, &served)
			var fields [][2]string
			for n, i := tc.size, 0; n > 0; i++ {
				v := strings.Repeat("a", min(n, 7500))
				fields = append(fields, [2]string{fmt.Sprintf("x-h%d", i), v})
				n -= len(v)
			}

			// Go's HTTP/2 client.
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			for _, f := range fields {
				req.Header.Set(f[0], f[1])
			}
			resp, err := h2c.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Proto != "HTTP/2.0" {
					t.Fatalf("served over %s, want HTTP/2.0", resp.Proto)
				}
			}
			if tc.ok && (err != nil || resp.StatusCode != 200) {
				t.Errorf("Go client: %v %v, want 200", resp, err)
			}
			if !tc.ok && err == nil && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("Go client: %d, want the request refused (a client error or 431)", resp.StatusCode)
			}

			// Frames written by hand: the server must refuse by itself.
			before := served.Load()
			status := rawH2Request(t, addr, fields)
			if tc.ok && status != "200" || !tc.ok && status != "431" && status != "GOAWAY" {
				t.Errorf("raw HTTP/2 client: %s, want 200 if the head is within the limit, else 431 or GOAWAY", status)
			}
			if got := served.Load() - before; got != 0 != tc.ok {
				t.Errorf("handler ran %d times for the raw request, want it to run only if the head is accepted", got)
			}
		})
	}
}

// rawH2Request sends one GET over HTTP/2 with prior knowledge, with fields
// HPACK-encoded as literals (no Huffman, no indexing) in a HEADERS frame
// and as many CONTINUATION frames as needed, and returns the response's
// :status, or GOAWAY when the server ends the connection instead.
func rawH2Request(t *testing.T, addr string, fields [][2]string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hpackInt := func(b []byte, n int) []byte { // 7-bit prefix, H=0
		if n < 127 {
			return append(b, byte(n))
		}
		b = append(b, 127)
		for n -= 127; n >= 128; n >>= 7 {
			b = append(b, byte(n%128+128))
		}
		return append(b, byte(n))
	}
	var block []byte
	all := append([][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "x"}}, fields...)
	for _, f := range all {
		block = append(block, 0) // literal without indexing, new name
		block = append(hpackInt(block, len(f[0])), f[0]...)
		block = append(hpackInt(block, len(f[1])), f[1]...)
	}
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		h := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[5:], stream)
		return append(h, payload...)
	}
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(0x4, 0, 0, nil)...) // SETTINGS
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), 16384)
		var flags byte
		if n == len(block) {
			flags |= 0x4 // END_HEADERS
		}
		typ := byte(0x9) // CONTINUATION
		if first {
			typ, flags = 0x1, flags|0x1 // HEADERS, END_STREAM
		}
		out = append(out, frame(typ, flags, 1, block[:n])...)
		block = block[n:]
	}
	go c.Write(out) // the server may answer before it has read it all
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("no response: %v", err)
		}
		payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatalf("no response: %v", err)
		}
		stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		switch {
		case hdr[3] == 0x4 && hdr[4]&0x1 == 0: // the server's SETTINGS: acknowledge
			c.Write(frame(0x4, 0x1, 0, nil))
		case hdr[3] == 0x1 && stream == 1:
			// Go's HPACK encoder writes :status 200 as static index 8,
			// others as a literal with incremental indexing and an indexed
			// name (no Huffman for three digits).
			switch {
			case len(payload) > 0 && payload[0] == 0x88:
				return "200"
			case len(payload) >= 5 && payload[0]&0xc0 == 0x40 && payload[1] == 3:
				return string(payload[2:5])
			}
			t.Fatalf("response HEADERS %x", payload)
		case hdr[3] == 0x7:
			// A header block far over the limit (a frame more than twice
			// what is left of it) ends the connection instead.
			return "GOAWAY"
		case hdr[3] == 0x3 && stream == 1:
			t.Fatalf("RST_STREAM instead of a response: %x", payload)
		}
	}
}
