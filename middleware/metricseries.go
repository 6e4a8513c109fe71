package middleware

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// seriesKey names one request series of [Metrics]: the labels of its
// counter (the histogram's are the first two).
type seriesKey struct {
	target, route string
	status        int
}

// seriesPair is a series' counter and histogram.
type seriesPair struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// series keeps, per Metrics middleware, the counter and histogram of each
// series it has counted, so that a request finds both with one map lookup
// instead of two WithLabelValues calls (each validating and hashing its
// label values) and a strconv.Itoa of the status. It holds one entry per
// series the vectors hold anyway.
type series struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu    sync.RWMutex
	pairs map[seriesKey]seriesPair
}

func newSeries(requests *prometheus.CounterVec, duration *prometheus.HistogramVec) *series {
	return &series{requests: requests, duration: duration, pairs: make(map[seriesKey]seriesPair)}
}

// get returns the series of k, creating it on first use.
func (s *series) get(k seriesKey) seriesPair {
	s.mu.RLock()
	p, ok := s.pairs[k]
	s.mu.RUnlock()
	if ok {
		return p
	}
	p = seriesPair{
		requests: s.requests.WithLabelValues(k.target, k.route, strconv.Itoa(k.status)),
		duration: s.duration.WithLabelValues(k.target, k.route),
	}
	s.mu.Lock()
	s.pairs[k] = p
	s.mu.Unlock()
	return p
}
