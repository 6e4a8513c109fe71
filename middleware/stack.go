package middleware

import (
	"log/slog"
	"net/http"

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
// needs httplog's own logger (see [AccessLog]). Add it first, with
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
	return func(next http.Handler) http.Handler {
		var logged http.Handler
		if al.httplog != nil {
			logged = al.httplog(annotate(next, o.Brief))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, rw := begin(r)
			c.trust(r, o.Proxies, &rw)
			c.name(w, r, o.Proxies, ids, &rw)
			c.hook(&rw)
			if logged != nil {
				logged.ServeHTTP(w, rw.apply(r))
				return
			}
			al.graft.serve(c, next, w, rw.apply(r))
		})
	}
}
