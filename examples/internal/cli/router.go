package cli

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/go-chi/httplog/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
)

// NewRouter returns a router with the examples' middleware: with
// -access-log (the default), request ids and an access line per request
// to log; with reg, request metrics there.
func (f *Flags) NewRouter(log *slog.Logger, reg *prometheus.Registry) *router.Router {
	r := router.New()
	if f.AccessLog {
		access := log
		if !f.AccessLogVerbose {
			access = slog.New(conciseHandler{log.Handler()})
		}
		r.Use(middleware.Stack(middleware.Options{Logger: access, Log: AccessLogOptions(f.AccessLogVerbose)}))
	}
	if reg != nil {
		r.Use(middleware.Metrics(reg))
	}
	return r
}

// AccessLogOptions returns the access log's options. By default a line
// holds the request line, status and duration in its message, then the
// client address, the response size, the request id, route, target and,
// for Python, the worker (and the time queued for it when 1ms or more):
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

// conciseHandler shortens the default access line: the client's address
// without its port, no route for the fallback (the target says who
// answered), and the time queued for a worker only when it is 1ms or more.
type conciseHandler struct{ slog.Handler }

func (h conciseHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "client":
			if host, _, err := net.SplitHostPort(a.Value.String()); err == nil {
				a.Value = slog.StringValue(host)
			}
		case middleware.AttrRoute:
			if a.Value.String() == "fallback" {
				return true
			}
		case middleware.AttrQueued:
			if a.Value.Kind() == slog.KindDuration && a.Value.Duration() < time.Millisecond {
				return true
			}
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h conciseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return conciseHandler{h.Handler.WithAttrs(as)}
}

func (h conciseHandler) WithGroup(name string) slog.Handler {
	return conciseHandler{h.Handler.WithGroup(name)}
}
