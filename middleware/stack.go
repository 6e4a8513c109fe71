package middleware

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
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
// recovers panics). Add it first, with [router.Router.Use]:
//
//	r := router.New()
//	r.Use(middleware.Stack(middleware.Options{
//		Logger:  logger,
//		Proxies: middleware.MustParseProxies("10.0.0.0/8"),
//	}))
func Stack(o Options) func(http.Handler) http.Handler {
	return chi.Chain(
		TrustProxies(o.Proxies),
		RequestID(o.Proxies),
		AccessLog(o.Logger, o.Log),
	).Handler
}
