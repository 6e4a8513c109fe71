// Package errhead gives a HEAD answered by an error page the header
// fields the GET of the same URL gets.
//
// net/http sets "Content-Length: 0" on a response whose handler wrote no
// body, but on a HEAD only when a body was written (it cannot tell an
// empty body from a HEAD's omitted one), so an error handler that writes a
// status alone gives HEAD no Content-Length and GET one. Where graft
// writes the page itself it knows the GET's body is empty: [Write] holds
// the status of a HEAD's page until the page writes a body, flushes or
// returns, and a page that wrote no body gets "Content-Length: 0" under
// the rule net/http applies to GET (a status that allows a body, and no
// Content-Length, Transfer-Encoding or trailers declared). A body written
// is left to net/http, which counts it for HEAD as for GET.
package errhead

import (
	"net/http"
	"strings"
)

// Write calls page to answer r on w; for a HEAD, through a writer that
// gives the answer GET's header fields (see the package doc).
func Write(w http.ResponseWriter, r *http.Request, page func(http.ResponseWriter)) {
	if r.Method != http.MethodHead {
		page(w)
		return
	}
	hw := &headWriter{ResponseWriter: w}
	page(hw)
	hw.finish()
}

// headWriter holds the status a page writes for a HEAD until a body
// write, a flush or the page's return.
type headWriter struct {
	http.ResponseWriter
	code int  // the status held; 0: none yet
	sent bool // the status went to ResponseWriter
}

func (w *headWriter) WriteHeader(code int) {
	switch {
	case w.sent, code < 200:
		// Superfluous (net/http logs it), or informational: at once.
		w.ResponseWriter.WriteHeader(code)
	case w.code == 0:
		w.code = code
	}
}

func (w *headWriter) Write(p []byte) (int, error) {
	if len(p) == 0 && !w.sent {
		if w.code == 0 {
			w.code = http.StatusOK // as net/http takes an empty write
		}
		return 0, nil
	}
	w.send()
	return w.ResponseWriter.Write(p)
}

// Flush sends the status held, as net/http's does.
func (w *headWriter) Flush() {
	w.send()
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// send passes the status held on, once.
func (w *headWriter) send() {
	if w.sent {
		return
	}
	w.sent = true
	if w.code != 0 {
		w.ResponseWriter.WriteHeader(w.code)
	}
}

// finish ends a response whose page returned: one with no body written
// gets "Content-Length: 0" where net/http gives a GET one.
func (w *headWriter) finish() {
	if w.sent {
		return
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	h := w.Header()
	if bodyAllowed(w.code) && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" && !declaresTrailers(h) {
		h.Set("Content-Length", "0")
	}
	w.send()
}

// bodyAllowed reports whether a response with status code may have a
// body (RFC 9110 §6.4.1).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// declaresTrailers reports whether h declares trailers (a Trailer field,
// or a field named with http.TrailerPrefix), with which net/http sets no
// Content-Length.
func declaresTrailers(h http.Header) bool {
	if len(h["Trailer"]) > 0 {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}
