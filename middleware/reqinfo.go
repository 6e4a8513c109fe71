package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/graft-dev/graft/internal/reqctx"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// reqInfo is everything graft's middlewares learn about one request, in
// one allocation. It is also the context layer that carries it: Value
// answers infoKey (and chi's RequestIDKey) itself, so that [TrustProxies],
// [RequestID] and [AccessLog] together add one context layer instead of
// one per value, and [Stack] copies the request once instead of three
// times. Each middleware acts once per request: the first to run creates
// the record, the next ones (a second [Stack] inside a host Router) find it.
type reqInfo struct {
	context.Context // the parent

	proxied   bool       // TrustProxies ran: peer is set
	peer      netip.Addr // the socket peer, before any rewrite
	badScheme bool       // a trusted proxy's scheme headers contradict each other: the request is refused

	id     string    // the request id, "" until RequestID ran
	reqHdr [1]string // id, as the request's header value
	resHdr [1]string // id, as the response's header value

	traced bool                // the state's hooks are in the context
	own    bool                // Value answers the state's hooks itself (no layer of their own)
	state  requestState        // what the router and the container report
	env    reqctx.EnvironLayer // graft.request_id, when the record carries it itself

	access accessState // the access log's response writer, attributes and buffers
}

var infoKey = &contextKey{"Info"}

// Value answers for the record, for chi's RequestIDKey once the id is
// known (so that chi's middleware.GetReqID sees it), and, when the record
// was made by the middleware that set them, for the state's hooks (what
// wsgi.WithTrace and router.WithDispatch would carry) and the request id's
// environ key (wsgi.WithEnviron's), with the keys wsgi and router share
// through internal/reqctx: one context layer for all of graft's
// per-request values. Anything else goes to the parent.
func (c *reqInfo) Value(key any) any {
	switch key {
	case infoKey:
		return c
	case chimw.RequestIDKey:
		if c.id != "" {
			return c.id
		}
	}
	if c.own {
		switch key {
		case reqctx.TraceKey:
			return &c.state.trace
		case reqctx.DispatchKey:
			return &c.state.dispatch
		}
	}
	if v, ok := c.env.Lookup(key); ok {
		return v
	}
	return c.Context.Value(key)
}

// infoFrom returns the request's record, or nil.
func infoFrom(ctx context.Context) *reqInfo {
	c, _ := ctx.Value(infoKey).(*reqInfo)
	return c
}

// rewrite collects the changes graft's middlewares make to a request, so
// that they are applied with a single copy of it.
type rewrite struct {
	ctx    context.Context
	newCtx bool        // ctx is not the request's own (contexts are not compared: not all are comparable)
	fresh  bool        // the record was made for this request here: no layer but graft's between it and ctx, so it may carry values itself
	remote string      // new RemoteAddr, or ""
	host   string      // new Host, or ""
	header http.Header // new header map, or nil
}

// begin returns r's record, creating it (as the context of the rewritten
// request) when no graft middleware ran before.
func begin(r *http.Request) (*reqInfo, rewrite) {
	ctx := r.Context()
	if c := infoFrom(ctx); c != nil {
		return c, rewrite{ctx: ctx}
	}
	c := &reqInfo{Context: ctx}
	return c, rewrite{ctx: c, newCtx: true, fresh: true}
}

// headers returns the header map to change: a copy of r's, made once.
// The copy shares the value slices of r.Header, which is safe because
// graft and http.Header's methods replace values, never modify them in
// place.
func (rw *rewrite) headers(r *http.Request) http.Header {
	if rw.header == nil {
		rw.header = make(http.Header, len(r.Header)+1)
		for k, v := range r.Header {
			rw.header[k] = v
		}
	}
	return rw.header
}

