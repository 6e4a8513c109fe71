package wsgi

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/graft-dev/graft/internal/negotiate"
)

// Status is a snapshot of the worker pool, for status pages and tools.
type Status struct {
	App        string           `json:"app"`        // Config.App
	Python     string           `json:"python"`     // the interpreter's path
	Ready      bool             `json:"ready"`      // a worker takes requests (see Container.Ready)
	Generation int              `json:"generation"` // 1 at start, +1 per successful reload
	Reloading  bool             `json:"reloading"`  // a reload is under way
	Queued     int              `json:"queued"`     // requests waiting for a worker
	MaxQueue   int              `json:"max_queue"`  // Config.MaxQueue
	Workers    []WorkerStatus   `json:"workers"`    // in start order
	Restarts   map[string]int64 `json:"restarts"`   // replacements by reason
	Threads    int              `json:"threads"`    // per worker
	Preload    bool             `json:"preload"`    // workers forked from a zygote
	Time       time.Time        `json:"time"`       // when the snapshot was taken
	// SpilledResponses counts the responses that spilled to a file for a
	// slow client (see Config.ResponseSpill) since the start.
	SpilledResponses int64 `json:"spilled_responses"`
	// SpilledBytes counts the bytes written to spill files since the start.
	SpilledBytes int64 `json:"spilled_bytes"`
	// SpillFiles is how many spill files are open now.
	SpillFiles int64 `json:"spill_files"`
}

// WorkerStatus describes one worker process.
type WorkerStatus struct {
	PID        int             `json:"pid"`         // the worker process
	Index      int             `json:"index"`       // its number: the index label of the per-worker metrics (see Container.Collect)
	State      string          `json:"state"`       // "idle", "busy" or "draining"
	Generation int             `json:"generation"`  // the reload it was started by
	Served     int64           `json:"served"`      // requests finished
	RSS        int64           `json:"rss_bytes"`   // resident memory
	Started    time.Time       `json:"started"`     // when it was started
	Age        float64         `json:"age_seconds"` // seconds since Started
	Requests   []RequestStatus `json:"requests"`    // in flight, oldest first
}

// RequestStatus is a request in flight on a worker.
type RequestStatus struct {
	Method  string  `json:"method"`               // the request's method
	Path    string  `json:"path"`                 // its URL path
	ID      string  `json:"request_id,omitempty"` // its request id, if it has one
	Running float64 `json:"running_seconds"`      // seconds since the worker took it
}

// Status returns a snapshot of the workers and the queue, as the
// transport reports them ([StatusReporter]); for a transport that cannot,
// only App, Ready and Time are set.
func (c *Container) Status() Status {
	if sr, ok := c.tr.(StatusReporter); ok {
		st := sr.Status()
		st.Ready = st.Ready && c.open()
		return st
	}
	return Status{App: c.cfg.App, Ready: c.open(), Time: time.Now()}
}

// open reports whether c takes new requests: neither shut down nor
// draining under Serve.
func (c *Container) open() bool { return !c.closed.Load() && !c.draining.Load() }

// Ready reports whether the container can serve requests now: it is not
// shut down, [Serve] is not shutting it down (its listeners are closed
// and it drains the requests in flight), and at least one worker takes
// requests. During a reload the old workers serve until the new ones are
// ready, so it stays ready; so it does while a worker at its
// [Config].MaxRequests waits for its replacement (requests wait for it
// too), with one worker as well.
func (c *Container) Ready() bool { return c.Status().Ready }

// ReadyHandler answers 200 "ready" when Ready, else 503 "not ready": a
// readiness probe (Kubernetes) to mount wherever you like.
func (c *Container) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if c.Ready() {
			w.Write([]byte("ready\n"))
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	})
}

// LiveHandler answers 200 "ok" while the Go process serves requests: a
// liveness probe. It does not depend on the workers, which the container
// replaces by itself; restarting the pod would not help them.
func (c *Container) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
}

