package middleware

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
)

// responseWriter records the status and the size of a response for the
// access log. It lives inside the request's record (reqInfo), so wrapping
// costs no allocation; the handler gets it as one of the named types
// below, chosen by what the underlying writer supports (as chi's
// middleware.NewWrapResponseWriter does), so that type assertions for
// http.Flusher, http.Hijacker, io.ReaderFrom and http.Pusher answer as
// they would without the log, and Unwrap lets http.ResponseController
// reach the connection.
type responseWriter struct {
	http.ResponseWriter
	status   int  // the final status sent, 0 until one is
	bytes    int  // body bytes written
	hijacked bool // the handler took the connection (http.Hijacker)
}

// WriteHeader records the first final status; informational (1xx) ones
// other than 101 Switching Protocols pass through unrecorded, and so does
// any status after a hijack (net/http sends none then).
func (w *responseWriter) WriteHeader(code int) {
	if w.hijacked || code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status == 0 {
		w.status = code
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// complete reports whether the whole response went out: a status, and as
// many body bytes as its Content-Length. A client that closes the
// connection once it has them, before the handler returns (common for
// downloads), did not leave "before the response was sent": the access
// log does not call it aborted.
func (w *responseWriter) complete() bool {
	if w.status == 0 {
		return false
	}
	cl := w.Header().Get("Content-Length")
	return cl != "" && cl == strconv.Itoa(w.bytes)
}

// flushError flushes w, as http.ResponseController.Flush does but without
// its allocation, and returns the error: nil for a writer that cannot
// flush.
func flushError(w http.ResponseWriter) error {
	for {
		switch f := w.(type) {
		case interface{ FlushError() error }:
			return f.FlushError()
		case http.Flusher:
			f.Flush()
			return nil
		case interface{ Unwrap() http.ResponseWriter }:
			w = f.Unwrap()
		default:
			return nil
		}
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) flush() {
	if w.status == 0 && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	w.ResponseWriter.(http.Flusher).Flush()
}

// flushError is flush with the error of the underlying writer's flush.
// http.ResponseController.Flush asks for FlushError before Flush and
// before unwrapping: with Flush alone, a handler behind the log got nil
// from a flush that failed (an HTTP/2 stream the client has reset).
func (w *responseWriter) flushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// finalStatus is the status the access log and the metrics give the
// request: the one sent through w; else, for a hijacked connection, 101
// Switching Protocols (a WebSocket library such as gorilla/websocket
// writes its 101 on the connection itself, which graft cannot see; a
// status sent before the hijack, as coder/websocket sends its 101, is
// kept); else what [unsentStatus] says. returned says whether the
// handler returned (rather than panicked). A connection hijacked once its
// client had gone (the request's context cancelled: net/http stops
// watching a connection once it is hijacked, so that comes before) is no
// protocol switch but a handler closing it without another byte, as the
// wsgi container does for a client that left its request: 499.
func (w *responseWriter) finalStatus(r *http.Request, returned bool) int {
	switch {
	case w.status != 0:
		return w.status
	case w.hijacked && r.Context().Err() != context.Canceled:
		return http.StatusSwitchingProtocols
	}
	return unsentStatus(r, returned)
}

// record returns w itself: the variants below have it too, so that a
// middleware further in ([Metrics]) finds the record of the writer it was
// given instead of wrapping it again.
func (w *responseWriter) record() *responseWriter { return w }

// recordOf returns the record of w when w is one of graft's writers (the
// access log's), else nil.
func recordOf(w http.ResponseWriter) *responseWriter {
	if r, ok := w.(interface{ record() *responseWriter }); ok {
		return r.record()
	}
	return nil
}

func (w *responseWriter) readFrom(r io.Reader) (int64, error) {
	if w.status == 0 && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
	w.bytes += int(n)
	return n, err
}

// The variants: each has the methods of responseWriter plus the optional
// interfaces the underlying writer has. Converting a *responseWriter to
// one of them is free.
// They share one underlying type, so that a pointer to the record's
// wrappedWriter converts to any of them.
type (
	wrappedWriter           struct{ responseWriter }
	flushWriter             struct{ responseWriter }
	hijackWriter            struct{ responseWriter }
	flushHijackWriter       struct{ responseWriter }
	flushHijackReaderWriter struct{ responseWriter } // net/http's HTTP/1 writer
	flushPushWriter         struct{ responseWriter } // HTTP/2
)

func (w *flushWriter) Flush()             { w.flush() }
func (w *flushHijackWriter) Flush()       { w.flush() }
func (w *flushHijackReaderWriter) Flush() { w.flush() }
func (w *flushPushWriter) Flush()         { w.flush() }

// FlushError (for http.ResponseController.Flush): see flushError.
func (w *flushWriter) FlushError() error             { return w.flushError() }
func (w *flushHijackWriter) FlushError() error       { return w.flushError() }
func (w *flushHijackReaderWriter) FlushError() error { return w.flushError() }
func (w *flushPushWriter) FlushError() error         { return w.flushError() }
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w *flushHijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w *flushHijackReaderWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w *flushHijackReaderWriter) ReadFrom(r io.Reader) (int64, error) { return w.readFrom(r) }
func (w *flushPushWriter) Push(target string, opts *http.PushOptions) error {
	return w.ResponseWriter.(http.Pusher).Push(target, opts)
}

// wrap points w at under and returns it as the variant that matches
// under's optional interfaces.
func (w *wrappedWriter) wrap(under http.ResponseWriter) http.ResponseWriter {
	w.ResponseWriter = under
	_, fl := under.(http.Flusher)
	_, hj := under.(http.Hijacker)
	_, rf := under.(io.ReaderFrom)
	_, ps := under.(http.Pusher)
	switch {
	case fl && hj && rf:
		return (*flushHijackReaderWriter)(w)
	case fl && ps:
		return (*flushPushWriter)(w)
	case fl && hj:
		return (*flushHijackWriter)(w)
	case hj:
		return (*hijackWriter)(w)
	case fl:
		return (*flushWriter)(w)
	}
	return w
}
