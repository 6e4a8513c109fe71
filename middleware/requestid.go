package middleware

import (
	"context"
	"net/http"
	"time"
)

// RequestIDHeader is the header that carries request ids, on requests and
// responses.
const RequestIDHeader = "X-Request-Id"

// RequestID returns a middleware that gives every request an id: a UUIDv7,
// or the incoming X-Request-ID when the socket peer is in trusted (a proxy
// that already assigned one) and the value is well formed (see
// [ValidRequestID]). A nil trusted never keeps an incoming id. The UUIDs
// of one middleware sort in the order they were made (RFC 9562's 12-bit
// counter within a millisecond), and carry 62 random bits; making one
// costs no system call and one allocation (the string).
//
// The id is:
//
//   - set on the response as X-Request-ID, before the handler runs;
//   - returned by [RequestIDFromContext], and stored under chi's
//     middleware.RequestIDKey so that chi's middleware.GetReqID sees it;
//   - set as the request's X-Request-ID header, which Python reads as
//     HTTP_X_REQUEST_ID (replacing any client value);
//   - passed to the WSGI container as the environ key graft.request_id.
//
// Put it after [TrustProxies], which keeps the socket peer for it, and
// before [AccessLog], which logs the id. Only the outermost RequestID of a
// request assigns an id: a second [Stack] inside a host Router keeps it.
func RequestID(trusted *Proxies) func(http.Handler) http.Handler {
	ids := new(idGenerator)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, rw := begin(r)
			c.name(w, r, trusted, ids, time.Time{}, &rw)
			next.ServeHTTP(w, rw.apply(r))
		})
	}
}

// RequestIDFromContext returns the request id set by [RequestID], or "".
func RequestIDFromContext(ctx context.Context) string {
	if c := infoFrom(ctx); c != nil {
		return c.id
	}
	return ""
}

// ValidRequestID reports whether an incoming request id is kept (from a
// trusted proxy): 1 to 64 characters among ASCII letters, digits and
// "-_.:+=/", which covers UUIDs, nginx's $request_id and most tracing ids
// while keeping log lines and headers clean.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '=' || c == '/') {
			return false
		}
	}
	return true
}
