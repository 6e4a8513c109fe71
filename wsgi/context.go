package wsgi

import (
	"context"
	"strings"
	"time"

	"github.com/graft-dev/graft/internal/reqctx"
)

// contextKey is a key for a value this package keeps in a context (chi's
// style: a pointer, so keys never collide, to an unexported type, so that
// only this package's functions set and read them). The environ's and the
// Trace's keys are internal/reqctx's, shared with graft's middleware.
type contextKey struct{ name string }

func (k *contextKey) String() string { return "wsgi context value " + k.name }

var (
	mountCtxKey  = &contextKey{"MountPrefix"}
	schemeCtxKey = &contextKey{"URLScheme"}
	// sendWatchedCtxKey marks the connections whose responses Serve
	// watches itself (see sendWatched).
	sendWatchedCtxKey = &contextKey{"SendWatched"}
)

// WithEnviron returns a copy of ctx that makes the container add key=value to
// the environ of the request. It is the one way Go code hands information
// to the Python app (graft's middleware uses it too): an identity
// ("REMOTE_USER", "AUTH_TYPE") or a server-specific key
// ("graft.request_id", "graft.user_roles", ...).
//
// Only REMOTE_USER, AUTH_TYPE and lower-case keys starting with "graft." are
// accepted: every other key is derived from the request by the container and
// must not be overridden. Other keys are programmer errors and panic. Since
// clients can only send headers, which always become HTTP_* keys (and
// headers containing "_" are dropped), a client can never forge these keys.
// A later call for the same key wins.
func WithEnviron(ctx context.Context, key, value string) context.Context {
	if !reqctx.AllowedKey(key) {
		panic("wsgi: WithEnviron: key " + key + " is not REMOTE_USER, AUTH_TYPE or graft.*")
	}
	return reqctx.WithEnviron(ctx, key, value)
}

// ExtraEnviron returns the extra environ keys set on ctx with
// WithEnviron; for a key set more than once, the latest value.
func ExtraEnviron(ctx context.Context) map[string]string {
	var m map[string]string
	reqctx.EachEnviron(ctx, func(k, v string) {
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	})
	return m
}

// WithMount returns a copy of ctx telling the container that the app is
// mounted at prefix: SCRIPT_NAME becomes prefix and PATH_INFO the rest of
// the path, so that url_for (Flask) and reverse (Django) build URLs under the
// prefix. prefix has no trailing slash ("/legacy"); "" means the root. It is
// matched against the request's path decoded, as the router routes it
// ("/%6cegacy/x" is under it), except that an escaped slash is no segment
// boundary ("/legacy%2Fx" is not); a request outside the prefix is
// served with SCRIPT_NAME "" and the whole path. Mounts nest: an inner mount
// is relative to the outer one.
func WithMount(ctx context.Context, prefix string) context.Context {
	prefix = strings.TrimRight(prefix, "/")
	if outer, ok := ctx.Value(mountCtxKey).(string); ok {
		prefix = outer + prefix
	}
	return context.WithValue(ctx, mountCtxKey, prefix)
}

// MountPrefix returns the mount prefix set with WithMount, or "".
func MountPrefix(ctx context.Context) string {
	s, _ := ctx.Value(mountCtxKey).(string)
	return s
}

// WithURLScheme returns a copy of ctx that sets wsgi.url_scheme ("http" or
// "https") for the request, overriding what the connection says. Trusted
// proxy middleware uses it for the scheme a proxy gave (middleware's
// TrustProxies: X-Forwarded-Proto, X-Forwarded-Ssl, X-Forwarded-Protocol
// or Forwarded's proto=); "https" also sets HTTPS=on. [RequestScheme]
// reads it back.
func WithURLScheme(ctx context.Context, scheme string) context.Context {
	return context.WithValue(ctx, schemeCtxKey, scheme)
}

// URLScheme returns the scheme set with WithURLScheme, or "".
func URLScheme(ctx context.Context) string {
	s, _ := ctx.Value(schemeCtxKey).(string)
	return s
}

// Trace records how the container served one request. Middleware (the
// access log) puts an empty *Trace in the request context with WithTrace;
// the container fills it in. A Trace is written by the request's goroutine
// only, before ServeHTTP returns.
type Trace struct {
	// Served is true once the container handled the request.
	Served bool
	// Worker is the pid of the Python worker that ran the app, or 0 when
	// none did (queue full, timeout while waiting, ...).
	Worker int
	// Queued is the time spent waiting for a free worker.
	Queued time.Duration
	// Refused is true when the container could not take the request and
	// answered it through Config.ErrorHandler without running the app:
	// it is shut down (ErrClosed), its queue is full (ErrQueueFull), no
	// worker became free within Config.QueueTimeout (ErrQueueTimeout), or
	// the body could not be spooled (ErrSpool); see [Refusal]. It tells,
	// whatever status the error handler answers with, that the response
	// is not the app's.
	Refused bool
}

// WithTrace returns a copy of ctx carrying t for the container to fill in.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, reqctx.TraceKey, t)
}

// TraceFrom returns the *Trace set with WithTrace, or nil.
func TraceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(reqctx.TraceKey).(*Trace)
	return t
}
