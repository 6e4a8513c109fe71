package wsgi

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RequestLimits bounds a request's head. Zero fields take the defaults:
// gunicorn's for Line 4094, Fields 100 and FieldSize 8190, and 64 KiB for
// Head (gunicorn has no total). Negative values count as zero. net/http's
// own Server.MaxHeaderBytes (1 MiB by default) still applies after the
// guard, and bounds HTTP/2 header lists, which the guard does not see:
// [Serve] sets it to the largest head the limits let through (Head, or
// less when Line+Fields*(FieldSize+2) is less); with your own http.Server,
// set it alike.
type RequestLimits struct {
	// Line is the longest request line accepted, in bytes without its
	// CRLF; a longer one is answered with 414 URI Too Long.
	Line int
	// Fields is the most header fields (and, separately, trailer fields of
	// a chunked body) accepted; more are answered with 431.
	Fields int
	// FieldSize is the longest header field line accepted (name, colon and
	// value, without CRLF); a longer one is answered with 431.
	FieldSize int
	// Head is the largest request head accepted, in bytes: the request
	// line, the header fields and the empty line that ends them, each with
	// its CRLF; a larger one is answered with 431 as soon as it passes the
	// limit, so a client can make the guard hold no more than Head bytes
	// of a head. The trailer section of a chunked body is bounded alike.
	// DefaultLimitRequestHead when 0: without it the other limits let one
	// head reach Line+Fields*(FieldSize+2), about 800 KB by default, held
	// for each slow client. The load balancers usually in front of graft
	// accept no more than 64 KiB (AWS ALB, Google Cloud's; nginx 32 KiB
	// of large headers by default); raise it if your clients send more.
	Head int
}

// Defaults of RequestLimits: those of gunicorn's limit_request_line,
// limit_request_fields and limit_request_field_size, and a total for the
// whole head (gunicorn has none), as large as AWS ALB's and Google Cloud's
// load balancers accept.
const (
	DefaultLimitRequestLine      = 4094
	DefaultLimitRequestFields    = 100
	DefaultLimitRequestFieldSize = 8190
	DefaultLimitRequestHead      = 64 << 10
)

func (l RequestLimits) withDefaults() RequestLimits {
	if l.Line <= 0 {
		l.Line = DefaultLimitRequestLine
	}
	if l.Fields <= 0 {
		l.Fields = DefaultLimitRequestFields
	}
	if l.FieldSize <= 0 {
		l.FieldSize = DefaultLimitRequestFieldSize
	}
	if l.Head <= 0 {
		l.Head = DefaultLimitRequestHead
	}
	return l
}

// maxHeaderBytes is the http.Server.MaxHeaderBytes for the limits l: the
// largest head the guard lets through, Head, or the request line and
// Fields field lines of FieldSize, each with its CRLF, and the empty line
// when that is less. Serve sets it, so that raised limits are not undone
// by net/http's own 1 MiB bound (its 431 the limits would not explain),
// and so that HTTP/2, which the guard does not see, gets the same total:
// net/http advertises it (plus 320 bytes) as SETTINGS_MAX_HEADER_LIST_SIZE
// and answers a larger header list with 431. HTTP/2 counts each field
// as its name and value plus 32 bytes (RFC 9113 §6.5.2), not as a line.
func (l RequestLimits) maxHeaderBytes() int {
	l = l.withDefaults()
	return min(l.Head, l.Line+2+l.Fields*(l.FieldSize+2)+2)
}

// maxChunkLine bounds a chunk-size line (size and extensions).
const maxChunkLine = 4096

