package cli

import (
	"context"
	"log/slog"
	"net"
	"strings"
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
// for Python, the worker (and the time queued for it when 100ms or more):
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

// conciseHandler shortens the default access line: the duration in the
// message to three significant digits, the client's address without its
// port, no route for the fallback (the target says who answered), and
// the time queued for a worker only when it is 100ms or more (the
// graft_wsgi_queue_wait_seconds metric has them all).
type conciseHandler struct{ slog.Handler }

func (h conciseHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, shortDuration(r.Message), r.PC)
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
			if a.Value.Kind() == slog.KindDuration {
				if a.Value.Duration() < 100*time.Millisecond {
					return true
				}
				a.Value = slog.DurationValue(round3(a.Value.Duration()))
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

// shortDuration rounds the duration that ends httplog's message,
// "GET /x => HTTP 200 (2.262375ms)", to "(2.26ms)".
func shortDuration(msg string) string {
	i := strings.LastIndex(msg, " (")
	if i < 0 || !strings.HasSuffix(msg, ")") {
		return msg
	}
	d, err := time.ParseDuration(msg[i+2 : len(msg)-1])
	if err != nil {
		return msg
	}
	return msg[:i+2] + round3(d).String() + ")"
}

// round3 rounds d to about three significant digits.
func round3(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}
