package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/hdrname"
	"github.com/graft-dev/graft/internal/reqctx"
)

// Container is an http.Handler that runs a WSGI application (PEP 3333) in
// supervised Python worker processes: Tornado's WSGIContainer, done so that
// it can serve production traffic. Create it with New; it is ready to serve
// when New returns. Stop it with Shutdown.
type Container struct {
	cfg       Config
	tr        Transport
	log       *slog.Logger
	reqs      requestPool
	queueWait prometheus.Histogram
	closed    atomic.Bool
	draining  atomic.Bool   // Serve is shutting down: not ready
	appLock   *os.File      // the lock of AppFS's copy, held until its removal
	done      chan struct{} // closed by Shutdown
	graceOver chan struct{} // a token per request answered by closeQueue
	closeOnce sync.Once
	stopped   chan struct{} // closed when the first Shutdown has finished
	ident     identityState // see identity.go
	spool     spoolPool     // files of spooled request bodies (body.go)
	heads     bufPool       // readBody's buffers for bodies of unknown or large size
	refusals  rateLog       // requests refused for a full queue or its timeout (see fail)
}

var _ http.Handler = (*Container)(nil)

// New validates cfg, starts the workers and waits until every one has
// imported the app. An app that cannot load (ImportError, a syntax error, a
// crash at import) makes New fail with a *LoadError carrying the Python
// traceback.
func New(cfg Config) (*Container, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkProcess(); err != nil {
		return nil, err
	}
	if cfg.BatchScheduling {
		// Config reports what is in effect.
		switch err := batchScheduling(); {
		case errors.Is(err, errors.ErrUnsupported):
			cfg.BatchScheduling = false // not Linux
		case err != nil:
			cfg.Logger.Warn("wsgi: batch scheduling refused; the default policy stays", slog.String(logError, err.Error()))
			cfg.BatchScheduling = false
		}
	}
	pl, lock, err := newPoolFromAppFS(&cfg)
	if err != nil {
		return nil, err
	}
	c := assemble(cfg, pl)
	c.appLock = lock
	return c, nil
}

// NewWithTransport returns a Container that sends requests over tr instead
// of starting worker processes: the seam for other transports. cfg is
// validated as for New; its process settings are up to tr. What the
// Container can do beyond serving depends on the optional interfaces tr
// implements: [Reloader] (Reload, AutoReload) and [StatusReporter]
// (Status, Ready, the status page and the worker metrics).
func NewWithTransport(cfg Config, tr Transport) (*Container, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.AutoReload {
		if _, ok := tr.(Reloader); !ok {
			return nil, errors.New("wsgi: invalid config: AutoReload needs a transport that implements Reloader")
		}
	}
	return assemble(cfg, tr), nil
}

// assemble returns the Container for cfg (validated) and tr.
func assemble(cfg Config, tr Transport) *Container {
	c := &Container{cfg: cfg, tr: tr, log: cfg.Logger, queueWait: newQueueWait(), done: make(chan struct{}),
		stopped: make(chan struct{}), graceOver: make(chan struct{}, max(cfg.MaxQueue, 1))}
	if cfg.AutoReload {
		go c.autoReload(c.done)
	}
	return c
}

// Config returns the container's configuration, with defaults filled in.
func (c *Container) Config() Config { return c.cfg }

// Reload replaces the workers with new ones running freshly imported code,
// without failing a request: the new workers start and import the app;
// only when all are ready do the old ones stop taking requests and drain.
// If the new code fails to load, the old workers keep serving and the
// error (a *LoadError with the traceback, or one wrapping ErrStartTimeout)
// is returned, reading "wsgi: reload: " and the cause (with its own
// "wsgi: " prefix not repeated); graft's transport has logged it, with the traceback, so
// callers need not log it again. Reloads run one at a time: a call made
// while one runs waits for it, as long as ctx allows (graft's transport).
// It fails with ErrNoReload if the transport is not a [Reloader].
func (c *Container) Reload(ctx context.Context) error {
	rl, ok := c.tr.(Reloader)
	if !ok {
		return ErrNoReload
	}
	return rl.Reload(ctx)
}

