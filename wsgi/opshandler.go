package wsgi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsHandler returns a handler for the operations endpoints, to mount on a
// listener only operators reach:
//
//	/metrics  Prometheus: the container's metrics, Go and process metrics,
//	          and whatever else reg holds (middleware.Metrics, your own)
//	/status   the status page (HTML; JSON with ?format=json)
//	/healthz  liveness (LiveHandler)
//	/readyz   readiness (ReadyHandler)
//
// It registers the container and the Go and process collectors with reg
// (a new registry when nil), and panics if they are already registered.
func (c *Container) OpsHandler(reg *prometheus.Registry) http.Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /status", c.StatusHandler())
	mux.Handle("GET /healthz", c.LiveHandler())
	mux.Handle("GET /readyz", c.ReadyHandler())
	return mux
}
