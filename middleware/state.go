package middleware

import (
	"context"
	"strings"

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
		return routePattern(rctx), "go"
	}
	return "", "go"
}

// routePattern is the full pattern of the Go route rctx matched, as
// registered: chi's RoutePattern without its trimming of the final "/",
// which gave Django's "/items/{pk}/" and the "/items/{pk}" kept in Go for
// APPEND_SLASH's redirect one name. A sub-Router's "/" route is named with
// its slash ("/api/"), as the inventory and the stages file name it.
func routePattern(rctx *chi.Context) string {
	p := strings.Join(rctx.RoutePatterns, "")
	for strings.Contains(p, "/*/") { // a mount's "/*" followed by the sub-router's pattern
		p = strings.ReplaceAll(p, "/*/", "/")
	}
	for strings.HasSuffix(p, "//") {
		p = p[:len(p)-1]
	}
	return p
}