// Shutdown stops taking requests (new ones get 503), lets in-flight
// requests finish until ctx is done, then stops the workers. Call it after
// http.Server.Shutdown, which stops accepting connections first. The first
// call does the work and returns its outcome; a call made while it runs
// (Serve's and the program's own, say) returns nil once it has finished,
// or ctx's error if ctx is done first; a call after it returns nil.
func (c *Container) Shutdown(ctx context.Context) error {
	return c.stop(ctx, ctx)
}

// stop is Shutdown with two bounds, for Serve: in-flight requests finish
// until reqCtx is done; then, with graft's transport, only the workers
// still running requests are killed at once, and every other process (an
// idle worker, a zygote) keeps the exitGrace any process told to leave has
// to run its exit hooks, as long as ctx allows. Another transport's
// Shutdown gets reqCtx.
func (c *Container) stop(reqCtx, ctx context.Context) error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		close(c.done)
	})
	if !first {
		select {
		case <-c.stopped:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wsgi: shutdown: %w", ctx.Err())
		}
	}
	var err error
	if pl, ok := c.tr.(*pool); ok {
		err = pl.shutdown(reqCtx, ctx)
	} else {
		err = c.tr.Shutdown(reqCtx)
	}
	err = c.removeAppFSCopy(err)
	c.spool.close()
	close(c.stopped)
	return err
}

// Environ returns the environ's string keys for r as Go sends them to the
// app (CGI keys, HTTP_* keys, wsgi.url_scheme and graft.* keys), without
// running Python and without reading r.Body. wsgi.input, wsgi.errors and
// the other non-string wsgi.* keys are added by the worker, and so is
// SERVER_SOFTWARE ("graft"). The values are the bytes Go sends: the app
// gets each byte as one latin-1 code point (PEP 3333), so that a
// PATH_INFO of "/é" here (%C3%A9 decoded) is "/Ã©" in Python.
// CONTENT_LENGTH is r.ContentLength when known (a chunked body gets its
// length once read).
func (c *Container) Environ(r *http.Request) map[string]string {
	pairs := environ(nil, r, c.cfg.ScriptName+MountPrefix(r.Context()), declaredLength(r))
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

// ServeHTTP runs the app for r.
func (c *Container) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	trace := TraceFrom(ctx)
	if trace != nil {
		trace.Served = true
	}
	err := targetError(r)
	if err == nil {
		err = methodError(r.Method)
	}
	if err == nil {
		err = headerError(r.Header)
	}
	if err == nil && r.ContentLength != 0 && c.queueFull() {
		// Refuse before reading the body: under a flood of uploads with
		// the queue full, reading each to its end only to refuse it is
		// the work the queue limit is there to shed.
		err = ErrQueueFull
	}
	if err != nil {
		c.fail(w, r, err, "")
		return
	}
	inline, file, n, err := c.readBody(r)
	if err != nil {
		c.fail(w, r, err, "")
		return
	}
	var done bool // the app is done with the body's file (see respond)
	if file != nil {
		defer func() { c.spool.put(file, n, done) }()
	}
	req := c.reqs.get()
	defer c.reqs.put(req)
	req.Env = environ(req.Env, r, c.cfg.ScriptName+MountPrefix(ctx), n)
	req.Body, req.BodyFile, req.Timeout = inline, file, c.cfg.Timeout
	req.Method, req.Path, req.ID = r.Method, r.URL.Path, requestID(r)
	withdrawals := 0 // times a worker gave it back before beginning it (see errWithdrawn)
	for attempt := 1; ; attempt++ {
		queued := time.Now()
		ex, err := c.tr.Start(ctx, req)
		waited := time.Since(queued)
		if err != nil {
			if trace != nil {
				trace.Queued += waited
			}
			if errors.Is(err, ErrQueueTimeout) || ctx.Err() != nil {
				// It waited, and was given up or gave up: the longest
				// waits of an overload belong in the histogram too.
				c.queueWait.Observe(waited.Seconds())
			}
			if ctx.Err() != nil {
				c.ended(w, r, false)
				return
			}
			c.fail(w, r, err, "")
			return
		}
		before := withdrawals
		if !c.respond(w, r, ex, attempt < maxAttempts, waited, &done, &withdrawals) {
			return
		}
		// The app never saw the request (ErrNotStarted): try again. One
		// that a worker stuck on a slow request gave back is no failed
		// attempt: it goes to the front of the queue.
		req.front = withdrawals > before
		if req.front {
			attempt--
		}
		if file != nil {
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				c.fail(w, r, err, "")
				return
			}
		}
	}
}

