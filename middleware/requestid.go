package middleware

import (
	"context"
	"net/http"

	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/graft-dev/graft/wsgi"
)

// RequestIDHeader is the header that carries request ids, on requests and
// responses.
const RequestIDHeader = "X-Request-Id"

var requestIDKey = &contextKey{"RequestID"}

// RequestID returns a middleware that gives every request an id: a UUIDv7
// (time-ordered), or the incoming X-Request-ID when the socket peer is in
// trusted (a proxy that already assigned one) and the value is well formed
// (see [ValidRequestID]). A nil trusted never keeps an incoming id.
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
// before [AccessLog], which logs the id.
func RequestID(trusted *Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if id == "" || !ValidRequestID(id) || !trusted.Contains(peerAddr(r)) {
				id = newRequestID()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := context.WithValue(r.Context(), requestIDKey, id)
			ctx = context.WithValue(ctx, chimw.RequestIDKey, id)
			ctx = wsgi.WithEnviron(ctx, "graft.request_id", id)
			r = r.WithContext(ctx)
			r.Header = r.Header.Clone()
			r.Header.Set(RequestIDHeader, id)
			next.ServeHTTP(w, r)
		})
	}
}

// RequestIDFromContext returns the request id set by [RequestID], or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
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

// newRequestID returns a UUIDv7, or a UUIDv4 if that fails.
func newRequestID() string {
	if u, err := uuid.NewV7(); err == nil {
		return u.String()
	}
	if u, err := uuid.NewRandom(); err == nil {
		return u.String()
	}
	return uuid.Nil.String()
}
