package migrate

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"
)

// servedWriter is the ResponseWriter of the side that serves the client:
// it passes everything through, and records what net/http sends, for the
// rollback window and the comparison: the final status and, like
// net/http, the header map as it is when that status is written
// (WriteHeader, or implicitly the first Write, ReadFrom or Flush). What a
// handler changes in the header after that is never sent, so it is not
// compared either. With a tee, the body bytes that went through are
// copied to it.
//
// The handler gets it as one of the variants below, chosen by what the
// underlying writer supports, so that type assertions for http.Flusher,
// http.Hijacker, io.ReaderFrom and http.Pusher answer as they would
// without it, and Unwrap lets http.ResponseController reach the
// connection.
type servedWriter struct {
	http.ResponseWriter
	status int         // the final status written, 0 until one is
	sent   http.Header // the header when status was written
	sentAt time.Time   // when it was, with a tee (else zero)
	tee    *capture    // nil: the body is not kept
}

// newServedWriter wraps w, copying its body to tee unless tee is nil; it
// returns the record and the writer to give the handler.
func newServedWriter(w http.ResponseWriter, tee *capture) (*servedWriter, http.ResponseWriter) {
	sw := &servedWriter{ResponseWriter: w, tee: tee}
	_, fl := w.(http.Flusher)
	_, hj := w.(http.Hijacker)
	_, rf := w.(io.ReaderFrom)
	_, ps := w.(http.Pusher)
	switch {
	case fl && hj && rf:
		return sw, servedFlushHijackReader{sw}
	case fl && ps:
		return sw, servedFlushPush{sw}
	case fl && hj:
		return sw, servedFlushHijack{sw}
	case hj:
		return sw, servedHijack{sw}
	case fl:
		return sw, servedFlush{sw}
	}
	return sw, sw
}

// WriteHeader records the first final status and the header it sends;
// informational (1xx) ones other than 101 Switching Protocols pass through
// unrecorded, and a second final status is dropped (net/http only logs it).
func (w *servedWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status == 0 {
		w.status, w.sent = code, w.ResponseWriter.Header().Clone()
		if w.tee != nil {
			w.sentAt = time.Now()
		}
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *servedWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	if w.tee != nil {
		w.tee.Write(p[:n]) // what was sent: nothing after a 204 or a 304
	}
	return n, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *servedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// header returns the header the client got: as it was when the status
// was written, else (the handler wrote nothing) as it is now, which
// net/http sends when the handler returns.
func (w *servedWriter) header() http.Header {
	if w.sent != nil {
		return w.sent
	}
	return w.ResponseWriter.Header().Clone()
}

func (w *servedWriter) flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.ResponseWriter.(http.Flusher).Flush()
}

func (w *servedWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

// readFrom copies r through Write when there is a tee (which needs the
// bytes), else hands r to the underlying writer (sendfile).
func (w *servedWriter) readFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.tee != nil {
		return io.Copy(writerOnly{w}, r)
	}
	return w.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}

// writerOnly hides a writer's ReadFrom, so that io.Copy does not call it.
type writerOnly struct{ io.Writer }

// The variants: each has the methods of servedWriter plus the optional
// interfaces the underlying writer has.
type (
	servedFlush             struct{ *servedWriter }
	servedHijack            struct{ *servedWriter }
	servedFlushHijack       struct{ *servedWriter }
	servedFlushHijackReader struct{ *servedWriter } // net/http's HTTP/1 writer
	servedFlushPush         struct{ *servedWriter } // HTTP/2
)

func (w servedFlush) Flush()                                        { w.flush() }
func (w servedHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w servedFlushHijack) Flush()                                  { w.flush() }
func (w servedFlushHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w servedFlushHijackReader) Flush() { w.flush() }
func (w servedFlushHijackReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w servedFlushHijackReader) ReadFrom(r io.Reader) (int64, error) { return w.readFrom(r) }
func (w servedFlushPush) Flush()                                      { w.flush() }
func (w servedFlushPush) Push(target string, opts *http.PushOptions) error {
	return w.ResponseWriter.(http.Pusher).Push(target, opts)
}
