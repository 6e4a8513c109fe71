package wsgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
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
// an unlinked temporary file whose descriptor the worker reads directly
// (one of c.spool's: give it back with c.spool.put).
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
			return nil, nil, 0, badBody(err)
		}
		return inline, nil, r.ContentLength, nil
	}
	// Unknown (chunked) or large: read up to the buffer size, then spool.
	// The buffer is a recycled one (a new 64 KiB per upload was garbage
	// for the collector to chase).
	hb := c.heads.get()
	defer c.heads.put(hb)
	if cap(*hb) < cfg.BodyBuffer+1 {
		*hb = make([]byte, cfg.BodyBuffer+1)
	}
	head := (*hb)[:cfg.BodyBuffer+1]
	m, err := readFull(r.Body, head) // io.EOF: the whole body is in head
	if err == io.EOF {
		if r.ContentLength > 0 {
			return nil, nil, 0, badBody(io.ErrUnexpectedEOF)
		}
		if cfg.MaxBodySize > 0 && int64(m) > cfg.MaxBodySize {
			return nil, nil, 0, ErrBodyTooLarge
		}
		return bytes.Clone(head[:m]), nil, int64(m), nil
	}
	if err != nil {
		return nil, nil, 0, badBody(err)
	}
	f, reused, err := c.spool.get(cfg.TempDir)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	src := io.Reader(r.Body)
	if cfg.MaxBodySize > 0 {
		src = io.LimitReader(r.Body, cfg.MaxBodySize-int64(m)+1)
	}
	if _, err := f.Write(head[:m]); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
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
			return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
		}
		return nil, nil, 0, badBody(err)
	}
	if cfg.MaxBodySize > 0 && n > cfg.MaxBodySize {
		f.Close()
		return nil, nil, 0, ErrBodyTooLarge
	}
	if r.ContentLength > 0 && n != r.ContentLength {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%w: got %d of %d bytes", ErrBadBody, n, r.ContentLength)
	}
	if reused {
		// The file ends where this body does, whatever it held before: the
		// app reads it to its end.
		if err := f.Truncate(n); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return nil, f, n, nil
}

// badBody is the error of a body read that failed with err: ErrBadBody,
// or ErrBodyTimeout as it is.
func badBody(err error) error {
	if errors.Is(err, ErrBodyTimeout) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrBadBody, err)
}

// fileWriter hides the file's ReadFrom, which would copy through its own
// 32 KiB buffer (the source is never one it can splice from).
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// spoolPool keeps the files of spooled request bodies for the next ones.
// Writing a body into a new file costs the kernel a page per 4 KiB, freed
// again when the file's last descriptor closes; a kept file's pages take
// the next body without either (a 1 MiB upload: about 1.7 ms of the Go
// process's CPU with a new file, see docs/performance.md). A file is
// kept only once the app is done with it: the transport returned the
// response's final part, before which graft's worker closes its
// descriptor of the file. The zero value is ready to use.
type spoolPool struct {
	mu     sync.Mutex
	free   []*os.File
	closed bool
}

const (
	spoolKeep    = 8       // most files kept
	spoolKeepMax = 4 << 20 // largest body whose file is kept (bytes)
)

// get returns a kept file, at its start, or a new unlinked one in dir;
// reused says which.
func (sp *spoolPool) get(dir string) (f *os.File, reused bool, err error) {
	sp.mu.Lock()
	if n := len(sp.free); n > 0 {
		f = sp.free[n-1]
		sp.free = sp.free[:n-1]
	}
	sp.mu.Unlock()
	if f != nil {
		// The offset is shared with the worker's descriptor, which read
		// the last body to its end.
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			return f, true, nil
		}
		f.Close()
	}
	f, err = tempFile(dir, "graft-body-*")
	return f, false, err
}

// put keeps f, which held a body of size bytes, for another body if the
// app is done with it (done), it is not too large and too few are kept;
// else it closes f.
func (sp *spoolPool) put(f *os.File, size int64, done bool) {
	if done && size <= spoolKeepMax {
		sp.mu.Lock()
		if !sp.closed && len(sp.free) < spoolKeep {
			sp.free = append(sp.free, f)
			sp.mu.Unlock()
			return
		}
		sp.mu.Unlock()
	}
	f.Close()
}

// close closes the kept files; files put afterwards are closed.
func (sp *spoolPool) close() {
	sp.mu.Lock()
	free := sp.free
	sp.free, sp.closed = nil, true
	sp.mu.Unlock()
	for _, f := range free {
		f.Close()
	}
}
