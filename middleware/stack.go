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
	// Log is passed to httplog. If nil, DefaultLogOptions() is used.
	Log *httplog.Options
}

// Stack returns graft's standard middlewares in the order that makes them
// work together: [TrustProxies], [RequestID], then [AccessLog] (which
// recovers panics). It behaves as chi.Chain of the three, but does their
// work in one step: one record, one context layer of its own and one copy
// of the request instead of one each. Add it first, with
// [router.Router.Use]:
//
//	r := router.New()
//	r.Use(middleware.Stack(middleware.Options{
//		Logger:  logger,
//		Proxies: middleware.MustParseProxies("10.0.0.0/8"),
//	}))
func Stack(o Options) func(http.Handler) http.Handler {
	ids := new(idGenerator)
	requestLogger := newRequestLogger(o.Logger, o.Log)
	return func(next http.Handler) http.Handler {
		logged := requestLogger(annotate(next))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, rw := begin(r)
			c.trust(r, o.Proxies, &rw)
			c.name(w, r, o.Proxies, ids, &rw)
			c.hook(&rw)
			logged.ServeHTTP(w, rw.apply(r))
		})
	}
}
