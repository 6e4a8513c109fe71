package wsgi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// declaredLength is a request's CONTENT_LENGTH before its body is read:
// its Content-Length; -1 (no CONTENT_LENGTH) when unknown (chunked) and
// for a GET or HEAD without a body.
func declaredLength(r *http.Request) int64 {
	if r.ContentLength == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return -1
	}
	return r.ContentLength
}

// readBody reads the request body before a worker is leased, so that a
// slow upload never holds Python. Bodies up to Config.BodyBuffer stay in
// memory; larger ones (and chunked ones that grow past it) are spooled to
// an unlinked temporary file whose descriptor the worker reads directly.
// It returns the body's length, -1 when the request has no body at all.
func (c *Container) readBody(r *http.Request) (inline []byte, file *os.File, n int64, err error) {
	cfg := &c.cfg
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil, min(declaredLength(r), 0), nil
	}
	if cfg.MaxBodySize > 0 && r.ContentLength > cfg.MaxBodySize {
		return nil, nil, 0, ErrBodyTooLarge
	}
	if r.ContentLength > 0 && r.ContentLength <= int64(cfg.BodyBuffer) {
		inline = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, inline); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadBody, err)
		}
		return inline, nil, r.ContentLength, nil
	}
	// Unknown (chunked) or large: read up to the buffer size, then spool.
	head := make([]byte, cfg.BodyBuffer+1)
	m, err := readFull(r.Body, head) // io.EOF: the whole body is in head
	if err == io.EOF {
		if r.ContentLength > 0 {
			return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadBody, io.ErrUnexpectedEOF)
		}
		if cfg.MaxBodySize > 0 && int64(m) > cfg.MaxBodySize {
			return nil, nil, 0, ErrBodyTooLarge
		}
		return head[:m], nil, int64(m), nil
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	f, err := os.CreateTemp(cfg.TempDir, "graft-body-*")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("wsgi: spool request body: %w", err)
	}
	os.Remove(f.Name()) // unlinked: the space is freed when the last descriptor closes
	src := io.Reader(r.Body)
	if cfg.MaxBodySize > 0 {
		src = io.LimitReader(r.Body, cfg.MaxBodySize-int64(m)+1)
	}
	if _, err := f.Write(head[:m]); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("wsgi: spool request body: %w", err)
	}
	// Copy through the head's buffer, not io.Copy's 32 KiB: a spooled
	// body is larger than it, and every read and write costs a system
	// call.
	copied, err := io.CopyBuffer(fileWriter{f}, src, head)
	n = int64(m) + copied
	if err != nil {
		f.Close()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, nil, 0, fmt.Errorf("wsgi: spool request body: %w", err)
		}
		return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if cfg.MaxBodySize > 0 && n > cfg.MaxBodySize {
		f.Close()
		return nil, nil, 0, ErrBodyTooLarge
	}
	if r.ContentLength > 0 && n != r.ContentLength {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%w: got %d of %d bytes", ErrBadBody, n, r.ContentLength)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("wsgi: spool request body: %w", err)
	}
	return nil, f, n, nil
}

// fileWriter hides the file's ReadFrom, which would copy through its own
// 32 KiB buffer (the source is never one it can splice from).
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }
