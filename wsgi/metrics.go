package wsgi

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the worker pool, in Prometheus form.
var (
	descWorkers = prometheus.NewDesc("graft_wsgi_workers",
		"Python worker processes by state (idle, busy, draining).", []string{"state"}, nil)
	descBusyThreads = prometheus.NewDesc("graft_wsgi_requests_in_flight",
		"Requests being run by Python workers.", nil, nil)
	descQueue = prometheus.NewDesc("graft_wsgi_queue_depth",
		"Requests waiting for a free worker.", nil, nil)
	descRestarts = prometheus.NewDesc("graft_wsgi_worker_restarts_total",
		"Workers replaced, by reason: crash, timeout, max-requests, max-rss, lifetime, reload.", []string{"reason"}, nil)
	descRSS = prometheus.NewDesc("graft_wsgi_worker_rss_bytes",
		"Resident memory of each worker process.", []string{"pid"}, nil)
	descServed = prometheus.NewDesc("graft_wsgi_worker_requests_total",
		"Requests finished by each live worker process.", []string{"pid"}, nil)
	descReady = prometheus.NewDesc("graft_wsgi_ready",
		"1 when the container takes requests, else 0.", nil, nil)
)

// restartReasons are reported even before they happen, so that rates work.
var restartReasons = []string{"crash", "timeout", "max-requests", "max-rss", "lifetime", "reload"}

// Describe implements prometheus.Collector: register the container with
// prometheus.MustRegister(container) to export its metrics.
func (c *Container) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkers, descBusyThreads, descQueue, descRestarts, descRSS, descServed, descReady} {
		ch <- d
	}
	if pl, ok := c.tr.(*pool); ok {
		pl.queueWait.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Container) Collect(ch chan<- prometheus.Metric) {
	st := c.Status()
	states := map[string]int{"idle": 0, "busy": 0, "draining": 0}
	inflight := 0
	for _, w := range st.Workers {
		states[w.State]++
		inflight += len(w.Requests)
		pid := strconv.Itoa(w.PID)
		ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(w.RSS), pid)
		ch <- prometheus.MustNewConstMetric(descServed, prometheus.CounterValue, float64(w.Served), pid)
	}
	for state, n := range states {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descBusyThreads, prometheus.GaugeValue, float64(inflight))
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.Queued))
	for _, reason := range restartReasons {
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts[reason]), reason)
	}
	ready := 0.0
	if st.Ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
	if pl, ok := c.tr.(*pool); ok {
		pl.queueWait.Collect(ch)
	}
}

// newQueueWait is the histogram of the time requests wait for a worker.
func newQueueWait() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "graft_wsgi_queue_wait_seconds",
		Help:    "Time requests waited for a free worker (0 when one was free).",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
	})
}
