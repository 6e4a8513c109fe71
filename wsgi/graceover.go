package wsgi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// errGraceOver ends the requests still waiting for a worker when Serve's
// GracefulTimeout runs out (see closeQueue): StatusOf maps it to 503.
var errGraceOver = fmt.Errorf("%w: the graceful timeout ran out while the request waited for a worker", ErrClosed)

// graceOverWait bounds how long closeQueue waits for the queued requests'
// 503s to be written.
const graceOverWait = time.Second

// closeQueue answers 503 every request still waiting for a worker, through
// the transport's QueueCloser, and waits (graceOverWait at most) until
// those answers are on their connections, so that cutting the connections
// next does not cut them. Serve calls it when GracefulTimeout runs out:
// until then, queued requests are served as workers free up (the drain).
func (c *Container) closeQueue() {
	qc, ok := c.tr.(QueueCloser)
	if !ok {
		return
	}
	n := qc.CloseQueue(errGraceOver)
	timer := time.NewTimer(graceOverWait)
	defer timer.Stop()
	for range n {
		select {
		case <-c.graceOver:
		case <-timer.C:
			return
		}
	}
}

// answerGraceOver writes the error handler's answer to a request ended by
// closeQueue whole, with its Content-Length, and flushes it to the
// connection, then tells closeQueue: the connection is cut right after.
func (c *Container) answerGraceOver(w http.ResponseWriter, r *http.Request, err error) {
	b := &heldResponse{h: w.Header()}
	c.cfg.ErrorHandler(b, r, err)
	if b.code == 0 {
		b.code = http.StatusOK // as net/http would send for a handler that wrote nothing
	}
	w.Header().Set("Connection", "close")
	if w.Header().Get("Content-Length") == "" && bodyAllowed(b.code) {
		w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
	}
	w.WriteHeader(b.code)
	w.Write(b.body)
	http.NewResponseController(w).Flush()
	select {
	case c.graceOver <- struct{}{}:
	default: // more than the queue could hold: closeQueue waits no more
	}
}

// heldResponse holds a response an error handler writes, so that it can
// be sent whole (see answerGraceOver).
type heldResponse struct {
	h    http.Header
	code int
	body []byte
}

func (b *heldResponse) Header() http.Header { return b.h }

func (b *heldResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *heldResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	b.body = append(b.body, p...)
	return len(p), nil
}
