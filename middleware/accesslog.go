package middleware

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/httplog/v3"
)

// Attribute keys added by [AccessLog] to httplog's request line. Like every
// key graft logs, they are httplog's (request.id) or graft's own (graft.*);
// docs/middleware.md lists them all.
const (
	AttrRequestID = "request.id"   // the id set by RequestID
	AttrRoute     = "http.route"   // the route pattern, or "fallback"
	AttrTarget    = "graft.target" // "go", "wsgi" or "fallback"
	AttrWorker    = "graft.worker" // pid of the Python worker, when one ran
	AttrQueued    = "graft.queued" // time spent waiting for a worker
)

// DefaultLogOptions returns the httplog options [AccessLog] uses when given
// nil: level Info, the ECS schema, panics recovered (500 unless a status
// was sent), Content-Type and Origin request headers and the Content-Type
// response header logged, no bodies. Remember that httplog applies its
// own defaults only to a nil *Options: start from this when customising.
func DefaultLogOptions() *httplog.Options {
	return &httplog.Options{
		Level:              slog.LevelInfo,
		Schema:             httplog.SchemaECS,
		RecoverPanics:      true,
		LogRequestHeaders:  []string{"Content-Type", "Origin"},
		LogResponseHeaders: []string{"Content-Type"},
	}
}

// AccessLog returns a middleware that writes one line per request to
// logger (slog.Default() if nil) with httplog, whether Go or Python served
// it: method, path, status, bytes and duration from httplog, plus the
// request id, the route pattern ("fallback" for the fallback), the target
// ("go", "wsgi" for the WSGI container, "fallback" for another fallback
// such as a reverse proxy), and for the container the worker pid and the
// queueing time. o is copied, never modified; nil means
// [DefaultLogOptions]. With RecoverPanics (the default) it is also the
// panic recovery: do not add chi's Recoverer.
//
// Install it with [router.Router.Use], so that the route pattern is known,
// after [RequestID]. It does not set httplog's LogExtraAttrs (which would
// buffer every request body, uploads to Python included); attributes go
// through httplog.SetAttrs.
func AccessLog(logger *slog.Logger, o *httplog.Options) func(http.Handler) http.Handler {
	requestLogger := newRequestLogger(logger, o)
	return func(next http.Handler) http.Handler {
		return requestLogger(annotate(next))
	}
}

// newRequestLogger returns httplog's middleware for logger and o (see
// [AccessLog] for the defaults).
func newRequestLogger(logger *slog.Logger, o *httplog.Options) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	if o == nil {
		o = DefaultLogOptions()
	}
	opts := *o
	return httplog.RequestLogger(logger, &opts)
}

// annotate runs inside httplog: it gives the router and the container
// somewhere to report (unless [Stack] already did), and adds the
// attributes once the request is served, even when it panics.
func annotate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c := infoFrom(ctx)
		if c == nil || !c.traced {
			_, ctx, _ = ensureState(ctx)
			c = infoFrom(ctx)
			r = r.WithContext(ctx)
		}
		defer func() {
			var buf [5]slog.Attr
			httplog.SetAttrs(ctx, c.logAttrs(ctx, buf[:0])...)
		}()
		next.ServeHTTP(w, r)
	})
}

// appendAttrs appends the attributes the router and the container
// reported: the route, the target and, for the container, the worker and
// the queueing time.
func (st *requestState) appendAttrs(ctx context.Context, attrs []slog.Attr) []slog.Attr {
	route, target := st.routeTarget(ctx)
	attrs = append(attrs, slog.String(AttrRoute, route), slog.String(AttrTarget, target))
	if st.trace.Served {
		if st.trace.Worker != 0 {
			attrs = append(attrs, slog.Int(AttrWorker, st.trace.Worker))
		}
		attrs = append(attrs, slog.Duration(AttrQueued, st.trace.Queued))
	}
	return attrs
}
