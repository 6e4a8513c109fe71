package middleware

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/go-chi/httplog/v3"
)

// Options configures [Stack]. The zero value works: slog.Default(), no
// trusted proxy, [DefaultLogOptions].
type Options struct {
	// Logger receives the access log. If nil, slog.Default() is used.
	Logger *slog.Logger
	// Proxies are the trusted proxies, for forwarding headers and incoming
	// request ids. If nil, nobody is trusted.
	Proxies *Proxies
	// Log are the access log's options, as for [AccessLog]. If nil,
	// DefaultLogOptions() is used.
	Log *httplog.Options
	// Brief shortens the access line for reading on a terminal: the
	// duration in the message rounded to three significant digits, the
	// client address (the schema's RequestRemoteIP) without its port, no
	// http.route for the fallback (graft.target says who answered), and
	// graft.queued only when it is 100ms or more, rounded likewise. When
	// Log needs httplog's own logger (see [AccessLog]), only the last two
	// apply. The zero value logs every field as httplog would.
	Brief bool
}

// Stack returns graft's standard middlewares in the order that makes them
// work together: [TrustProxies], [RequestID], then [AccessLog] (which
// recovers panics). It behaves as chi.Chain of the three, but does their
// work in one step: one record, one context layer of its own and one copy
// of the request instead of one each. Handlers add attributes to the
// access line with [SetAttrs]; httplog.SetAttrs reaches it only when Log
// needs httplog's own logger (see [AccessLog]). The first SCRIPT_NAME
// header a trusted proxy sends, which graft does not take (gunicorn does),
// is logged once at WARN on Logger. A request refused for contradictory
// scheme headers (see [TrustProxies]) gets its request id and access line.
// Add it first, with
// [router.Router.Use]:
//
//	r := router.New()
//	r.Use(middleware.Stack(middleware.Options{
//		Logger:  logger,
//		Proxies: middleware.MustParseProxies("10.0.0.0/8"),
//	}))
func Stack(o Options) func(http.Handler) http.Handler {
	ids := new(idGenerator)
	al := newAccessLog(o.Logger, o.Log, o.Brief)
	var scriptNameWarned atomic.Bool
	return func(next http.Handler) http.Handler {
		var logged, loggedRefusal http.Handler
		if al.httplog != nil {
			logged = abortAfterPanic(al.httplog(annotate(next, o.Brief)))
			loggedRefusal = al.httplog(annotate(http.HandlerFunc(refuseScheme), o.Brief))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now() // the id's time and the access log's start
			c, rw := begin(r)
			c.trust(r, o.Proxies, &rw)
			if o.Proxies != nil && !scriptNameWarned.Load() {
				warnScriptName(o.Logger, r, o.Proxies, c.peer, &scriptNameWarned)
			}
			c.name(w, r, o.Proxies, ids, now, &rw)
			c.hook(&rw)
			if c.badScheme { // answered 400, and logged
				if loggedRefusal != nil {
					loggedRefusal.ServeHTTP(w, rw.apply(r))
				} else {
					al.graft.serve(c, http.HandlerFunc(refuseScheme), w, rw.apply(r), now)
				}
				return
			}
			if logged != nil {
				logged.ServeHTTP(w, rw.apply(r))
				return
			}
			al.graft.serve(c, next, w, rw.apply(r), now)
		})
	}
}

// warnScriptName logs, once per [Stack] (warned), that a trusted proxy
// sent a SCRIPT_NAME header, which graft does not take: gunicorn (22 and
// later) takes it from its forwarded_allow_ips proxies and cuts it off
// PATH_INFO, so a proxy set up for gunicorn (nginx's proxy_set_header
// SCRIPT_NAME /app) otherwise leaves the app with SCRIPT_NAME empty and
// the whole path, every route a 404, and nothing in the log saying why.
// net/http gives every spelling of the name (script_name, SCRIPT_NAME) as
// "Script_name". peer is the socket peer TrustProxies saw.
func warnScriptName(logger *slog.Logger, r *http.Request, p *Proxies, peer netip.Addr, warned *atomic.Bool) {
	v, ok := r.Header["Script_name"]
	if !ok || !p.trustsPeer(r, peer) || !warned.CompareAndSwap(false, true) {
		return
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("middleware: a trusted proxy sent a SCRIPT_NAME header, which graft does not take from proxies: the Python app sees SCRIPT_NAME empty and the whole path; give the prefix to graft instead (wsgiserve -script-name, wsgi.Config.ScriptName, or a router mount with fallback.Handler{Prefix}) and have the proxy pass the whole path (docs/operations.md, Coming from gunicorn); logged once",
		slog.String("graft.prefix", v[0]), slog.String("url.path", r.URL.Path))
}
