package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	newCounter := func(help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: help}, labels)
	}
	first, err := Shared(reg, newCounter("h", "a"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Shared(reg, newCounter("h", "a"))
	if err != nil || second != first {
		t.Fatalf("second registration: %p, %v; want the first collector %p", second, err, first)
	}
	if _, err := Shared(reg, newCounter("other help", "a")); err == nil {
		t.Error("a metric of the same name with another help registered without error")
	}
}
