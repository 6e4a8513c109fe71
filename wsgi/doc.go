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

  - container.go: [Container.ServeHTTP] reads the body (body.go: small
    bodies in memory, larger ones spooled to an unlinked file), builds the
    environ (environ.go, plus what Go code put in the context, see below),
    hands a [Request] to the [Transport], retries it if the app never
    started it, and copies the response to the client (respond). What goes
    wrong before the headers are out is answered by [Config.ErrorHandler]
    (fail); after that, the response is aborted.
  - pool.go: graft's transport takes a request slot on the least busy
    worker, or queues the request (acquire, pick, release).
  - exchange.go: one request's life on a worker: it is framed and written
    to the worker's socket (send), the parts of its response are pushed by
    whoever reads the socket and taken by the request's goroutine
    ([Exchange.Next]), with at most [Config.ResponseBuffer] bytes held
    ahead of the client; timeouts, slow-request dumps and cancellation live
    here too, and the reuse of a stream once both sides are done with it.
  - spill.go: what a slow client has not taken of a bigger response goes
    to a file ([Config.ResponseSpill]), so that it holds no worker.
  - reader.go: who reads a worker's socket. A request's goroutine reads
    its own response when nobody else does (no hand-off from another
    goroutine); the worker's reader goroutine reads at startup, under load
    and for requests whose goroutine left, and waits in the socket of a
    worker idle for 50 ms (its background threads' logs); a worker's exit
    is seen through its reaper.
  - wire.go: the framing, mirrored by worker.py, the Python program every
    worker runs (TestProtocolConstants keeps their constants equal).
  - proc.go: one worker process: how it starts and its death.
    spawn.go: the interpreter's command line. zygote.go: the preload
    process that forks workers. output.go: what workers print and log
    (and the processes the app forks, which worker.py's ChildGuard keeps
    off the socket: they write to the output pipe only);
    stdiolog.go: what Python code prints, read with the logging records
    from the socket; stdiotraceback.go: a traceback they print, one record.
    reap_linux.go: as PID 1 (a container without an init) or a child
    subreaper ([Config.ChildSubreaper]), the reaping of orphaned
    processes, not of the children os/exec waits for.
  - supervise.go and recycle.go: generations of workers, replacement of
    dead ones, reload, drain; recycling by request count, memory and age.
  - ops.go: status, readiness, Prometheus metrics and the ops handler.
  - platform_linux.go, platform_other.go: what differs by OS (Pdeathsig,
    SOCK_CLOEXEC, /proc).

# Serving

[Listen] binds the sockets before anything starts (systemd socket
activation, TLS, an operations listener) and [Serve] serves them, with
graceful shutdown, signals and reloads (listen.go, serve.go); [Guard]
checks request heads at the HTTP boundary (guard.go), after
[ProxyProtocol] has read the client's address from a TCP load balancer's
PROXY protocol header, when one is configured (proxyproto.go);
[SendTimeout] and [SendTimeoutHandler] cut a client that takes nothing
of a response for ServeConfig.SendTimeout (sendconn.go, sendstream.go),
which Serve applies itself and a server of one's own can too. heapfloor.go holds
[StartHeapFloor], the floor under the Go heap's size before a collection
that [ServeConfig].MinHeap asks for: a server with a small live heap
otherwise collects dozens of times a second.

# The transport

[Transport] is the seam between the HTTP side and wherever Python runs.
[New] uses graft's own transport, the pool of supervised processes;
[NewWithTransport] plugs in another one. A transport turns a [Request] into
an [Exchange], a stream of [Part] values: either one PartResponse, or a
PartHead, PartData and PartFile parts, and a final PartEnd. Optional
capabilities are separate interfaces, as net/http does with [http.Flusher]:
[Reloader] for [Container.Reload] and Config.AutoReload, [StatusReporter]
for [Container.Status] and the worker metrics, [QueueWaiter] on an
Exchange returned while its request still waits for a worker, [Completer]
on one the Container may leave once the client has the whole body, and
[Releaser] on one that can be reused once the Container is done with it
(graft's transport reuses a request's exchange, and the Container its
[Request], so that the fast path allocates nothing of its own but the
response head that net/http keeps). The
Container owns what it can do or measure itself: the HTTP response, error
statuses, deadlines, retries and the time requests wait for a worker.

# Errors

Errors handed to [Config.ErrorHandler] wrap one of the Err* values
([ErrAppError], [ErrWorkerDied], [ErrTimeout], [ErrQueueFull],
[ErrQueueTimeout], [ErrClosed], [ErrBodyTooLarge], [ErrBadBody], [ErrBodyTimeout], [ErrSpool],
[ErrBadTarget], [ErrBadMethod], [ErrBadHeader], [ErrProtocol], [ErrClientStalled]); [StatusOf] maps them to HTTP statuses and
[DefaultErrorHandler] answers with that status, never with the traceback,
which is logged. [ErrNotStarted] is the transport's retry signal: the app
never saw the request, which is sent again. An app that cannot be imported
makes [New] and [Container.Reload] fail with a [*LoadError] (whose Hint
names the interpreter when a framework is missing); one whose import hangs
fails them after [Config].StartTimeout with an error wrapping
[ErrStartTimeout], the Python stack of the import being logged. A failure
after the headers were sent aborts the response ([http.ErrAbortHandler]),
so that the client never mistakes a cut response for a complete one.

A request whose context ends early is cancelled in the app (its
iterable's close() is called). If the context's deadline passed (a
middleware's context.WithTimeout), the client gets 504, like for
[Config.Timeout]; if the client went away (or half-closed its connection),
nothing more is written: the connection is closed.

# Logs

Everything goes to [Config].Logger with httplog's keys. Python tracebacks
(error.stack_trace) and stack dumps (graft.stack) are multi-line values;
[NewTextHandler] prints them below their record's line for people, a JSON
handler keeps them as one string for machines.

# Control calls

Besides requests, the container asks the workers questions about the app
([Caller]): [Container.AppRoutes] returns the Flask, Django, Bottle,
Falcon or Pyramid app's own route map translated to chi patterns
(routepattern.go, routepattern_frameworks.go), and [Container.Identity] and
[Container.IdentityMiddleware] run [Config].IdentityHook to learn who a
request's user is (cached per session; [IdentityFrom] reads it). They do
not count as requests. routes.go, identity.go and call.go hold them; the
worker's side is the "Control calls" section of worker.py.

# Context handoff

Go code hands information to the Python app through the request context:
[WithEnviron] adds REMOTE_USER, AUTH_TYPE or graft.* keys to the environ
(it is the only way to set them, so clients can never forge them),
[WithMount] sets the SCRIPT_NAME prefix an app is mounted at (read back
with [MountPrefix]), [WithURLScheme] sets wsgi.url_scheme, and [WithTrace]
lets an access log learn which worker served a request and how long it
waited for one.
*/
package wsgi