// StatusHandler serves the status page: HTML for browsers, JSON for
// tools, chosen by the Accept header's q-values (Accept: application/json,
// or "text/html;q=0.5, application/json"; q=0 refuses a type; ties go to
// HTML) or forced with ?format=json or ?format=html (another format value
// gets 400 Bad Request naming the two). A request that accepts neither gets
// 406 Not Acceptable. Like uwsgitop or gunicorn's control socket, built
// in. It shows request paths, so mount it where only operators can reach
// it.
func (c *Container) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Vary", "Accept")
		var format string
		switch f := r.URL.Query().Get("format"); f {
		case "":
			format = negotiate.Media(r.Header.Values("Accept"), "text/html", "application/json")
		case "json":
			format = "application/json"
		case "html":
			format = "text/html"
		default:
			http.Error(w, "Bad Request: /status?format= is json or html, not "+strconv.Quote(f), http.StatusBadRequest)
			return
		}
		if format == "" {
			http.Error(w, "Not Acceptable: /status is text/html or application/json (or ?format=json)", http.StatusNotAcceptable)
			return
		}
		st := c.Status()
		if format == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(st)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		statusPage.Execute(w, st)
	})
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"mib": func(b int64) string {
		return strings.TrimRight(strings.TrimRight(fmtFloat(float64(b)/(1<<20)), "0"), ".")
	},
	"secs": func(s float64) string { return fmtFloat(s) },
}).Parse(`<!doctype html>
<meta charset="utf-8">
<title>graft: {{.App}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em}
table{border-collapse:collapse}
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.busy{color:#a60}.draining{color:#888}.idle{color:#080}
</style>
<h1>{{.App}}</h1>
<p>{{if .Ready}}ready{{else}}<b>not ready</b>{{end}}{{if .Reloading}}, reloading{{end}} ·
generation {{.Generation}} · {{len .Workers}} workers × {{.Threads}} threads{{if .Preload}} (preloaded){{end}} ·
queue {{.Queued}}/{{.MaxQueue}} · {{.Python}}</p>
<table>
<tr><th>index</th><th>pid</th><th>state</th><th>gen</th><th>served</th><th>RSS MiB</th><th>age s</th><th>current requests</th></tr>
{{range .Workers}}<tr><td>{{.Index}}</td><td>{{.PID}}</td><td class="{{.State}}">{{.State}}</td><td>{{.Generation}}</td><td>{{.Served}}</td>
<td>{{mib .RSS}}</td><td>{{secs .Age}}</td>
<td>{{range .Requests}}{{.Method}} {{.Path}} ({{secs .Running}} s){{if .ID}} <small>{{.ID}}</small>{{end}}<br>{{end}}</td></tr>
{{end}}</table>
<p>Restarts: {{range $k, $v := .Restarts}}{{$k}} {{$v}} · {{else}}none{{end}}</p>
<p>Spilled for slow clients: {{.SpilledResponses}} responses, {{.SpilledBytes}} bytes; {{.SpillFiles}} spill files open</p>
<p><small>{{.Time.Format "2006-01-02 15:04:05 MST"}} · <a href="?format=json">JSON</a></small></p>
`))

func fmtFloat(f float64) string {
	b, _ := json.Marshal(float64(int64(f*10)) / 10)
	return string(b)
}

