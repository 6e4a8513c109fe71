/*
Package wsgi runs a Python WSGI application (PEP 3333) behind a Go
net/http server: [Container] is an [http.Handler] whose requests are
answered by Python worker processes that Go starts, supervises, recycles
and reloads. Go owns HTTP; Python only ever sees WSGI environs.

	c, err := wsgi.New(wsgi.Config{App: "myproject.wsgi:application", Dir: "/srv/app"})
	if err != nil {
		log.Fatal(err) // a *LoadError carries the Python traceback
	}
	defer c.Shutdown(context.Background())
	http.ListenAndServe(":8080", c)

# The request path

A request crosses these files, in this order:

  - container.go: [Container.ServeHTTP] reads the body (body.go), builds the
    environ (environ.go, plus what middleware put in the context, see
    below), hands a [Request] to the [Transport] and copies the response to
    the client (respond); anything that goes wrong before the headers are
    out is answered by [Config.ErrorHandler] (fail).
  - pool.go: the process transport takes a request slot on the least busy
    worker, or queues the request (acquire, pick, release).
  - exchange.go: one request's life on a worker: it is framed and written
    to the worker's socket (send), its response parts are pushed by the
    worker's reader and taken by the request's goroutine ([Exchange.Next]),
    with at most [Config.ResponseBuffer] bytes held ahead of the client;
    timeouts, slow-request dumps and cancellation live here too.
  - wire.go: the framing, mirrored by worker.py, the Python program every
    worker runs.
  - proc.go: one worker process: how it starts, its read loop, its death.
  - supervise.go and recycle.go: generations of workers, replacement of
    dead ones, reload, drain, shutdown; recycling by request count, memory
    and age. zygote.go: the preload process that forks workers.
  - ops.go: status, readiness, Prometheus metrics and the ops handler.

# The transport

[Transport] is the seam between the HTTP side and wherever Python runs.
[New] uses graft's own transport, a pool of supervised processes;
[NewWithTransport] plugs in another one. A transport turns a [Request]
into an [Exchange], a stream of [Part] values: either one PartResponse, or
PartHead, PartData and PartFile parts and a final PartEnd.

# Errors

Errors handed to [Config.ErrorHandler] wrap one of the Err* values
([ErrAppError], [ErrWorkerDied], [ErrTimeout], [ErrQueueFull],
[ErrQueueTimeout], [ErrClosed], [ErrBodyTooLarge], [ErrBadBody],
[ErrProtocol]); [StatusOf] maps them to HTTP statuses and
[DefaultErrorHandler] answers with that status, never with the traceback,
which is logged. An app that cannot be imported makes [New] and
[Container.Reload] fail with a [*LoadError]. A failure after the headers
were sent aborts the response ([http.ErrAbortHandler]), so that the client
never mistakes a cut response for a complete one.

# Control calls

Besides requests, the container asks the workers questions about the app
([Caller]): [Container.AppRoutes] returns the Flask or Django app's own
route map translated to chi patterns, and [Container.Identity] and
[Container.IdentityMiddleware] run [Config].IdentityHook to learn who a
request's user is (cached per session; [IdentityFrom] reads it). They do
not count as requests. routes.go, identity.go and call.go hold them; the
worker's side is the "Control calls" section of worker.py.

# Context handoff

Go middleware hands information to the Python app through the request
context: [WithEnviron] adds REMOTE_USER, AUTH_TYPE or graft.* keys to the
environ, [WithMount] sets the SCRIPT_NAME prefix an app is mounted at,
[WithURLScheme] sets wsgi.url_scheme, and [WithTrace] lets an access log
learn which worker served a request and how long it queued.
*/
package wsgi
