package wsgi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultBodyTimeout is ServeConfig.BodyTimeout's default, nginx's
// client_body_timeout.
const DefaultBodyTimeout = 60 * time.Second

// withBodyTimeout gives every read of a request's body d to get some of
// it: a client that sends nothing for that long (a stalled upload, or a
// body shorter than its Content-Length) fails the read with an error
// that wraps os.ErrDeadlineExceeded, which the container answers with 408
// (ErrBodyTimeout), instead of holding the connection, and a handler
// waiting for it, forever. net/http sets no such limit once the headers
// are read, unless http.Server.ReadTimeout, which bounds the whole body
// however fast it comes. The deadline is the connection's read deadline
// (an HTTP/2 stream's own), set through http.ResponseController before
// each read; at the body's end net/http clears it itself, before its own
// read of the connection while the handler runs (which notices a client
// that leaves), so an app may take as long as it needs after the body.
// A failed read keeps its deadline, so that net/http's discarding of the
// rest of the body after the handler fails at once too.
func withBodyTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// A shallow copy, not r.Body replaced in place: net/http
			// looks at its own request's Body after the handler, and
			// only when that is still its body does it shut the
			// sending side and wait before closing a connection whose
			// body the handler left unread (a 413 answered by the
			// Content-Length), so that the client gets the response
			// rather than a reset.
			r = r.WithContext(r.Context())
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body whose reads have a deadline.
type deadlineBody struct {
	io.ReadCloser
	rc  *http.ResponseController
	d   time.Duration
	off bool // the connection takes no deadline (a test's recorder)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.off && b.rc.SetReadDeadline(time.Now().Add(b.d)) != nil {
		b.off = true
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = bodyTimeoutError{err}
	}
	return n, err
}

// bodyTimeoutError is a body read cut off by ServeConfig.BodyTimeout: it
// is ErrBodyTimeout and os.ErrDeadlineExceeded both.
type bodyTimeoutError struct{ err error }

func (e bodyTimeoutError) Error() string   { return ErrBodyTimeout.Error() + ": " + e.err.Error() }
func (e bodyTimeoutError) Unwrap() []error { return []error{ErrBodyTimeout, e.err} }
