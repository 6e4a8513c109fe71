package cli

import (
	"log/slog"

	"github.com/go-chi/httplog/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
)

// NewRouter returns a router with the examples' middleware: the
// -forwarded-allow-ips proxies trusted (middleware.TrustProxies: a
// client's own forwarding headers are removed, with or without the access
// log); with -access-log (the default), request ids and an access line per
// request to log; with reg, request metrics there.
func (f *Flags) NewRouter(log *slog.Logger, reg *prometheus.Registry) *router.Router {
	r := router.New()
	if f.AccessLog {
		r.Use(middleware.Stack(middleware.Options{
			Logger:  log,
			Proxies: f.proxies,
			Log:     AccessLogOptions(f.AccessLogVerbose),
			Brief:   !f.AccessLogVerbose,
		}))
	} else {
		r.Use(middleware.TrustProxies(f.proxies))
	}
	if reg != nil {
		r.Use(middleware.Metrics(reg))
	}
	return r
}

// AccessLogOptions returns the access log's options. By default a line
// holds the request line, status and duration (rounded to three digits,
// with middleware.Options.Brief) in its message, then the client address
// without its port, the response size, the request id, route (none for
// the fallback), target and, for Python, the worker (and the time queued
// for it when 100ms or more):
// under 200 characters for ordinary paths with the text handler. verbose adds every field of
// middleware.DefaultLogOptions (the URL, host, scheme, protocol, request
// size, user agent, referer and Content-Type headers), in ECS names.
func AccessLogOptions(verbose bool) *httplog.Options {
	o := middleware.DefaultLogOptions()
	if verbose {
		return o
	}
	s := *httplog.SchemaECS.Concise(true)
	s.RequestRemoteIP = "client"
	s.ResponseBytes = "bytes"
	o.Schema = &s
	o.LogRequestHeaders = []string{}
	o.LogResponseHeaders = nil
	return o
}
