package reqctx

// contextKey is the type of the context keys of this package, in chi's
// style: a pointer, so that keys never collide, to an unexported type, so
// that only graft's packages can set and read them. A key prints with the
// name of the public package whose functions set it.
type contextKey struct{ pkg, name string }

func (k *contextKey) String() string { return k.pkg + " context value " + k.name }

var (
	// EnvironKey is the key the newest environ entry answers
	// (wsgi.WithEnviron, [WithEnviron], [EnvironLayer]).
	EnvironKey = &contextKey{"wsgi", "Environ"}
	// TraceKey carries the *wsgi.Trace the container fills in
	// (wsgi.WithTrace, wsgi.TraceFrom).
	TraceKey = &contextKey{"wsgi", "Trace"}
	// DispatchKey carries the *router.Dispatch the router fills in
	// (router.WithDispatch, router.DispatchFrom).
	DispatchKey = &contextKey{"graft/router", "Dispatch"}
	// BalancerKey carries, for a request on a connection that came
	// through the PROXY protocol (wsgi.ProxyProtocol, on a server set up
	// with wsgi.GuardServer, as wsgi.Serve's is), a func() net.Addr returning the
	// address of the load balancer that sent the header (the socket's
	// peer), or nil when the header named no client (the balancer's own
	// connection, whose RemoteAddr is the balancer already).
	// middleware.TrustProxies trusts the forwarding headers of a trusted
	// balancer: HAProxy in HTTP mode with send-proxy writes them.
	BalancerKey = &contextKey{"wsgi", "Balancer"}
)
