package wsgi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
)

// respond copies the app's response from ex to w. If the worker died
// before starting the request and retry is true, it writes nothing and
// returns true, so that the request can be sent again.
func (c *Container) respond(w http.ResponseWriter, r *http.Request, ex Exchange, retry bool) (retried bool) {
	ctx := r.Context()
	var (
		headerSent bool
		declared   int64 = -1 // the app's Content-Length
		written    int64
		flusher, _ = w.(http.Flusher)
	)
	for {
		p, err := ex.Next(ctx)
		if err != nil {
			// The client went away: stop the app, close() its iterable.
			ex.Cancel()
			return false
		}
		switch p.Kind {
		case PartResponse, PartHead:
			code, err := c.writeHead(w, p, &declared)
			if err != nil {
				ex.Cancel()
				c.fail(w, r, fmt.Errorf("%w: %v", ErrProtocol, err), "")
				return false
			}
			if p.Kind == PartResponse {
				if declared < 0 && bodyAllowed(code) && (r.Method != http.MethodHead || len(p.Data) > 0) {
					w.Header().Set("Content-Length", strconv.Itoa(len(p.Data)))
					declared = int64(len(p.Data))
				}
				w.WriteHeader(code)
				n, _ := w.Write(p.Data)
				c.checkLength(w, r, declared, int64(n))
				return false
			}
			w.WriteHeader(code)
			headerSent = true
		case PartData:
			n, err := w.Write(p.Data)
			written += int64(n)
			if err != nil {
				ex.Cancel()
				return false
			}
			if flusher != nil && len(p.Data) > 0 {
				flusher.Flush()
			}
		case PartFile:
			n, err := sendFile(w, p)
			written += n
			if err != nil {
				ex.Cancel()
				return false
			}
		case PartEnd:
			if retry && !headerSent && errors.Is(p.Err, errNotStarted) {
				return true
			}
			if p.Err == nil {
				c.checkLength(w, r, declared, written)
				return false
			}
			if !headerSent {
				c.fail(w, r, p.Err, p.Traceback)
				return false
			}
			c.log.Error("wsgi: response failed after headers were sent; aborting the connection",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("request_id", requestID(r)), slog.String("error", p.Err.Error()),
				slog.String("traceback", p.Traceback))
			panic(http.ErrAbortHandler)
		}
	}
}

// writeHead copies status and headers into w and returns the status code.
func (c *Container) writeHead(w http.ResponseWriter, p Part, declared *int64) (int, error) {
	code, err := statusCode(p.Status)
	if err != nil {
		return 0, err
	}
	h := w.Header()
	for i := 0; i+1 < len(p.Header); i += 2 {
		name, value := p.Header[i], p.Header[i+1]
		ck := http.CanonicalHeaderKey(name)
		if ck == "Content-Length" {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
			*declared = n
		}
		h[ck] = append(h[ck], value)
	}
	noSniff(h) // no Content-Type the app did not send
	if !bodyAllowed(code) {
		// RFC 9110: no body, and no Content-Length on 1xx and 204.
		if code != http.StatusNotModified {
			h.Del("Content-Length")
		}
		*declared = -1
	}
	return code, nil
}

// checkLength logs a response shorter than the app's Content-Length.
// net/http then closes the connection, so the client cannot mistake it
// for a complete response. A writer that dropped the Content-Length (one
// that sends something else, such as fallback's X-Sendfile) is not warned
// about.
func (c *Container) checkLength(w http.ResponseWriter, r *http.Request, declared, written int64) {
	if declared >= 0 && written < declared && r.Method != http.MethodHead && w.Header().Get("Content-Length") != "" {
		c.log.Warn("wsgi: app sent fewer bytes than its Content-Length; closing the connection",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int64("content_length", declared), slog.Int64("sent", written))
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// sendFile sends a file range from wsgi.file_wrapper. ReadFrom is called
// directly, not through io.Copy, so that net/http can use sendfile(2).
func sendFile(w http.ResponseWriter, p Part) (int64, error) {
	defer p.File.Close()
	if _, err := p.File.Seek(p.Offset, io.SeekStart); err != nil {
		return 0, err
	}
	src := &io.LimitedReader{R: p.File, N: p.Count}
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w, src)
}