// Guard returns a listener whose connections are checked request by request
// before net/http parses them: it follows each plain HTTP/1.x connection's
// request boundaries (the head, then the body by Content-Length or chunked
// framing) and hands net/http only heads it accepts. A request that a front
// proxy could frame differently, or that is malformed or over lim, is
// answered by the guard with 400, 414, 431, 501 or 505 and the connection is
// closed; nothing after it on the connection is ever served. See
// docs/operations.md for the full list. A fragment in the request target is
// cut before net/http sees it.
//
// Guard is for listeners carrying plain HTTP (use GuardTLS for TLS). A
// connection that stops being HTTP/1.x is passed through unchecked from
// then on: after the h2c preface (but for the header timeout below), and
// after a handler hijacks it (a
// WebSocket, a CONNECT tunnel), which the guard learns only from the
// server's ConnState hook: install [GuardConnState] on the http.Server
// that serves the listener (or set the server up with [GuardServer], which
// installs it). Without it a hijacked connection stays
// checked as HTTP/1.x, so a tunnel's bytes are refused. A 101 or 2xx
// response alone switches nothing: while net/http keeps reading the
// connection, every request on it is checked.
//
// An h2c connection is closed when it sends no complete header block
// within 10 s of its preface, or leaves a header block (HEADERS, then
// CONTINUATION frames) incomplete for 10 s from its first frame: net/http's
// ReadHeaderTimeout bounds HTTP/1.x heads only, and its HTTP/2 server would
// hold such a connection until its IdleTimeout. [Serve] applies its
// ReadHeaderTimeout instead, and so does a server set up with
// [GuardServer]. Such a connection is reported as a refusal with
// status 408.
//
// Each refused request is reported as under [Serve], since no handler and
// no access line sees it: counted in graft_http_refused_total, registered
// with prometheus.DefaultRegisterer (the registry promhttp.Handler
// serves), and logged on slog.Default() as of the call, as
// "wsgi: request refused at the HTTP boundary" (see [GuardReport], which
// takes a logger and a registry of your own). [GuardTLS] reports alike.
func Guard(ln net.Listener, lim RequestLimits) net.Listener {
	return guard(ln, lim, slog.Default(), prometheus.DefaultRegisterer)
}

// GuardReport is [Guard] reporting the requests it refuses on log and
// reg, as Serve reports those of its listeners: each is counted in
// graft_http_refused_total by status, registered with reg (or taken from
// it when a Serve or another Guard or GuardReport registered it there
// already), and logged as "wsgi: request refused at the HTTP boundary"
// with httplog's attribute keys (http.response.status_code, client.ip,
// and the reason as error) at INFO, one line a second at most: the
// refusals left out meanwhile are logged at DEBUG and counted by the next
// INFO line's graft.suppressed. A nil log logs nothing, a nil reg exports
// nothing (the refusals are still logged), as for [GuardTLSReport].
func GuardReport(ln net.Listener, lim RequestLimits, log *slog.Logger, reg *prometheus.Registry) net.Listener {
	log, r := reportTo(log, reg)
	return guard(ln, lim, log, r)
}

// guard is Guard reporting its refusals on log and reg. Guard and
// GuardTLS used alone report on slog.Default() and
// prometheus.DefaultRegisterer; their Report forms on reportTo's.
func guard(ln net.Listener, lim RequestLimits, log *slog.Logger, reg prometheus.Registerer) net.Listener {
	return &guardListener{Listener: ln, lim: lim.withDefaults(), headerTimeout: defaultHeaderTimeout,
		refused: newRefusals(reg, log).report}
}

// reportTo is where GuardReport and GuardTLSReport report: on log and
// reg, a nil log logging nothing and a nil reg exporting nothing.
func reportTo(log *slog.Logger, reg *prometheus.Registry) (*slog.Logger, prometheus.Registerer) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		return log, prometheus.NewRegistry() // counted, not exported
	}
	return log, reg
}

// refusedFunc is told of each request a guard refuses: the status it
// answers, why, and the connection's peer. [Serve] counts and logs them.
type refusedFunc func(code int, reason string, peer net.Addr)

type guardListener struct {
	net.Listener
	lim     RequestLimits
	refused refusedFunc // or nil
	// headerTimeout bounds HTTP/2 (h2c) header blocks: Serve's
	// ReadHeaderTimeout, defaultHeaderTimeout under Guard.
	headerTimeout time.Duration
}

// defaultHeaderTimeout is the header timeout of Guard's h2c connections:
// the ReadHeaderTimeout Serve sets by default.
const defaultHeaderTimeout = 10 * time.Second

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := newGuardConn(c, l.lim, l.refused, l.headerTimeout)
	if _, ok := c.(io.ReaderFrom); ok {
		return readFromGuardConn{g}, nil
	}
	return g, nil
}

// GuardConnState returns an http.Server ConnState hook that tells the
// connections of a Guard or GuardTLS listener when a handler hijacks them,
// then calls next (which may be nil). Install it on every server that
// serves a guarded listener (Serve does, and [GuardServer]):
//
//	srv.ConnState = wsgi.GuardConnState(srv.ConnState)
//
// A hijacked connection has left net/http, which parses no more requests
// on it: the guard passes its bytes through unchecked from then on (a
// WebSocket's frames, a CONNECT tunnel's bytes), and answers nothing at
// Close. Without the hook the guard cannot tell a hijacked connection from
// one net/http still reads and keeps checking it, so a tunnel fails (its
// bytes are refused as a malformed request); a 101 or 2xx response never
// switches the guard off by itself. The hook recognizes the connections
// the guarded listener returns, so Guard must be the listener the server
// accepts from (wrap other listeners inside it, not around it).
func GuardConnState(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, s http.ConnState) {
		if g, ok := c.(interface{ guard() *guardConn }); ok && s == http.StateHijacked {
			if gc := g.guard(); gc != nil {
				gc.hijack()
			}
		}
		if next != nil {
			next(c, s)
		}
	}
}

