package wsgi

import (
	"net/http"
	"time"
)

// h2ClientPreface is the HTTP/2 client connection preface (RFC 9113
// §3.4), and h2ClientPrefaceLen its length.
const (
	h2ClientPreface    = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2ClientPrefaceLen = len(h2ClientPreface)
)

// HTTP/2 frame types and the flag the header tracker looks at.
const (
	h2FrameHeaders      = 0x1
	h2FrameContinuation = 0x9
	h2FlagEndHeaders    = 0x4
)

// h2Tracker follows the frames of an HTTP/2 connection as they are read,
// cheaply: it reads each 9-byte frame header and skips the payload, to
// know whether a header block is open (a HEADERS frame without
// END_HEADERS, and the CONTINUATION frames after it) and whether any has
// been completed. It checks nothing else: net/http's HTTP/2 server does.
type h2Tracker struct {
	skip int     // bytes still to skip: the preface, then a frame's payload
	hdr  [9]byte // a frame header read in part
	nhdr int     // bytes of hdr read
	open bool    // a header block is open
	done bool    // a header block has been completed
}

// feed follows b, the next bytes read from the connection, and reports
// whether open or done changed.
func (t *h2Tracker) feed(b []byte) (changed bool) {
	for len(b) > 0 {
		if t.skip > 0 {
			if len(b) <= t.skip {
				t.skip -= len(b)
				return changed
			}
			b = b[t.skip:]
			t.skip = 0
		}
		n := copy(t.hdr[t.nhdr:], b)
		t.nhdr += n
		b = b[n:]
		if t.nhdr < len(t.hdr) {
			return changed
		}
		t.nhdr = 0
		t.skip = int(t.hdr[0])<<16 | int(t.hdr[1])<<8 | int(t.hdr[2])
		switch typ, flags := t.hdr[3], t.hdr[4]; {
		case typ == h2FrameHeaders || typ == h2FrameContinuation && t.open:
			// A CONTINUATION without an open block is net/http's to
			// refuse (a connection error); it opens nothing here.
			open := flags&h2FlagEndHeaders == 0
			if open != t.open || !open && !t.done {
				changed = true
			}
			t.open = open
			if !open {
				t.done = true
			}
		}
	}
	return changed
}

// h2Wait is the guard's HTTP/2 header deadline on a connection: from the
// preface until the first complete header block, and from the first frame
// of each header block until its last, at most the header timeout may
// pass, as net/http's ReadHeaderTimeout bounds an HTTP/1.x request head.
// A connection that overstays it is closed (no GOAWAY can be sent from
// below net/http; HTTP/1.x connections are closed too) and the refusal
// reported with status 408.

// startH2 begins following the connection as HTTP/2 from its preface on,
// and starts the header deadline when there is one.
func (g *guardConn) startH2() {
	g.h2 = &h2Tracker{skip: h2ClientPrefaceLen}
	if g.headerTimeout <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.h2due = time.Now().Add(g.headerTimeout)
	g.h2timer = time.AfterFunc(g.headerTimeout, g.h2Expired)
}

// h2Read follows the n bytes of p given to net/http.
func (g *guardConn) h2Read(p []byte) {
	if !g.h2.feed(p) || g.headerTimeout <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.h2timer == nil || g.closed:
	case g.h2.open && g.h2due.IsZero():
		// The first frame of a header block: it has headerTimeout.
		g.h2due = time.Now().Add(g.headerTimeout)
		g.h2timer.Reset(g.headerTimeout)
	case !g.h2.open:
		g.h2seen = true
		g.h2due = time.Time{}
		g.h2timer.Stop()
	}
}

// h2Expired is the header deadline's timer: it closes the connection if
// the deadline has passed with the header block still incomplete.
func (g *guardConn) h2Expired() {
	g.mu.Lock()
	due := g.h2due
	if due.IsZero() || g.closed {
		g.mu.Unlock()
		return
	}
	if d := time.Until(due); d > 0 { // a fire meant for an earlier deadline
		g.h2timer.Reset(d)
		g.mu.Unlock()
		return
	}
	g.h2due = time.Time{}
	seen := g.h2seen
	g.mu.Unlock()
	reason := "HTTP/2 header block not complete within the header timeout"
	if !seen {
		reason = "no complete HTTP/2 request headers within the header timeout"
	}
	if g.refused != nil {
		g.refused(http.StatusRequestTimeout, reason, g.Conn.RemoteAddr())
	}
	g.Conn.Close() // net/http's read fails: it closes the guarded connection
}
