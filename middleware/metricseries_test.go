package middleware

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
)

// TestMetricsSeriesConcurrent: requests of several series counted from
// several goroutines at once (the series' cache filled concurrently) add
// up in the counter and in the histogram of each series.
func TestMetricsSeriesConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := router.New()
	r.Use(Metrics(reg))
	r.Get("/s/{code}", func(w http.ResponseWriter, req *http.Request) {
		code, _ := strconv.Atoi(router.Param(req, "code"))
		w.WriteHeader(code)
	})
	r.Get("/other", func(w http.ResponseWriter, _ *http.Request) {})
	paths := []string{"/s/200", "/s/404", "/s/503", "/other"}
	const goroutines, each = 4, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each * len(paths) {
				p := paths[(i+g)%len(paths)]
				r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
			}
		}()
	}
	wg.Wait()
	n := float64(goroutines * each)
	want := map[string]float64{
		"route=/s/{code},status=200,target=go": n,
		"route=/s/{code},status=404,target=go": n,
		"route=/s/{code},status=503,target=go": n,
		"route=/other,status=200,target=go":    n,
	}
	if got := requestCounts(t, reg); !reflect.DeepEqual(got, want) {
		t.Errorf("counters: got %v, want %v", got, want)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() == "graft_http_request_duration_seconds" {
			for _, m := range mf.GetMetric() {
				samples[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if want := map[string]uint64{"/s/{code}": 3 * uint64(n), "/other": uint64(n)}; !reflect.DeepEqual(samples, want) {
		t.Errorf("histogram sample counts by route: got %v, want %v", samples, want)
	}
}

// BenchmarkMetricsSeries: finding a request's counter and histogram
// through the series' cache against two WithLabelValues calls and a
// strconv.Itoa, as Metrics did before the cache.
func BenchmarkMetricsSeries(b *testing.B) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "r"}, []string{"target", "route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"target", "route"})
	s := newSeries(requests, duration)
	status := 200
	b.Run("labels", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			requests.WithLabelValues("go", "/api/health", strconv.Itoa(status)).Inc()
			duration.WithLabelValues("go", "/api/health").Observe(0.001)
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := s.get(seriesKey{target: "go", route: "/api/health", status: status})
			p.requests.Inc()
			p.duration.Observe(0.001)
		}
	})
}
