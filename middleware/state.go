package middleware

import (
	"context"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// requestState is the part of the request's record (reqInfo) that the
// router and the WSGI container fill in, read by the access log and the
// metrics.
type requestState struct {
	trace    wsgi.Trace
	dispatch router.Dispatch
	metered  *prometheus.CounterVec // the counter of the outermost Metrics, which counts the request
}

// routeTarget names what served the request: the Go route pattern and
// "go", or "fallback" and "wsgi" (the container ran the app) or "fallback"
// (another fallback handler).
func (st *requestState) routeTarget(ctx context.Context) (route, target string) {
	switch {
	case st.trace.Served:
		return "fallback", "wsgi"
	case st.dispatch.Fallback:
		return "fallback", "fallback"
	}
	if rctx := chi.RouteContext(ctx); rctx != nil {
		return rctx.RoutePattern(), "go"
	}
	return "", "go"
}