// guardState is where in the request stream a guarded connection is.
type guardState int

const (
	stHead      guardState = iota // reading a request head
	stBody                        // Content-Length body bytes
	stChunkSize                   // a chunk-size line
	stChunkData                   // chunk data
	stChunkCRLF                   // the CRLF after chunk data
	stTrailer                     // trailer fields after the last chunk
	stPass                        // not HTTP/1.x any more: pass through
)

// maxEarly bounds the bytes the guard holds unchecked after a request
// that may become a tunnel (Upgrade, CONNECT) while its handler runs.
const maxEarly = 64 << 10

// guardConn is a connection checked by Guard. net/http reads it from one
// goroutine at a time; Write and Close may come from others.
type guardConn struct {
	net.Conn
	lim     RequestLimits
	refused refusedFunc // or nil

	buf    []byte // backing array of in
	in     []byte // bytes read from Conn, not yet given to net/http
	ready  int    // in[:ready] is checked and may be given out
	st     guardState
	remain int64 // bytes left of the body or chunk
	scan   headScanner
	dead   bool // broken body framing: EOF from now on, net/http answers
	// mayTunnel: the last head was a CONNECT or carried Upgrade, so its
	// handler may hijack the connection and the bytes after the head may
	// be a tunnel's rather than a request.
	mayTunnel bool

	hijacked atomic.Bool // a handler took the connection (GuardConnState)

	// headerTimeout bounds an HTTP/2 connection's header blocks (see
	// h2Read); 0 for none.
	headerTimeout time.Duration
	h2            *h2Tracker // after the h2c preface; nil before

	mu      sync.Mutex
	rej     *rejection // a refused head, answered at Close
	closed  bool
	h2timer *time.Timer // the HTTP/2 header deadline's, or nil
	h2due   time.Time   // the HTTP/2 header deadline; zero when none runs
	h2seen  bool        // a complete HTTP/2 header block was read
}

func newGuardConn(c net.Conn, lim RequestLimits, refused refusedFunc, headerTimeout time.Duration) *guardConn {
	return &guardConn{Conn: c, lim: lim, refused: refused, headerTimeout: headerTimeout}
}

// guard lets GuardConnState find the guardConn inside the connection types
// the guarded listeners return.
func (g *guardConn) guard() *guardConn { return g }

// hijack records that a handler took the connection: net/http reads no
// more requests from it. A refusal of bytes read ahead is dropped: the
// connection is the handler's to answer on.
func (g *guardConn) hijack() {
	g.mu.Lock()
	g.rej = nil
	g.mu.Unlock()
	g.hijacked.Store(true)
}

// Read gives net/http the checked bytes of the connection.
func (g *guardConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.ready > 0 {
			n := copy(p, g.in[:g.ready])
			g.in = g.in[n:]
			g.ready -= n
			if g.h2 != nil {
				g.h2Read(p[:n])
			}
			return n, nil
		}
		if g.st != stPass && g.hijacked.Load() {
			g.st = stPass // the handler's now, whatever it is
		}
		if g.st == stPass {
			if len(g.in) > 0 {
				g.ready = len(g.in)
				continue
			}
			n, err := g.Conn.Read(p)
			if g.h2 != nil && n > 0 {
				g.h2Read(p[:n])
			}
			return n, err
		}
		if g.dead {
			return 0, io.EOF
		}
		if g.rejected() {
			if len(p) == 1 {
				// net/http's background read while the previous request's
				// handler runs: block until it aborts the read, so that the
				// handler is not cancelled; the answer goes out at Close.
				return g.discard()
			}
			return 0, io.EOF
		}
		if g.st == stHead && g.mayTunnel && len(p) == 1 {
			// net/http's background read while the handler of a CONNECT or
			// Upgrade request runs: what follows may be a tunnel's bytes,
			// not a request, so it is held unchecked until either the
			// handler hijacks the connection (then it is passed through)
			// or net/http reads on (then it is checked as a request head).
			return g.holdEarly()
		}
		if (g.st == stBody || g.st == stChunkData) && len(g.in) == 0 {
			// Body bytes go straight to net/http.
			if int64(len(p)) > g.remain {
				p = p[:g.remain]
			}
			n, err := g.Conn.Read(p)
			g.bodyRead(n)
			return n, err
		}
		if g.step() {
			continue
		}
		if err := g.fill(); err != nil {
			return 0, err
		}
	}
}

