// Package middleware holds graft's request middlewares: request ids,
// access logs, trusted proxies and the identity handoff to the Python app.
// Each is a plain func(http.Handler) http.Handler, usable with chi's Use and
// With; [Stack] puts the usual ones together in the right order.
//
// # Trusted proxies
//
// [TrustProxies] honours forwarding headers only when the socket peer is
// in the configured [Proxies], and only the family those proxies write:
// X-Forwarded-For and the scheme headers of gunicorn's
// secure_scheme_headers (X-Forwarded-Proto, X-Forwarded-Ssl,
// X-Forwarded-Protocol) by default, RFC 7239 Forwarded with
// [Proxies.UseForwarded]; the host (X-Forwarded-Host, Forwarded's host=)
// only with [Proxies.TrustHost]. It sets r.RemoteAddr, the scheme
// ([Scheme], wsgi.url_scheme) and, with TrustHost, r.Host, for Go and
// Python alike, and removes the forwarding headers in every spelling (any
// case, '_' for '-'). Scheme headers that contradict each other are
// answered 400, as gunicorn does. Without configuration nothing is
// trusted.
//
// # Request ids
//
// [RequestID] gives each request a UUIDv7, sent back as X-Request-ID,
// readable with [RequestIDFromContext] (and chi's middleware.GetReqID), and
// passed to Python as HTTP_X_REQUEST_ID and graft.request_id. An incoming
// id is kept only from a trusted proxy and when [ValidRequestID] accepts
// it.
//
// # Access logs
//
// [AccessLog] writes one line per request on log/slog, whether Go or
// Python served it: the line of [github.com/go-chi/httplog/v3]'s
// RequestLogger, built by graft without its per-request allocations
// (unless bodies are logged, then by httplog itself), with the request
// id, the route pattern, the target (go, wsgi, fallback), the Python
// worker, status, bytes and duration. Handlers add attributes with
// [SetAttrs]. It also recovers panics.
//
// # Identity handoff
//
// Go middleware that authenticated a user passes it to Python as
// REMOTE_USER with [WithRemoteUser], and other facts as graft.* environ
// keys with [github.com/graft-dev/graft/wsgi.WithEnviron]. Clients cannot set these keys: headers only ever
// become HTTP_* keys.
//
// # Order
//
//	r.Use(middleware.Stack(middleware.Options{Proxies: proxies}))
//	// = TrustProxies(proxies), RequestID(proxies), AccessLog(nil, nil)
//	r.Use(authenticate) // may call WithRemoteUser
package middleware
