package wsgi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// h2Client is a raw HTTP/2 connection for the header-timeout tests: it
// reads every frame in the background, answers nothing, and records the
// response heads' streams and when the server closed the connection.
type h2Client struct {
	c      net.Conn
	start  time.Time
	mu     sync.Mutex
	heads  map[uint32]bool // streams with a response HEADERS frame
	pongs  int             // PING acks
	goaway bool            // a GOAWAY came
	closed time.Duration   // after start; 0 while open
	err    error           // the read error that ended it
}

func dialH2C(t *testing.T, addr string) *h2Client {
	t.Helper()
	dialed := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newH2Client(t, c, dialed)
}

// newH2Client follows c, a connection about to speak HTTP/2 (the
// preface not yet sent), as dialH2C does. dialed is when its dial began:
// the server's header timeout may run from its accept, before a TLS
// handshake ends on this side, so the time the connection was held is
// counted from then (a close 0.4 ms "early" was seen when it was counted
// from the handshake's end).
func newH2Client(t *testing.T, c net.Conn, dialed time.Time) *h2Client {
	t.Cleanup(func() { c.Close() })
	// The server must close it long before this, but for the bug.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	h := &h2Client{c: c, start: dialed, heads: map[uint32]bool{}}
	go func() {
		for {
			f, err := readH2Frame(c)
			h.mu.Lock()
			if err != nil {
				h.closed, h.err = time.Since(h.start), err
				h.mu.Unlock()
				return
			}
			switch {
			case f.typ == 0x1:
				h.heads[f.stream] = true
			case f.typ == 0x6 && f.flags&1 != 0:
				h.pongs++
			case f.typ == 0x7:
				h.goaway = true
			}
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *h2Client) write(typ, flags byte, stream uint32, payload []byte) {
	writeH2Frame(h.c, typ, flags, stream, payload)
}

// state returns what the client has seen so far: when the connection
// ended (0 while open) and why, and whether stream's response head came.
func (h *h2Client) state(stream uint32) (closed time.Duration, err error, head bool, pongs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed, h.err, h.heads[stream], h.pongs
}

// h2GET is an HPACK block for GET / over h2c: :method GET, :scheme
// http, :path /, then :authority x as a literal.
var h2GET = []byte{0x82, 0x86, 0x84, 0x01, 1, 'x'}

// h2Field is an HPACK literal field without indexing, x-a: b.
var h2Field = []byte{0x00, 3, 'x', '-', 'a', 1, 'b'}

// h2Preface sends the client's connection preface and an empty SETTINGS.
func h2Preface(h *h2Client) {
	h.c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	h.write(0x4, 0, 0, nil) // SETTINGS
}

// h2Stall is a client that never finishes its request headers.
type h2Stall struct {
	name string
	send func(h *h2Client, stop <-chan struct{})
}

// h2Stalls returns the stalls after the preface for a header timeout of
// rht: the preface alone, a HEADERS frame without END_HEADERS, a header
// block trickled one CONTINUATION at a time, first and after a whole
// request.
func h2Stalls(rht time.Duration) []h2Stall {
	trickle := func(h *h2Client, stop <-chan struct{}, stream uint32) {
		for {
			select {
			case <-stop:
				return
			case <-time.After(rht / 5):
			}
			h.write(0x9, 0, stream, h2Field)
		}
	}
	return []h2Stall{
		{"preface only", func(h *h2Client, _ <-chan struct{}) { h2Preface(h) }},
		{"HEADERS without END_HEADERS", func(h *h2Client, _ <-chan struct{}) {
			h2Preface(h)
			h.write(0x1, 0x1, 1, h2GET) // END_STREAM, no END_HEADERS
		}},
		{"trickled CONTINUATION", func(h *h2Client, stop <-chan struct{}) {
			h2Preface(h)
			h.write(0x1, 0x1, 1, h2GET)
			trickle(h, stop, 1)
		}},
		{"trickled CONTINUATION after a request", func(h *h2Client, stop <-chan struct{}) {
			h2Preface(h)
			h.write(0x1, 0x5, 1, h2GET) // a whole request first
			h.write(0x1, 0x1, 3, h2GET)
			trickle(h, stop, 3)
		}},
	}
}

// runH2Stalls runs each stall on a connection from dial and checks that
// the server closes it after the header timeout rht, and not much later
// (net/http's own bounds are 10 s for the preface and IdleTimeout for
// the rest).
func runH2Stalls(t *testing.T, rht time.Duration, stalls []h2Stall, dial func(*testing.T) *h2Client) {
	for _, tc := range stalls {
		t.Run(tc.name, func(t *testing.T) {
			h := dial(t)
			stop := make(chan struct{})
			defer close(stop)
			go tc.send(h, stop)
			waitFor(t, 30*time.Second, "the connection to end", func() bool {
				closed, _, _, _ := h.state(0)
				return closed > 0
			})
			closed, err, _, _ := h.state(0)
			if errors.Is(err, os.ErrDeadlineExceeded) || closed > rht+3*time.Second {
				t.Fatalf("the connection was held %v (ReadHeaderTimeout %v)", closed.Round(100*time.Millisecond), rht)
			}
			if closed < rht {
				t.Errorf("closed after %v, before ReadHeaderTimeout %v", closed, rht)
			}
		})
	}
}

// h2IdleBetweenRequests checks that a well-behaved client on a
// connection from dial, idle between two requests for longer than the
// header timeout rht and sending pings meanwhile, is served on the same
// connection.
func h2IdleBetweenRequests(t *testing.T, rht time.Duration, dial func(*testing.T) *h2Client) {
	h := dial(t)
	h2Preface(h)
	h.write(0x1, 0x5, 1, h2GET)
	waitFor(t, 10*time.Second, "the first response", func() bool { _, _, head, _ := h.state(1); return head })
	idle := time.Now()
	for i := 0; time.Since(idle) < 3*rht; i++ {
		h.write(0x6, 0, 0, make([]byte, 8)) // PING: no request
		waitFor(t, 10*time.Second, "a PING ack", func() bool { _, _, _, p := h.state(0); return p > i })
		time.Sleep(rht / 5)
	}
	h.write(0x1, 0x5, 3, h2GET)
	waitFor(t, 10*time.Second, "the second response", func() bool {
		closed, _, head, _ := h.state(3)
		return head || closed > 0
	})
	if closed, err, _, _ := h.state(0); closed > 0 {
		t.Fatalf("the connection was closed after %v: %v", closed, err)
	}
}

// TestServeH2HeaderTimeout: over h2c, a client that sends no complete
// request headers within ReadHeaderTimeout (the preface and nothing; a
// HEADERS frame without END_HEADERS; a header block trickled one
// CONTINUATION at a time) has its connection closed, as net/http closes
// an HTTP/1.x connection whose head is not in by then, and the refusal is
// counted and logged with 408. Before, net/http's HTTP/2 server held such
// a connection until IdleTimeout (2 minutes by default). A client that
// sends its requests, stays idle between them, or uploads a body slowly
// is not cut.
func TestServeH2HeaderTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const rht = 500 * time.Millisecond
	s := startServe(t, ctx, writeServeApp(t, "v1"), ServeConfig{H2C: true, NoSignals: true,
		ReadHeaderTimeout: rht, IdleTimeout: time.Minute})
	addr := strings.TrimPrefix(s.url, "http://")
	stalls := h2Stalls(rht)
	runH2Stalls(t, rht, stalls, func(t *testing.T) *h2Client { return dialH2C(t, addr) })
	waitFor(t, 5*time.Second, "the refusals counted", func() bool {
		m, err := fetch(s.ops + "/metrics")
		return err == nil && strings.Contains(m, fmt.Sprintf(`graft_http_refused_total{status="408"} %d`, len(stalls)))
	})
	for _, want := range []string{
		`http.response.status_code=408 client.ip=127.0.0.1 error="no complete HTTP/2 request headers within the header timeout"`,
		`http.response.status_code=408 client.ip=127.0.0.1 error="HTTP/2 header block not complete within the header timeout"`,
	} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("no %q in the log", want)
		}
	}

	// Well-behaved clients: requests, idle time between them longer than
	// ReadHeaderTimeout, pings, a slow upload. Each must still be served
	// on the same connection at the end.
	t.Run("idle between requests", func(t *testing.T) {
		h2IdleBetweenRequests(t, rht, func(t *testing.T) *h2Client { return dialH2C(t, addr) })
	})
	t.Run("slow upload", func(t *testing.T) {
		h := dialH2C(t, addr)
		h2Preface(h)
		// POST with content-length 40: literal :method POST, then the
		// GET block's :scheme, :path, :authority, and content-length.
		post := append([]byte{0x83}, h2GET[1:]...)
		post = append(post, 0x0f, 0x0d, 2, '4', '0') // content-length (static 28) 40
		h.write(0x1, 0x4, 1, post)
		start := time.Now()
		for i := 0; i < 40; i++ {
			flags := byte(0)
			if i == 39 {
				flags = 0x1 // END_STREAM
			}
			h.write(0x0, flags, 1, []byte{'z'})
			if time.Since(start) < 3*rht {
				time.Sleep(rht / 5)
			}
		}
		if time.Since(start) < 3*rht {
			t.Fatalf("the upload took %v, not past ReadHeaderTimeout", time.Since(start))
		}
		waitFor(t, 10*time.Second, "the response", func() bool {
			closed, _, head, _ := h.state(1)
			return head || closed > 0
		})
		if closed, err, _, _ := h.state(0); closed > 0 {
			t.Fatalf("the connection was closed after %v: %v", closed, err)
		}
	})
}