// queueFull reports whether the transport says a request arriving now
// would be refused with ErrQueueFull (see QueueReporter); false if it
// cannot tell.
func (c *Container) queueFull() bool {
	qr, ok := c.tr.(QueueReporter)
	return ok && qr.QueueFull()
}

// maxAttempts bounds how many times a request is sent to the transport:
// it is sent again only when the transport reports that the app never
// started it (ErrNotStarted), so retrying is safe whatever its method.
const maxAttempts = 3

// flusherOf returns w's http.Flusher, or that of the writer it wraps
// (Unwrap, followed as http.ResponseController follows it), nil if none: a
// middleware whose writer offers Flush only through Unwrap must not hold a
// stream in net/http's buffer.
func flusherOf(w http.ResponseWriter) http.Flusher {
	for {
		if f, ok := w.(http.Flusher); ok {
			return f
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// respond copies the app's response from ex to w. If the transport reports
// that the app never started the request (ErrNotStarted) and retry is
// true, it writes nothing and returns true, so that the request can be
// sent again; also, whatever retry says, for a request a worker gave back
// (errWithdrawn), counted in *withdrawals up to maxWithdrawals. It sets
// *done once the response's final part came from the app (a whole
// response, or an end without error): the app is done with the request's
// body. It releases ex (see Releaser) when it returns, or
// aborts the response.
func (c *Container) respond(w http.ResponseWriter, r *http.Request, ex Exchange, retry bool, waited time.Duration, done *bool, withdrawals *int) (retried bool) {
	if rel, ok := ex.(Releaser); ok {
		defer rel.Release()
	}
	ctx := r.Context()
	var (
		headerSent bool
		declared   int64 = -1 // the app's Content-Length
		written    int64
		flusher    = flusherOf(w)
	)
	var send *sendWatch // the body's writes, once there is one (see sendWatch)
	defer func() { send.stop() }()
	for first := true; ; first = false {
		p, err := ex.Next(ctx)
		if err != nil {
			// The request's context is done: stop the app, close() its
			// iterable.
			ex.Cancel()
			if first {
				c.queued(ctx, ex, waited)
			}
			c.ended(w, r, headerSent)
			return false
		}
		if first {
			c.queued(ctx, ex, waited)
		}
		switch p.Kind {
		case PartHints:
			if headerSent {
				break
			}
			// A 103 is a head too (see checkHeadSize), and optional: one
			// over the limit is left out, and the final response goes on.
			if err := c.checkHeadSize(Part{Status: "103 Early Hints", Header: p.Header}); err != nil {
				c.log.Warn("wsgi: early hints not sent", requestAttrs(r.Method, r.URL.Path, requestID(r), slog.String(logError, err.Error()))...)
				break
			}
			writeHints(w, r, p.Header)
		case PartResponse, PartHead:
			if err := c.checkHeadSize(p); err != nil {
				ex.Cancel()
				c.fail(w, r, err, "")
				return false
			}
			code, err := c.writeHead(w, p, &declared)
			if err != nil {
				ex.Cancel()
				c.fail(w, r, fmt.Errorf("%w: %v", ErrProtocol, err), "")
				return false
			}
			if p.Kind == PartResponse {
				*done = true
				if declared < 0 && bodyAllowed(code) && (r.Method != http.MethodHead || len(p.Data) > 0) {
					w.Header().Set("Content-Length", strconv.Itoa(len(p.Data)))
					declared = int64(len(p.Data))
				}
				w.WriteHeader(code)
				n, _ := w.Write(p.Data)
				p.release() // written: its buffer can take another response
				c.checkLength(w, r, declared, int64(n))
				return false
			}
			if p.Length > 0 && declared < 0 && bodyAllowed(code) {
				w.Header().Set("Content-Length", strconv.FormatInt(p.Length, 10))
				declared = p.Length
			}
			w.WriteHeader(code)
			headerSent = true
		case PartData:
			if r.Method == http.MethodHead {
				// The response was complete with its head, and the app
				// goes on with a body: net/http eats a HEAD's body, so
				// the rest of a stream (an endless one: SSE, a big export
				// a monitor checks with HEAD) would be iterated for
				// nothing until Timeout, holding the worker and the
				// client's next request on the connection. Stop the app
				// as for a client gone (close() is called). A 204's or
				// 304's body is refused by net/http's write, which stops
				// it the same way.
				p.release()
				ex.Cancel()
				return false
			}
			if send == nil {
				send = &sendWatch{w: w, timeout: c.cfg.SendTimeout}
				if sendWatched(ctx) {
					send.timeout = 0 // Serve's watch: the socket's, or the stream's
				}
			}
			n, err := send.write(p.Data)
			p.release() // written: its buffer can take another frame
			written += int64(n)
			if err == nil && flusher != nil && n > 0 {
				send.flush(flusher)
			}
			if send.fired.Load() {
				c.clientStalled(r, ex)
				return false
			}
			if err != nil {
				ex.Cancel()
				return false
			}
			if complete(ex, r, declared, written) {
				return false
			}
		case PartFile:
			if r.Method == http.MethodHead {
				// Its length is in the head already; net/http would read
				// the whole file only to drop it.
				p.File.Close()
				continue
			}
			n, err := sendFile(w, p)
			written += n
			if err != nil {
				ex.Cancel()
				var pe *os.PathError
				if errors.As(err, &pe) && ctx.Err() == nil {
					// The file, not the client, failed (a descriptor not
					// open for reading): never a clean short response.
					c.log.Error("wsgi: sending the file of wsgi.file_wrapper failed; aborting the connection",
						requestAttrs(r.Method, r.URL.Path, requestID(r), slog.String(logError, err.Error()))...)
					abortSent(w, r)
				}
				return false
			}
			if complete(ex, r, declared, written) {
				return false
			}
		case PartEnd:
			if !headerSent && errors.Is(p.Err, errWithdrawn) && *withdrawals < maxWithdrawals {
				*withdrawals++
				return true
			}
			if retry && !headerSent && errors.Is(p.Err, ErrNotStarted) {
				return true
			}
			if p.Err == nil {
				*done = true
				c.checkLength(w, r, declared, written)
				return false
			}
			if !headerSent {
				err := p.Err
				if errors.Is(err, ErrNotStarted) {
					err = fmt.Errorf("%w, %d times (each time serving another request)", err, maxAttempts)
				}
				c.fail(w, r, err, p.Traceback)
				return false
			}
			if errors.Is(p.Err, ErrClientStalled) {
				// The spill gave the client up while no write was cut
				// (a writer without Unwrap takes no deadline).
				c.clientStalled(r, ex)
				panic(http.ErrAbortHandler)
			}
			attrs := []any{slog.String(logError, p.Err.Error())}
			if p.Traceback != "" { // a worker's death or a timeout has none
				attrs = append(attrs, slog.String(logTraceback, p.Traceback))
			}
			c.log.Error("wsgi: response failed after headers were sent; aborting the connection",
				requestAttrs(r.Method, r.URL.Path, requestID(r), attrs...)...)
			abortSent(w, r)
		}
	}
}

// clientStalled gives up a response whose client took none of it for
// SendTimeout (see sendWatch and spill.idleFor), and logs it, once: the
// app is told to stop, and the connection (HTTP/2: the stream) ends before
// the response's end, since the write that was cut leaves it failed.
func (c *Container) clientStalled(r *http.Request, ex Exchange) {
	ex.Cancel()
	logClientStalled(c.log, r, c.cfg.SendTimeout)
}

// logClientStalled logs, at WARN, that r's client was given up after
// SendTimeout d.
func logClientStalled(log *slog.Logger, r *http.Request, d time.Duration) {
	log.Warn("wsgi: the client took none of the response for SendTimeout; giving it up",
		requestAttrs(r.Method, r.URL.Path, requestID(r), slog.Duration("graft.send_timeout", d))...)
}

// complete reports whether the request's goroutine may leave before the
// end of the response: the client has the whole body (written reached the
// app's Content-Length) and ex let it go (see Completer).
func complete(ex Exchange, r *http.Request, declared, written int64) bool {
	if declared <= 0 || written < declared || r.Method == http.MethodHead {
		return false
	}
	c, ok := ex.(Completer)
	return ok && c.Complete()
}

// queued accounts for the time a request waited for a worker (the
// queue-wait metric, Trace.Queued) and notes its worker in the Trace, once
// the first part of its response (or its end) has come: waited is its
// time in Start, to which a QueueWaiter's wait is added.
func (c *Container) queued(ctx context.Context, ex Exchange, waited time.Duration) {
	if q, ok := ex.(QueueWaiter); ok {
		waited += q.QueueWait()
	}
	c.queueWait.Observe(waited.Seconds())
	if trace := TraceFrom(ctx); trace != nil {
		trace.Queued += waited
		trace.Worker = ex.Worker()
	}
}

// writeHints sends a 103 Early Hints response with the app's headers
// (wsgi.early_hints), and only those: the headers a middleware has set for
// the final response are put back afterwards, and the hints do not stay
// for it. HTTP/1.0 has no 1xx responses: nothing is sent.
//
// Here and in writeHead, spaces and tabs at the edges of the app's header
// values are trimmed, as net/http trims them when it writes HTTP/1.1 and
// gunicorn strips them: over HTTP/2 net/http sends a value as it is, and
// RFC 9113 (8.2.1) makes one with whitespace at its edges malformed (a
// client built on nghttp2 resets the stream, Node's drops the header).
func writeHints(w http.ResponseWriter, r *http.Request, hints []string) {
	if !r.ProtoAtLeast(1, 1) {
		return
	}
	h := w.Header()
	saved := h.Clone()
	clear(h)
	for i := 0; i+1 < len(hints); i += 2 {
		ck := http.CanonicalHeaderKey(hints[i])
		h[ck] = append(h[ck], textproto.TrimString(hints[i+1]))
	}
	w.WriteHeader(http.StatusEarlyHints)
	clear(h)
	maps.Copy(h, saved)
}

// checkHeadSize returns ErrResponseHeadTooLarge, with the head's size and
// the limit, when p's head (status and headers, as HTTP/1.1 writes them)
// is over Config.MaxResponseHeadSize.
func (c *Container) checkHeadSize(p Part) error {
	limit := c.cfg.MaxResponseHeadSize
	if limit < 0 {
		return nil
	}
	n := len("HTTP/1.1 ") + len(p.Status) + len("\r\n\r\n")
	for _, f := range p.Header {
		n += len(f) + 2 // ": " after a name, CRLF after a value
	}
	if n <= limit {
		return nil
	}
	return fmt.Errorf("%w: %d bytes (%d header fields), over MaxResponseHeadSize %d", ErrResponseHeadTooLarge, n, len(p.Header)/2, limit)
}

// writeHead copies status and headers into w and returns the status code.
func (c *Container) writeHead(w http.ResponseWriter, p Part, declared *int64) (int, error) {
	code, err := statusCode(p.Status)
	if err != nil {
		return 0, err
	}
	// Check before copying anything: a response refused here (502) must
	// not carry the app's other headers, such as its Set-Cookie.
	for i := 0; i+1 < len(p.Header); i += 2 {
		if http.CanonicalHeaderKey(p.Header[i]) == "Content-Length" {
			n, err := strconv.ParseInt(p.Header[i+1], 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", p.Header[i+1])
			}
			*declared = n
		}
	}
	h := w.Header()
	// The value of a name not yet in h is a slice of p.Header itself
	// (transports hand the Part over: see Part.Header), so no allocation
	// per header. Each slice is capped, so a later append copies.
	for i := 0; i+1 < len(p.Header); i += 2 {
		ck := http.CanonicalHeaderKey(p.Header[i])
		v := textproto.TrimString(p.Header[i+1]) // see writeHints
		if old, ok := h[ck]; ok {
			if ck == "Vary" {
				// A Go middleware in front (IdentityMiddleware) listed some
				// names already: add only the app's others, not Cookie twice.
				for name := range strings.SplitSeq(v, ",") {
					if name = strings.TrimSpace(name); name != "" {
						hdrname.AddVary(h, name)
					}
				}
				continue
			}
			h[ck] = append(old, v)
			continue
		}
		if len(v) != len(p.Header[i+1]) {
			h[ck] = []string{v} // rare: the Part's header stays as it is
			continue
		}
		h[ck] = p.Header[i+1 : i+2 : i+2]
	}
	noSniff(h) // no Content-Type the app did not send
	if !bodyAllowed(code) {
		// RFC 9110: no body, and no Content-Length on 1xx and 204. On a
		// 304 the app's Content-Length (the representation's, which RFC
		// 9110 allows) and Content-Type go too, as net/http drops them
		// over HTTP/1.1: over HTTP/2 it keeps them, and Go's own client
		// then reads the 304 as a body cut short (unexpected EOF).
		h.Del("Content-Length")
		if code == http.StatusNotModified {
			h.Del("Content-Type")
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
			slog.String(logMethod, r.Method), slog.String(logPath, r.URL.Path),
			slog.Int64("graft.content_length", declared), slog.Int64(logBytesSent, written))
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// sendFile sends a file range from wsgi.file_wrapper. p.File shares its
// open file description, and so its position, with the app's file, which
// the app may keep open and use again (a cached file, its other threads)
// while the range is sent: so sendFile never reads from that position nor
// moves it. On Linux it sends from a new open file description of the same
// file (reopenForRead) with sendfile(2): ReadFrom is called directly, not
// through io.Copy, so that net/http can use it. Elsewhere, or when the file
// cannot be reopened, the range is read with pread(2) (io.SectionReader).
func sendFile(w http.ResponseWriter, p Part) (int64, error) {
	defer p.File.Close()
	var src io.Reader = io.NewSectionReader(p.File, p.Offset, p.Count)
	if f := reopenForRead(p.File); f != nil {
		defer f.Close()
		if _, err := f.Seek(p.Offset, io.SeekStart); err != nil {
			return 0, err
		}
		src = &io.LimitedReader{R: f, N: p.Count}
	}
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w, src)
}

// ended answers a request whose context is done before its response is
// complete. A client that went away gets nothing: net/http cancels the
// request's context when a read of the connection finds its end, whether
// the client closed it or only shut down its sending side (a half-close,
// which net/http cannot tell apart), so the connection is closed without
// another byte, as nginx does (its 499); returning would have net/http
// send what the app never said (an empty 200, or the clean end of a
// chunked body cut short). A deadline set by a middleware
// (context.WithTimeout, http.TimeoutHandler) is a timeout like
// Config.Timeout: 504 if the headers are not out yet, else the response is
// aborted, so that the client cannot mistake the part it got for a whole
// response.
func (c *Container) ended(w http.ResponseWriter, r *http.Request, headerSent bool) {
	ctx := r.Context()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		abortResponse(w, headerSent)
		return
	}
	err := fmt.Errorf("%w: %w", ErrTimeout, context.Cause(ctx))
	if !headerSent {
		c.fail(w, r, err, "")
		return
	}
	c.log.Error("wsgi: request deadline exceeded after headers were sent; aborting the connection",
		requestAttrs(r.Method, r.URL.Path, requestID(r), slog.String(logError, err.Error()))...)
	abortSent(w, r)
}

// abortResponse ends w's response for a client that went away, sending
// nothing more: the HTTP/1 connection is taken from net/http and closed
// (the access line keeps the status sent, if any, and logs the client as
// gone). Where it cannot be taken (HTTP/2, whose stream the client reset,
// or a test's recorder), a response whose headers are out is aborted with
// http.ErrAbortHandler, and otherwise nothing is written.
func abortResponse(w http.ResponseWriter, headerSent bool) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
		return
	}
	if headerSent {
		panic(http.ErrAbortHandler)
	}
}

// fail answers r through the error handler, logging why. A refusal (see
// Refusal) is noted in the request's Trace.
func (c *Container) fail(w http.ResponseWriter, r *http.Request, err error, traceback string) {
	if trace := TraceFrom(r.Context()); trace != nil && Refusal(err) {
		trace.Refused = true
	}
	attrs := requestAttrs(r.Method, r.URL.Path, requestID(r), slog.String(logError, err.Error()))
	if traceback != "" {
		attrs = append(attrs, slog.String(logTraceback, traceback))
	}
	if errors.Is(err, ErrQueueFull) || errors.Is(err, ErrQueueTimeout) {
		// Overload: refusals come by the thousand a second, each in the
		// access log already; one line a second says how many.
		ok, dropped := c.refusals.allow(time.Now())
		if !ok {
			c.errorPage(w, r, err)
			return
		}
		if dropped > 0 {
			attrs = append(attrs, slog.Int("graft.suppressed", dropped))
		}
	}
	level := slog.LevelError
	switch StatusOf(err) {
	case http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
		if !errors.Is(err, ErrSpool) { // the disk or the descriptors: the operator's to fix
			level = slog.LevelWarn
		}
	}
	c.log.Log(r.Context(), level, "wsgi: request failed", attrs...)
	if errors.Is(err, errGraceOver) {
		c.answerGraceOver(w, r, err)
		return
	}
	c.errorPage(w, r, err)
}

// requestID finds the request's id: graft.request_id, else X-Request-ID.
func requestID(r *http.Request) string {
	if id, ok := reqctx.EnvironValue(r.Context(), "graft.request_id"); ok {
		return id
	}
	return r.Header.Get("X-Request-Id")
}

// statusCode parses the code of a WSGI status line ("200 OK").
func statusCode(status string) (int, error) {
	if len(status) < 3 {
		return 0, errors.New("wsgi: bad status " + strconv.Quote(status))
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 100 {
		return 0, errors.New("wsgi: bad status " + strconv.Quote(status))
	}
	return code, nil
}

// requestPool recycles the Requests the Container hands its transport,
// with their environ slices. The zero value is ready.
type requestPool struct{ p sync.Pool }

func (rp *requestPool) get() *Request {
	if r, ok := rp.p.Get().(*Request); ok {
		return r
	}
	return &Request{Env: make([]string, 0, 64)}
}

func (rp *requestPool) put(r *Request) {
	clear(r.Env) // drop references to request strings
	*r = Request{Env: r.Env[:0]}
	rp.p.Put(r)
}
