package middleware

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/promreg"
)

// Metrics returns a middleware that counts requests and times them in
// Prometheus metrics registered with reg (prometheus.DefaultRegisterer when
// nil), whether Go or Python served them:
//
//	graft_http_requests_total{target, route, status}
//	graft_http_request_duration_seconds{target, route}
//
// target is "go", "wsgi" (the container ran the app) or "fallback" (another
// fallback handler); route is the Go route pattern, or "fallback"; status
// is the status sent, or, when none was, 101 for a handler that hijacked
// the connection (http.Hijacker: a WebSocket upgrade) while its client
// was there, 499 (nginx's "client closed request") for a client that went
// away (a connection hijacked only to be closed after it, as the wsgi
// container does, included), 500 for a handler
// that panicked, and 200, what net/http sends, for a handler that wrote
// nothing. A hijacked request's duration ends when its handler returns.
// Put it after [Stack] (or [AccessLog]), with the router's Use:
//
//	r.Use(middleware.Stack(o), middleware.Metrics(nil))
//
// Several Metrics with one reg (a middleware per Router: the Routers of
// [router.Hosts], one per listener) share its metrics, and a request that
// passes more than one of them (a mounted Router with its own) is counted
// once, by the outermost, which sees the whole route pattern. It panics
// if reg holds other metrics of the same names (or could not register
// them).
func Metrics(reg prometheus.Registerer) func(http.Handler) http.Handler {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	requests := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graft_http_requests_total",
		Help: "HTTP requests by target (go, wsgi, fallback), route pattern and status.",
	}, []string{"target", "route", "status"}))
	duration := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "graft_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by target and route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"target", "route"}))
	cache := newSeries(requests, duration)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, ctx, changed := ensureState(r.Context())
			if st.metered == requests {
				next.ServeHTTP(w, r) // counted further out
				return
			}
			if st.metered == nil {
				st.metered = requests
			}
			if changed {
				r = r.WithContext(ctx)
			}
			// The access log's writer (under Stack) already records the
			// status and a hijack; else graft's own, for the same rules.
			rec := recordOf(w)
			if rec == nil {
				ww := new(wrappedWriter)
				w = ww.wrap(w)
				rec = &ww.responseWriter
			}
			start := time.Now()
			returned := false
			defer func() {
				status := rec.finalStatus(r, returned)
				route, target := st.routeTarget(ctx)
				p := cache.get(seriesKey{target: target, route: route, status: status})
				p.requests.Inc()
				p.duration.Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(w, r)
			returned = true
		})
	}
}

// register registers c with reg and returns it, or the collector a
// previous Metrics registered there (promreg.Shared). It panics on any
// other error, as MustRegister does.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	c, err := promreg.Shared(reg, c)
	if err != nil {
		panic(fmt.Errorf("middleware: Metrics: %w", err))
	}
	return c
}

// statusClientClosed is the status Metrics counts for a request whose
// client went away before a status was sent: nginx's 499.
const statusClientClosed = 499

// unsentStatus is the status counted for r when its handler sent none:
// returned says whether the handler returned (rather than panicked).
func unsentStatus(r *http.Request, returned bool) int {
	switch {
	case r.Context().Err() == context.Canceled:
		return statusClientClosed
	case !returned:
		return http.StatusInternalServerError
	default:
		return http.StatusOK // what net/http sends
	}
}
