package router

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// followHead makes a GET route also serve HEAD, as http.ServeMux, Flask and
// Django do, unless a HEAD route is registered on the same pattern of the
// same mux, before or after: registering one replaces the implied route.
// Called by Method after each registration, with the GET route's handler h
// as given to chi and its route middlewares mws (see inline); local is
// pattern as chi has it (see mustCatchAll).
func (r *Router) followHead(method, pattern, local string, h http.Handler, mws chi.Middlewares) {
	set := r.state.methods[local]
	switch method {
	case http.MethodGet:
		if set.has(http.MethodHead) {
			return
		}
		r.base.Method(http.MethodHead, local, inline(mws, headHandler{h}))
		set.add(http.MethodHead)
		set.head = &entry{method: http.MethodHead, pattern: join(r.prefix, pattern), target: TargetGo, implicit: true}
		r.markPrefixRoot(set.head, pattern) // chi serves HEAD /api with it too
		r.reg.add(set.head)
	case http.MethodHead:
		if set.head != nil {
			r.reg.remove(set.head)
			set.head = nil
		}
	}
}

// headHandler serves HEAD with a GET handler: the body is discarded and the
// headers are those a GET would get, Content-Length included.
type headHandler struct{ get http.Handler }

func (hh headHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hw := &headWriter{w: w, limit: 2048}
	if r.ProtoMajor == 2 {
		hw.limit = 4 << 10
	}
	hh.get.ServeHTTP(hw, r)
	hw.finish()
}

// headWriter discards the body of a GET handler serving HEAD, and holds
// the headers back as net/http does for a GET: until the handler returns,
// flushes, or writes more than net/http buffers (2 KiB for HTTP/1, 4 KiB
// for HTTP/2). A handler that returns before that gets the Content-Length
// and the sniffed Content-Type its GET response has; one that streams gets
// neither, as its GET response is chunked; one that writes nothing gets
// neither, as with net/http.
type headWriter struct {
	w      http.ResponseWriter
	limit  int64  // bytes net/http buffers before it sends the headers
	status int    // final status, 0 until set
	n      int64  // body bytes written and discarded
	sniff  []byte // the first bytes, for Content-Type
	sent   bool   // headers passed on to w
}

func (hw *headWriter) Header() http.Header { return hw.w.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (hw *headWriter) Unwrap() http.ResponseWriter { return hw.w }

func (hw *headWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		hw.w.WriteHeader(code) // informational: sent at once, as net/http does
		return
	}
	if hw.status == 0 {
		hw.status = code
	}
}

func (hw *headWriter) Write(p []byte) (int, error) {
	if hw.status == 0 {
		hw.status = http.StatusOK
	}
	if !bodyAllowed(hw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if !hw.sent {
		if len(hw.sniff) < 512 {
			hw.sniff = append(hw.sniff, p[:min(len(p), 512-len(hw.sniff))]...)
		}
		if hw.n+int64(len(p)) > hw.limit {
			hw.send(false)
		}
	}
	hw.n += int64(len(p))
	return len(p), nil
}

// Flush sends the headers, without Content-Length, as a GET flush does.
func (hw *headWriter) Flush() { _ = hw.FlushError() }

// FlushError is Flush with the error of the underlying writer's flush,
// which http.ResponseController.Flush asks for before it unwraps (with
// Flush alone, a handler got nil from a flush that failed).
func (hw *headWriter) FlushError() error {
	if hw.status == 0 {
		hw.status = http.StatusOK
	}
	hw.send(false)
	return http.NewResponseController(hw.w).Flush()
}

func (hw *headWriter) finish() {
	if hw.status == 0 {
		hw.status = http.StatusOK
	}
	hw.send(true)
}

// send passes the headers on, once, completing them as net/http completes
// a GET's: the sniffed Content-Type, and when the handler is done (the
// body was buffered whole), the Content-Length. A handler that wrote
// nothing gets no Content-Length, as net/http does for HEAD: it may have
// skipped the body because the method is HEAD, and a length of 0 would
// contradict its GET's (RFC 9110 §8.6).
func (hw *headWriter) send(done bool) {
	if hw.sent {
		return
	}
	hw.sent = true
	h := hw.w.Header()
	_, hasType := h["Content-Type"]
	encoded := h.Get("Content-Encoding") != ""
	chunked := h.Get("Transfer-Encoding") != ""
	if bodyAllowed(hw.status) && !chunked {
		if !hasType && !encoded && len(hw.sniff) > 0 {
			h.Set("Content-Type", http.DetectContentType(hw.sniff))
		}
		if _, ok := h["Content-Length"]; done && !ok && hw.n > 0 && h.Get("Trailer") == "" {
			h.Set("Content-Length", strconv.FormatInt(hw.n, 10))
		}
	}
	hw.w.WriteHeader(hw.status)
}

// bodyAllowed reports whether a response with status may have a body
// (RFC 9110: not 1xx, 204 or 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
