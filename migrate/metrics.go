package migrate

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus metrics of a Migrator:
//
//	graft_migrate_requests_total{route, side}          requests served, by side (python, go)
//	graft_migrate_refused_total{route}                 of python's, those its container refused
//	graft_migrate_comparisons_total{route, outcome}    match, mismatch, candidate_error, candidate_panic,
//	                                                   candidate_timeout, dropped, skipped
//	graft_migrate_rollbacks_total{route}               automatic rollbacks
//	graft_migrate_overrides_total{result}              tester overrides: accepted, rejected
//	graft_migrate_duration_seconds{route, side}        time each side took (served or shadow run)
//	graft_migrate_stage{route, stage}                  1 for the stage in effect, 0 for the others
//	graft_migrate_shadow_overdue{route}                shadow runs past their timeout, still holding a slot
type metrics struct {
	requests    *prometheus.CounterVec
	refused     *prometheus.CounterVec
	comparisons *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	overrides   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	stage       *prometheus.GaugeVec
	overdue     *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graft_migrate_requests_total",
			Help: "Requests of staged routes, by route and the side that served them (python, go).",
		}, []string{"route", "side"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graft_migrate_refused_total",
			Help: "Requests of staged routes that Python served and its container refused without running the app (shut down, queue full, queue timeout, body not spooled); also in graft_migrate_requests_total{side=\"python\"}, left out of the rollback window.",
		}, []string{"route"}),
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graft_migrate_comparisons_total",
			Help: "Shadow comparisons by route and outcome (match, mismatch, candidate_error, candidate_panic, candidate_timeout, dropped, skipped).",
		}, []string{"route", "outcome"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graft_migrate_rollbacks_total",
			Help: "Automatic rollbacks of routes to python.",
		}, []string{"route"}),
		overrides: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graft_migrate_overrides_total",
			Help: "Tester overrides seen, by result (accepted, rejected: unsigned, badly signed or expired).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graft_migrate_duration_seconds",
			Help:    "Time each side took for staged routes, served or in a shadow run.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "side"}),
		stage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graft_migrate_stage",
			Help: "1 for the stage in effect for each staged route (after kill switches and rollbacks).",
		}, []string{"route", "stage"}),
		overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graft_migrate_shadow_overdue",
			Help: "Shadow runs past their timeout whose handler has not returned yet: each holds one of MaxConcurrent slots until it does.",
		}, []string{"route"}),
	}
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("migrate: metrics already registered (one Migrator per Registerer): %w", err)
			}
			return nil, fmt.Errorf("migrate: registering metrics: %w", err)
		}
		done = append(done, c)
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.refused, m.comparisons, m.rollbacks, m.overrides, m.duration, m.stage, m.overdue}
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}
