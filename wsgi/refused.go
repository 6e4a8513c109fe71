package wsgi

import (
	"context"
	"log/slog"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/promreg"
)

// refusals reports the requests that [Serve]'s guards refuse before any
// handler sees them (a malformed or ambiguous head, one over the limits):
// no access line would tell of them otherwise. Each is counted in
// graft_http_refused_total by status and logged at INFO, the level of an
// access line, with its status, reason and client.
type refusals struct {
	count *prometheus.CounterVec
	log   *slog.Logger
}

// newRefusals registers the counter with reg (or takes the one a previous
// Serve registered there).
func newRefusals(reg *prometheus.Registry, log *slog.Logger) *refusals {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graft_http_refused_total",
		Help: "Requests refused at the HTTP boundary before any handler, by the status they were answered with.",
	}, []string{"status"})
	cv, _ = promreg.Shared(reg, cv) // another failure: counted, not exported
	return &refusals{count: cv, log: log}
}

func (r *refusals) report(code int, reason string, peer net.Addr) {
	status := strconv.Itoa(code)
	r.count.WithLabelValues(status).Inc()
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "wsgi: request refused at the HTTP boundary",
		slog.Int(logStatus, code), slog.String(logClient, peerIP(peer)), slog.String(logError, reason))
}