// apply returns r with the changes: r itself when there are none, else
// one shallow copy.
func (rw *rewrite) apply(r *http.Request) *http.Request {
	if !rw.newCtx && rw.remote == "" && rw.host == "" && rw.header == nil {
		return r
	}
	r = r.WithContext(rw.ctx)
	if rw.remote != "" {
		r.RemoteAddr = rw.remote
	}
	if rw.host != "" {
		r.Host = rw.host
	}
	if rw.header != nil {
		r.Header = rw.header
	}
	return r
}

// trust resolves the forwarding headers (see [TrustProxies]), unless done
// further out.
func (c *reqInfo) trust(r *http.Request, p *Proxies, rw *rewrite) {
	if c.proxied {
		return
	}
	c.proxied = true
	c.peer = remoteAddr(r.RemoteAddr)
	trusted := p.trustsPeer(r, c.peer)
	var fwd forwarding
	if trusted {
		fwd = resolveForwarding(r.Header, p)
	}
	c.badScheme = fwd.contradicts
	if fwd.proto != "" {
		rw.ctx, rw.newCtx = wsgi.WithURLScheme(rw.ctx, fwd.proto), true
	}
	if fwd.client.IsValid() {
		rw.remote = fwd.client.String()
	}
	if fwd.host != "" {
		rw.host = fwd.host
	}
	if hasForwarding(r.Header, trusted) {
		dropForwarding(rw.headers(r), trusted)
	}
}

// name assigns the request id (see [RequestID]), unless done further out.
// now is the time the request began, or zero to read the clock when an id
// is made.
func (c *reqInfo) name(w http.ResponseWriter, r *http.Request, trusted *Proxies, ids *idGenerator, now time.Time, rw *rewrite) {
	if c.id != "" {
		return
	}
	id := r.Header.Get(RequestIDHeader)
	peer := c.peer
	if !c.proxied {
		peer = remoteAddr(r.RemoteAddr)
	}
	if id == "" || !ValidRequestID(id) || !trusted.trustsPeer(r, peer) {
		if now.IsZero() {
			id = ids.next()
		} else {
			id = ids.at(now)
		}
	}
	c.id = id
	c.resHdr[0], c.reqHdr[0] = id, id
	w.Header()[RequestIDHeader] = c.resHdr[:]
	rw.headers(r)[RequestIDHeader] = c.reqHdr[:]
	if rw.fresh {
		// Nothing that sets environ keys sits between the record and
		// its parent: it carries the key itself.
		c.env.Set(c.Context, "graft.request_id", id)
		return
	}
	rw.ctx, rw.newCtx = wsgi.WithEnviron(rw.ctx, "graft.request_id", id), true
}

// hook puts the state's hooks (the container's Trace, the router's
// Dispatch) in the context, unless done further out.
func (c *reqInfo) hook(rw *rewrite) {
	if c.traced {
		return
	}
	c.traced = true
	if rw.fresh {
		c.own = true // answered by the record's Value
		return
	}
	rw.ctx = wsgi.WithTrace(rw.ctx, &c.state.trace)
	rw.ctx, rw.newCtx = router.WithDispatch(rw.ctx, &c.state.dispatch), true
}

// ensureState returns the request's state and the context to serve it
// with, and whether that is a new context (when the hooks were not there
// yet), so that the access log and the metrics share one state.
func ensureState(ctx context.Context) (*requestState, context.Context, bool) {
	c := infoFrom(ctx)
	rw := rewrite{ctx: ctx}
	if c == nil {
		c = &reqInfo{Context: ctx}
		rw.ctx, rw.newCtx, rw.fresh = c, true, true
	}
	c.hook(&rw)
	return &c.state, rw.ctx, rw.newCtx
}

// appendLogAttrs appends graft's attributes for the request's access
// line; brief is [Options.Brief].
func (c *reqInfo) appendLogAttrs(ctx context.Context, attrs []slog.Attr, brief bool) []slog.Attr {
	if c.id != "" {
		attrs = append(attrs, slog.String(AttrRequestID, c.id))
	}
	return c.state.appendAttrs(ctx, attrs, brief)
}
