package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"
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
	// AttrHijacked is true on the line of a request whose handler took
	// the connection (http.Hijacker: a WebSocket upgrade); absent
	// otherwise.
	AttrHijacked = "graft.hijacked"
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
// logger (slog.Default() if nil), whether Go or Python served it: the
// line of httplog v3's RequestLogger (message, level per status, the
// schema's fields, the headers asked for), plus the request id, the route
// pattern ("fallback" for the fallback), the target ("go", "wsgi" for the
// WSGI container, "fallback" for another fallback such as a reverse
// proxy), and for the container the worker pid and the queueing time. o
// is copied, never modified; nil means [DefaultLogOptions]. With
// RecoverPanics (the default) it is also the panic recovery: do not add
// chi's Recoverer. A panic after the status went out is logged at ERROR
// and the response aborted (http.ErrAbortHandler), so that the client
// does not take what was written for a whole answer; in the httplog mode
// (below) too, where the line keeps httplog's level for the status sent.
//
// Unless o logs bodies (LogRequestBody, LogResponseBody) or sets
// LogExtraAttrs, the line is built by graft itself, with httplog's
// semantics and keys but without its per-request allocations; handlers
// add attributes to it with [SetAttrs], and httplog.SetAttrs and
// httplog.SetError do not reach it. With any of those three set, the
// request goes through httplog.RequestLogger itself (which buffers the
// bodies), and both [SetAttrs] and httplog.SetAttrs reach the line.
//
// Install it with [router.Router.Use], so that the route pattern is known,
// after [RequestID].
func AccessLog(logger *slog.Logger, o *httplog.Options) func(http.Handler) http.Handler {
	al := newAccessLog(logger, o, false)
	return func(next http.Handler) http.Handler {
		if al.httplog != nil {
			return abortAfterPanic(al.httplog(annotate(next, false)))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, rw := begin(r)
			c.hook(&rw)
			al.graft.serve(c, next, w, rw.apply(r), time.Now())
		})
	}
}

// accessLog is one of graft's request logger and httplog's.
type accessLog struct {
	graft   *requestLogger
	httplog func(http.Handler) http.Handler
}

// newAccessLog returns the access log for logger and o (see [AccessLog]
// for the defaults); brief is [Options.Brief].
func newAccessLog(logger *slog.Logger, o *httplog.Options, brief bool) accessLog {
	if logger == nil {
		logger = slog.Default()
	}
	if o == nil {
		o = DefaultLogOptions()
	}
	opts := *o
	if needsHTTPLog(&opts) {
		// A panic's line at ERROR, as in graft's mode (panichandler.go).
		logger, opts.Level = newHTTPLogLogger(logger, opts.Level)
		return accessLog{httplog: httplog.RequestLogger(logger, &opts)}
	}
	s := opts.Schema
	if s == nil {
		s = httplog.SchemaECS
	}
	return accessLog{graft: &requestLogger{logger: logger, o: opts, s: s, brief: brief}}
}

// annotate runs inside httplog's RequestLogger: it gives the router and
// the container somewhere to report (unless [Stack] already did), and
// adds [SetAttrs]'s and graft's attributes once the request is served,
// even when it panics.
func annotate(next http.Handler, brief bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c := infoFrom(ctx)
		if c == nil || !c.traced {
			_, ctx, _ = ensureState(ctx)
			c = infoFrom(ctx)
			r = r.WithContext(ctx)
		}
		mine := !c.access.on
		c.access.on = true
		if mine {
			// httplog's writer knows nothing of a hijack: graft's,
			// unused in this mode, records it.
			w = c.access.w.wrap(w)
		}
		returned := false
		defer func() {
			if !returned && mine {
				// A panic on its way to httplog's recovery (or
				// runtime.Goexit): see panicLevel.
				c.access.unreturned = true
			}
			if !returned && mine && c.access.w.status != 0 && !c.access.w.hijacked {
				// A panic once the status went out: httplog recovers it
				// and finishes the response; abortAfterPanic aborts it.
				c.access.abort = true
			}
			var buf [6]slog.Attr
			if mine {
				httplog.SetAttrs(ctx, c.access.extra...)
			}
			attrs := c.appendLogAttrs(ctx, buf[:0], brief)
			if mine && c.access.w.hijacked {
				attrs = append(attrs, slog.Bool(AttrHijacked, true))
				if ww, ok := c.access.w.ResponseWriter.(chimw.WrapResponseWriter); ok && ww.Status() == 0 {
					// The status httplog logs, without sending it on
					// the connection net/http no longer has: 499 for
					// one taken to be closed once its client had gone
					// (see responseWriter.finalStatus).
					ww.Discard()
					if r.Context().Err() == context.Canceled {
						ww.WriteHeader(statusClientClosed)
					} else {
						ww.WriteHeader(http.StatusSwitchingProtocols)
					}
				}
			}
			httplog.SetAttrs(ctx, attrs...)
		}()
		next.ServeHTTP(w, r)
		returned = true
	})
}

// abortAfterPanic wraps h, httplog's RequestLogger around [annotate] (the
// httplog mode): httplog recovers a handler's panic and returns, which
// lets net/http finish a response whose status already went out, passing
// what the handler wrote before it panicked for a whole answer. annotate
// marks such a request, and the response is then aborted
// (http.ErrAbortHandler) once httplog has logged it, as graft's own
// logger does.
func abortAfterPanic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ctx, fresh := ensureState(r.Context())
		if fresh {
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
		if c := infoFrom(ctx); c != nil && c.access.abort {
			panic(http.ErrAbortHandler)
		}
	})
}

// appendAttrs appends the attributes the router and the container
// reported: the route, the target and, for the container, the worker and
// the queueing time. brief ([Options.Brief]) leaves out the route of the
// fallback and a queueing time under 100ms, and rounds the others.
func (st *requestState) appendAttrs(ctx context.Context, attrs []slog.Attr, brief bool) []slog.Attr {
	route, target := st.routeTarget(ctx)
	if !brief || route != "fallback" {
		attrs = append(attrs, slog.String(AttrRoute, route))
	}
	attrs = append(attrs, slog.String(AttrTarget, target))
	if st.trace.Served {
		if st.trace.Worker != 0 {
			attrs = append(attrs, slog.Int(AttrWorker, st.trace.Worker))
		}
		switch q := st.trace.Queued; {
		case !brief:
			attrs = append(attrs, slog.Duration(AttrQueued, q))
		case q >= 100*time.Millisecond:
			attrs = append(attrs, slog.Duration(AttrQueued, round3(q)))
		}
	}
	return attrs
}