// Metrics of the worker pool, in Prometheus form.
var (
	descWorkers = prometheus.NewDesc("graft_wsgi_workers",
		"Python worker processes by state (idle, busy, draining).", []string{"state"}, nil)
	descBusyThreads = prometheus.NewDesc("graft_wsgi_requests_in_flight",
		"Requests handed to Python workers and not finished: running, or prefetched into a busy worker's socket (Config.Prefetch).", nil, nil)
	descQueue = prometheus.NewDesc("graft_wsgi_queue_depth",
		"Requests waiting for a free worker.", nil, nil)
	descRestarts = prometheus.NewDesc("graft_wsgi_worker_restarts_total",
		"Workers replaced, by reason: crash, timeout, max-requests, max-rss, lifetime, reload.", []string{"reason"}, nil)
	descRSS = prometheus.NewDesc("graft_wsgi_worker_rss_bytes",
		"Resident memory of each worker process, by worker index (reused by replacements; /status maps index to pid).", []string{"index"}, nil)
	descServed = prometheus.NewDesc("graft_wsgi_worker_requests_total",
		"Requests finished by each live worker process, by worker index: resets when a new process takes the index.", []string{"index"}, nil)
	descReady = prometheus.NewDesc("graft_wsgi_ready",
		"1 when the container takes requests, else 0.", nil, nil)
	descSpills = prometheus.NewDesc("graft_wsgi_spilled_responses_total",
		"Responses that spilled to a file for a slow client (Config.ResponseSpill).", nil, nil)
	descSpilledBytes = prometheus.NewDesc("graft_wsgi_spilled_bytes_total",
		"Bytes of responses spilled to files for slow clients.", nil, nil)
	descSpillFiles = prometheus.NewDesc("graft_wsgi_spill_files",
		"Spill files open now: responses waiting in a file for a slow client.", nil, nil)
)

// restartReasons are reported even before they happen, so that rates work.
var restartReasons = []string{"crash", "timeout", "max-requests", "max-rss", "lifetime", "reload"}

// Describe implements prometheus.Collector: register the container with
// prometheus.MustRegister(container) to export its metrics.
func (c *Container) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkers, descBusyThreads, descQueue, descRestarts, descRSS, descServed, descReady,
		descSpills, descSpilledBytes, descSpillFiles} {
		ch <- d
	}
	c.queueWait.Describe(ch)
}

// Collect implements prometheus.Collector. The per-worker metrics are
// labelled with the worker's index (WorkerStatus.Index), not its pid: an
// index is reused by the workers that replace one another, so recycling
// (MaxRequests, MaxRSS, MaxLifetime) and reloads add no new series, and a
// worker that has exited is no longer exported.
func (c *Container) Collect(ch chan<- prometheus.Metric) {
	st := c.Status()
	states := map[string]int{"idle": 0, "busy": 0, "draining": 0}
	inflight := 0
	for _, w := range st.Workers {
		states[w.State]++
		inflight += len(w.Requests)
		index := strconv.Itoa(w.Index)
		ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(w.RSS), index)
		// Created at the worker's start: a scraper that reads created
		// timestamps sees the reset when a new process takes the index.
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(descServed, prometheus.CounterValue, float64(w.Served), w.Started, index)
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
	ch <- prometheus.MustNewConstMetric(descSpills, prometheus.CounterValue, float64(st.SpilledResponses))
	ch <- prometheus.MustNewConstMetric(descSpilledBytes, prometheus.CounterValue, float64(st.SpilledBytes))
	ch <- prometheus.MustNewConstMetric(descSpillFiles, prometheus.GaugeValue, float64(st.SpillFiles))
	c.queueWait.Collect(ch)
}

// newQueueWait is the histogram of the time requests wait for a worker.
func newQueueWait() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "graft_wsgi_queue_wait_seconds",
		Help:    "Time requests waited for a free worker (0 when one was free), whether they got one, timed out in the queue (503) or their client left; not those refused on a full queue.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
	})
}

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
// (a new registry when nil), each unless reg has it already: the
// container itself, or metrics of the Go and process collectors' names
// (the program's own collectors, with their options). It panics if reg
// holds another container's metrics (they would be exported as this
// one's) or metrics of the container's names.
func (c *Container) OpsHandler(reg *prometheus.Registry) http.Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) || are.ExistingCollector != prometheus.Collector(c) {
			panic(fmt.Errorf("wsgi: OpsHandler: the registry holds the metrics of another container, or others of their names: %w", err))
		}
	}
	// Any error: reg exports metrics of these names already.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /status", c.StatusHandler())
	mux.Handle("GET /healthz", c.LiveHandler())
	mux.Handle("GET /readyz", c.ReadyHandler())
	return mux
}
