package wsgi

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/promreg"
)

// refusals reports the requests that the guards refuse before any
// handler sees them (a malformed or ambiguous head, one over the limits):
// no access line would tell of them otherwise. Each is counted in
// graft_http_refused_total by status and logged with its status, reason
// and client: at INFO, the level of an access line, one line a second at
// most (a client can send malformed requests by the thousand a second),
// the next such line counting those left out meanwhile
// (graft.suppressed); those left out are logged at DEBUG.
type refusals struct {
	count *prometheus.CounterVec
	log   *slog.Logger
	info  rateLog
}

// newRefusals registers the counter with reg (or takes the one a previous
// Serve, guard or their Report forms registered there).
func newRefusals(reg prometheus.Registerer, log *slog.Logger) *refusals {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graft_http_refused_total",
		Help: "Requests refused at the HTTP boundary before any handler, by the status they were answered with.",
	}, []string{"status"})
	cv, _ = promreg.Shared(reg, cv) // another failure: counted, not exported
	return &refusals{count: cv, log: log}
}

func (r *refusals) report(code int, reason string, peer net.Addr) {
	r.reportAt(time.Now(), code, reason, peer)
}

// reportAt is report for a refusal at now.
func (r *refusals) reportAt(now time.Time, code int, reason string, peer net.Addr) {
	status := strconv.Itoa(code)
	r.count.WithLabelValues(status).Inc()
	attrs := []slog.Attr{slog.Int(logStatus, code), slog.String(logClient, peerIP(peer)), slog.String(logError, reason)}
	level := slog.LevelDebug
	if ok, dropped := r.info.allow(now); ok {
		level = slog.LevelInfo
		if dropped > 0 {
			attrs = append(attrs, slog.Int("graft.suppressed", dropped))
		}
	}
	r.log.LogAttrs(context.Background(), level, "wsgi: request refused at the HTTP boundary", attrs...)
}
