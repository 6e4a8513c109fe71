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
	r.Fallback(http.NotFoundHandler())
	for _, p := range []string{"/users/1", "/users/2", "/legacy", "/panics"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	// A client that went away before anything was sent: nginx's 499, not
	// the 200 net/http would have sent.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/3", nil).WithContext(gone))
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
	want := map[string]float64{
		"route=/users/{id},status=200,target=go":    2,
		"route=/users/{id},status=499,target=go":    1,
		"route=/panics,status=500,target=go":        1,
		"route=fallback,status=404,target=fallback": 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
