package wsgi

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// contextKey is a key for a value this package keeps in a context (chi's
// style: a pointer, so keys never collide, to an unexported type, so that
// only this package's functions set and read them).
type contextKey struct{ name string }

func (k *contextKey) String() string { return "wsgi context value " + k.name }

var (
	environCtxKey = &contextKey{"Environ"}
	mountCtxKey   = &contextKey{"MountPrefix"}
	schemeCtxKey  = &contextKey{"URLScheme"}
	traceCtxKey   = &contextKey{"Trace"}
	// sendWatchedCtxKey marks the connections whose responses Serve
	// watches itself (see sendWatched).
	sendWatchedCtxKey = &contextKey{"SendWatched"}
)

// envEntry is one extra environ key carried by a request context, kept as a
// linked list so that adding one never copies the others. It is itself the
// context layer that carries it (one allocation per key, not two).
type envEntry struct {
	context.Context // the parent
	key, value      string
	next            *envEntry
}

// Value answers environCtxKey with the newest entry; anything else goes to
// the parent.
func (e *envEntry) Value(key any) any {
	if key == environCtxKey {
		return e
	}
	return e.Context.Value(key)
}

// String describes the layer, as context.WithValue's do.
func (e *envEntry) String() string {
	return fmt.Sprintf("%v.WithEnviron(%q, %q)", e.Context, e.key, e.value)
}

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
	if !allowedExtraKey(key) {
		panic("wsgi: WithEnviron: key " + key + " is not REMOTE_USER, AUTH_TYPE or graft.*")
	}
	head, _ := ctx.Value(environCtxKey).(*envEntry)
	return &envEntry{Context: ctx, key: key, value: value, next: head}
}

// EnvironLayer carries one extra environ key, as [WithEnviron] does, in a
// context layer of the caller's own: a middleware that keeps its
// per-request state in a context layer (graft's middleware.Stack) embeds
// one and answers Value with [EnvironLayer.Lookup] first, instead of
// adding a layer with WithEnviron. The zero value carries nothing.
type EnvironLayer struct {
	e envEntry
}

// Set makes the layer carry key=value on top of the keys parent carries,
// parent being the context the caller's layer is made on (nothing may sit
// between them that sets environ keys). It panics for the keys WithEnviron
// refuses.
func (l *EnvironLayer) Set(parent context.Context, key, value string) {
	if !allowedExtraKey(key) {
		panic("wsgi: EnvironLayer.Set: key " + key + " is not REMOTE_USER, AUTH_TYPE or graft.*")
	}
	head, _ := parent.Value(environCtxKey).(*envEntry)
	l.e = envEntry{Context: parent, key: key, value: value, next: head}
}

// Lookup returns what the caller's Value should answer for key, and true,
// when key is the environ's context key and the layer carries a key; else
// nil and false.
func (l *EnvironLayer) Lookup(key any) (any, bool) {
	if key == environCtxKey && l.e.key != "" {
		return &l.e, true
	}
	return nil, false
}

func allowedExtraKey(key string) bool {
	switch key {
	case "REMOTE_USER", "AUTH_TYPE":
		return true
	}
	if !strings.HasPrefix(key, "graft.") || len(key) == len("graft.") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// ExtraEnviron returns the extra environ keys set on ctx with
// WithEnviron; for a key set more than once, the latest value.
func ExtraEnviron(ctx context.Context) map[string]string {
	var m map[string]string
	eachExtra(ctx, func(k, v string) {
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	})
	return m
}

// extraValue returns the latest value set for key with WithEnviron.
func extraValue(ctx context.Context, key string) (string, bool) {
	head, _ := ctx.Value(environCtxKey).(*envEntry)
	for e := head; e != nil; e = e.next {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// eachExtra calls fn for each key set with WithEnviron, once, with its
// latest value, without allocating.
func eachExtra(ctx context.Context, fn func(key, value string)) {
	head, _ := ctx.Value(environCtxKey).(*envEntry)
	for e := head; e != nil; e = e.next {
		shadowed := false
		for n := head; n != e; n = n.next {
			if n.key == e.key {
				shadowed = true
				break
			}
		}
		if !shadowed {
			fn(e.key, e.value)
		}
	}
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
	return context.WithValue(ctx, traceCtxKey, t)
}

// IsTraceKey reports whether key is the context key [WithTrace] sets. A
// middleware that keeps its per-request state in a context layer of its
// own (graft's middleware.Stack) answers it from that layer's Value
// method, with the *Trace, instead of adding a layer with WithTrace.
func IsTraceKey(key any) bool { return key == traceCtxKey }

// TraceFrom returns the *Trace set with WithTrace, or nil.
func TraceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceCtxKey).(*Trace)
	return t
}