// holdEarly reads into g.in, giving nothing out, until the read fails
// (net/http aborts it with a deadline, or the client leaves) or maxEarly
// bytes are held; then it returns 0 and no error, which ends net/http's
// background read without a byte.
func (g *guardConn) holdEarly() (int, error) {
	for len(g.in) < maxEarly {
		if err := g.fill(); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// bodyRead accounts for n body bytes given out.
func (g *guardConn) bodyRead(n int) {
	g.remain -= int64(n)
	if g.remain > 0 {
		return
	}
	if g.st == stBody {
		g.st = stHead
	} else {
		g.st = stChunkCRLF
	}
}

// fill reads more bytes from the connection into g.in.
func (g *guardConn) fill() error {
	if cap(g.in)-len(g.in) < 1024 {
		// Move what is left to the front of buf, or to a larger buf: twice
		// as large, but no larger than the most the guard holds (a head or
		// trailer section of lim.Head, or maxEarly bytes) needs.
		if len(g.buf)-len(g.in) < 1024 {
			size := min(2*len(g.in)+4096, max(g.lim.Head, maxEarly)+4096)
			g.buf = make([]byte, max(size, len(g.in)+4096))
		}
		g.in = g.buf[:copy(g.buf, g.in)]
	}
	n, err := g.Conn.Read(g.in[len(g.in):cap(g.in)])
	g.in = g.in[:len(g.in)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// step checks what it can of g.in and reports whether it made progress
// (bytes became ready, the state changed or the request was refused).
func (g *guardConn) step() bool {
	switch g.st {
	case stHead:
		if g.scan.pos == 0 && len(g.in) >= 2 && g.in[0] == '\r' && g.in[1] == '\n' {
			g.in = g.in[2:] // an empty line before a request (RFC 9112 §2.2)
			return true
		}
		end, rej := g.scan.scan(g.in, g.lim, false)
		if rej == nil && end < 0 {
			return false
		}
		g.scan = headScanner{}
		var h headInfo
		if rej == nil {
			h, rej = checkRequestHead(g.in[:end], g.lim)
		}
		if rej != nil {
			rej.head = bytes.HasPrefix(g.in, []byte("HEAD "))
			g.refuse(rej)
			return true
		}
		if h.cutFrom < h.cutTo {
			cut := h.cutTo - h.cutFrom
			copy(g.in[h.cutFrom:], g.in[h.cutTo:])
			g.in = g.in[:len(g.in)-cut]
			end -= cut
		}
		g.ready = end
		g.mayTunnel = h.connect || h.upgrade
		switch {
		case h.preface:
			// HTTP/2 with prior knowledge (h2c): the preface's request
			// line and empty line (in[:end]) and its "SM\r\n\r\n" are
			// still to be read when the frames begin.
			g.st = stPass
			if !g.hijacked.Load() {
				g.startH2()
			}
		case h.chunked:
			g.st = stChunkSize
		case h.length > 0:
			g.st, g.remain = stBody, h.length
		}
		return true
	case stBody, stChunkData:
		n := min(int64(len(g.in)), g.remain)
		g.ready = int(n)
		g.bodyRead(int(n))
		return true
	case stChunkSize:
		i := bytes.IndexByte(g.in, '\n')
		if i < 0 {
			if len(g.in) > maxChunkLine {
				g.dead = true
				return true
			}
			return false
		}
		size, ok := parseChunkLine(g.in[:i+1])
		if !ok || i+1 > maxChunkLine {
			g.dead = true
			return true
		}
		g.ready = i + 1
		if size == 0 {
			g.st = stTrailer
		} else {
			g.st, g.remain = stChunkData, size
		}
		return true
	case stChunkCRLF:
		if len(g.in) >= 1 && g.in[0] != '\r' || len(g.in) >= 2 && g.in[1] != '\n' {
			g.dead = true
			return true
		}
		if len(g.in) < 2 {
			return false
		}
		g.ready, g.st = 2, stChunkSize
		return true
	case stTrailer:
		// Trailer fields, checked like header fields; the scanner bounds
		// how many bytes this can buffer.
		end, rej := g.scan.scan(g.in, g.lim, true)
		if rej == nil && end < 0 {
			return false
		}
		g.scan = headScanner{}
		for line := g.in[:max(end, 0)]; rej == nil && len(line) > 2; {
			eol := bytes.IndexByte(line, '\n')
			_, _, rej = parseField(line[:eol-1])
			line = line[eol+1:]
		}
		if rej != nil {
			g.dead = true
			return true
		}
		g.ready, g.st = end, stHead
		return true
	}
	return false
}

// maxChunkDigits is the most hex digits of a chunk size, leading zeros
// included: net/http's chunked reader refuses more, and the guard must not
// pass a size line that net/http then fails on mid-body.
const maxChunkDigits = 16

// parseChunkLine parses a chunk-size line including its CRLF: hex digits,
// then optional chunk extensions (";...", no control bytes but HTAB) or
// spaces and tabs, as net/http's chunked reader reads it. Leading
// zeros are fine up to maxChunkDigits digits; a size of 2^60 or more is
// refused (no real body is that large, and it could overflow). The caller
// bounds the line's length (maxChunkLine).
func parseChunkLine(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line) && isHexDigit(line[i]); i++ {
		if i == maxChunkDigits || n >= 1<<56 {
			return 0, false // too many digits, or the size reaches 2^60
		}
		c := line[i]
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		n = n<<4 | int64(c)
	}
	if i == 0 {
		return 0, false
	}
	ext := line[i:]
	if len(ext) > 0 && ext[0] != ';' {
		// Only whitespace may follow the digits: net/http cuts the line
		// at ';' and parses all that comes before as hex, so it refuses
		// whitespace before the extensions, which RFC 9112 allows.
		if len(bytes.Trim(ext, " \t")) > 0 {
			return 0, false
		}
		ext = nil
	}
	for _, c := range ext {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return n, true
}

// refuse records a refused head. It is answered when net/http closes the
// connection, after any response still being written.
func (g *guardConn) refuse(rej *rejection) {
	g.mu.Lock()
	g.rej = rej
	g.mu.Unlock()
}

func (g *guardConn) rejected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rej != nil
}

// discard reads and drops bytes until the connection's read fails (its
// deadline passes, or the client leaves).
func (g *guardConn) discard() (int, error) {
	var buf [512]byte
	for {
		if _, err := g.Conn.Read(buf[:]); err != nil {
			return 0, err
		}
	}
}

// readFromGuardConn is a guarded connection whose own connection has a
// ReadFrom (a *net.TCPConn: sendfile(2), splice(2)), which it passes on:
// net/http sends a response body through the connection's ReadFrom only
// if the connection has one, and without it copies every file
// (wsgi.file_wrapper, fallback.Static, X-Sendfile) through a 32 KiB buffer.
// Other connections (TLS) keep net/http's own copy.
type readFromGuardConn struct{ *guardConn }

// ReadFrom hands a response body (net/http calls it with the head already
// written, for a body that is not chunked) to the connection's ReadFrom.
func (g readFromGuardConn) ReadFrom(r io.Reader) (int64, error) {
	return g.Conn.(io.ReaderFrom).ReadFrom(r)
}

// NetConn returns the connection under the guard (see resetConn).
func (g *guardConn) NetConn() net.Conn { return g.Conn }

// Close answers a refused request, then closes the connection.
func (g *guardConn) Close() error {
	g.mu.Lock()
	rej := g.rej
	first := !g.closed
	g.closed = true
	if g.h2timer != nil {
		g.h2timer.Stop()
	}
	g.mu.Unlock()
	if rej != nil && first {
		g.answer(rej)
	}
	return g.Conn.Close()
}

// answer writes the response for rej and lets the client read it before
// the connection closes: a close with unread request bytes would reset
// the connection and could destroy the response in flight. A HEAD gets
// the head a GET would get, Content-Length included, without the body.
func (g *guardConn) answer(rej *rejection) {
	if g.refused != nil {
		g.refused(rej.code, rej.reason, g.Conn.RemoteAddr())
	}
	body := fmt.Sprintf("%d %s: %s\n", rej.code, http.StatusText(rej.code), rej.reason)
	resp := "HTTP/1.1 " + strconv.Itoa(rej.code) + " " + http.StatusText(rej.code) + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Connection: close\r\n\r\n"
	if !rej.head {
		resp += body
	}
	g.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(g.Conn, resp); err != nil {
		return
	}
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := g.Conn.(closeWriter); ok {
		if cw.CloseWrite() == nil {
			g.Conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			io.Copy(io.Discard, io.LimitReader(g.Conn, 256<<10))
		}
	}
}
