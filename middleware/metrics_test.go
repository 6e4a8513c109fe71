package middleware

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
)

// Metrics after Stack shares the request's state with the access log: it
// sees the route pattern and the target of native routes and of the
// fallback.
func TestMetricsBehindStack(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := router.New()
	r.Use(Stack(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	r.Use(Metrics(reg))
	r.Get("/users/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	r.Get("/panics", func(w http.ResponseWriter, _ *http.Request) { panic("boom") })
	// A Django route's Go port and the slashless form kept for
	// APPEND_SLASH: two routes, two labels (both were "/items/{pk}").
	r.Get("/items/{pk}/", func(w http.ResponseWriter, _ *http.Request) {})
	r.Get("/items/{pk}", func(w http.ResponseWriter, _ *http.Request) {})
	r.Fallback(http.NotFoundHandler())
	for _, p := range []string{"/users/1", "/users/2", "/legacy", "/panics", "/items/1/", "/items/2/", "/items/1"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	// A client that went away before anything was sent: nginx's 499, not
	// the 200 net/http would have sent.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/3", nil).WithContext(gone))
	got := requestCounts(t, reg)
	want := map[string]float64{
		"route=/users/{id},status=200,target=go":    2,
		"route=/users/{id},status=499,target=go":    1,
		"route=/panics,status=500,target=go":        1,
		"route=fallback,status=404,target=fallback": 1,
		"route=/items/{pk}/,status=200,target=go":   2,
		"route=/items/{pk},status=200,target=go":    1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// requestCounts returns graft_http_requests_total's values in reg, by
// their labels ("route=...,status=...,target=...").
func requestCounts(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "graft_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			got[strings.Join(l, ",")] = m.GetCounter().GetValue()
		}
	}
	return got
}

// Several Metrics with one registry share its metrics instead of
// panicking (a middleware per host Router), and a request through two of
// them (a mounted Router with its own) is counted once, with the whole
// route pattern; a Metrics with another registry counts it there too.
func TestMetricsShared(t *testing.T) {
	reg, other := prometheus.NewRegistry(), prometheus.NewRegistry()
	h := router.NewHosts()
	a, b := h.Host("a.example"), h.Host("b.example")
	a.Use(Metrics(reg))
	b.Use(Metrics(reg))
	sub := router.New()
	sub.Use(Metrics(reg), Metrics(other))
	sub.Get("/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	a.Mount("/users", sub)
	b.Get("/b", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, u := range []string{"http://a.example/users/1", "http://a.example/users/2", "http://b.example/b"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", u, nil))
	}
	want := map[string]float64{
		"route=/users/{id},status=200,target=go": 2,
		"route=/b,status=418,target=go":          1,
	}
	if got := requestCounts(t, reg); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	want = map[string]float64{"route=/users/{id},status=200,target=go": 2}
	if got := requestCounts(t, other); !reflect.DeepEqual(got, want) {
		t.Errorf("other registry: got %v, want %v", got, want)
	}
	// Metrics of the same names but another kind stay an error.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "graft_http_requests_total", Help: "x"}))
	defer func() {
		if recover() == nil {
			t.Error("Metrics with a registry holding a gauge of its counter's name did not panic")
		}
	}()
	Metrics(clash)
}
