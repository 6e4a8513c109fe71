package middleware

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// requestState is the per-request record that the router and the WSGI
// container fill in, read by the access log and the metrics.
type requestState struct {
	trace    wsgi.Trace
	dispatch router.Dispatch
}

var stateKey = &contextKey{"State"}

// ensureState returns the request's state, adding one to ctx (with the
// hooks the router and the container report through) if it has none, so
// that the access log and the metrics share one.
func ensureState(ctx context.Context) (*requestState, context.Context) {
	if st, ok := ctx.Value(stateKey).(*requestState); ok {
		return st, ctx
	}
	st := &requestState{}
	ctx = context.WithValue(ctx, stateKey, st)
	ctx = wsgi.WithTrace(ctx, &st.trace)
	ctx = router.WithDispatch(ctx, &st.dispatch)
	return st, ctx
}

// routeTarget names what served the request: the Go route pattern and
// "go", or "fallback" and "wsgi" (the container ran the app) or "fallback"
// (another fallback handler).
func (st *requestState) routeTarget(r *http.Request) (route, target string) {
	switch {
	case st.trace.Served:
		return "fallback", "wsgi"
	case st.dispatch.Fallback:
		return "fallback", "fallback"
	}
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		return rctx.RoutePattern(), "go"
	}
	return "", "go"
}
