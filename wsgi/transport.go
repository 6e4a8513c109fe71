package wsgi

import (
	"context"
	"os"
	"time"
)

// Transport carries WSGI requests to a Python runtime and their responses
// back. It is the seam between the HTTP side (Container) and where Python
// runs: graft's transport is a pool of supervised worker processes; another
// one (an in-process CPython, say) can plug in behind the same interface.
//
// The Container owns everything HTTP: the request body, the environ, the
// status line, headers and Content-Length, errors and their statuses,
// deadlines, retries (see ErrNotStarted) and the time requests wait in
// Start (the graft_wsgi_queue_wait_seconds metric and Trace.Queued).
// Optional capabilities are separate interfaces, as net/http does with
// http.Flusher: [Reloader], [StatusReporter], [QueueReporter] and
// [QueueCloser].
type Transport interface {
	// Start hands req to the app, waiting for a free worker within the
	// queue limits, and returns the exchange its response arrives on (or,
	// see QueueWaiter, returns it while the request waits for a worker).
	// It fails with ErrQueueFull, ErrQueueTimeout, ErrClosed or ctx's
	// error, and then returns a nil Exchange. req and the arrays of its
	// Env and Body stay the caller's: the Container may reuse them once
	// the exchange has ended (or Start has failed), so a transport must
	// not keep them past that (Env's strings it may keep).
	Start(ctx context.Context, req *Request) (Exchange, error)
	// Shutdown stops taking requests, waits for in-flight exchanges to end
	// (or ctx to be done) and stops the runtime.
	Shutdown(ctx context.Context) error
}

// Reloader is implemented by transports that can replace the app's code
// without failing a request; [Container.Reload] and Config.AutoReload use
// it. Reload fails with a *LoadError if the new code does not load, and
// with an error wrapping ErrClosed once the transport is shut down.
type Reloader interface {
	Reload(ctx context.Context) error
}

// StatusReporter is implemented by transports that can describe their
// workers; [Container.Status], Ready, the status page and the worker
// metrics use it. Without it the Container reports only whether it is shut
// down.
type StatusReporter interface {
	Status() Status
}

// QueueReporter is implemented by transports that can tell, without
// taking a slot, that Start would now fail with ErrQueueFull: every worker
// thread is busy and the queue holds its maximum. The Container asks before
// it reads a request's body, so that under overload an upload is refused
// at once instead of being read (and spooled) first. It is a hint: a slot
// may free up, or the queue fill, a moment later; Start still decides.
type QueueReporter interface {
	QueueFull() bool
}

// QueueCloser is implemented by transports whose requests can wait for a
// worker. CloseQueue ends every request still waiting with err (a queued
// exchange's Next returns a PartEnd with it; a Start blocked in the queue
// returns it), fails with err from then on every request that would have
// to wait, and returns how many it ended. [Serve] calls it, through the
// Container, when GracefulTimeout runs out, so that the queued requests
// are answered 503 before the connections are cut.
type QueueCloser interface {
	CloseQueue(err error) int
}

// Request is one WSGI request as a transport receives it.
type Request struct {
	// Env holds the environ's string keys and values, alternating.
	Env []string
	// Body is the request body when it is small enough to be inline.
	Body []byte
	// BodyFile is a spooled body, read from offset 0. The caller closes it
	// once the exchange has ended, or gives it to another request once the
	// response's final part (a PartResponse, or a PartEnd without error)
	// has come: by then the transport and the app must hold no descriptor
	// of it, and read it no more.
	BodyFile *os.File
	// Timeout bounds the app's time on the request; <= 0 means none.
	Timeout time.Duration
	// Method, Path and ID describe the request in logs and status pages.
	Method, Path, ID string

	// front: a worker gave the request back before beginning it (see
	// errWithdrawn): graft's pool queues it ahead of the others.
	front bool
}

// QueueWaiter is implemented by an Exchange that Start may return while its
// request still waits for a worker: graft's process transport does so when
// every worker is busy, so that the request's goroutine sleeps once, until
// its response, instead of also waking up to send the request. Until the
// request has a worker, Exchange.Worker returns 0 and Next waits; if it
// never gets one, Next returns a PartEnd with ErrQueueTimeout or
// ErrClosed. QueueWait reports how long it waited, once Next has returned
// its last part (or Cancel was called); the Container adds it to the time
// spent in Start for the queue-wait metric and Trace.Queued.
type QueueWaiter interface {
	QueueWait() time.Duration
}

// Completer is implemented by an Exchange that can be left before its end.
// Once the client has the whole body (the bytes written reached the
// response's Content-Length), the Container calls Complete; if it returns
// true, ServeHTTP returns at once instead of waiting for the PartEnd:
// net/http can read the client's next request, and a client that closes
// the connection as soon as it has the body does not find its handler
// still running. The exchange then handles the end itself, and logs an
// error reported after the body. Complete returns false if the end has
// arrived already: the Container reads it with Next as usual. graft's
// process transport implements it.
type Completer interface {
	Complete() bool
}

// Releaser is implemented by an Exchange that can be recycled: the
// Container calls Release once it is done with the exchange (its last
// Next, Cancel or Complete returned), also when it aborts the response,
// and calls none of its methods afterwards. graft's process transport
// then reuses the exchange, and its channels, for a later request, if the
// exchange ended the ordinary way.
type Releaser interface {
	Release()
}

// Exchange is the response side of one request in a transport.
type Exchange interface {
	// Next returns the next part of the response, blocking until one
	// arrives or ctx is done (then it returns ctx's error).
	Next(ctx context.Context) (Part, error)
	// Cancel tells the app that the client went away: it stops iterating,
	// its iterable's close() is called, and later parts are discarded.
	Cancel()
	// Worker identifies the worker that runs the request (a pid).
	Worker() int
}

// PartKind tells what a Part carries.
type PartKind uint8

// The kinds of Part, in the order they can arrive: any PartHints, then
// either one PartResponse, or PartHead, any PartData and PartFile, then
// PartEnd. A PartEnd with a non-nil Err may come at any time.
const (
	PartResponse PartKind = iota + 1 // status, headers and the whole body
	PartHead                         // status and headers of a streamed response
	PartData                         // a chunk of a streamed body
	PartFile                         // a byte range of a file to send
	PartEnd                          // end of the response; Err says how it ended
	PartHints                        // headers for a 103 Early Hints (wsgi.early_hints)
)

// Part is a piece of a response.
type Part struct {
	// Kind says which piece this is, and so which of the fields below
	// are set.
	Kind PartKind
	// Status ("200 OK") and Header (name, value, name, value, ...) are set
	// on PartResponse and PartHead; Header alone on PartHints. The
	// Container keeps slices of Header as the response's header values:
	// a transport must not change it once the Part is handed over.
	Status string
	Header []string
	// Data is the body (PartResponse) or a chunk (PartData).
	Data []byte
	// Length, on PartHead, is the length of the body to come when the
	// transport knows it (the app returned a list of bytes), else 0. The
	// Container then sends it as Content-Length, as for a PartResponse.
	Length int64
	// File, Offset and Count describe a PartFile; the receiver closes File.
	File *os.File
	// Offset is where in File the range starts.
	Offset int64
	// Count is how many bytes of File, from Offset, to send.
	Count int64
	// Err, on PartEnd, is nil for a complete response; otherwise it wraps
	// ErrAppError, ErrWorkerDied (ErrNotStarted: the request may be sent
	// again), ErrTimeout or ErrProtocol.
	Err error
	// Traceback is the Python traceback that goes with an ErrAppError.
	Traceback string

	buf *dataBuf // Data's recycled buffer (see release), or nil
}
